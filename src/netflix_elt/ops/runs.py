"""A run's result (what it loaded, skipped, rejected, transformed and checked) and its row in
`etl_runs`, written as the run starts and rewritten as it ends; rows a killed run left 'running'
are closed by the next."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from netflix_elt.core import timing
from netflix_elt.core.errors import NetflixEltError
from netflix_elt.core.files import write_json_atomic
from netflix_elt.core.home import Home
from netflix_elt.ingest.batch import BatchResult
from netflix_elt.quality.checks import GUARD_CHECKS, MonitorReport
from netflix_elt.transform.batches import BatchRefused, TransformResult
from netflix_elt.warehouse import ledger
from netflix_elt.warehouse.connection import connect, utcnow

log = logging.getLogger(__name__)


@dataclass
class RejectedDrop:
    source: Path
    reason: str
    moved_to: Path | None = None


@dataclass
class RunResult:
    run_id: str
    batches: list[BatchResult] = field(default_factory=list)
    transforms: list[TransformResult] = field(default_factory=list)
    rejected: list[RejectedDrop] = field(default_factory=list)
    refused: list[BatchRefused] = field(default_factory=list)
    vanished: list[Path] = field(default_factory=list)  # inbox drops removed before they were read
    report: MonitorReport | None = None
    published: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "running"

    @property
    def loaded(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "succeeded"]

    @property
    def skipped(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "skipped"]

    @property
    def applied(self) -> list[TransformResult]:
        return [t for t in self.transforms if t.status == "succeeded"]

    def exit_code(self, strict: bool = False) -> int:
        """1 when a fail-level check failed (other than a drop guard's, which only repeats that a
        drop was refused), 2 when a drop was rejected or refused, else 0."""
        if self.report is not None and self.report.exit_code(strict, ignore=GUARD_CHECKS if self.refused else ()):
            return 1
        return 2 if self.rejected or self.refused else 0

    def final_status(self) -> str:
        if self.report is not None and self.report.failed and self.exit_code() == 1:
            return "checks_failed"
        if self.refused:
            return "refused"
        return "rejected" if self.rejected else "succeeded"

    def problems(self) -> str:
        """The refusals and rejections of the run, for its etl_runs row: one line."""
        lines = [str(e) for e in self.refused] + [r.reason for r in self.rejected]
        if not lines:
            return ""
        return lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}_{uuid.uuid4().hex[:6]}"


def close_interrupted(home: Home) -> None:
    """Run and transform rows still 'running' when a run takes the lock were left by a process that
    died without finishing them (killed, or the machine went down): mark them failed. (Their
    batches need nothing: a transform not succeeded is redone, and ingest recovers its own.)"""
    try:
        con = connect(home)
    except NetflixEltError:  # the warehouse cannot be opened: the run's own error says why
        return
    try:
        for table, n in ledger.close_interrupted(con):
            log.warning("%s: %d row(s) left running by an interrupted run marked failed", table, n)
    finally:
        con.close()


def record_run(home: Home, result: RunResult, command: str, started_at: datetime, message: str = "") -> None:
    """Write the run's etl_runs row (again: it is rewritten as the run ends)."""
    c = [
        sum(getattr(t.counts, k) for t in result.applied)
        for k in ("inserted", "updated", "unchanged", "deleted", "revived")
    ]
    try:
        con = connect(home)
    except NetflixEltError as exc:  # the warehouse cannot be opened: the run's own error says why
        log.debug("could not record run %s: %s", result.run_id, exc)
        return
    try:
        _insert_run(con, result, command, started_at, message, c)
    except duckdb.OutOfMemoryException as exc:
        # Bookkeeping under a tiny memory limit: the step it records meets the same limit and says
        # so with its own batch marked failed. (A damaged or full warehouse is raised: that is the cause.)
        log.debug("could not record run %s: %s", result.run_id, exc)
    finally:
        con.close()


def _insert_run(
    con: duckdb.DuckDBPyConnection, result: RunResult, command: str, started_at: datetime, message: str, c: list[int]
) -> None:
    report = result.report
    ledger.upsert_run(
        con,
        [
            result.run_id,
            command,
            started_at,
            utcnow(),
            result.status,
            len(result.loaded),
            len(result.skipped),
            len(result.rejected),
            len(result.applied),
            *c,
            report.passed if report else None,
            report.warned if report else None,
            report.failed if report else None,
            round(result.seconds, 3),
            message or None,
        ],
    )


PROFILE_FILE = "profile.json"


def write_profile(home: Home, result: RunResult, command: str) -> None:
    """`<home>/logs/profile.json`: where the run's time went (core.timing's phases: each step,
    the ingest phases, the transform's dbt build and what surrounds it, each dbt node, the
    checks, each publish step), replaced by every run; `make bench` reads it. A file that cannot
    be written costs a line in the log file, never the run."""
    path = home.logs_dir / PROFILE_FILE
    body = {
        "run_id": result.run_id,
        "command": command,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "phases": timing.totals(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, body)
    except OSError as exc:
        # Into the log file only: a full disk under logs/ is reported once, by the log file itself.
        log.warning(
            "cannot write %s (%s): the run's profile is not kept", path, exc.strerror or exc, extra={"console": False}
        )
