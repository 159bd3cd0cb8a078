"""The whole pipeline, step by step. The CLI's `run` and `monitor` are thin layers over these."""

from __future__ import annotations

import logging
import shlex
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core import faults, logs
from netflix_elt.core.errors import InputError, NetflixEltError, PipelineError
from netflix_elt.core.home import Home
from netflix_elt.core.lock import DEFAULT_TIMEOUT, run_lock
from netflix_elt.ingest.load import BatchResult, IngestOptions, as_of_from_name, ingest_file
from netflix_elt.ingest.sample import sample_path
from netflix_elt.ingest.source import check_path
from netflix_elt.ops.rebuild import check_batches, rebuild, refuse_fresh_start
from netflix_elt.quality.checks import GUARD_CHECKS, GUARD_DBT_TESTS, MonitorOptions, MonitorReport, run_checks
from netflix_elt.quality.state import publish_state
from netflix_elt.transform.batches import (
    BatchRefused,
    TransformOptions,
    TransformResult,
    pending_batches,
    transform_pending,
)
from netflix_elt.warehouse.connection import connect, utcnow
from netflix_elt.warehouse.ledger import RUNS_TABLE, TRANSFORMS_TABLE, latest_transform

log = logging.getLogger(__name__)

# Files an inbox scan leaves alone: hidden files and uploads still in progress.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")


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


def run_pipeline(
    home: Home,
    sources: list[Path] | None = None,
    options: IngestOptions | None = None,
    transform_options: TransformOptions | None = None,
    monitor_options: MonitorOptions | None = None,
    *,
    inbox: Path | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT,
    result: RunResult | None = None,
) -> RunResult:
    """Ingest each source (the bundled sample by default, or every new drop in `inbox`),
    transform each loaded batch in order, then run the checks. Batches left pending by an
    earlier run are transformed first. Holds the home's lock throughout. Pass `result` to keep
    what was done so far when a step raises."""
    check_arguments(home, sources, inbox)
    home.ensure()
    result = result or RunResult(run_id=new_run_id())
    started = time.monotonic()
    started_at = utcnow()
    message = ""
    with logs.run_context(result.run_id), run_lock(home, result.run_id, lock_timeout):
        refuse_fresh_start(home)
        _close_interrupted(home)
        _record_run(home, result, "run", started_at)  # so the dashboard lists this run
        try:
            log.info("run %s into %s", result.run_id, home.warehouse)
            with logs.step("transform"):
                _transform(home, result, transform_options)
            if inbox is not None:
                _process_inbox(home, inbox, result, options, transform_options)
            else:
                for f in sources or [sample_path()]:
                    _ingest_and_transform(home, f, result, options, transform_options)
            with logs.step("monitor"):
                dbt_results = [r for t in result.transforms for r in t.dbt_results]
                # Every check after a transformed batch; with none, only the cheap ones (unless
                # the latest batch was never fully checked: a run stopped before its checks).
                result.report = run_checks(
                    home, result.run_id, monitor_options, dbt_results=dbt_results, full=True if result.applied else None
                )
            faults.checkpoint("after_checks")
            # Recorded as it ends before publishing, so the dashboard shows this run as it ended.
            result.status, message = result.final_status(), result.problems()
            result.seconds = time.monotonic() - started
            _record_run(home, result, "run", started_at, message)
            with logs.step("publish"):
                result.published = publish(home)
            faults.checkpoint("after_publish")
        except NetflixEltError as exc:
            result.status, message = "failed", str(exc)
            raise
        except KeyboardInterrupt as exc:  # SIGTERM or Ctrl-C (errors.Interrupted)
            result.status, message = "failed", str(exc) or "interrupted"
            raise
        except BaseException as exc:
            result.status, message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            result.seconds = time.monotonic() - started
            _record_run(home, result, "run", started_at, message)
            publish_state(home)  # what status and monitor show while the next run holds the home
    return result


def run_ingest(
    home: Home,
    files: list[Path],
    options: IngestOptions | None = None,
    *,
    lock_timeout: float = DEFAULT_TIMEOUT,
    result: RunResult | None = None,
) -> RunResult:
    """`netflix-elt ingest`: load each drop into the raw layer and the warehouse (no transform),
    under the run lock, recorded in etl_runs as an `ingest` run. A rejected drop does not stop the
    others; it is kept in `result.rejected`."""
    home.ensure()
    result = result or RunResult(run_id=new_run_id())
    started, started_at = time.monotonic(), utcnow()
    message = ""
    with logs.run_context(result.run_id), logs.step("ingest"), run_lock(home, result.run_id, lock_timeout):
        refuse_fresh_start(home)
        _record_run(home, result, "ingest", started_at)
        try:
            con = connect(home)
            try:
                for f in files:
                    try:
                        result.batches.append(ingest_file(home, con, f, options))
                    except InputError as exc:
                        log.error("%s", exc, extra={"console": False})
                        result.rejected.append(RejectedDrop(Path(f), str(exc)))
            finally:
                con.close()
            result.status, message = result.final_status(), result.problems()
        except BaseException as exc:
            result.status, message = "failed", str(exc) or type(exc).__name__
            raise
        finally:
            result.seconds = time.monotonic() - started
            _record_run(home, result, "ingest", started_at, message)
            publish_state(home)
    return result


def check_arguments(home: Home, sources: list[Path] | None, inbox: Path | None) -> None:
    """Before any work (or any folder is created): each source must be a readable file, and the
    inbox a folder. The home's own inbox may be missing (a fresh home's first scheduled run):
    creating the home creates it."""
    if inbox is not None:
        path = Path(inbox).expanduser().absolute()
        if not path.is_dir() and not (path == home.inbox_dir and not path.exists()):
            raise InputError(f"{inbox}: inbox is not a directory; create it or pass another --inbox")
    for f in sources or []:
        check_path(Path(f).expanduser().absolute())


def publish(home: Home) -> list[Path]:
    """The BI outputs of a run: exports/, lookml/ and reports/dashboard.html. Exports and LookML
    are rewritten only when they do not already reflect the latest transformed batch; the
    dashboard (which shows checks, runs and freshness) always is. Nothing to publish before the
    first batch is transformed."""
    import json

    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.bi.exports import MANIFEST, export_tables, exports_dir
    from netflix_elt.bi.lookml import MODEL_NAME, generate_lookml

    con = connect(home)
    try:
        transform = latest_transform(con)
    finally:
        con.close()
    if transform is None:
        log.info("publish: nothing transformed yet")
        return []
    latest = (transform["batch_id"], transform["run_id"])
    manifest = exports_dir(home) / MANIFEST
    lookml_dir = home.root / "lookml"
    try:
        published = json.loads(manifest.read_text(encoding="utf-8"))
        published_key = (published.get("batch_id"), published.get("transform_run_id"))
    except (OSError, ValueError, AttributeError):
        published_key = None
    # Keyed on the transform, not the batch: a replay (a late drop, rebuild) rewrites the tables
    # while the latest batch stays the same.
    if published_key != latest or not (lookml_dir / f"{MODEL_NAME}.model.lkml").is_file():
        # LookML first: the manifest, written last of all, then marks both as done, so a run
        # stopped half-way through either redoes both.
        generate_lookml(home, lookml_dir)
        export_tables(home)
    else:
        log.info("publish: exports/ and lookml/ already reflect batch %s", latest[0])
    dashboard = build_dashboard(home)
    log.info("published exports/, lookml/ and %s", dashboard.relative_to(home.root))
    return [exports_dir(home), lookml_dir, dashboard]


def run_rebuild(home: Home, *, lock_timeout: float = DEFAULT_TIMEOUT) -> Any:
    """`netflix-elt rebuild`: replay the raw layer into a new warehouse under the run lock, then
    check and publish like a run."""
    home.ensure()
    result = RunResult(run_id=new_run_id())
    started, started_at = time.monotonic(), utcnow()
    with logs.run_context(result.run_id), run_lock(home, result.run_id, lock_timeout):
        with logs.step("rebuild"):
            rebuilt = rebuild(home, result.run_id)
        result.transforms = rebuilt.transforms
        result.status = "failed"
        try:
            with logs.step("monitor"):
                result.report = run_checks(home, result.run_id, None, dbt_results=[], full=True)
            result.status = "checks_failed" if result.report.failed else "succeeded"
            result.seconds = time.monotonic() - started
            _record_run(home, result, "rebuild", started_at)
            with logs.step("publish"):
                result.published = publish(home)
        except BaseException:
            result.status = "failed"
            raise
        finally:
            result.seconds = time.monotonic() - started
            _record_run(home, result, "rebuild", started_at)
            publish_state(home)
    return rebuilt


def run_monitor(
    home: Home,
    options: MonitorOptions | None = None,
    *,
    with_dbt_tests: bool = True,
    lock_timeout: float = DEFAULT_TIMEOUT,
    run_id: str | None = None,
) -> MonitorReport:
    """The checks on their own (`netflix-elt monitor`), with a fresh `dbt test` of the models."""
    run_id = run_id or new_run_id()
    started, started_at = time.monotonic(), utcnow()
    with logs.run_context(run_id), logs.step("monitor"), run_lock(home, run_id, lock_timeout):
        dbt_results = []
        if with_dbt_tests:
            from netflix_elt.transform.dbt import Dbt
            from netflix_elt.warehouse.ledger import latest_batches

            con = connect(home)
            try:
                batch, _ = latest_batches(con)
            finally:
                con.close()
            if batch is not None:
                outcome = Dbt(home).test(
                    ["analytics_netflix_current+"],
                    variables={"batch_id": batch},
                    exclude_unit_tests=True,
                    exclude=list(GUARD_DBT_TESTS),  # judged once, when each drop was transformed
                )
                dbt_results = outcome.results
        report = run_checks(home, run_id, options, dbt_results=dbt_results)
        result = RunResult(run_id=run_id, report=report, seconds=time.monotonic() - started)
        result.status = "checks_failed" if report.failed else "succeeded"
        _record_run(home, result, "monitor", started_at)
        publish_state(home)
    return report


def _ingest_and_transform(
    home: Home,
    path: Path,
    result: RunResult,
    options: IngestOptions | None,
    transform_options: TransformOptions | None,
) -> BatchResult:
    with logs.step("ingest"):
        con = connect(home)
        try:
            batch = ingest_file(home, con, path, options)
        finally:
            con.close()
    result.batches.append(batch)
    faults.checkpoint("after_ingest")
    with logs.step("transform"):
        _transform(home, result, transform_options)
    faults.checkpoint("after_transform")
    return batch


def _transform(home: Home, result: RunResult, transform_options: TransformOptions | None) -> None:
    """Transform the pending batches, after checking their raw files. A late batch (its as-of before
    one already applied) cannot be applied on top: the raw layer is replayed in as-of order into a
    new warehouse instead, which gives the state an in-order arrival gives."""
    con = connect(home)
    try:
        pending = pending_batches(con)
    finally:
        con.close()
    ids = {p.batch_id for p in pending}
    check_batches(home, ids)
    late = [p for p in pending if p.late]
    if not late:
        result.refused += transform_pending(
            home, result.run_id, transform_options, pending=pending, into=result.transforms
        )
        return
    log.info(
        "transform: %d late batch(es) (as-of before a batch already applied): replaying the raw layer in as-of order",
        len(late),
    )
    replay = rebuild(home, result.run_id, transform_options)
    result.transforms += [t for t in replay.transforms if t.batch_id in ids]
    result.refused += [e for e in replay.refusals if isinstance(e, BatchRefused) and e.batch_id in ids]


def inbox_drops(inbox: Path) -> list[Path]:
    """Regular files and symlinks directly in `inbox`, by name then mtime; hidden files, partial
    uploads and folders skipped. (Symlinks are listed so that they are rejected with a reason.)"""
    if not inbox.is_dir():
        raise InputError(f"{inbox}: inbox is not a directory; create it or pass another --inbox")
    files = [
        p
        for p in inbox.iterdir()
        if not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIXES) and (p.is_symlink() or p.is_file())
    ]
    return sorted(files, key=lambda p: (p.name, _mtime(p)))


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:  # removed since the listing: skipped when its turn comes
        return 0.0


def _process_inbox(
    home: Home,
    inbox: Path,
    result: RunResult,
    options: IngestOptions | None,
    transform_options: TransformOptions | None,
) -> None:
    """Each new drop in order: loaded or skipped ones move to processed/, rejected ones to
    rejected/ with a .reason.txt. A transform failure stops the run and leaves the drop in place
    (its batch is loaded and pending; the next run picks it up). Nothing is deleted."""
    drops = inbox_drops(inbox)
    log.info("inbox %s: %d new drop(s)", inbox, len(drops))
    for drop in drops:
        if not drop.is_symlink() and not drop.exists():
            _vanished(result, drop)
            continue
        try:
            if drop.is_symlink():
                # A link could point anywhere (another user's file, a device): only files put in the inbox are read.
                raise InputError(f"{drop}: is a symlink; put the file itself in the inbox")
            dated = as_of_from_name(drop)
            drop_options = options or IngestOptions()
            if dated is not None and drop_options.as_of is None:
                drop_options = replace(drop_options, as_of=dated)
            batch = _ingest_and_transform(home, drop, result, drop_options, transform_options)
            refusal = next((e for e in result.refused if e.batch_id and e.batch_id == batch.batch_id), None)
            if refusal is not None:
                raise refusal
        except InputError as exc:
            if not drop.is_symlink() and not drop.exists():
                _vanished(result, drop)  # removed while it was being read
                continue
            moved = _move(drop, inbox / "rejected")
            if moved is None:
                _vanished(result, drop)
                continue
            if isinstance(exc, BatchRefused):
                # The way to apply it anyway names the file where it now is.
                was, now = shlex.quote(str(drop.absolute())), shlex.quote(str(moved.absolute()))
                exc.args = (str(exc).replace(f"--source {was}", f"--source {now}"),)
                _write_new(moved.with_name(moved.name + ".reason.txt"), f"{exc}\n")
                continue  # reported with the run's refusals
            _write_new(moved.with_name(moved.name + ".reason.txt"), f"{exc}\n")
            result.rejected.append(RejectedDrop(drop, str(exc), moved))
            log.error("inbox: %s rejected, moved to %s: %s", drop.name, moved, exc, extra={"console": False})
            continue
        done = _move(drop, inbox / "processed")
        if done is None:
            log.warning("inbox: %s was removed from the inbox after it was loaded; nothing to move", drop.name)
        else:
            log.info("inbox: %s moved to %s", drop.name, done.relative_to(inbox))


def _vanished(result: RunResult, drop: Path) -> None:
    result.vanished.append(drop)
    log.warning("inbox: %s was removed from the inbox before it was read; skipped", drop.name)


def _move(path: Path, folder: Path) -> Path | None:
    """Move into folder, never over an existing file (a numbered name instead). The folder must be
    a real directory inside the inbox: a symlink there would send drops (and the reason files
    written beside them) somewhere else. A symlinked drop is moved as the link itself."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise PipelineError(f"{folder}: is not a plain folder (a symlink or a file); refusing to move drops there")
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists() or target.is_symlink():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    try:
        path.rename(target)  # same filesystem (both in the inbox): atomic, and moves a link, not its target
    except FileNotFoundError:
        if path.exists() or path.is_symlink():
            raise
        return None  # someone removed the drop meanwhile
    return target


def _write_new(path: Path, text: str) -> None:
    """Create `path` (never follow or overwrite whatever is there: a numbered name instead)."""
    n, target = 1, path
    while True:
        try:
            with target.open("x", encoding="utf-8") as fh:
                fh.write(text)
            return
        except FileExistsError:
            target = path.with_name(f"{path.stem}.{n}{path.suffix}")
            n += 1


def _close_interrupted(home: Home) -> None:
    """Run and transform rows still 'running' when a run takes the lock were left by a process that
    died without finishing them (killed, or the machine went down): mark them failed. (Their
    batches need nothing: a transform not succeeded is redone, and ingest recovers its own.)"""
    try:
        con = connect(home)
    except NetflixEltError:  # the warehouse cannot be opened: the run's own error says why
        return
    try:
        for table in (RUNS_TABLE, TRANSFORMS_TABLE):
            n = con.execute(
                f"update {table} set status = 'failed', finished_at = ?, "
                "message = coalesce(message, 'interrupted before it finished (the process was killed)') "
                "where status = 'running'",
                [utcnow()],
            ).fetchone()
            if n and n[0]:
                log.warning("%s: %d row(s) left running by an interrupted run marked failed", table, n[0])
    finally:
        con.close()


def _record_run(home: Home, result: RunResult, command: str, started_at: datetime, message: str = "") -> None:
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
    con.execute(
        f"insert or replace into {RUNS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        # run_seq: the run's place in order, kept when its row is rewritten (never the clock's)
        f"coalesce((select run_seq from {RUNS_TABLE} where run_id = ?), "
        f"(select coalesce(max(run_seq), 0) + 1 from {RUNS_TABLE})))",
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
            result.run_id,
        ],
    )
