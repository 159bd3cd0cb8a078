"""Freshness: hours since the latest successful ingestion against the warn and fail thresholds.
The one check whose answer changes with the clock alone, so every command evaluates it afresh;
also from the published state when a run holds the warehouse (`report_from_state`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from netflix_elt.quality.results import CheckResult, MonitorOptions, MonitorReport
from netflix_elt.warehouse.connection import utcnow
from netflix_elt.warehouse.ledger import LEDGER_TABLE

FUTURE_TOLERANCE_HOURS = 5 / 60  # clocks of one host agree within minutes; more is a step


def freshness(
    latest: datetime | None, now: datetime, o: MonitorOptions, *, home_since: datetime | None = None
) -> list[CheckResult]:
    """Hours since the latest successful ingestion against the warn and fail thresholds. Before
    the first drop, the age of the home (its first run: a fresh home's first scheduled runs find an
    empty inbox) takes its place, so a home that never receives a drop still alarms in time."""
    threshold = f"warn > {o.freshness_warn_hours:g}h, fail > {o.freshness_fail_hours:g}h"
    if latest is None and home_since is None:
        return [CheckResult("freshness", LEDGER_TABLE, "fail", "fail", "no successful ingestion", threshold)]
    if latest is None:
        assert home_since is not None
        age = (now - home_since).total_seconds() / 3600
        status = "fail" if age > o.freshness_fail_hours else "warn" if age > o.freshness_warn_hours else "pass"
        return [
            CheckResult(
                "freshness",
                LEDGER_TABLE,
                "warn" if status == "warn" else "fail",
                status,
                f"no drop ingested yet; the home's first run was {max(age, 0):.1f}h ago",
                threshold,
            )
        ]
    hours = (now - latest).total_seconds() / 3600
    if hours < -FUTURE_TOLERANCE_HOURS:
        # The clock stepped back since (or stood ahead then): the age is unknown, not negative.
        return [
            CheckResult(
                "freshness",
                LEDGER_TABLE,
                "warn",
                "warn",
                f"latest ingestion {latest.isoformat()} lies {-hours:.1f}h in the future: the clock stepped back, "
                "or was ahead when it ran",
                threshold,
            )
        ]
    if hours > o.freshness_fail_hours:
        severity, status = "fail", "fail"
    elif hours > o.freshness_warn_hours:
        severity, status = "warn", "warn"
    else:
        severity, status = "fail", "pass"
    return [
        CheckResult("freshness", LEDGER_TABLE, severity, status, f"{hours:.1f}h since {latest.isoformat()}", threshold)
    ]


def report_from_state(
    state: dict[str, Any], run_id: str, options: MonitorOptions | None = None, *, in_progress: bool = False
) -> MonitorReport:
    """The checks as the last run published them (reports/state.json), with freshness re-evaluated
    against the clock: what `monitor` answers while another run holds the warehouse. Nothing is
    stored (the warehouse is not opened). While the first run is still loading (`in_progress`,
    nothing ingested yet) freshness is `skip`, not a failure."""
    options = options or MonitorOptions()
    latest = state.get("latest_ingestion")
    report = MonitorReport(run_id=run_id, full=False)
    if latest is None and in_progress:
        report.results.append(
            CheckResult("freshness", LEDGER_TABLE, "fail", "skip", "the first run is still loading", "first ingestion")
        )
    else:
        report.results += freshness(datetime.fromisoformat(latest) if latest else None, utcnow(), options)
    for c in state.get("checks") or []:
        if c.get("check") == "freshness":
            continue
        report.results.append(
            CheckResult(
                check=str(c["check"]),
                table=c.get("table"),
                severity=str(c["severity"]),
                status=str(c["status"]),
                observed=str(c.get("observed") or ""),
                threshold=str(c.get("threshold") or ""),
                message=str(c.get("message") or ""),
                batch_id=c.get("batch_id"),
                carried_from=str(c.get("run_id") or "?"),
            )
        )
    return report
