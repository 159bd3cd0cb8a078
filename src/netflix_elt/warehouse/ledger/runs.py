"""etl_runs: one row per command run (run, ingest, monitor, rebuild), ordered by its sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.warehouse.ledger.tables import RUNS_TABLE, TRANSFORMS_TABLE, _one

RUN_COLUMNS = (
    "run_id",
    "command",
    "started_at",
    "finished_at",
    "status",
    "batches_loaded",
    "batches_skipped",
    "batches_rejected",
    "batches_transformed",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "revived",
    "checks_passed",
    "checks_warned",
    "checks_failed",
    "duration_s",
    "message",
)


def upsert_run(con: duckdb.DuckDBPyConnection, values: list[Any]) -> None:
    """Write a run's row, again as it goes (`values`: RUN_COLUMNS in order). The run keeps its
    run_seq when its row is rewritten: its place in order, never the clock's."""
    if len(values) != len(RUN_COLUMNS):
        raise ValueError(f"a run row has {len(RUN_COLUMNS)} values, not {len(values)}")
    con.execute(
        f"insert or replace into {RUNS_TABLE} values ({', '.join('?' for _ in RUN_COLUMNS)}, "
        f"coalesce((select run_seq from {RUNS_TABLE} where run_id = ?), "
        f"(select coalesce(max(run_seq), 0) + 1 from {RUNS_TABLE})))",
        [*values, values[0]],
    )


def close_interrupted(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Mark the run and transform rows still 'running' failed (left by a process that died);
    returns (table, rows marked) for each table where there were any."""
    marked = []
    for table in (RUNS_TABLE, TRANSFORMS_TABLE):
        n = con.execute(
            f"update {table} set status = 'failed', finished_at = ?, "
            "message = coalesce(message, 'interrupted before it finished (the process was killed)') "
            "where status = 'running'",
            [utcnow()],
        ).fetchone()
        if n and n[0]:
            marked.append((table, int(n[0])))
    return marked


def first_run_started(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the home's first run started: freshness counts from it before the first drop."""
    value: datetime | None = _one(con, f"select min(started_at) from {RUNS_TABLE}")
    return value
