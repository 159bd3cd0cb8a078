"""The ledger: every table name and every statement on the bookkeeping tables (`etl_batches`,
`etl_transforms`, `etl_runs`, `dq_results`), with the one definition of each "latest" the stages
ask for. Batches are ordered by their as-of, then their sequence; runs and check results by their
sequence; never by the wall clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import fetch_dicts, table_exists

log = logging.getLogger(__name__)
RAW_TABLE = "raw_netflix_titles"
LEDGER_TABLE = "etl_batches"
TRANSFORMS_TABLE = "etl_transforms"
DQ_TABLE = "dq_results"
RUNS_TABLE = "etl_runs"


AS_OF_STEP = timedelta(microseconds=1)


def assign_sequence(
    con: duckdb.DuckDBPyConnection, explicit_as_of: datetime | None, now: datetime
) -> tuple[int, datetime]:
    """The next batch's sequence number and as-of. The sequence is strictly increasing in arrival
    order. The as-of is the catalog time the batch stands for in history: an explicit one (the
    drop's own date) as given, else the later of the clock and just after the newest batch's, so a
    clock that steps back can never place a new drop before an earlier one. As-ofs are unique
    (a tie moves by a microsecond), so (as_of) alone orders batches."""
    row = con.execute(
        f"select coalesce(max(batch_seq), 0) + 1, max(as_of) filter (where status = 'succeeded') from {LEDGER_TABLE}"
    ).fetchone()
    seq, newest = (int(row[0]), row[1]) if row else (1, None)
    if explicit_as_of is None:
        as_of = now if newest is None or now > newest else newest + AS_OF_STEP
    else:
        as_of = explicit_as_of if explicit_as_of.tzinfo else explicit_as_of.replace(tzinfo=UTC)
    while con.execute(f"select 1 from {LEDGER_TABLE} where status = 'succeeded' and as_of = ?", [as_of]).fetchone():
        as_of += AS_OF_STEP
    return seq, as_of


def recover_interrupted(con: duckdb.DuckDBPyConnection, home: Home) -> list[str]:
    """Batches left 'running' by a killed process never committed rows: mark them failed and
    remove any raw file they managed to publish, so every raw file has a succeeded ledger row."""
    stale = con.execute(f"select batch_id, raw_path from {LEDGER_TABLE} where status = 'running'").fetchall()
    for batch_id, raw_path in stale:
        if raw_path:
            _remove_quietly(home.root / raw_path)
            _remove_quietly((home.root / raw_path).with_suffix(".json"))
        for leftover in [
            *home.root.glob(f"data/*/*/*/.batch_{batch_id}.parquet.tmp"),
            *home.root.glob(f"data/*/*/*/.batch_{batch_id}.json.tmp"),
            *home.tmp_dir.glob(f"{batch_id}.*"),
        ]:
            _remove_quietly(leftover)
        con.execute(
            f"update {LEDGER_TABLE} set status = 'failed', finished_at = ?, "
            "message = 'interrupted before it finished; ingest the file again' where batch_id = ?",
            [utcnow(), batch_id],
        )
        log.warning("batch %s was interrupted by an earlier run; marked failed", batch_id)
    return [b for b, _ in stale]


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # pragma: no cover - permissions on a user's disk
        log.warning("could not remove %s: %s", path, exc)


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


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


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


def latest_ingestion(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest batch (by sequence) finished loading: what freshness measures."""
    value: datetime | None = _one(
        con, f"select finished_at from {LEDGER_TABLE} where status = 'succeeded' order by batch_seq desc limit 1"
    )
    return value


def latest_batches(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """The latest successfully transformed batch and the one before it, in as-of order (the
    sequence breaks ties): what the current table reflects, never decided by the wall clock."""
    rows = con.execute(
        f"select t.batch_id from {TRANSFORMS_TABLE} t join {LEDGER_TABLE} b using (batch_id) "
        "where t.status = 'succeeded' group by t.batch_id order by max(b.as_of) desc, max(b.batch_seq) desc limit 2"
    ).fetchall()
    return (rows[0][0] if rows else None, rows[1][0] if len(rows) > 1 else None)
