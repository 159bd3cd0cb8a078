"""etl_transforms: one row per transform of a batch in a run, with its CDC counts and the drop
guards' figures and decision."""

from __future__ import annotations

from typing import Any

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.warehouse.connection import fetch_dicts
from netflix_elt.warehouse.ledger.tables import LEDGER_TABLE, RUNS_TABLE, TRANSFORMS_TABLE


def latest_transform(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The newest succeeded transform: of the latest batch in as-of order, by its run's sequence.
    A replay (a late drop, `rebuild`) transforms the latest batch again in a new run, so the
    (batch_id, run_id) pair tells whether what was published still reflects the warehouse."""
    rows = fetch_dicts(
        con,
        f"select t.batch_id, t.run_id, t.finished_at, t.inserted, t.updated, t.unchanged, t.deleted, t.revived, "
        f"b.source_path, b.rows_loaded from {TRANSFORMS_TABLE} t join {LEDGER_TABLE} b using (batch_id) "
        f"left join {RUNS_TABLE} r using (run_id) where t.status = 'succeeded' "
        "order by b.as_of desc, b.batch_seq desc, r.run_seq desc nulls last, t.finished_at desc limit 1",
    )
    return rows[0] if rows else None


def insert_transform(con: duckdb.DuckDBPyConnection, run_id: str, batch_id: str, mode: str) -> None:
    """A transform's row, 'running'."""
    con.execute(
        f"insert into {TRANSFORMS_TABLE} (run_id, batch_id, mode, started_at, status) values (?, ?, ?, ?, 'running')",
        [run_id, batch_id, mode, utcnow()],
    )


TRANSFORM_OUTCOME_COLUMNS = (
    "status",
    "staged_rows",
    "duplicates_dropped",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "revived",
    "tests_passed",
    "tests_warned",
    "tests_failed",
    "message",
    "key_change_share",
    "delete_share",
)


def finish_transform(con: duckdb.DuckDBPyConnection, run_id: str, batch_id: str, outcome: dict[str, Any]) -> None:
    """A transform's outcome (`outcome`: TRANSFORM_OUTCOME_COLUMNS by name), finished now."""
    values = [outcome[c] for c in TRANSFORM_OUTCOME_COLUMNS]
    con.execute(
        f"update {TRANSFORMS_TABLE} set status = ?, finished_at = ?, staged_rows = ?, duplicates_dropped = ?, "
        "inserted = ?, updated = ?, unchanged = ?, deleted = ?, revived = ?, tests_passed = ?, "
        "tests_warned = ?, tests_failed = ?, message = ?, key_change_share = ?, delete_share = ? "
        "where run_id = ? and batch_id = ?",
        [values[0], utcnow(), *values[1:], run_id, batch_id],
    )


def latest_decision(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The drop guards' latest decision: (batch_id, status, key_change_share, delete_share,
    source_path) of the newest batch applied or refused, in as-of order."""
    return con.execute(
        f"select t.batch_id, t.status, t.key_change_share, t.delete_share, b.source_path from {TRANSFORMS_TABLE} t "
        f"join {LEDGER_TABLE} b using (batch_id) where t.status in ('succeeded', 'refused') "
        "order by b.as_of desc, b.batch_seq desc, t.started_at desc limit 1"
    ).fetchone()
