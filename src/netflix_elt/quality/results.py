"""What a check answers and how a set of answers reads: the result types shared by the checks,
the published state and the commands that report them.

Each check has a name, the table it looks at, a severity (what a breach means: `warn` or
`fail`), a status (`pass`, `warn`, `fail`, or `skip` when there is nothing to check yet), the
observed value and the threshold. dbt's own tests are results too, named `dbt:<test name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUS_ORDER = {"pass": 0, "skip": 0, "warn": 1, "fail": 2}


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


def status_of(breached: bool, severity: str) -> str:
    return severity if breached else "pass"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"
