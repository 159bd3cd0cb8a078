"""dq_results: one row per check per run. The current answer of every check is its latest result
for the batch checked last (`latest_results`)."""

from __future__ import annotations

from typing import Any

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.warehouse.connection import fetch_dicts, table_exists
from netflix_elt.warehouse.ledger.tables import DQ_TABLE, _one

# the latest result of a check; of two stored at once (two batches in one run), the worse
# Newest by the sequence each stored set of results gets (the clock may have stepped since).
_NEWEST_WORST = (
    "result_seq desc nulls last, checked_at desc, case status when 'fail' then 0 when 'warn' then 1 else 2 end"
)


_RESULT_COLUMNS = (
    'run_id, batch_id, "check", "table", severity, status, observed, threshold, message, checked_at, result_seq'
)


def latest_results(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The current answer of every check: its latest stored result for the batch checked last
    (a run with no new batch stores only the cheap checks; the others keep their last result)."""
    if not table_exists(con, DQ_TABLE):
        return []
    return fetch_dicts(
        con,
        f"select {_RESULT_COLUMNS} from {DQ_TABLE} "
        f"where batch_id is not distinct from (select batch_id from {DQ_TABLE} "
        "order by result_seq desc nulls last, checked_at desc limit 1) "
        f'qualify row_number() over (partition by "check" order by {_NEWEST_WORST}) = 1 '
        "order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, \"check\"",
    )


def store_results(con: duckdb.DuckDBPyConnection, rows: list[list[Any]]) -> None:
    """Append one set of results: each row as in _RESULT_COLUMNS without checked_at and
    result_seq, which the set shares (the next sequence number)."""
    if not rows or not table_exists(con, DQ_TABLE):
        return
    seq = _one(con, f"select coalesce(max(result_seq), 0) + 1 from {DQ_TABLE}")
    at = utcnow()
    con.executemany(
        f"insert into {DQ_TABLE} ({_RESULT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[*row, at, seq] for row in rows],
    )


def batch_results(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[dict[str, Any]]:
    """The latest stored result of every check for the batch."""
    if not table_exists(con, DQ_TABLE):
        return []
    return fetch_dicts(
        con,
        f"select {_RESULT_COLUMNS} from {DQ_TABLE} where batch_id = ? "
        f'qualify row_number() over (partition by "check" order by {_NEWEST_WORST}) = 1 order by "check"',
        [batch_id],
    )


def has_result(con: duckdb.DuckDBPyConnection, batch_id: str, check: str) -> bool:
    """Whether `check` was ever stored for the batch."""
    if not table_exists(con, DQ_TABLE):
        return False
    return bool(_one(con, f'select count(*) from {DQ_TABLE} where batch_id = ? and "check" = ?', [batch_id, check]))
