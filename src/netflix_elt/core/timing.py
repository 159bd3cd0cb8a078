"""Where a command's time goes: named phases (`phase("ingest.parse")`), each summed over the
times it ran, kept for the process's current run (`reset` at its start, `totals` at its end).
The pipeline writes them to `<home>/logs/profile.json` (see ops.runs.write_profile), which
`make bench` reads for its per-stage breakdown; dbt's per-node times are added with `add`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_totals: dict[str, float] = {}


def reset() -> None:
    _totals.clear()


def add(name: str, seconds: float) -> None:
    _totals[name] = _totals.get(name, 0.0) + seconds


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


def totals() -> dict[str, float]:
    """Every phase's seconds so far, rounded to the millisecond, in the order first timed."""
    return {k: round(v, 3) for k, v in _totals.items()}
