"""SQL text for synth's queries: quoted string and list literals, and the seeded hash every random
choice comes from (`hash(seed, salt, ...)`, a deterministic UBIGINT for a given DuckDB version),
with the check that a seed is a whole number that fits the hash's 64-bit `bigint`.
"""

from __future__ import annotations

from netflix_elt.core.errors import InputError


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise InputError(f"synth: seed={seed!r} must be a whole number that fits in 64 bits")
    return seed


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_sql_str(v) for v in values) + "]"


def _hash(seed: int, salt: str, *args: str) -> str:
    """A deterministic UBIGINT for (seed, salt, args): the randomness of every choice."""
    return f"hash({seed}::bigint, {_sql_str(salt)}, {', '.join(args)})"
