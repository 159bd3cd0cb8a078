"""The whole pipeline, step by step. The CLI's `run` and `monitor` are thin layers over these."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from netflix_elt.core import faults, logs, timing
from netflix_elt.core.errors import InputError, NetflixEltError
from netflix_elt.core.home import Home
from netflix_elt.core.lock import DEFAULT_TIMEOUT, run_lock
from netflix_elt.ingest import inbox as inbox_files
from netflix_elt.ingest.load import BatchResult, IngestOptions, ingest_file
from netflix_elt.ingest.sample import sample_path
from netflix_elt.ingest.source import check_path
from netflix_elt.ops.publish import publish
from netflix_elt.ops.rebuild import bigquery_replay_pending, check_batches, rebuild, refuse_fresh_start
from netflix_elt.ops.runs import RejectedDrop, close_interrupted, record_run, write_profile
from netflix_elt.ops.runs import RunResult as RunResult
from netflix_elt.ops.runs import new_run_id as new_run_id
from netflix_elt.quality.checks import GUARD_DBT_TESTS, MonitorOptions, MonitorReport, run_checks
from netflix_elt.quality.state import publish_state
from netflix_elt.transform.batches import (
    BatchRefused,
    TransformOptions,
    pending_batches,
    transform_pending,
)
from netflix_elt.warehouse.connection import connect, utcnow
from netflix_elt.warehouse.target import check_target, remember_target

log = logging.getLogger(__name__)


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
    target: str | None = None,
) -> RunResult:
    """Ingest each source (the bundled sample by default, or every new drop in `inbox`),
    transform each loaded batch in order, then run the checks. Batches left pending by an
    earlier run are transformed first. Holds the home's lock throughout. Pass `result` to keep
    what was done so far when a step raises. `target` (duckdb, bigquery; default: the home's, else
    NETFLIX_ELT_DBT_TARGET, else duckdb) is where the models are built."""
    check_arguments(home, sources, inbox)
    bq = check_target(home, target)  # before anything is written
    home.ensure()
    remember_target(home, bq)
    result = result or RunResult(run_id=new_run_id())
    timing.reset()  # this run's phases only (a process may run several)
    started = time.monotonic()
    started_at = utcnow()
    message = ""
    with logs.run_context(result.run_id), run_lock(home, result.run_id, lock_timeout):
        refuse_fresh_start(home)
        close_interrupted(home)
        record_run(home, result, "run", started_at)  # so the dashboard lists this run
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
            record_run(home, result, "run", started_at, message)
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
            record_run(home, result, "run", started_at, message)
            publish_state(home)  # what status and monitor show while the next run holds the home
            write_profile(home, result, "run")
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
        record_run(home, result, "ingest", started_at)
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
            record_run(home, result, "ingest", started_at, message)
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
            record_run(home, result, "rebuild", started_at)
            with logs.step("publish"):
                result.published = publish(home)
        except BaseException:
            result.status = "failed"
            raise
        finally:
            result.seconds = time.monotonic() - started
            record_run(home, result, "rebuild", started_at)
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
            from netflix_elt.transform.registry import CURRENT
            from netflix_elt.warehouse.ledger import latest_batches

            con = connect(home)
            try:
                batch, _ = latest_batches(con)
            finally:
                con.close()
            if batch is not None:
                outcome = Dbt.for_home(home).test(
                    [f"{CURRENT}+"],  # the current table and everything built from it
                    variables={"batch_id": batch},
                    exclude_unit_tests=True,
                    exclude=list(GUARD_DBT_TESTS),  # judged once, when each drop was transformed
                )
                dbt_results = outcome.results
        report = run_checks(home, run_id, options, dbt_results=dbt_results)
        result = RunResult(run_id=run_id, report=report, seconds=time.monotonic() - started)
        result.status = "checks_failed" if report.failed else "succeeded"
        record_run(home, result, "monitor", started_at)
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
    interrupted = bigquery_replay_pending(home)
    if not late and not interrupted:
        result.refused += transform_pending(
            home, result.run_id, transform_options, pending=pending, into=result.transforms
        )
        return
    if late:
        log.info(
            "transform: %d late batch(es) (as-of before a batch already applied): "
            "replaying the raw layer in as-of order",
            len(late),
        )
    else:
        log.warning("transform: a replay onto BigQuery was stopped while it swapped in its tables: replaying again")
    replay = rebuild(home, result.run_id, transform_options)
    result.transforms += [t for t in replay.transforms if t.batch_id in ids]
    result.refused += [e for e in replay.refusals if isinstance(e, BatchRefused) and e.batch_id in ids]


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
    drops = inbox_files.inbox_drops(inbox)
    log.info("inbox %s: %d new drop(s)", inbox, len(drops))
    for drop in drops:
        if inbox_files.vanished(drop):
            _vanished(result, drop)
            continue
        try:
            inbox_files.check_readable(drop)
            batch = _ingest_and_transform(
                home, drop, result, inbox_files.drop_options(drop, options), transform_options
            )
            # A drop a guard refused is rejected like one that could not be loaded.
            refusal = next((e for e in result.refused if e.batch_id and e.batch_id == batch.batch_id), None)
            if refusal is not None:
                raise refusal
        except InputError as exc:
            if inbox_files.vanished(drop):
                _vanished(result, drop)  # removed while it was being read
                continue
            moved = inbox_files.move_to_rejected(inbox, drop)
            if moved is None:
                _vanished(result, drop)
                continue
            if isinstance(exc, BatchRefused):
                exc.args = (inbox_files.with_moved_source(str(exc), drop, moved),)
                inbox_files.write_reason(moved, str(exc))
                continue  # reported with the run's refusals
            inbox_files.write_reason(moved, str(exc))
            result.rejected.append(RejectedDrop(drop, str(exc), moved))
            log.error("inbox: %s rejected, moved to %s: %s", drop.name, moved, exc, extra={"console": False})
            continue
        done = inbox_files.move_to_processed(inbox, drop)
        if done is None:
            log.warning("inbox: %s was removed from the inbox after it was loaded; nothing to move", drop.name)
        else:
            log.info("inbox: %s moved to %s", drop.name, done.relative_to(inbox))


def _vanished(result: RunResult, drop: Path) -> None:
    result.vanished.append(drop)
    log.warning("inbox: %s was removed from the inbox before it was read; skipped", drop.name)
