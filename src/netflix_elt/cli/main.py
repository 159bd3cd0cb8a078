"""`netflix-elt`: a thin command line over the library. Errors map to exit codes here only:
0 ok (warnings allowed unless --strict), 1 a fail-level check failed or an internal error,
2 bad input or usage."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from netflix_elt import __version__
from netflix_elt.cli.render import render_status
from netflix_elt.core.errors import InputError, NetflixEltError
from netflix_elt.core.home import HOME_ENV, Home

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class _Ctx:
    def __init__(self, home: Home, debug: bool, quiet: bool) -> None:
        self.home = home
        self.debug = debug
        self.quiet = quiet
        self.run_id = ""
        self.status = ""  # how a writing command's run ended, for the log's last line
        self.logging_to_file = False


_stdout_gone = False


def _echo(message: str = "", *, err: bool = False) -> None:
    """click.echo that survives a reader that stopped reading (`status | head -4`): the rest of
    the output is dropped and the command finishes with its own exit code."""
    global _stdout_gone
    if _stdout_gone and not err:
        return
    try:
        click.echo(message, err=err)
    except BrokenPipeError:
        if err:
            return
        _stdout_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush finds nothing to say


def _writing(state: _Ctx, *, create: bool = False) -> Home:
    """For a command that writes the home: log to its logs/pipeline.log. Without `create`, only
    when the home exists already (so a bad argument, checked next, creates nothing); with it, the
    home is created first (a home that cannot be written is a one-line error naming the path)."""
    from netflix_elt.core.logs import log_to_file

    if create:
        state.home.ensure()
    logs_dir = state.home.logs_dir
    if logs_dir.is_dir() and os.access(logs_dir, os.W_OK) and not state.logging_to_file:
        state.logging_to_file = log_to_file(state.home.logs_dir) is not None
    return state.home


def _need_warehouse(state: _Ctx) -> None:
    if not state.home.warehouse.exists():
        raise InputError(f"{state.home.warehouse}: no warehouse yet; run `netflix-elt run` first")


def _guard(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body; turn library errors into one line on stderr and an exit code. With
    --debug the traceback is printed too, and the exit code stays the same."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        from netflix_elt.core import logs
        from netflix_elt.ops.pipeline import new_run_id

        ctx = click.get_current_context()
        state: _Ctx = ctx.obj
        command = ctx.info_name or fn.__name__
        state.run_id = new_run_id()
        started = time.monotonic()
        with logs.run_context(state.run_id), logs.step(command):
            code = _call(fn, state, args, kwargs)
            if state.logging_to_file:
                log.info(
                    "%s ended: %s, exit %d, %.1fs",
                    command,
                    state.status or ("succeeded" if code == EXIT_OK else "failed"),
                    code,
                    time.monotonic() - started,
                    extra={"console": False},
                )
        ctx.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _call(fn: Callable[..., int | None], state: _Ctx, args: Any, kwargs: Any) -> int:
    try:
        return fn(*args, **kwargs) or EXIT_OK
    except (click.ClickException, click.exceptions.Exit):
        raise  # usage errors: click prints them and exits 2
    except NetflixEltError as exc:
        return _fail(state, str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (errors.Interrupted, from signals.handling)
        return _fail(state, str(exc) or "interrupted; re-run to finish", getattr(exc, "exit_code", 130))
    except BrokenPipeError:
        _echo("")  # marks stdout gone
        return EXIT_OK
    except Exception as exc:
        from netflix_elt.core.errors import resource_error

        # A full disk, exceeded quota, I/O error or exhausted memory is not a bug: say which.
        resource = resource_error(exc, state.home.root)
        if resource is not None:
            return _fail(state, str(resource), resource.exit_code)
        if _is_damaged_database(exc):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return _fail(
                state,
                f"{state.home.warehouse}: the warehouse cannot be read ({first}); `netflix-elt verify` "
                "checks it, `netflix-elt rebuild` restores it from the raw layer",
                EXIT_FAIL,
            )
        return _fail(
            state,
            f"internal error: {type(exc).__name__}: {exc}"
            + ("" if state.debug else " (re-run with --debug for the traceback)"),
            EXIT_FAIL,
        )


def _fail(state: _Ctx, message: str, code: int) -> int:
    """One line on stderr (and in the log, when the command logs to a file); the traceback too
    with --debug. The exit code is the error's, with or without --debug."""
    import traceback

    from netflix_elt.core.text import one_line

    if state.debug:
        traceback.print_exc()
    log.error("%s", one_line(message), extra={"console": False}, exc_info=state.debug)
    _echo(f"error: {one_line(message)}", err=True)
    state.status = state.status or "failed"
    return code


def _is_damaged_database(exc: BaseException) -> bool:
    """DuckDB's errors for a database file it cannot read (truncated, overwritten): an I/O or
    deserialization error that is not a machine fault (those are resource errors, handled first)."""
    import duckdb

    return isinstance(exc, duckdb.IOException | duckdb.SerializationException)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Exit codes: 0 ok (warn-level checks allowed unless --strict); 1 a fail-level check failed, "
        "another run held the lock too long, a fault of the machine (disk full, out of memory), a damaged "
        "raw layer or warehouse, or an internal error; 2 bad input or usage (a rejected or refused drop)."
    ),
)
@click.version_option(__version__, prog_name="netflix-elt")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Working home for the warehouse, data/ and logs/ (default: ${HOME_ENV}, else the current directory).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("--quiet", "-q", is_flag=True, help="Print only warnings and errors (for cron).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of logs/pipeline.log lines.",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None, debug: bool, quiet: bool, log_format: str) -> None:
    """netflix-elt: local-first ELT for the Netflix titles catalog."""
    from netflix_elt.core.logs import configure_logging
    from netflix_elt.core.signals import handling

    ctx.with_resource(handling())  # SIGTERM and Ctrl-C stop the command cleanly (exit 143, 130)
    resolved = Home.resolve(home)
    ctx.obj = _Ctx(resolved, debug, quiet)
    # The console only: a command that writes the home adds logs/pipeline.log (see _writing), so
    # read-only commands create nothing and work on a read-only home.
    configure_logging(quiet=quiet, debug=debug, json_lines=log_format == "json")


def _ingest_options(
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    as_of: str | None = None,
    accept_key_changes: bool = False,
    accept_deletes: bool = False,
) -> Any:
    from netflix_elt.ingest.load import IngestOptions, parse_as_of
    from netflix_elt.ingest.mapping import load_mapping_file

    overrides = load_mapping_file(mapping) if mapping else {}
    return IngestOptions(
        mapping_overrides=overrides,
        force=force,
        max_reject_ratio=max_reject_ratio,
        mode=mode,
        as_of=parse_as_of(as_of) if as_of else None,
        accept_key_changes=accept_key_changes,
        accept_deletes=accept_deletes,
    )


def _as_of_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of",
        metavar="DATE",
        help="The catalog date the drop stands for (YYYY-MM-DD or an ISO-8601 time, UTC): places it in "
        "history at that date, before newer drops if need be. Default: the drop is the newest. In an "
        "inbox, a date in the file name (netflix_titles_2021-09-25.csv) does the same.",
    )(fn)


def _accept_opts(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--accept-deletes",
        is_flag=True,
        help="Apply this drop (give exactly one) even if the mass-deletion guard finds it deletes too many titles.",
    )(fn)
    return click.option(
        "--accept-key-changes",
        is_flag=True,
        help="Apply this drop (give exactly one) even if the key-remap guard finds its show_ids renumbered.",
    )(fn)


_mapping_opt = click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help='TOML file of extra header mappings ([columns] header = "canonical_column").',
)
_force_opt = click.option("--force", is_flag=True, help="Load a file again even if its sha256 was loaded.")
_mode_opt = click.option(
    "--mode",
    type=click.Choice(["snapshot", "delta"]),
    default="snapshot",
    show_default=True,
    help="snapshot: each drop is the full catalog (missing keys are soft-deleted); delta: upserts only.",
)
_ratio_opt = click.option(
    "--max-reject-ratio",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Reject the whole batch when more than this share of its lines is malformed.",
)


def _echo_batch(b: Any, home: Home) -> None:
    def rel(p: Path | None) -> str:
        if p is None:
            return "-"
        try:
            return str(p.relative_to(home.root))
        except ValueError:
            return str(p)

    from netflix_elt.core.text import one_line

    name = one_line(b.source.name)  # a line break in a file name must not forge a line of output
    if b.status == "skipped":
        _echo(f"skipped  {name}: {b.message}")
        return
    _echo(
        f"loaded   {name}: batch {b.batch_id}, {b.rows_loaded:,} rows "
        f"({b.rows_quarantined:,} quarantined of {b.rows_read:,} read), {b.encoding}, "
        f"delimiter {b.delimiter!r}, {b.seconds:.2f}s"
    )
    _echo(f"         raw: {rel(b.raw_path)}")
    for w in b.warnings:
        _echo(f"         warning: {w}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_mapping_opt
@_force_opt
@_ratio_opt
@_mode_opt
@_as_of_opt
@_accept_opts
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=300,
    show_default=True,
    help="Seconds to wait for another run on the same home to finish.",
)
@click.pass_obj
@_guard
def ingest(
    state: _Ctx,
    files: tuple[Path, ...],
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    as_of: str | None,
    accept_key_changes: bool,
    accept_deletes: bool,
    lock_timeout: float,
) -> int:
    """Ingest catalog drops (CSV, CSV.GZ) into the raw layer and the warehouse, in the order given.

    The drops wait there, pending, until the next `run` transforms them."""
    from netflix_elt.ops.pipeline import RunResult, check_arguments, run_ingest

    _writing(state)
    if as_of and len(files) > 1:
        raise click.UsageError("--as-of names one drop; ingest the files one at a time")
    _one_drop_to_accept(accept_key_changes, accept_deletes, len(files))
    options = _ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    missing = [f for f in files if not f.expanduser().exists() and not f.is_symlink()]
    if len(missing) == len(files):
        check_arguments(state.home, missing, None)  # nothing to load: say so before creating anything
    _writing(state, create=True)
    result = RunResult(run_id=state.run_id)
    try:
        run_ingest(state.home, list(files), options, lock_timeout=lock_timeout, result=result)
    finally:
        state.status = result.status
        for b in result.batches:
            _echo_batch(b, state.home)
        for r in result.rejected:
            _echo(f"error: {r.reason}", err=True)
    if result.batches and not state.quiet:
        pending = [b for b in result.loaded]
        if pending:
            _echo(f"ingest:  {len(pending)} batch(es) pending; `netflix-elt run` transforms them")
    return result.exit_code()


def _one_drop_to_accept(accept_key_changes: bool, accept_deletes: bool, drops: int) -> None:
    """An override of a guard names one drop: it must not wave through others by accident."""
    if (accept_key_changes or accept_deletes) and drops != 1:
        flag = "--accept-key-changes" if accept_key_changes else "--accept-deletes"
        raise click.UsageError(f"{flag} applies to one drop: give exactly one file with it (not an inbox)")


_strict_opt = click.option("--strict", is_flag=True, help="Exit 1 when any check warns, not only when one fails.")
_lock_opt = click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=300,
    show_default=True,
    help="Seconds to wait for another run on the same home to finish.",
)


def _monitor_options(
    strict: bool, freshness_warn: float, freshness_fail: float, volume: float, null_jump: float
) -> Any:
    from netflix_elt.quality.checks import MonitorOptions

    return MonitorOptions(
        freshness_warn_hours=freshness_warn,
        freshness_fail_hours=freshness_fail,
        volume_change=volume,
        null_rate_jump=null_jump,
        strict=strict,
    )


def _monitor_thresholds(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--freshness-warn-hours",
            type=float,
            default=24.0,
            show_default=True,
            help="Warn when the latest successful ingestion is older than this.",
        ),
        click.option(
            "--freshness-fail-hours",
            type=float,
            default=72.0,
            show_default=True,
            help="Fail when the latest successful ingestion is older than this.",
        ),
        click.option(
            "--volume-change",
            type=click.FloatRange(0),
            default=0.20,
            show_default=True,
            help="Warn when a batch's row count differs from the previous one by more than this share.",
        ),
        click.option(
            "--null-rate-jump",
            type=click.FloatRange(0, 1),
            default=0.10,
            show_default=True,
            help="Warn when a column's null rate rises by more than this (absolute) from the previous batch.",
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drop(s) to process (default: the bundled sample). Repeatable.",
)
@click.option(
    "--inbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Process every new drop in this folder, in name order; move each to processed/ or rejected/.",
)
@_mapping_opt
@_force_opt
@_ratio_opt
@_mode_opt
@_as_of_opt
@_accept_opts
@click.option(
    "--key-change-threshold",
    type=click.FloatRange(0, 1),
    default=0.20,
    show_default=True,
    help="Key-remap guard: refuse a drop when more than this share of matched show_ids changed title.",
)
@click.option(
    "--max-delete-ratio",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="Mass-deletion guard: refuse a snapshot drop that deletes more than this share of the active "
    "titles, or lists that share fewer titles.",
)
@_strict_opt
@_lock_opt
@_monitor_thresholds
@click.pass_obj
@_guard
def run(
    state: _Ctx,
    sources: tuple[Path, ...],
    inbox: Path | None,
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    as_of: str | None,
    accept_key_changes: bool,
    accept_deletes: bool,
    key_change_threshold: float,
    max_delete_ratio: float,
    strict: bool,
    lock_timeout: float,
    freshness_warn_hours: float,
    freshness_fail_hours: float,
    volume_change: float,
    null_rate_jump: float,
) -> int:
    """Run the whole pipeline: ingest, transform (dbt), check. Default source: the bundled sample.

    A drop a guard refuses is final; the run goes on with the others, checks and publishes what it
    applied. Exit codes: 0 ok (warnings allowed unless --strict), 1 a fail-level check failed or
    an internal error, 2 a drop was rejected or refused, or bad usage.
    """
    from netflix_elt.ops.pipeline import RunResult, check_arguments, run_pipeline
    from netflix_elt.transform.batches import TransformOptions

    _writing(state)
    if inbox is not None and sources:
        raise click.UsageError("give --source or --inbox, not both")
    started = time.monotonic()
    if inbox is not None and as_of:
        raise click.UsageError("--as-of names one drop: with --inbox, put the date in each file's name")
    if as_of and len(sources) > 1:
        raise click.UsageError("--as-of names one drop; give one --source with it")
    _one_drop_to_accept(accept_key_changes, accept_deletes, 0 if inbox is not None else max(len(sources), 1))
    options = _ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    topts = TransformOptions(key_change_threshold=key_change_threshold, max_delete_ratio=max_delete_ratio)
    mopts = _monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    check_arguments(state.home, list(sources), inbox)
    _writing(state, create=True)
    result = RunResult(run_id=state.run_id)
    if not state.quiet:
        _echo(f"netflix-elt {__version__}: run {result.run_id}, home {state.home.root}", err=True)
    try:
        run_pipeline(
            state.home,
            list(sources) or None,
            options,
            topts,
            mopts,
            inbox=inbox,
            lock_timeout=lock_timeout,
            result=result,
        )
    finally:
        state.status = result.status
        _echo_run(result, state.home, time.monotonic() - started, state.quiet)
    for r in result.rejected:
        _echo(f"error: {r.reason} (moved to {r.moved_to})", err=True)
    for e in result.refused:
        _echo(f"error: {e}", err=True)
    return result.exit_code(strict)


def _echo_run(result: Any, home: Home, seconds: float, quiet: bool) -> None:
    """What the run did, on stdout once it ends (progress went to stderr as it happened): each
    drop, each batch's CDC counts, the warned and failed checks, then one summary."""
    if not quiet:
        for b in result.batches:
            _echo_batch(b, home)
        for t in result.transforms:
            if t.status == "refused":
                _echo(f"refused  batch {t.batch_id}: see the error below; current and history left as they were")
                continue
            _echo(f"cdc      batch {t.batch_id} ({t.mode}): {t.counts.line()}")
            if t.counts.duplicates_dropped:
                _echo(f"         {t.counts.duplicates_dropped:,} duplicate show_id row(s) dropped (last one kept)")
            for w in t.warnings:
                _echo(f"         warning: {w}")
    if result.report is not None:
        _echo_checks(result.report, quiet)
    if quiet:
        return
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
    outputs = ", ".join(_rel(p, home) for p in [home.warehouse, *result.published]) if result.published else ""
    rows = [
        ("run", f"{result.run_id}: {result.status}"),
        ("batches", batches),
        ("cdc", cdc),
        ("checks", report.summary() if report else "not run"),
        ("outputs", outputs or _rel(home.warehouse, home)),
        ("duration", f"{seconds:.2f}s"),
    ]
    _echo("summary:")
    for k, v in rows:
        _echo(f"  {k:<9} {v}")


def _rel(path: Path, home: Home) -> str:
    try:
        shown = str(path.relative_to(home.root))
    except ValueError:
        shown = str(path)
    return shown + ("/" if path.is_dir() else "")


def _echo_checks(report: Any, quiet: bool) -> None:
    """Every warned or failed check, one line each (even in quiet mode: they are what cron mails)."""
    for r in report.results:
        if r.status in ("warn", "fail"):
            _echo(
                f"check    {r.status.upper():<4} {r.check} ({r.table}): {r.observed}; threshold {r.threshold}",
                err=quiet,
            )


@cli.command()
@_strict_opt
@_lock_opt
@click.option("--no-dbt", is_flag=True, help="Skip re-running dbt's tests (only the warehouse checks).")
@click.option(
    "--wait",
    is_flag=True,
    help="While a run writes the warehouse, wait for it (up to --lock-timeout) and check afresh, instead of "
    "answering at once from the checks it last published (freshness re-evaluated).",
)
@_monitor_thresholds
@click.pass_obj
@_guard
def monitor(
    state: _Ctx,
    strict: bool,
    lock_timeout: float,
    no_dbt: bool,
    wait: bool,
    freshness_warn_hours: float,
    freshness_fail_hours: float,
    volume_change: float,
    null_rate_jump: float,
) -> int:
    """Run the data-quality checks now and store their results in dq_results.

    While a run is writing the warehouse (DuckDB lets no other process open it), answer at once
    from the checks that run last published, with freshness re-evaluated, and store nothing;
    --wait waits for the run instead.

    Exit codes: 0 all checks pass (warnings allowed unless --strict), 1 a fail-level check failed.
    """
    from netflix_elt.core.lock import peek
    from netflix_elt.ops.pipeline import run_monitor
    from netflix_elt.quality.checks import report_from_state
    from netflix_elt.quality.state import read_state

    mopts = _monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    if not state.home.warehouse.exists():
        raise InputError(f"{state.home.warehouse}: no warehouse yet; run `netflix-elt run` first")
    with peek(state.home) as writer:
        pass
    if writer is not None and not wait:
        published = read_state(state.home)
        report = report_from_state(published, state.run_id, mopts, in_progress=True)
        when = (
            f"checks as published at {published['published_at']}"
            if published["published_at"]
            else "no checks published yet (its first run)"
        )
        _echo(
            f"run {writer.get('run_id')} (pid {writer.get('pid')}, since {writer.get('started_at')}) is writing the "
            f"warehouse: {when}, freshness re-evaluated now; nothing stored (--wait to check afresh after it)",
            err=state.quiet,
        )
        _echo_checks(report, state.quiet)
        if not state.quiet:
            _echo(f"checks: {report.summary()}")
        return report.exit_code(strict)
    _writing(state)
    report = run_monitor(state.home, mopts, with_dbt_tests=not no_dbt, lock_timeout=lock_timeout, run_id=state.run_id)
    state.status = "checks_failed" if report.failed else "succeeded"
    _echo_checks(report, state.quiet)
    if not state.quiet:
        _echo(f"checks: {report.summary()} (run {report.run_id})")
    return report.exit_code(strict)


@cli.command()
@click.option(
    "--limit", type=click.IntRange(1), default=10, show_default=True, help="How many runs and batches to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_obj
@_guard
def status(state: _Ctx, limit: int, as_json: bool) -> int:
    """Show the latest runs, batches and check results (read-only: writes nothing)."""
    from netflix_elt.quality.state import collect_status

    if not state.home.warehouse.exists():
        _echo(f"no warehouse at {state.home.warehouse} yet; run `netflix-elt run`")
        return EXIT_OK
    snap = collect_status(state.home, limit)
    if as_json:
        _echo(json.dumps(snap, default=str, indent=2))
        return EXIT_OK
    for line in render_status(snap):
        _echo(line)
    return EXIT_OK


@cli.command()
@click.option("--connection", default="bigquery_connection", show_default=True, help="Looker connection name.")
@click.option("--dataset", default="netflix_elt", show_default=True, help="Dataset (schema) the views read from.")
@click.option("--check", is_flag=True, help="Only validate the existing lookml/ folder against the warehouse.")
@click.pass_obj
@_guard
def lookml(state: _Ctx, connection: str, dataset: str, check: bool) -> int:
    """Generate LookML (model, views, dashboard) from the warehouse schema into lookml/."""
    from netflix_elt.bi.lookml import LookmlOptions, generate_lookml, validate_lookml
    from netflix_elt.core.lock import shared_lock

    if not connection.strip():
        raise click.BadParameter("give a Looker connection name", param_hint="--connection")
    _need_warehouse(state)
    if not check:  # --check only reads: it logs to the console alone
        _writing(state, create=True)
    folder = state.home.root / "lookml"
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        if not check:
            for path in generate_lookml(state.home, folder, LookmlOptions(connection=connection, dataset=dataset)):
                _echo(f"wrote    {path.relative_to(state.home.root)}")
        problems = validate_lookml(state.home, folder)
    for p in problems:
        _echo(f"error: {p}", err=True)
    if not state.quiet:
        _echo(f"lookml: {len(problems)} problem(s) against {state.home.warehouse.name}")
    return EXIT_FAIL if problems else EXIT_OK


@cli.command()
@click.option("--bigquery", "bq_target", metavar="PROJECT.DATASET", help="Also load the exports into BigQuery.")
@click.option("--endpoint", help="BigQuery API endpoint (an emulator, for instance).")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Service-account JSON file (else GOOGLE_APPLICATION_CREDENTIALS or application-default credentials).",
)
@click.pass_obj
@_guard
def export(state: _Ctx, bq_target: str | None, endpoint: str | None, credentials: Path | None) -> int:
    """Write each KPI table (Parquet, CSV) and the current catalog (Parquet) to exports/, with manifest.json."""
    from netflix_elt.bi.exports import export_tables, exports_dir
    from netflix_elt.core.lock import shared_lock

    if (endpoint or credentials) and not bq_target:
        raise click.UsageError("--endpoint and --credentials go with --bigquery PROJECT.DATASET")
    if bq_target:
        from netflix_elt.bi.bigquery import parse_target

        parse_target(bq_target)  # before any work
    _need_warehouse(state)
    _writing(state, create=True)
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        manifest = export_tables(state.home)
    for t in manifest["tables"]:
        files = ", ".join(f"exports/{f}" for f in t["files"].values())
        _echo(f"exported {t['table']}: {t['rows']:,} rows -> {files}")
    if bq_target:
        from netflix_elt.bi.bigquery import load_exports

        for loaded in load_exports(exports_dir(state.home), bq_target, endpoint=endpoint, credentials=credentials):
            _echo(f"bigquery {bq_target}.{loaded.table}: {loaded.rows_verified:,} rows verified")
    return EXIT_OK


@cli.command()
@click.pass_obj
@_guard
def dashboard(state: _Ctx) -> int:
    """Write the offline HTML dashboard to reports/dashboard.html."""
    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.core.lock import shared_lock

    _need_warehouse(state)
    _writing(state, create=True)
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        path = build_dashboard(state.home)
    _echo(f"wrote    {path.relative_to(state.home.root)} (open it in any browser; it needs no server)")
    return EXIT_OK


@cli.command()
@_lock_opt
@click.pass_obj
@_guard
def verify(state: _Ctx, lock_timeout: float) -> int:
    """Read the raw layer back against the ledger and the warehouse (read-only).

    Each succeeded batch's raw Parquet file must exist, match the sha256 and row count in the
    ledger and have its manifest; no raw file may be unknown to the ledger; raw_netflix_titles must
    hold exactly each batch's rows. Exit codes: 0 all verified, 1 a problem (each named on a line).
    """
    from contextlib import nullcontext

    from netflix_elt.core.lock import shared_lock
    from netflix_elt.ops.rebuild import verify as verify_home

    # Wait for a run that writes the warehouse; a home that never ran has no lock file to create.
    guard = shared_lock(state.home, lock_timeout) if state.home.lock_file.exists() else nullcontext()
    with guard:
        report = verify_home(state.home)
    for p in report.problems:
        _echo(f"problem: {p.line()}")
    if report.problems:
        _echo(f"verify: {len(report.problems)} problem(s) in {report.batches} batch(es)", err=True)
        return EXIT_FAIL
    _echo(f"verify: {report.batches} batch(es) verified: raw files, manifests and warehouse agree")
    return EXIT_OK


@cli.command()
@_lock_opt
@click.pass_obj
@_guard
def rebuild(state: _Ctx, lock_timeout: float) -> int:
    """Rebuild the warehouse from the raw layer, replaying every batch in as-of order.

    Builds a new warehouse under tmp/rebuild/ (ledger from the old warehouse if it opens, else from
    the manifests beside the raw files; every raw batch; the dbt project replayed batch by batch),
    then swaps it in atomically, keeping the old file as netflix_dw.duckdb.before-rebuild. Works
    when the warehouse is missing or corrupt. A rebuild that fails or is killed leaves the old
    warehouse in place. Exit codes: 0 rebuilt, 1 a damaged raw layer or a failed replay.
    """
    from netflix_elt.ops.pipeline import run_rebuild

    _writing(state, create=True)
    result = run_rebuild(state.home, lock_timeout=lock_timeout)
    if not state.quiet:
        _echo(
            f"rebuild: {result.replayed} batch(es) replayed ({result.refused} refused by a guard, as before) "
            f"from the raw layer (ledger from the {result.ledger_from}) in {result.seconds:.1f}s"
        )
        if result.backup is not None:
            _echo(f"         the previous warehouse is kept as {result.backup.name}")
    return EXIT_OK


@cli.command()
@click.option("--every", required=True, help='When to run, as a 5-field cron expression, e.g. "0 6 * * *".')
@click.option(
    "--inbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="The landing folder the scheduled run processes (default: <home>/inbox).",
)
@click.option("--lock-timeout", type=click.IntRange(0), help="Passed to the scheduled run.")
@click.pass_obj
@_guard
def schedule(state: _Ctx, every: str, inbox: Path | None, lock_timeout: int | None) -> int:
    """Print a crontab line and an equivalent systemd service/timer pair. Changes nothing."""
    import shutil

    from netflix_elt.ops.schedule import render_schedule

    # The program running now (not whichever netflix-elt comes first on PATH), when it is one.
    running = Path(sys.argv[0]).absolute()
    found = shutil.which("netflix-elt")
    if running.name.startswith("netflix-elt") and running.is_file():
        executable = running
    else:
        executable = Path(found) if found else running
    files = render_schedule(every, home=state.home.root, executable=executable, inbox=inbox, lock_timeout=lock_timeout)
    if inbox is not None and not inbox.expanduser().is_dir():
        # The home's own inbox is made by the first run; another folder must exist.
        _echo(f"warning: {inbox}: inbox does not exist yet; create it before the first scheduled run", err=True)
    _echo("# --- cron " + "-" * 60)
    _echo(files.crontab)
    _echo("\n# --- ~/.config/systemd/user/netflix-elt.service " + "-" * 22)
    _echo(files.service.rstrip("\n"))
    _echo("\n# --- ~/.config/systemd/user/netflix-elt.timer " + "-" * 24)
    _echo(files.timer.rstrip("\n"))
    return EXIT_OK


def _share(value: str) -> float:
    """'1%' or '0.01' -> 0.01."""
    text = value.strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a share such as 1% or 0.01") from None
    if not 0 <= share <= 1:
        raise click.BadParameter(f"{value!r} is not between 0% and 100%")
    return share


@cli.command()
@click.option("--rows", type=click.IntRange(1), help="Rows of a new catalog drop.")
@click.option(
    "--next-of",
    "next_of",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make the next drop of this one instead (with --changed, --new, --deleted).",
)
@click.option("--changed", default="1%", show_default=True, help="Share of rows changed (with --next-of).")
@click.option("--new", "new", default="0.5%", show_default=True, help="Share of new rows (with --next-of).")
@click.option("--deleted", default="0.2%", show_default=True, help="Share of rows removed (with --next-of).")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same file.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.csv, or .csv.gz for gzip).",
)
@click.pass_obj
@_guard
def synth(
    state: _Ctx, rows: int | None, next_of: Path | None, changed: str, new: str, deleted: str, seed: int, out: Path
) -> int:
    """Generate a synthetic catalog drop sampled from the bundled real data, or its next drop."""
    from netflix_elt.tools.synth import NextDropSpec, expected_path, synth_catalog, synth_next

    if (rows is None) == (next_of is None):
        raise click.UsageError("give either --rows N (a new catalog) or --next-of FILE (its next drop)")
    if rows is not None:
        written = synth_catalog(out, rows, seed, scratch_dir=state.home.tmp_dir)
        _echo(f"wrote    {out}: {written:,} rows (seed {seed})")
        return EXIT_OK
    assert next_of is not None
    spec = NextDropSpec(changed=_share(changed), new=_share(new), deleted=_share(deleted))
    counts = synth_next(next_of, out, spec, seed, scratch_dir=state.home.tmp_dir)
    _echo(f"wrote    {out}: {counts['rows']:,} rows; expected CDC counts in {expected_path(out)}:")
    _echo("         " + ", ".join(f"{counts[k]:,} {k}" for k in ("inserted", "updated", "unchanged", "deleted")))
    return EXIT_OK


def main() -> None:
    cli(prog_name="netflix-elt")


if __name__ == "__main__":  # pragma: no cover
    main()
