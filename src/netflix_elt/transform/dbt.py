"""Running the packaged dbt project in-process.

dbt is imported only here, inside the functions that need it, so the CLI starts fast. The
project ships inside the package (possibly read-only site-packages): every path dbt writes to
(target, logs) is under the working home, and the profile reads the warehouse path from
`NETFLIX_ELT_WAREHOUSE`. The project is parsed once per machine: the parsed manifest is kept in
memory for the process and in the user's cache (`NETFLIX_ELT_CACHE_DIR`, default
`$XDG_CACHE_HOME/netflix-elt`), keyed by the project's files and the dbt versions, so a new
process, even on a fresh home, skips dbt's parse (4 s) and loads it (0.4 s). dbt's own partial
parsing cannot do that across homes: its state check hashes the profile, which holds the
warehouse path.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netflix_elt.core import faults, signals, timing
from netflix_elt.core.errors import PipelineError
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import resource_settings

if TYPE_CHECKING:
    from netflix_elt.warehouse.target import BigQueryTarget

log = logging.getLogger(__name__)

PROJECT_NAME = "netflix_elt"
# Parsed manifests by (project, target): the manifest names the warehouse by its file name, which
# is the same in every home, so one process parses the project once whatever homes it serves.
_MANIFESTS: dict[tuple[str, str], Any] = {}


def project_dir() -> Path:
    return Path(str(resources.files("netflix_elt") / "dbt_project"))


@dataclass(frozen=True)
class DbtNodeResult:
    """One dbt test's result, for the data-quality table."""

    name: str
    table: str | None
    severity: str  # warn | fail
    status: str  # pass | warn | fail
    failures: int
    message: str


@dataclass
class DbtOutcome:
    success: bool
    seconds: float
    passed: int = 0
    warned: int = 0
    failed: int = 0  # errored or failed nodes and tests
    skipped: int = 0
    models: int = 0
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    results: list[DbtNodeResult] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.models} models/snapshots built, {self.passed} tests passed, {self.warned} warned, "
            f"{self.failed} failed, {self.skipped} skipped in {self.seconds:.1f}s"
        )


class Dbt:
    """The packaged dbt project bound to one working home."""

    def __init__(
        self,
        home: Home,
        target: str = "duckdb",
        extra_env: dict[str, str] | None = None,
        bigquery: BigQueryTarget | None = None,
    ) -> None:
        self.home = home
        self.target = "bigquery" if bigquery is not None else target
        # More environment for the profile (e.g. NETFLIX_ELT_BQ_* for the bigquery target), set
        # like the rest for each call only.
        self.extra_env = {**(bigquery.dbt_env() if bigquery else {}), **(extra_env or {})}
        # The BigQuery dataset the models are built in, when the run loads the sources itself.
        self.bigquery = bigquery

    @classmethod
    def for_home(cls, home: Home) -> Dbt:
        """dbt on the engine `home`'s models live in (engine.json; DuckDB by default)."""
        from netflix_elt.warehouse.target import home_target

        bq = home_target(home)
        return cls(home, bigquery=bq) if bq is not None else cls(home)

    @property
    def _manifest_key(self) -> tuple[str, str]:
        # The profile's environment is baked into the parsed manifest (schemas, database).
        env = ",".join(f"{k}={v}" for k, v in sorted(self.extra_env.items()))
        return (str(project_dir()), f"{self.target}|{env}" if env else self.target)

    @property
    def _manifest(self) -> Any:
        return _MANIFESTS.get(self._manifest_key)

    @property
    def target_path(self) -> Path:
        return self.home.root / "dbt" / "target"

    @property
    def log_path(self) -> Path:
        return self.home.logs_dir / "dbt"

    def _common_args(self) -> list[str]:
        project = str(project_dir())
        return [
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target-path",
            str(self.target_path),
            "--log-path",
            str(self.log_path),
            "--target",
            self.target,
            "--log-level",
            "none",
            "--log-level-file",
            "info",
            "--no-use-colors",
        ]

    @contextmanager
    def _environment(self) -> Iterator[None]:
        """dbt reads its profile's settings from the environment; set them for the call only."""
        wanted = {
            "NETFLIX_ELT_WAREHOUSE": str(self.home.warehouse),
            "NETFLIX_ELT_DBT_TARGET": self.target,
            "NETFLIX_ELT_MEMORY_LIMIT": resource_settings()["memory_limit"],
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **self.extra_env,
        }
        saved = {k: os.environ.get(k) for k in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            _release_duckdb()

    def _invoke(self, args: list[str]) -> Any:
        from dbt.cli.main import dbtRunner

        self.target_path.mkdir(parents=True, exist_ok=True)
        self.log_path.mkdir(parents=True, exist_ok=True)
        # A progress line every few seconds of a long build; in tests, fault injection after each node.
        callbacks: list[Any] = [_Progress(args[0])]
        if faults.active():
            callbacks.append(_node_checkpoint)
        with self._environment():
            runner = dbtRunner(manifest=self._manifest, callbacks=callbacks)
            try:
                res = runner.invoke([*args, *self._common_args()])
            except Exception as exc:  # dbt raises for broken projects or profiles
                raise PipelineError(f"dbt failed to start: {exc}; see {self.log_path / 'dbt.log'}") from exc
        # dbt catches everything its invocation raises, a SIGTERM or Ctrl-C too (after cancelling
        # its queries): a stop request is an interruption, never a failed model or test.
        if isinstance(res.exception, KeyboardInterrupt):
            raise res.exception
        signals.raise_if_requested()
        return res

    @property
    def _cache_file(self) -> Path | None:
        """The on-disk manifest for this target, or None where it is not shared (the bigquery
        target's profile carries credentials from the environment)."""
        if self.extra_env or self.target != "duckdb":
            return None
        from importlib.metadata import version

        key = "\0".join(
            [
                _project_fingerprint(),
                version("dbt-core"),
                version("dbt-duckdb"),
                self.target,
                self.home.warehouse.name,  # the manifest names the database after the file
            ]
        )
        return cache_dir() / f"dbt-manifest-{hashlib.sha256(key.encode()).hexdigest()[:32]}.msgpack"

    def parse(self) -> None:
        if self._manifest is not None:
            return
        with timing.phase("dbt.parse"):
            self._parse()

    def _parse(self) -> None:
        started = time.monotonic()
        cached = self._cache_file
        manifest = _load_manifest(cached) if cached else None
        if manifest is None:
            res = self._invoke(["parse"])
            if not res.success or res.result is None:
                raise PipelineError(
                    f"dbt could not parse its project: {res.exception}; see {self.log_path / 'dbt.log'}"
                )
            manifest = res.result
            if cached:
                _save_manifest(manifest, cached)
            log.debug("dbt project parsed in %.2fs", time.monotonic() - started)
        else:
            log.debug("dbt manifest loaded from %s in %.2fs", cached, time.monotonic() - started)
        _MANIFESTS[self._manifest_key] = manifest

    def build(
        self, select: list[str], variables: dict[str, Any] | None = None, exclude_unit_tests: bool = True
    ) -> DbtOutcome:
        """`dbt build --select ...`; returns counts, warning and failure lines. Never raises for a
        failed test: the caller decides (a failed test is data, not a crash)."""
        outcome = self._run("build", select, variables, exclude_unit_tests)
        log.info("dbt build %s: %s", " ".join(select), outcome.summary())
        for w in outcome.warnings:
            log.warning("dbt: %s", w)
        return outcome

    def run(self, select: list[str], variables: dict[str, Any] | None = None) -> DbtOutcome:
        """`dbt run --select ...` (models only, no tests)."""
        outcome = self._run("run", select, variables, exclude_unit_tests=False)
        log.info("dbt run %s: %s", " ".join(select), outcome.summary())
        return outcome

    def test(
        self,
        select: list[str],
        variables: dict[str, Any] | None = None,
        exclude_unit_tests: bool = False,
        exclude: list[str] | None = None,
    ) -> DbtOutcome:
        """`dbt test --select ... [--exclude ...]` (unit tests included unless excluded)."""
        return self._run("test", select, variables, exclude_unit_tests, exclude)

    def _run(
        self,
        command: str,
        select: list[str],
        variables: dict[str, Any] | None,
        exclude_unit_tests: bool,
        exclude: list[str] | None = None,
    ) -> DbtOutcome:
        self.parse()
        started = time.monotonic()
        args = [command, "--select", *select]
        if exclude:
            args += ["--exclude", *exclude]
        if exclude_unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        if variables:
            args += ["--vars", json.dumps(variables)]
        res = self._invoke(args)
        outcome = DbtOutcome(success=bool(res.success), seconds=time.monotonic() - started)
        if res.result is None:
            outcome.failures.append(f"dbt {command} did not run: {res.exception}")
            outcome.failed += 1
            return outcome
        for r in res.result.results:
            _tally(outcome, r)
            # Each node's own time, for the run's profile (nodes run in threads: they overlap).
            timing.add(f"dbt.{command}.{r.node.name}", float(getattr(r, "execution_time", 0) or 0))
        return outcome


def cache_dir() -> Path:
    explicit = os.environ.get("NETFLIX_ELT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netflix-elt"


@functools.cache
def _project_fingerprint() -> str:
    """sha256 over the packaged project's files (names and contents), profile included."""
    root = project_dir()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in ("target", "logs", "dbt_packages"):
            digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_manifest(path: Path) -> Any:
    """The cached manifest, or None when absent or unreadable (then dbt parses)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumuro_decoder

        manifest = Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)
        # What dbt does to a manifest it takes from partial parsing without changes.
        manifest.build_parent_and_child_maps()
        manifest.build_flat_graph()
    except Exception as exc:  # a truncated or foreign file: parse instead
        log.warning("ignoring the cached dbt manifest %s (%s); parsing the project", path, exc)
        return None
    return manifest


def _save_manifest(manifest: Any, path: Path) -> None:
    """Writes the manifest for later processes; a cache that can't be written is only slower."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(manifest.to_msgpack(extended_mashumaro_encoder))
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("dbt manifest not cached at %s: %s", path, exc)


def _tally(outcome: DbtOutcome, r: Any) -> None:
    status = str(getattr(r.status, "value", r.status))
    node = r.node
    name = node.name
    resource = str(getattr(node.resource_type, "value", node.resource_type))
    if resource == "test" and status in ("pass", "warn", "fail", "error"):
        severity = str(getattr(node.config, "severity", "error")).lower()
        attached = getattr(node, "attached_node", None) or ""
        outcome.results.append(
            DbtNodeResult(
                name=name,
                table=attached.split(".")[-1] or None,
                severity="warn" if severity == "warn" else "fail",
                status="pass" if status == "pass" else ("warn" if status == "warn" else "fail"),
                failures=int(r.failures or 0),
                message=(r.message or "").splitlines()[0] if r.message else "",
            )
        )
    if status in ("success", "pass"):
        if resource in ("model", "snapshot", "seed"):
            outcome.models += 1
        else:
            outcome.passed += 1
    elif status == "no-op":  # an exposure: dbt lists it in a build, there is nothing to run
        return
    elif status == "warn":
        outcome.warned += 1
        outcome.warnings.append(f"{name}: {r.failures} failing row(s) (warn)")
    elif status == "skipped":
        outcome.skipped += 1
    else:
        outcome.failed += 1
        detail = f"{r.failures} failing row(s)" if status == "fail" else (r.message or status).splitlines()[0]
        outcome.failures.append(f"{name}: {detail}")


class _Progress:
    """dbt event callback: one log line at most every PROGRESS_SECONDS while a command runs
    ("dbt build: 23 nodes done, last analytics_netflix_current"), so a long build is not silent.
    dbt calls it on its worker threads: the line carries the run and step of the caller."""

    PROGRESS_SECONDS = 5.0

    def __init__(self, command: str) -> None:
        from netflix_elt.core import logs

        self.command = command
        self.done = 0
        self.next_at = time.monotonic() + self.PROGRESS_SECONDS
        self.context = {"run_id": logs.run_id_var.get(), "step": logs.step_var.get()}

    def __call__(self, msg: Any) -> None:
        if msg.info.name != "NodeFinished":
            return
        self.done += 1
        now = time.monotonic()
        if now >= self.next_at:
            self.next_at = now + self.PROGRESS_SECONDS
            node = msg.data.node_info.node_name
            log.info("dbt %s: %d nodes done, last %s", self.command, self.done, node, extra=self.context)


def _node_checkpoint(msg: Any) -> None:
    """dbt event callback: `faults.checkpoint("dbt_after:<node>")` when a node finishes."""
    if msg.info.name == "NodeFinished":
        faults.checkpoint(f"dbt_after:{msg.data.node_info.node_name}")


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB database open in-process after an invocation, which would stop
    this process from opening the warehouse with its own settings: close it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    DuckDBConnectionManager.close_all_connections()
