"""The next full-snapshot drop after a base drop: an exact number of rows changed (in a way the
pipeline's cleaning keeps: a sentence appended to `description`, or another valid `rating`),
deleted and added (fresh show_ids), the rest copied as they were, chosen by hash cut-offs over the
base's show_ids; plus the CDC counts the pipeline must report when it loads the base and then the
new drop (`<name>.expected.json`). The query reads the base with SELECT / WHERE / UNION ALL only
(order-preserving), so the same base and seed give the same file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.sample import sample_path
from netflix_elt.tools.synth.generator import _generator_sql
from netflix_elt.tools.synth.output import _check_output, _copy_to, _write_json
from netflix_elt.tools.synth.pools import _load_pools
from netflix_elt.tools.synth.reading import _read_csv
from netflix_elt.tools.synth.session import _duckdb, _first_line
from netflix_elt.tools.synth.sql import _check_seed, _hash, _sql_list

log = logging.getLogger("netflix_elt.tools.synth")  # the package's logger, the name it has always had

# The ratings the pipeline accepts (dbt var `known_ratings`); a changed row gets one of them.
KNOWN_RATINGS = (
    "TV-MA",
    "TV-14",
    "TV-PG",
    "R",
    "PG-13",
    "TV-Y7",
    "TV-Y",
    "PG",
    "TV-G",
    "NR",
    "G",
    "TV-Y7-FV",
    "NC-17",
    "UR",
)
# Appended to the description of some changed rows (quotes and commas on purpose).
CHANGE_SENTENCES = (
    "Now includes an extended cut.",
    'Features a new "behind the scenes" segment.',
    "Remastered in 4K, with new subtitles.",
    "Includes an exclusive interview with the cast.",
    'Winner of the "Audience Choice" award, 2022.',
    "Now with audio description in five languages.",
)


@dataclass(frozen=True)
class NextDropSpec:
    """Shares of the base drop's rows to change, add and delete (e.g. 0.01, 0.005, 0.002)."""

    changed: float
    new: float
    deleted: float

    def __post_init__(self) -> None:
        for name in ("changed", "new", "deleted"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InputError(f"synth: share {name}={value!r} must be a number between 0 and 1")
        total = self.changed + self.new + self.deleted
        if total > 1:
            raise InputError(f"synth: shares changed + new + deleted sum to {total:g}; they must not exceed 1")


def expected_path(out: Path) -> Path:
    """`<out name without .csv/.csv.gz>.expected.json` beside `out`."""
    name = out.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return out.with_name(f"{name}.expected.json")


def synth_next(
    base: Path, out: Path, spec: NextDropSpec, seed: int, *, scratch_dir: Path | None = None
) -> dict[str, int]:
    """Write the next full-snapshot drop after `base` to `out`, and the CDC counts the pipeline
    must report for it (after loading `base`) to `expected_path(out)`. Returns those counts."""
    seed = _check_seed(seed)
    base, out = Path(base), Path(out)
    if not base.is_file():
        raise InputError(f"{base}: base drop not found; pass an existing .csv or .csv.gz file")
    _check_output(out, [base])
    started = time.monotonic()
    with _duckdb(scratch_dir, out) as (con, scratch):
        _create_base_view(con, base)
        n, keys, max_id = _base_stats(con, base, seed)
        if n == 0:
            raise InputError(f"{base}: base drop has no rows")
        if keys != n:
            raise InputError(
                f"{base}: base drop lists {n - keys:,} show_id(s) more than once or without a show_id, "
                "title or type; synth_next needs a clean snapshot"
            )
        n_changed, n_new, n_deleted = round(spec.changed * n), round(spec.new * n), round(spec.deleted * n)
        deleted_below, changed_below = _thresholds(con, base, seed, n_deleted, n_changed)
        pick = _hash(seed, "pick", "trim(show_id)")
        how = _hash(seed, "how", "trim(show_id)")
        is_deleted = f"{pick} <= {deleted_below}::ubigint" if deleted_below is not None else "false"
        is_changed = (
            f"{pick} <= {changed_below}::ubigint and not ({is_deleted})" if changed_below is not None else "false"
        )
        ratings = _sql_list(KNOWN_RATINGS)
        sentences = _sql_list(CHANGE_SENTENCES)
        r1 = f"{ratings}[(1 + {how} // 2 % {len(KNOWN_RATINGS)})::bigint]"
        r2 = f"{ratings}[(1 + ({how} // 2 % {len(KNOWN_RATINGS)} + 1) % {len(KNOWN_RATINGS)})::bigint]"
        new_rating = f"case when {r1} = coalesce(trim(rating), '') then {r2} else {r1} end"
        sentence = f"{sentences}[(1 + {how} // 2 % {len(CHANGE_SENTENCES)})::bigint]"
        new_description = f"case when description is null then {sentence} else description || ' ' || {sentence} end"
        kept = (
            'select show_id, type, title, director, "cast", country, date_added, release_year, '
            f"case when {is_changed} and {how} % 2 = 0 then {new_rating} else rating end as rating, "
            "duration, listed_in, "
            f"case when {is_changed} and {how} % 2 = 1 then {new_description} else description end as description "
            f"from base where not ({is_deleted})"
        )
        sql = kept
        if n_new:
            pools = _load_pools(con, sample_path())
            sql += " union all " + _generator_sql(pools, seed, "next", first_id=max_id + 1, rows=n_new)
        con.execute("drop table base_keys")
        _copy_to(con, sql, out, scratch)
    expected = {
        "inserted": n_new,
        "updated": n_changed,
        "deleted": n_deleted,
        "unchanged": n - n_changed - n_deleted,
        "revived": 0,
        "rows": n - n_deleted + n_new,
    }
    _write_json(expected_path(out), expected)
    log.info(
        "synth: next drop %s from %s (%s rows): %s changed, %s new, %s deleted in %.1fs (seed %d)",
        out,
        base,
        f"{n:,}",
        f"{n_changed:,}",
        f"{n_new:,}",
        f"{n_deleted:,}",
        time.monotonic() - started,
        seed,
    )
    return expected


def _create_base_view(con: duckdb.DuckDBPyConnection, base: Path) -> None:
    _read_csv(con, base, "base")


def _base_stats(con: duckdb.DuckDBPyConnection, base: Path, seed: int) -> tuple[int, int, int]:
    """Reads the base once into `base_keys` (key, pick hash) and returns (rows, rows with a usable
    key that no other row shares, largest numeric id among `s<N>` ids)."""
    pick = _hash(seed, "pick", "trim(show_id)")
    try:
        con.execute(
            "create or replace temp table base_keys as select nullif(trim(show_id), '') as key, "
            "nullif(trim(title), '') is not null and nullif(trim(type), '') is not null as usable, "
            f"{pick} as h from base"
        )
        row = con.execute(
            """
            with g as (select key, count(*) as n, bool_and(usable) as usable from base_keys group by key)
            select coalesce(sum(n), 0),
                coalesce(sum(n) filter (where key is not null and n = 1 and usable), 0),
                coalesce(max(try_cast(regexp_extract(key, '^s([0-9]+)$', 1) as bigint)), 0),
            from g
            """
        ).fetchone()
    except duckdb.Error as exc:
        raise InputError(f"{base}: cannot be read as an RFC-4180 CSV drop ({_first_line(exc)})") from None
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _thresholds(
    con: duckdb.DuckDBPyConnection, base: Path, seed: int, n_deleted: int, n_changed: int
) -> tuple[int | None, int | None]:
    """Hash cut-offs: rows whose pick hash is <= the first are deleted, <= the second (and not
    deleted) changed. Exact counts: the cut-offs are the n_deleted-th and (n_deleted+n_changed)-th
    smallest hashes, and a tie across a cut-off (a 64-bit collision) is refused."""
    k = n_deleted + n_changed
    if k == 0:
        return None, None
    sql = f"""
        with top as (select h from base_keys order by h limit {k + 1}),
        ranked as (select h, row_number() over (order by h) as rn from top)
        select max(h) filter (where rn = {n_deleted}), max(h) filter (where rn = {n_deleted + 1}),
            max(h) filter (where rn = {k}), max(h) filter (where rn = {k + 1}),
        from ranked
    """
    row = con.execute(sql).fetchone()
    assert row is not None
    d_last, d_next, k_last, k_next = row
    if (d_last is not None and d_last == d_next) or (k_last is not None and k_last == k_next):
        raise InputError(f"{base}: seed {seed} splits two show_ids with equal hashes; use another seed")
    return (int(d_last) if n_deleted else None), int(k_last)
