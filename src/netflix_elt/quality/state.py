"""What `netflix-elt status` shows: the latest runs, batches and check results.

DuckDB lets one process write a database file and no other process open it meanwhile, so a
read-only command cannot look into the warehouse while a run writes it (and must not hold it open
when a run starts). Every run and monitor therefore ends by publishing what status shows to
`reports/state.json` (written to a temporary name, then renamed); while a run holds the home,
status and monitor answer from that file, saying which run is in progress.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from netflix_elt.core.home import Home
from netflix_elt.core.lock import peek
from netflix_elt.warehouse.connection import connect, fetch_dicts, utcnow
from netflix_elt.warehouse.ledger import LEDGER_TABLE, RUNS_TABLE, TRANSFORMS_TABLE, latest_ingestion, latest_results

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_LIMIT = 50  # runs and batches kept in the published state


def state_path(home: Home) -> Path:
    return home.root / "reports" / STATE_FILE


def collect_status(home: Home, limit: int = 10) -> dict[str, Any]:
    """Latest runs and batches (newest first), the current result of every check, and the run in
    progress if any. Read from the warehouse when no run holds the home, else from the state the
    last run published (`source` says which)."""
    from netflix_elt.warehouse.target import home_facts

    engine = home_facts(home) or {"target": "duckdb"}  # where the models live (no credential)
    with peek(home) as writer:
        if writer is None:
            snap = _read_warehouse(home, limit, read_only=True)
            snap.update(source="warehouse", in_progress=None, engine=engine)
            return snap
    snap = read_state(home)
    snap["runs"], snap["batches"] = snap["runs"][:limit], snap["batches"][:limit]
    snap.update(source="published state", in_progress=writer, engine=engine)
    return snap


def publish_state(home: Home) -> Path | None:
    """Write what status shows to reports/state.json. Called by the writer (holding the home's
    lock) at the end of every run and monitor; never fails the run (the state is a convenience)."""
    try:
        snap = _read_warehouse(home, STATE_LIMIT, read_only=False)  # the writer's own configuration
        snap["published_at"] = utcnow()
        path = state_path(home)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(snap, default=_json_default, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path
    except Exception as exc:  # a missing state file only makes status wait-free answers older
        log.warning("could not publish %s: %s", state_path(home), exc)
        return None


def read_state(home: Home) -> dict[str, Any]:
    """The state the last run published (empty lists before the first one)."""
    try:
        data = json.loads(state_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {
        "runs": list(data.get("runs") or []),
        "batches": list(data.get("batches") or []),
        "checks": list(data.get("checks") or []),
        "latest_ingestion": data.get("latest_ingestion"),
        "published_at": data.get("published_at"),
    }


def _read_warehouse(home: Home, limit: int, *, read_only: bool) -> dict[str, Any]:
    con = connect(home, read_only=read_only)
    try:
        runs = fetch_dicts(
            con,
            f"select run_id, command, status, started_at, duration_s, batches_loaded, batches_skipped, "
            f"batches_rejected, batches_transformed, inserted, updated, unchanged, deleted, revived, "
            f"checks_passed, checks_warned, checks_failed, message from {RUNS_TABLE} "
            "order by run_seq desc nulls last, started_at desc limit ?",
            [limit],
        )
        batches = fetch_dicts(
            con,
            # A loaded batch is `pending` until a run applies it, `refused` when a guard refused it
            # (with the refusal as its message): what happened to it, not only to its ingest.
            f"select b.batch_id, case when b.status <> 'succeeded' then b.status "
            f"when t.status = 'succeeded' then 'applied' when t.status = 'refused' then 'refused' "
            f"else 'pending' end as status, b.status as ingest_status, b.source_path, b.encoding, b.delimiter, "
            f"b.rows_read, b.rows_loaded, b.rows_quarantined, b.as_of, b.started_at, b.finished_at, "
            f"coalesce(case when t.status = 'refused' then t.message end, b.message) as message "
            f"from {LEDGER_TABLE} b left join (select batch_id, status, message from {TRANSFORMS_TABLE} "
            "where status in ('succeeded', 'refused') qualify row_number() over (partition by batch_id "
            "order by status = 'succeeded' desc, finished_at desc) = 1) t using (batch_id) "
            "order by b.batch_seq desc nulls first limit ?",
            [limit],
        )
        checks = latest_results(con)
        latest = latest_ingestion(con)
    finally:
        con.close()
    return {"runs": runs, "batches": batches, "checks": checks, "latest_ingestion": latest}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
