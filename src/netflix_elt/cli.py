"""`netflix-elt`: a thin command line over the library. Errors map to exit codes here only:
0 ok (warnings allowed unless --strict), 1 a fail-level check failed or an internal error,
2 bad input or usage."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from netflix_elt import __version__
from netflix_elt.errors import InputError, NetflixEltError
from netflix_elt.home import HOME_ENV, Home

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class _Ctx:
    def __init__(self, home: Home, debug: bool, quiet: bool) -> None:
        self.home = home
        self.debug = debug
        self.quiet = quiet


def _guard(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body; turn library errors into one line on stderr and an exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        state: _Ctx = ctx.obj
        try:
            code = fn(*args, **kwargs) or EXIT_OK
        except NetflixEltError as exc:
            if state.debug:
                raise
            click.echo(f"error: {exc}", err=True)
            code = exc.exit_code
        except (click.ClickException, click.exceptions.Exit):
            raise  # usage errors: click prints them and exits 2
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (errors.Interrupted, from signals.handling)
            click.echo(f"error: {str(exc) or 'interrupted; re-run to finish'}", err=True)
            code = getattr(exc, "exit_code", 130)
        except Exception as exc:
            if state.debug:
                raise
            from netflix_elt.errors import resource_error

            # A full disk, exceeded quota, I/O error or exhausted memory is not a bug: say which.
            resource = resource_error(exc, state.home.root)
            if resource is not None:
                log.debug("resource error", exc_info=True)
                click.echo(f"error: {resource}", err=True)
                code = resource.exit_code
            elif _is_damaged_database(exc):
                log.debug("warehouse unreadable", exc_info=True)
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                click.echo(
                    f"error: {state.home.warehouse}: the warehouse cannot be read ({first}); `netflix-elt verify` "
                    "checks it, `netflix-elt rebuild` restores it from the raw layer",
                    err=True,
                )
                code = EXIT_FAIL
            else:
                log.debug("internal error", exc_info=True)
                click.echo(
                    f"error: internal error: {type(exc).__name__}: {exc} (re-run with --debug for the traceback)",
                    err=True,
                )
                code = EXIT_FAIL
        ctx.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


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
    from netflix_elt.logs import configure_logging
    from netflix_elt.signals import handling

    ctx.with_resource(handling())  # SIGTERM and Ctrl-C stop the command cleanly (exit 143, 130)
    resolved = Home.resolve(home)
    ctx.obj = _Ctx(resolved, debug, quiet)
    configure_logging(resolved.logs_dir, quiet=quiet, debug=debug, json_lines=log_format == "json")


def _ingest_options(
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    as_of: str | None = None,
    accept_key_changes: bool = False,
    accept_deletes: bool = False,
) -> Any:
    from netflix_elt.ingest import IngestOptions, parse_as_of
    from netflix_elt.mapping import load_mapping_file

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
        help="Apply these drops even if the mass-deletion guard finds they delete too many titles.",
    )(fn)
    return click.option(
        "--accept-key-changes",
        is_flag=True,
        help="Apply these drops even if the key-remap guard finds their show_ids renumbered.",
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

    from netflix_elt.source import one_line

    name = one_line(b.source.name)  # a line break in a file name must not forge a line of output
    if b.status == "skipped":
        click.echo(f"skipped  {name}: {b.message}")
        return
    click.echo(
        f"loaded   {name}: batch {b.batch_id}, {b.rows_loaded:,} rows "
        f"({b.rows_quarantined:,} quarantined of {b.rows_read:,} read), {b.encoding}, "
        f"delimiter {b.delimiter!r}, {b.seconds:.2f}s"
    )
    click.echo(f"         raw: {rel(b.raw_path)}")
    for w in b.warnings:
        click.echo(f"         warning: {w}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_mapping_opt
@_force_opt
@_ratio_opt
@_mode_opt
@_as_of_opt
@_accept_opts
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
) -> int:
    """Ingest catalog drops (CSV, CSV.GZ) into the raw layer and the warehouse, in the order given."""
    from netflix_elt.ingest import ingest_file
    from netflix_elt.rebuild import refuse_fresh_start
    from netflix_elt.warehouse import connect

    if as_of and len(files) > 1:
        raise click.UsageError("--as-of names one drop; ingest the files one at a time")
    options = _ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    home = state.home.ensure()
    refuse_fresh_start(home)
    worst = EXIT_OK
    con = connect(home)
    try:
        for f in files:
            try:
                _echo_batch(ingest_file(home, con, f, options), home)
            except InputError as exc:
                if state.debug:
                    raise
                click.echo(f"error: {exc}", err=True)
                worst = max(worst, exc.exit_code)
    finally:
        con.close()
    return worst


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
    from netflix_elt.monitor import MonitorOptions

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

    Exit codes: 0 ok (warnings allowed unless --strict), 1 a fail-level check failed or an
    internal error, 2 a drop was rejected or bad usage.
    """
    from netflix_elt.pipeline import RunResult, new_run_id, run_pipeline
    from netflix_elt.transform import TransformOptions

    if inbox is not None and sources:
        raise click.UsageError("give --source or --inbox, not both")
    started = time.monotonic()
    if inbox is not None and as_of:
        raise click.UsageError("--as-of names one drop: with --inbox, put the date in each file's name")
    if as_of and len(sources) > 1:
        raise click.UsageError("--as-of names one drop; give one --source with it")
    options = _ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    topts = TransformOptions(key_change_threshold=key_change_threshold, max_delete_ratio=max_delete_ratio)
    mopts = _monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    if not state.quiet:
        click.echo(f"netflix-elt {__version__}: home {state.home.root}")
    result = RunResult(run_id=new_run_id())
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
        _echo_run(result, state.home, time.monotonic() - started, state.quiet)
    for r in result.rejected:
        click.echo(f"error: {r.reason} (moved to {r.moved_to})", err=True)
    return result.exit_code(strict)


def _echo_run(result: Any, home: Home, seconds: float, quiet: bool) -> None:
    if not quiet:
        for b in result.batches:
            _echo_batch(b, home)
        for t in result.transforms:
            click.echo(f"cdc      batch {t.batch_id} ({t.mode}): {t.counts.line()}")
            if t.counts.duplicates_dropped:
                click.echo(f"         {t.counts.duplicates_dropped:,} duplicate show_id row(s) dropped (last one kept)")
            for w in t.warnings:
                click.echo(f"         warning: {w}")
    if result.report is not None:
        _echo_checks(result.report, quiet)
    if quiet:
        return
    totals = {
        k: sum(getattr(t.counts, k) for t in result.transforms)
        for k in ("inserted", "updated", "unchanged", "deleted", "revived")
    }
    report = result.report
    rows = [
        ("run", result.run_id),
        (
            "batches",
            f"{len(result.loaded)} loaded, {len(result.skipped)} skipped, {len(result.rejected)} rejected, "
            f"{sum(b.rows_loaded for b in result.loaded):,} rows",
        ),
        ("cdc", ", ".join(f"{v:,} {k}" for k, v in totals.items()) + f" ({len(result.transforms)} batch(es))"),
        ("checks", report.summary() if report else "not run"),
        ("duration", f"{seconds:.2f}s"),
    ]
    click.echo("summary:")
    for k, v in rows:
        click.echo(f"  {k:<9} {v}")


def _echo_checks(report: Any, quiet: bool) -> None:
    """Every warned or failed check, one line each (even in quiet mode: they are what cron mails)."""
    for r in report.results:
        if r.status in ("warn", "fail"):
            click.echo(
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
    from netflix_elt.lock import peek
    from netflix_elt.monitor import report_from_state
    from netflix_elt.pipeline import new_run_id, run_monitor
    from netflix_elt.status import read_state

    mopts = _monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    if not state.home.warehouse.exists():
        raise InputError(f"{state.home.warehouse}: no warehouse yet; run `netflix-elt run` first")
    with peek(state.home) as writer:
        pass
    if writer is not None and not wait:
        published = read_state(state.home)
        report = report_from_state(published, new_run_id(), mopts)
        click.echo(
            f"run {writer.get('run_id')} (pid {writer.get('pid')}, since {writer.get('started_at')}) is writing the "
            f"warehouse: checks as published at {published['published_at'] or 'never'}, freshness re-evaluated now; "
            "nothing stored (--wait to check afresh after it)",
            err=state.quiet,
        )
        _echo_checks(report, state.quiet)
        if not state.quiet:
            click.echo(f"checks: {report.summary()}")
        return report.exit_code(strict)
    report = run_monitor(state.home, mopts, with_dbt_tests=not no_dbt, lock_timeout=lock_timeout)
    _echo_checks(report, state.quiet)
    if not state.quiet:
        click.echo(f"checks: {report.summary()} (run {report.run_id})")
    return report.exit_code(strict)


@cli.command()
@click.option("--limit", default=10, show_default=True, help="How many runs and batches to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_obj
@_guard
def status(state: _Ctx, limit: int, as_json: bool) -> int:
    """Show the latest runs, batches and check results (read-only)."""
    from netflix_elt.status import collect_status

    if not state.home.warehouse.exists():
        click.echo(f"no warehouse at {state.home.warehouse} yet; run `netflix-elt run`")
        return EXIT_OK
    snap = collect_status(state.home, limit)
    if as_json:
        click.echo(json.dumps(snap, default=str, indent=2))
        return EXIT_OK
    writer = snap["in_progress"]
    if writer is not None:
        click.echo(
            f"in progress: run {writer.get('run_id')} (pid {writer.get('pid')}, since {writer.get('started_at')}) "
            f"is writing the warehouse; below is the state it published at {snap.get('published_at') or 'never'}"
        )
    click.echo("runs (newest first)")
    click.echo(
        f"  {'run_id':<24} {'command':<8} {'status':<14} {'loaded':>6} {'cdc +/~/-':>16} "
        f"{'checks ok/warn/fail':>20} {'secs':>7}"
    )
    for r in snap["runs"]:
        cdc = f"{r['inserted'] or 0}/{r['updated'] or 0}/{r['deleted'] or 0}"
        checks = f"{r['checks_passed'] or 0}/{r['checks_warned'] or 0}/{r['checks_failed'] or 0}"
        click.echo(
            f"  {r['run_id']:<24} {r['command']:<8} {r['status']:<14} {r['batches_loaded'] or 0:>6} {cdc:>16} "
            f"{checks:>20} {r['duration_s'] or 0:>7.1f}"
        )
        if r["message"]:
            click.echo(f"  {'':<24} {r['message']}")
    click.echo("batches (newest first)")
    click.echo(f"  {'batch_id':<34} {'status':<9} {'read':>8} {'loaded':>8} {'quar.':>6} {'enc':<9} source")
    for r in snap["batches"]:
        click.echo(
            f"  {r['batch_id']:<34} {r['status']:<9} {r['rows_read'] or 0:>8,} {r['rows_loaded'] or 0:>8,} "
            f"{r['rows_quarantined'] or 0:>6,} {(r['encoding'] or '-'):<9} {Path(r['source_path']).name}"
        )
        if r["status"] in ("rejected", "failed") and r["message"]:
            click.echo(f"  {'':<34} {r['message']}")
    checks = snap["checks"]
    if not checks:
        click.echo("checks: none yet")
        return EXIT_OK
    by_status = {s: sum(1 for c in checks if c["status"] == s) for s in ("pass", "warn", "fail", "skip")}
    newest = max(checks, key=lambda c: (c.get("result_seq") or 0, str(c["checked_at"])))
    click.echo(
        f"checks (batch {newest['batch_id'] or '-'}, latest run {newest['run_id']}): {by_status['pass']} passed, "
        f"{by_status['warn']} warned, {by_status['fail']} failed, {by_status['skip']} skipped"
    )
    for c in checks:
        if c["status"] != "pass":
            click.echo(f"  {c['status'].upper():<4} {c['check']:<26} {c['observed']} (threshold {c['threshold']})")
    return EXIT_OK


@cli.command()
@click.option("--connection", default="bigquery_connection", show_default=True, help="Looker connection name.")
@click.option("--dataset", default="netflix_elt", show_default=True, help="Dataset (schema) the views read from.")
@click.option("--check", is_flag=True, help="Only validate the existing lookml/ folder against the warehouse.")
@click.pass_obj
@_guard
def lookml(state: _Ctx, connection: str, dataset: str, check: bool) -> int:
    """Generate LookML (model, views, dashboard) from the warehouse schema into lookml/."""
    from netflix_elt.lock import shared_lock
    from netflix_elt.lookml import LookmlOptions, generate_lookml, validate_lookml

    folder = state.home.root / "lookml"
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        if not check:
            for path in generate_lookml(state.home, folder, LookmlOptions(connection=connection, dataset=dataset)):
                click.echo(f"wrote    {path.relative_to(state.home.root)}")
        problems = validate_lookml(state.home, folder)
    for p in problems:
        click.echo(f"error: {p}", err=True)
    if not state.quiet:
        click.echo(f"lookml: {len(problems)} problem(s) against {state.home.warehouse.name}")
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
    from netflix_elt.export import export_tables, exports_dir
    from netflix_elt.lock import shared_lock

    if (endpoint or credentials) and not bq_target:
        raise click.UsageError("--endpoint and --credentials go with --bigquery PROJECT.DATASET")
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        manifest = export_tables(state.home)
    for t in manifest["tables"]:
        files = ", ".join(f"exports/{f}" for f in t["files"].values())
        click.echo(f"exported {t['table']}: {t['rows']:,} rows -> {files}")
    if bq_target:
        from netflix_elt.bigquery import load_exports

        for loaded in load_exports(exports_dir(state.home), bq_target, endpoint=endpoint, credentials=credentials):
            click.echo(f"bigquery {bq_target}.{loaded.table}: {loaded.rows_verified:,} rows verified")
    return EXIT_OK


@cli.command()
@click.pass_obj
@_guard
def dashboard(state: _Ctx) -> int:
    """Write the offline HTML dashboard to reports/dashboard.html."""
    from netflix_elt.dashboard import build_dashboard
    from netflix_elt.lock import shared_lock

    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        path = build_dashboard(state.home)
    click.echo(f"wrote    {path.relative_to(state.home.root)} (open it in any browser; it needs no server)")
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

    from netflix_elt.lock import shared_lock
    from netflix_elt.rebuild import verify as verify_home

    # Wait for a run that writes the warehouse; a home that never ran has no lock file to create.
    guard = shared_lock(state.home, lock_timeout) if state.home.lock_file.exists() else nullcontext()
    with guard:
        report = verify_home(state.home)
    for p in report.problems:
        click.echo(f"problem: {p.line()}")
    if report.problems:
        click.echo(f"verify: {len(report.problems)} problem(s) in {report.batches} batch(es)", err=True)
        return EXIT_FAIL
    click.echo(f"verify: {report.batches} batch(es) verified: raw files, manifests and warehouse agree")
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
    from netflix_elt.pipeline import run_rebuild

    result = run_rebuild(state.home, lock_timeout=lock_timeout)
    if not state.quiet:
        click.echo(
            f"rebuild: {result.replayed} batch(es) replayed ({result.refused} refused by a guard, as before) "
            f"from the raw layer (ledger from the {result.ledger_from}) in {result.seconds:.1f}s"
        )
        if result.backup is not None:
            click.echo(f"         the previous warehouse is kept as {result.backup.name}")
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

    from netflix_elt.schedule import render_schedule

    found = shutil.which("netflix-elt")
    executable = Path(found) if found else Path(sys.argv[0]).absolute()
    files = render_schedule(every, home=state.home.root, executable=executable, inbox=inbox, lock_timeout=lock_timeout)
    click.echo("# --- cron " + "-" * 60)
    click.echo(files.crontab)
    click.echo("\n# --- ~/.config/systemd/user/netflix-elt.service " + "-" * 22)
    click.echo(files.service.rstrip("\n"))
    click.echo("\n# --- ~/.config/systemd/user/netflix-elt.timer " + "-" * 24)
    click.echo(files.timer.rstrip("\n"))
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
    from netflix_elt.synth import NextDropSpec, expected_path, synth_catalog, synth_next

    if (rows is None) == (next_of is None):
        raise click.UsageError("give either --rows N (a new catalog) or --next-of FILE (its next drop)")
    if rows is not None:
        written = synth_catalog(out, rows, seed, scratch_dir=state.home.tmp_dir)
        click.echo(f"wrote    {out}: {written:,} rows (seed {seed})")
        return EXIT_OK
    assert next_of is not None
    spec = NextDropSpec(changed=_share(changed), new=_share(new), deleted=_share(deleted))
    counts = synth_next(next_of, out, spec, seed, scratch_dir=state.home.tmp_dir)
    click.echo(f"wrote    {out}: {counts['rows']:,} rows; expected CDC counts in {expected_path(out)}:")
    click.echo("         " + ", ".join(f"{counts[k]:,} {k}" for k in ("inserted", "updated", "unchanged", "deleted")))
    return EXIT_OK


def main() -> None:
    cli(prog_name="netflix-elt")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
