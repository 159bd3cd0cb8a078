"""Plain-text rendering of what `netflix-elt status` shows: pure functions from the status
snapshot (see `status.collect_status`) to lines, so the CLI only parses, calls and prints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from netflix_elt.core.text import one_line


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _when(value: Any) -> str:
    """A timestamp as `2026-12-01 22:20:43Z` (UTC), from a datetime or its ISO text."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value[:19]
    return f"{value:%Y-%m-%d %H:%M:%S}Z"


def render_status(snap: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    writer = snap.get("in_progress")
    if writer is not None:
        published = snap.get("published_at")
        since = f"below is the state it published at {_when(published)}" if published else "nothing published yet"
        lines.append(
            f"in progress: run {writer.get('run_id')} (pid {writer.get('pid')}, since {writer.get('started_at')}) "
            f"is writing the warehouse; {since}"
        )
    lines.append("runs (newest first)")
    lines.append(
        f"  {'run_id':<24} {'command':<8} {'started (UTC)':<20} {'status':<13} {'loaded':>6} "
        f"{'cdc +/~/-':>20} {'checks ok/warn/fail':>19} {'secs':>7}"
    )
    for r in snap["runs"]:
        cdc = f"{_n(r['inserted'])}/{_n(r['updated'])}/{_n(r['deleted'])}"
        checks = f"{_n(r['checks_passed'])}/{_n(r['checks_warned'])}/{_n(r['checks_failed'])}"
        lines.append(
            f"  {r['run_id']:<24} {r['command']:<8} {_when(r.get('started_at')):<20} {r['status']:<13} "
            f"{_n(r['batches_loaded']):>6} {cdc:>20} {checks:>19} {r['duration_s'] or 0:>7.1f}"
        )
        if r["message"]:
            lines.append(f"  {'':<24} {one_line(str(r['message']))}")
    lines.append("batches (newest first; applied, pending until a run applies it, refused, rejected or failed)")
    lines.append(f"  {'batch_id':<34} {'status':<9} {'read':>8} {'loaded':>8} {'quar.':>6} {'enc':<9} source")
    for r in snap["batches"]:
        lines.append(
            f"  {r['batch_id']:<34} {r['status']:<9} {_n(r['rows_read']):>8} {_n(r['rows_loaded']):>8} "
            f"{_n(r['rows_quarantined']):>6} {(r['encoding'] or '-'):<9} {one_line(Path(r['source_path']).name)}"
        )
        if r["status"] in ("rejected", "failed", "refused") and r["message"]:
            lines.append(f"  {'':<34} {one_line(str(r['message']))}")
    checks = snap["checks"]
    if not checks:
        lines.append("checks: none yet")
        return lines
    by_status = {s: sum(1 for c in checks if c["status"] == s) for s in ("pass", "warn", "fail", "skip")}
    newest = max(checks, key=lambda c: (c.get("result_seq") or 0, str(c["checked_at"])))
    skipped = f", {by_status['skip']} skipped" if by_status["skip"] else ""
    lines.append(
        f"checks (batch {newest['batch_id'] or '-'}, latest run {newest['run_id']}): {len(checks)} checks: "
        f"{by_status['pass']} passed, {by_status['warn']} warned, {by_status['fail']} failed{skipped}"
    )
    for c in checks:
        if c["status"] in ("warn", "fail"):
            lines.append(f"  {c['status'].upper():<4} {c['check']:<26} {c['observed']} (threshold {c['threshold']})")
    if by_status["skip"]:
        names = ", ".join(c["check"] for c in checks if c["status"] == "skip")
        lines.append(f"  SKIP {by_status['skip']} with nothing to compare with yet (no previous batch): {names}")
    return lines
