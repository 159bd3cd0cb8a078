"""Data-quality checks over the warehouse, stored in `dq_results` so they can be trended.

Each check has a name, the table it looks at, a severity (what a breach means: `warn` or
`fail`), a status (`pass`, `warn`, `fail`, or `skip` when there is nothing to check yet), the
observed value and the threshold. dbt's own test results (from the build, or a fresh `dbt test`)
are collected into the same table as `dbt:<test name>`.

A run that transforms no new batch need not rescan the data: only the checks that read nothing but
the ledger and the transform log (freshness, which changes with the clock, the key-remap guard,
which a refused drop changes, volume and schema drift) are run and stored again; every other
result for the same batch is carried forward into the report from the run that last produced it
(so the exit code and the counts still describe the data), but not stored again.
`latest_results` gives the current answer of every check: its latest result for the latest batch
checked.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.home import Home
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, REQUIRED_COLUMNS
from netflix_elt.transform.dbt import DbtNodeResult, project_dir
from netflix_elt.warehouse.connection import connect, table_exists, utcnow
from netflix_elt.warehouse.ledger import (
    _NEWEST_WORST,
    DQ_TABLE,
    LEDGER_TABLE,
    RUNS_TABLE,
    TRANSFORMS_TABLE,
    _one,
    latest_batches,
    latest_ingestion,
)

log = logging.getLogger(__name__)

CURRENT = "analytics_netflix_current"
RAW = "raw_netflix_titles"
STATUS_ORDER = {"pass": 0, "skip": 0, "warn": 1, "fail": 2}
# The drop guards: judged once, when a batch is transformed (dbt's singular tests on the staged
# drop), and reported by `key_remap_guard` for the latest drop. `monitor` does not re-run the dbt
# tests: after a refusal staging holds the refused drop, which was decided already.
GUARD_DBT_TESTS = ("assert_keys_not_renumbered", "assert_deletes_within_threshold")
GUARD_CHECKS = ("key_remap_guard", *(f"dbt:{t}" for t in GUARD_DBT_TESTS))


@dataclass(frozen=True)
class MonitorOptions:
    freshness_warn_hours: float = 24.0
    freshness_fail_hours: float = 72.0
    volume_change: float = 0.20
    null_rate_jump: float = 0.10
    strict: bool = False


@dataclass(frozen=True)
class CheckResult:
    check: str
    table: str | None
    severity: str  # warn | fail: what a breach of this check means
    status: str  # pass | warn | fail | skip
    observed: str
    threshold: str
    message: str = ""
    batch_id: str | None = None
    carried_from: str | None = None  # the run that stored this result, when it was not re-run


@dataclass
class MonitorReport:
    run_id: str
    results: list[CheckResult] = field(default_factory=list)
    full: bool = True  # False: only the cheap checks ran; the others were carried forward

    @property
    def carried(self) -> int:
        return sum(1 for r in self.results if r.carried_from)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def warned(self) -> int:
        return self.count("warn")

    @property
    def failed(self) -> int:
        return self.count("fail")

    def exit_code(self, strict: bool = False, ignore: tuple[str, ...] = ()) -> int:
        """0 all pass (warnings allowed unless strict), 1 a fail-level check failed (`ignore`:
        checks whose failure the caller reports otherwise)."""
        counted = [r for r in self.results if r.check not in ignore]
        if any(r.status == "fail" for r in counted) or (strict and any(r.status == "warn" for r in counted)):
            return 1
        return 0

    def summary(self) -> str:
        """'86 checks: 84 passed, 2 warned, 0 failed (11 run now, 75 as last checked on batch X)':
        every command reports every check's current answer, so the counts agree everywhere."""
        skipped = self.count("skip")
        text = f"{len(self.results)} checks: {self.passed} passed, {self.warned} warned, {self.failed} failed" + (
            f", {skipped} skipped" if skipped else ""
        )
        if self.carried:
            batches = {r.batch_id for r in self.results if r.carried_from and r.batch_id}
            on = f" on batch {next(iter(batches))}" if len(batches) == 1 else ""
            text += f" ({len(self.results) - self.carried} run now, {self.carried} as last checked{on})"
        return text


def _status(breached: bool, severity: str) -> str:
    return severity if breached else "pass"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def known_ratings() -> list[str]:
    """The accepted ratings, from the dbt project's vars (one source of truth)."""
    import yaml

    doc = yaml.safe_load((project_dir() / "dbt_project.yml").read_text(encoding="utf-8"))
    return list(doc["vars"]["known_ratings"])


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
        batch, previous = latest_batches(con)
        if full is None:
            full = batch is None or bool(dbt_results) or not _fully_checked(con, batch)
        report.full = full
        if batch is None:
            report.results.append(
                CheckResult("transformed_batch", CURRENT, "fail", "skip", "none", ">= 1", "no batch transformed yet")
            )
        elif full:
            for check in (_reconcile_batch, _reconcile_current, _keys, _null_rates, _accepted_values, _volume):
                report.results += check(con, batch, previous, options)
            report.results += _schema_drift(con, batch)
        else:
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
        _store(con, report, batch)
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
FULL_MARKER = "reconcile_raw_batch"


def _fully_checked(con: duckdb.DuckDBPyConnection, batch: str) -> bool:
    if not table_exists(con, DQ_TABLE):  # pragma: no cover - created by migration 3
        return False
    return bool(_one(con, f'select count(*) from {DQ_TABLE} where batch_id = ? and "check" = ?', [batch, FULL_MARKER]))


def _carried(con: duckdb.DuckDBPyConnection, batch: str, fresh: set[str]) -> list[CheckResult]:
    """The latest stored result of every other check for `batch`, marked as carried forward."""
    rows = con.execute(
        f'select run_id, "check", "table", severity, status, observed, threshold, message from {DQ_TABLE} '
        f'where batch_id = ? qualify row_number() over (partition by "check" order by {_NEWEST_WORST}) = 1 '
        'order by "check"',
        [batch],
    ).fetchall()
    return [
        CheckResult(check, table, severity, status, observed or "", threshold or "", message or "", batch, run_id)
        for run_id, check, table, severity, status, observed, threshold, message in rows
        if check not in fresh
    ]


def _freshness(con: duckdb.DuckDBPyConnection, now: datetime, o: MonitorOptions) -> list[CheckResult]:
    # The newest arrival by sequence: after a clock that ran ahead, max(finished_at) would stay
    # in the future for as long as the clock was off.
    latest = latest_ingestion(con)
    since = None if latest is not None else _one(con, f"select min(started_at) from {RUNS_TABLE}")
    return freshness(latest, now, o, home_since=since)


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


def _reconcile_batch(
    con: duckdb.DuckDBPyConnection, batch: str, _p: str | None, _o: MonitorOptions
) -> list[CheckResult]:
    """raw batch (lines read) = staging rows + quarantined + duplicate keys dropped."""
    read, quarantined = con.execute(
        f"select rows_read, rows_quarantined from {LEDGER_TABLE} where batch_id = ?", [batch]
    ).fetchone() or (0, 0)
    raw_rows, raw_keys = con.execute(
        f"select count(*), count(distinct nullif(trim(show_id), '')) + count(*) - count(nullif(trim(show_id), '')) "
        f"from {RAW} where _batch_id = ?",
        [batch],
    ).fetchone() or (0, 0)
    staged_batch = _one(con, "select any_value(batch_id) from staging_netflix_titles")
    staged = _one(con, "select count(*) from staging_netflix_titles") if staged_batch == batch else None
    if staged is None:
        # Staging holds a later drop a guard refused (it stopped before the change set): the rows
        # the latest applied batch staged are those its transform recorded.
        staged = _one(
            con,
            f"select staged_rows from {TRANSFORMS_TABLE} where batch_id = ? and status = 'succeeded' "
            "order by finished_at desc limit 1",
            [batch],
        )
    if staged is None:
        return [
            CheckResult(
                "reconcile_raw_batch",
                "staging_netflix_titles",
                "fail",
                "fail",
                f"staging holds {staged_batch}",
                batch,
                "staging does not hold the latest transformed batch",
                batch,
            )
        ]
    duplicates = raw_rows - raw_keys
    ok = read == staged + quarantined + duplicates
    return [
        CheckResult(
            "reconcile_raw_batch",
            RAW,
            "fail",
            _status(not ok, "fail"),
            f"{read} read = {staged} staged + {quarantined} quarantined + {duplicates} duplicates",
            "equal",
            "" if ok else "rows were lost or invented between layers",
            batch,
        )
    ]


def _reconcile_current(
    con: duckdb.DuckDBPyConnection, batch: str, _p: str | None, _o: MonitorOptions
) -> list[CheckResult]:
    """current = active + soft-deleted = distinct keys ever seen in transformed batches."""
    total, active, deleted = con.execute(
        f"select count(*), count(*) filter (where not is_deleted), count(*) filter (where is_deleted) from {CURRENT}"
    ).fetchone() or (0, 0, 0)
    seen = _one(
        con,
        f"select count(distinct nullif(trim(show_id), '')) from {RAW} where _batch_id in "
        f"(select batch_id from {TRANSFORMS_TABLE} where status = 'succeeded')",
    )
    ok = total == active + deleted == seen
    return [
        CheckResult(
            "reconcile_current",
            CURRENT,
            "fail",
            _status(not ok, "fail"),
            f"{total} rows = {active} active + {deleted} deleted; {seen} keys seen",
            "equal",
            "",
            batch,
        )
    ]


def _keys(con: duckdb.DuckDBPyConnection, batch: str, _p: str | None, _o: MonitorOptions) -> list[CheckResult]:
    out = []
    for col in REQUIRED_COLUMNS:
        n = _one(con, f'select count(*) from {CURRENT} where not is_deleted and "{col}" is null')
        out.append(CheckResult(f"not_null:{col}", CURRENT, "fail", _status(n > 0, "fail"), f"{n} null", "0", "", batch))
    dupes = _one(con, f"select count(*) from (select show_id from {CURRENT} group by show_id having count(*) > 1)")
    out.append(
        CheckResult(
            "unique:show_id", CURRENT, "fail", _status(dupes > 0, "fail"), f"{dupes} duplicated", "0", "", batch
        )
    )
    return out


def _null_rates(
    con: duckdb.DuckDBPyConnection, batch: str, previous: str | None, o: MonitorOptions
) -> list[CheckResult]:
    """The null rate of every optional column, against the previous batch."""
    cols = [c for c in CANONICAL_COLUMNS if c not in REQUIRED_COLUMNS]
    exprs = ", ".join(f"avg(case when nullif(trim(\"{c}\"), '') is null then 1.0 else 0.0 end)" for c in cols)
    now_rates = con.execute(f"select {exprs} from {RAW} where _batch_id = ?", [batch]).fetchone() or ()
    before = con.execute(f"select {exprs} from {RAW} where _batch_id = ?", [previous]).fetchone() if previous else None
    out = []
    for i, col in enumerate(cols):
        rate = now_rates[i]
        prev = before[i] if before else None
        jump = (rate - prev) if (rate is not None and prev is not None) else None
        status = "skip" if jump is None else _status(jump > o.null_rate_jump, "warn")
        out.append(
            CheckResult(
                f"null_rate:{col}",
                RAW,
                "warn",
                status,
                f"{_pct(rate)} (previous {_pct(prev)})",
                f"rise <= {o.null_rate_jump:.0%} points",
                "",
                batch,
            )
        )
    return out


def _accepted_values(
    con: duckdb.DuckDBPyConnection, batch: str, _p: str | None, _o: MonitorOptions
) -> list[CheckResult]:
    types = _one(con, f"select count(*) from {CURRENT} where not is_deleted and type not in ('Movie', 'TV Show')")
    ratings = known_ratings()
    bad = _one(
        con,
        f"select count(*) from {CURRENT} where not is_deleted and rating is not null and not list_contains(?, rating)",
        [ratings],
    )
    return [
        CheckResult(
            "accepted_values:type",
            CURRENT,
            "warn",
            _status(types > 0, "warn"),
            f"{types} other",
            "Movie, TV Show",
            "",
            batch,
        ),
        CheckResult(
            "accepted_values:rating",
            CURRENT,
            "warn",
            _status(bad > 0, "warn"),
            f"{bad} other",
            f"{len(ratings)} known ratings",
            "",
            batch,
        ),
    ]


def _volume(con: duckdb.DuckDBPyConnection, batch: str, previous: str | None, o: MonitorOptions) -> list[CheckResult]:
    rows = dict(
        con.execute(
            f"select batch_id, rows_loaded from {LEDGER_TABLE} where batch_id in (?, ?)", [batch, previous]
        ).fetchall()
    )
    threshold = f"change <= {o.volume_change:.0%}"
    if previous is None or not rows.get(previous):
        return [
            CheckResult(
                "volume", RAW, "warn", "skip", f"{rows.get(batch)} rows (no previous batch)", threshold, "", batch
            )
        ]
    change = (rows[batch] - rows[previous]) / rows[previous]
    return [
        CheckResult(
            "volume",
            RAW,
            "warn",
            _status(abs(change) > o.volume_change, "warn"),
            f"{rows[batch]} rows vs {rows[previous]} ({change:+.1%})",
            threshold,
            "",
            batch,
        )
    ]


def _schema_drift(con: duckdb.DuckDBPyConnection, batch: str) -> list[CheckResult]:
    raw = _one(con, f"select column_mapping from {LEDGER_TABLE} where batch_id = ?", [batch])
    mapping: dict[str, str] = json.loads(raw) if raw else {}
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
            _status(drift, "warn"),
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
    row = con.execute(
        f"select t.batch_id, t.status, t.key_change_share, t.delete_share, b.source_path from {TRANSFORMS_TABLE} t "
        f"join {LEDGER_TABLE} b using (batch_id) where t.status in ('succeeded', 'refused') "
        "order by b.as_of desc, b.batch_seq desc, t.started_at desc limit 1"
    ).fetchone()
    if row is None:
        return [CheckResult("key_remap_guard", CURRENT, "fail", "skip", "no batch checked", threshold)]
    batch, status, share, delete_share, source = row  # stored with the checked (applied) batch
    if status == "refused" and delete_share is not None:
        observed = f"{_pct(delete_share)} of active titles would be deleted"
    else:
        observed = f"{_pct(share)} of matched keys changed title"
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


def _store(con: duckdb.DuckDBPyConnection, report: MonitorReport, batch: str | None) -> None:
    if not table_exists(con, DQ_TABLE):  # pragma: no cover - created by migration 3
        return
    at = utcnow()
    seq = _one(con, f"select coalesce(max(result_seq), 0) + 1 from {DQ_TABLE}")
    con.executemany(
        f'insert into {DQ_TABLE} (run_id, batch_id, "check", "table", severity, status, observed, threshold, '
        "message, checked_at, result_seq) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                report.run_id,
                r.batch_id or batch,
                r.check,
                r.table,
                r.severity,
                r.status,
                r.observed,
                r.threshold,
                r.message or None,
                at,
                seq,
            ]
            for r in report.results
            if not r.carried_from
        ],
    )


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
