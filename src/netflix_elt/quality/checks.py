"""The checks netflix-elt owns, run over the ledger and the warehouse and stored in `dq_results`
so they can be trended; dbt's own tests (from the build, or a fresh `dbt test`) are stored with
them as `dbt:<test name>`.

One home per check: dbt owns the row-level tests (not_null, unique, accepted values, the staging
reconciliation, the bridges' relationships, the drop guards); Python owns what reads the ledger or
compares batches: freshness, the current table against the keys ever applied, null-rate jumps,
volume, schema drift, and the drop guards' latest decision (`key_remap_guard`).

A run that transforms no new batch need not rescan the data: only the checks that read nothing but
the ledger and the transform log (freshness, which changes with the clock, the key-remap guard,
which a refused drop changes, volume and schema drift) are run and stored again; every other
result for the same batch is carried forward into the report from the run that last produced it
(so the exit code and the counts still describe the data), but not stored again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import duckdb

from netflix_elt.core import timing
from netflix_elt.core.home import Home
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, REQUIRED_COLUMNS
from netflix_elt.quality.freshness import freshness, report_from_state
from netflix_elt.quality.results import CheckResult, MonitorOptions, MonitorReport, pct, status_of
from netflix_elt.transform.dbt import DbtNodeResult
from netflix_elt.transform.registry import CURRENT
from netflix_elt.warehouse import ledger
from netflix_elt.warehouse.connection import connect, utcnow
from netflix_elt.warehouse.engine import model_reader
from netflix_elt.warehouse.ledger import LEDGER_TABLE, RAW_TABLE

__all__ = [
    "GUARD_CHECKS",
    "GUARD_DBT_TESTS",
    "CheckResult",
    "MonitorOptions",
    "MonitorReport",
    "report_from_state",
    "run_checks",
]

log = logging.getLogger(__name__)

# The drop guards: judged once, when a batch is transformed (dbt's singular tests on the staged
# drop), and reported by `key_remap_guard` for the latest drop. `monitor` does not re-run the dbt
# tests: after a refusal staging holds the refused drop, which was decided already.
GUARD_DBT_TESTS = ("assert_keys_not_renumbered", "assert_deletes_within_threshold")
GUARD_CHECKS = ("key_remap_guard", *(f"dbt:{t}" for t in GUARD_DBT_TESTS))


def run_checks(
    home: Home,
    run_id: str,
    options: MonitorOptions | None = None,
    *,
    now: datetime | None = None,
    dbt_results: list[DbtNodeResult] | None = None,
    full: bool | None = True,
) -> MonitorReport:
    """Run the checks, store their results in dq_results, and return them.

    `full=True` runs every check. `full=None` runs every check only when the latest transformed
    batch has not been fully checked yet (or dbt results are given); otherwise only the cheap ones
    (see the module doc), with the other results carried forward. `full=False` forces the cheap set."""
    options = options or MonitorOptions()
    now = now or utcnow()
    report = MonitorReport(run_id=run_id)
    con = connect(home)
    try:
        report.results += _freshness(con, now, options)
        batch, previous = ledger.latest_batches(con)
        if full is None:
            full = batch is None or bool(dbt_results) or not ledger.has_result(con, batch, FULL_MARKER)
        report.full = full
        if batch is None:
            report.results.append(
                CheckResult("transformed_batch", CURRENT, "fail", "skip", "none", ">= 1", "no batch transformed yet")
            )
        elif full:
            with timing.phase("monitor.reconcile_current"):
                report.results += _reconcile_current(home, con, batch)
            with timing.phase("monitor.null_rates"):
                report.results += _null_rates(con, batch, previous, options)
            with timing.phase("monitor.volume_and_schema"):
                report.results += _volume(con, batch, previous, options)
                report.results += _schema_drift(con, batch)
        else:
            with timing.phase("monitor.volume_and_schema"):
                report.results += _volume(con, batch, previous, options)
                report.results += _schema_drift(con, batch)
        report.results += _key_remap(con)
        for r in dbt_results or []:
            report.results.append(
                CheckResult(
                    check=f"dbt:{r.name}",
                    table=r.table,
                    severity=r.severity,
                    status=r.status,
                    observed=f"{r.failures} failing row(s)",
                    threshold="0",
                    message=r.message,
                    batch_id=batch,
                )
            )
        ledger.store_results(con, [_row(report.run_id, r, batch) for r in report.results])
        if batch is not None:  # every other check of the batch, as it was last checked
            report.results += _carried(con, batch, {r.check for r in report.results})
    finally:
        con.close()
    if not full:
        log.info("no new batch since %s was fully checked: re-ran only the cheap checks", batch)
    for c in report.results:
        if c.status in ("warn", "fail"):
            level = logging.ERROR if c.status == "fail" else logging.WARNING
            log.log(
                level,
                "check %s %s on %s: observed %s, threshold %s%s",
                c.check,
                c.status.upper(),
                c.table,
                c.observed,
                c.threshold,
                f" ({c.message})" if c.message else "",
                extra={"console": False},  # the CLI lists them once, when the command ends
            )
    log.info("%s", report.summary())
    return report


# A check only the full set runs whenever a batch exists: its result marks the batch fully checked.
FULL_MARKER = "reconcile_current"


def _row(run_id: str, r: CheckResult, batch: str | None) -> list[object]:
    return [
        run_id,
        r.batch_id or batch,
        r.check,
        r.table,
        r.severity,
        r.status,
        r.observed,
        r.threshold,
        r.message or None,
    ]


def _carried(con: duckdb.DuckDBPyConnection, batch: str, fresh: set[str]) -> list[CheckResult]:
    """The latest stored result of every other check for `batch`, marked as carried forward."""
    return [
        CheckResult(
            r["check"],
            r["table"],
            r["severity"],
            r["status"],
            r["observed"] or "",
            r["threshold"] or "",
            r["message"] or "",
            batch,
            r["run_id"],
        )
        for r in ledger.batch_results(con, batch)
        if r["check"] not in fresh
    ]


def _freshness(con: duckdb.DuckDBPyConnection, now: datetime, o: MonitorOptions) -> list[CheckResult]:
    # The newest arrival by sequence: after a clock that ran ahead, max(finished_at) would stay
    # in the future for as long as the clock was off.
    latest = ledger.latest_ingestion(con)
    since = None if latest is not None else ledger.first_run_started(con)
    return freshness(latest, now, o, home_since=since)


def _reconcile_current(home: Home, con: duckdb.DuckDBPyConnection, batch: str) -> list[CheckResult]:
    """current = active + soft-deleted = distinct keys ever seen in the applied batches. The
    current table is read where the models live (DuckDB or BigQuery), the keys seen locally."""
    reader = model_reader(home, con)
    try:
        rows = reader.rows(
            "select count(*), sum(case when not is_deleted then 1 else 0 end), "
            f"sum(case when is_deleted then 1 else 0 end) from {{{CURRENT}}}"
        )
    finally:
        reader.close()
    total, active, deleted = (int(x or 0) for x in rows[0]) if rows else (0, 0, 0)
    seen = ledger.keys_seen(con)
    ok = total == active + deleted == seen
    return [
        CheckResult(
            "reconcile_current",
            CURRENT,
            "fail",
            status_of(not ok, "fail"),
            f"{total} rows = {active} active + {deleted} deleted; {seen} keys seen"
            + (" (BigQuery)" if reader.engine == "bigquery" else ""),
            "equal",
            "",
            batch,
        )
    ]


def _blank(column: str) -> str:
    """SQL for "NULL or blank once trimmed", as `nullif(trim(c), '') is null` but trimming only a
    value that starts with a character trim() may remove (a space, or any non-ASCII one): most
    values start with a letter, and trimming every value of every column was most of the check's
    time (0.85 s of 2M rows; 0.47 s so)."""
    c = f'"{column}"'
    return f"({c} is null or {c} = '' or ((starts_with({c}, ' ') or ascii({c}) > 127) and trim({c}) = ''))"


def _null_rates(
    con: duckdb.DuckDBPyConnection, batch: str, previous: str | None, o: MonitorOptions
) -> list[CheckResult]:
    """The null rate of every optional column, against the previous batch."""
    cols = [c for c in CANONICAL_COLUMNS if c not in REQUIRED_COLUMNS]
    exprs = ", ".join(f"avg(case when {_blank(c)} then 1.0 else 0.0 end)" for c in cols)
    # Both batches in one scan of the raw table (one pass over 2M rows, not two at 1M).
    rates = {
        row[0]: row[1:]
        for row in con.execute(
            f"select _batch_id, {exprs} from {RAW_TABLE} where _batch_id in (?, ?) group by _batch_id",
            [batch, previous or batch],
        ).fetchall()
    }
    now_rates = rates.get(batch, ())
    before = rates.get(previous) if previous else None
    out = []
    for i, col in enumerate(cols):
        rate = now_rates[i]
        prev = before[i] if before else None
        jump = (rate - prev) if (rate is not None and prev is not None) else None
        status = "skip" if jump is None else status_of(jump > o.null_rate_jump, "warn")
        out.append(
            CheckResult(
                f"null_rate:{col}",
                RAW_TABLE,
                "warn",
                status,
                f"{pct(rate)} (previous {pct(prev)})",
                f"rise <= {o.null_rate_jump:.0%} points",
                "",
                batch,
            )
        )
    return out


def _volume(con: duckdb.DuckDBPyConnection, batch: str, previous: str | None, o: MonitorOptions) -> list[CheckResult]:
    rows = ledger.rows_loaded(con, [batch, previous])
    threshold = f"change <= {o.volume_change:.0%}"
    if previous is None or not rows.get(previous):
        return [
            CheckResult(
                "volume", RAW_TABLE, "warn", "skip", f"{rows.get(batch)} rows (no previous batch)", threshold, "", batch
            )
        ]
    change = (rows[batch] - rows[previous]) / rows[previous]
    return [
        CheckResult(
            "volume",
            RAW_TABLE,
            "warn",
            status_of(abs(change) > o.volume_change, "warn"),
            f"{rows[batch]} rows vs {rows[previous]} ({change:+.1%})",
            threshold,
            "",
            batch,
        )
    ]


def _schema_drift(con: duckdb.DuckDBPyConnection, batch: str) -> list[CheckResult]:
    mapping = ledger.column_mapping(con, batch)
    mapped = set(mapping.values())
    missing = [c for c in CANONICAL_COLUMNS if c not in mapped]
    added = [h for h, t in mapping.items() if t == "_extra"]
    drift = bool(missing or added)
    observed = f"missing: {', '.join(missing) or '-'}; added: {', '.join(added) or '-'}"
    return [
        CheckResult(
            "schema_drift",
            LEDGER_TABLE,
            "warn",
            status_of(drift, "warn"),
            observed,
            "the 12 canonical columns, nothing else",
            "",
            batch,
        )
    ]


def _key_remap(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """The drop guards' verdict on the latest drop: `fail` while the newest decided drop is one a
    guard refused (until a newer one is applied, or it is accepted)."""
    from netflix_elt.transform.batches import DEFAULT_KEY_CHANGE_THRESHOLD, DEFAULT_MAX_DELETE_RATIO

    threshold = (
        f"renumbered keys <= {DEFAULT_KEY_CHANGE_THRESHOLD:.0%}, deletions <= {DEFAULT_MAX_DELETE_RATIO:.0%} "
        "(unless overridden)"
    )
    row = ledger.latest_decision(con)
    if row is None:
        return [CheckResult("key_remap_guard", CURRENT, "fail", "skip", "no batch checked", threshold)]
    batch, status, share, delete_share, source = row  # stored with the checked (applied) batch
    if status == "refused" and delete_share is not None:
        observed = f"{pct(delete_share)} of active titles would be deleted"
    else:
        observed = f"{pct(share)} of matched keys changed title"
    refused = status == "refused"
    return [
        CheckResult(
            "key_remap_guard",
            CURRENT,
            "fail",
            "fail" if refused else "pass",
            observed,
            threshold,
            f"the latest drop ({Path(source).name}, batch {batch}) was refused: `netflix-elt status` shows why"
            if refused
            else "",
        )
    ]
