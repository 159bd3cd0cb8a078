"""What `netflix-elt status` shows: the latest runs, batches and check results."""

from __future__ import annotations

from typing import Any

from netflix_elt.home import Home
from netflix_elt.warehouse import DQ_TABLE, LEDGER_TABLE, RUNS_TABLE, connect, fetch_dicts


def collect_status(home: Home, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Latest runs and batches (newest first) and the latest check results, read-only."""
    con = connect(home, read_only=True)
    try:
        runs = fetch_dicts(
            con,
            f"select run_id, command, status, started_at, duration_s, batches_loaded, batches_skipped, "
            f"batches_rejected, batches_transformed, inserted, updated, unchanged, deleted, revived, "
            f"checks_passed, checks_warned, checks_failed, message from {RUNS_TABLE} order by started_at desc limit ?",
            [limit],
        )
        batches = fetch_dicts(
            con,
            f"select batch_id, status, source_path, encoding, delimiter, rows_read, rows_loaded, rows_quarantined, "
            f"started_at, finished_at, message from {LEDGER_TABLE} order by started_at desc limit ?",
            [limit],
        )
        checks = fetch_dicts(
            con,
            f'select run_id, batch_id, "check", "table", severity, status, observed, threshold, message, checked_at '
            f"from {DQ_TABLE} where run_id = (select run_id from {DQ_TABLE} order by checked_at desc limit 1) "
            "order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, \"check\"",
        )
    finally:
        con.close()
    return {"runs": runs, "batches": batches, "checks": checks}
