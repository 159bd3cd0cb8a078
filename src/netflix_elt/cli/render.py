"""Plain-text rendering of what the commands show: pure functions from the library's results
(a batch, a run, a check report, the status snapshot of `state.collect_status`) to lines, so the
CLI only parses, calls and prints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netflix_elt.core.home import Home
from netflix_elt.core.text import one_line

if TYPE_CHECKING:
    from netflix_elt.ingest.load import BatchResult
    from netflix_elt.ops.pipeline import RunResult
    from netflix_elt.quality.checks import MonitorReport


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
    engine = snap.get("engine") or {}
    if engine.get("target") == "bigquery":
        at = f" at {engine['endpoint']}" if engine.get("endpoint") else ""
        lines.append(
            f"models in BigQuery {engine.get('project')}.{engine.get('dataset')}{at} (ledger and raw layer local)"
        )
    return lines


def rel(path: Path, home: Home) -> str:
    """A path as shown: relative to the home when inside it, a folder with a trailing slash."""
    try:
        shown = str(path.relative_to(home.root))
    except ValueError:
        shown = str(path)
    return shown + ("/" if path.is_dir() else "")


def batch_lines(b: BatchResult, home: Home) -> list[str]:
    """One loaded or skipped drop: what was read, where its raw copy went, its warnings."""

    def raw(p: Path | None) -> str:
        if p is None:
            return "-"
        try:
            return str(p.relative_to(home.root))
        except ValueError:
            return str(p)

    name = one_line(b.source.name)  # a line break in a file name must not forge a line of output
    if b.status == "skipped":
        return [f"skipped  {name}: {b.message}"]
    lines = [
        f"loaded   {name}: batch {b.batch_id}, {b.rows_loaded:,} rows "
        f"({b.rows_quarantined:,} quarantined of {b.rows_read:,} read), {b.encoding}, "
        f"delimiter {b.delimiter!r}, {b.seconds:.2f}s",
        f"         raw: {raw(b.raw_path)}",
    ]
    lines.extend(f"         warning: {w}" for w in b.warnings)
    return lines


def check_lines(report: MonitorReport) -> list[str]:
    """Every warned or failed check, one line each."""
    return [
        f"check    {r.status.upper():<4} {r.check} ({r.table}): {r.observed}; threshold {r.threshold}"
        for r in report.results
        if r.status in ("warn", "fail")
    ]


def run_lines(result: RunResult, home: Home) -> list[str]:
    """Each drop of a run, then each batch's CDC counts (or its refusal)."""
    lines: list[str] = []
    for b in result.batches:
        lines.extend(batch_lines(b, home))
    for t in result.transforms:
        if t.status == "refused":
            lines.append(f"refused  batch {t.batch_id}: see the error below; current and history left as they were")
            continue
        lines.append(f"cdc      batch {t.batch_id} ({t.mode}): {t.counts.line()}")
        if t.counts.duplicates_dropped:
            lines.append(f"         {t.counts.duplicates_dropped:,} duplicate show_id row(s) dropped (last one kept)")
        lines.extend(f"         warning: {w}" for w in t.warnings)
    return lines


def run_summary_lines(result: RunResult, home: Home, seconds: float) -> list[str]:
    """The summary a run ends with: batches, CDC totals, checks, outputs, duration."""
    applied = result.applied
    totals = {
        k: sum(getattr(t.counts, k) for t in applied)
        for k in ("inserted", "updated", "unchanged", "deleted", "revived")
    }
    report = result.report
    batches = (
        f"{len(result.loaded)} loaded, {len(result.skipped)} skipped, {len(result.rejected)} rejected, "
        f"{sum(b.rows_loaded for b in result.loaded):,} rows"
    )
    if result.vanished:
        batches += f" ({len(result.vanished)} removed from the inbox before they were read)"
    cdc = ", ".join(f"{v:,} {k}" for k, v in totals.items()) + f" ({len(applied)} batch(es) applied"
    cdc += f", {len(result.refused)} refused)" if result.refused else ")"
    outputs = ", ".join(rel(p, home) for p in [home.warehouse, *result.published]) if result.published else ""
    rows = [
        ("run", f"{result.run_id}: {result.status}"),
        ("batches", batches),
        ("cdc", cdc),
        ("checks", report.summary() if report else "not run"),
        ("outputs", outputs or rel(home.warehouse, home)),
        ("duration", f"{seconds:.2f}s"),
    ]
    return ["summary:", *(f"  {k:<9} {v}" for k, v in rows)]


def writer_line(writer: dict[str, Any], published_at: Any) -> str:
    """What `monitor` says when it answers from the published checks while a run writes."""
    when = f"checks as published at {published_at}" if published_at else "no checks published yet (its first run)"
    return (
        f"run {writer.get('run_id')} (pid {writer.get('pid')}, since {writer.get('started_at')}) is writing the "
        f"warehouse: {when}, freshness re-evaluated now; nothing stored (--wait to check afresh after it)"
    )


def schedule_lines(crontab: str, service: str, timer: str) -> list[str]:
    """The crontab line and the systemd unit pair, each under a header naming where it goes."""
    return [
        "# --- cron " + "-" * 60,
        crontab,
        "\n# --- ~/.config/systemd/user/netflix-elt.service " + "-" * 22,
        service.rstrip("\n"),
        "\n# --- ~/.config/systemd/user/netflix-elt.timer " + "-" * 24,
        timer.rstrip("\n"),
    ]
