"""What `netflix-elt status` shows: the latest runs, batches and check results."""

from __future__ import annotations

from typing import Any

from netflix_elt.home import Home
from netflix_elt.monitor import latest_results
from netflix_elt.warehouse import LEDGER_TABLE, RUNS_TABLE, connect, fetch_dicts


def collect_status(home: Home, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Latest runs and batches (newest first) and the current result of every check (its latest,
    for the batch checked last: a run with no new batch re-runs only the cheap checks), read-only."""
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
        checks = latest_results(con)
    finally:
        con.close()
    return {"runs": runs, "batches": batches, "checks": checks}
