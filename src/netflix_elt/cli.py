"""`netflix-elt`: a thin command line over the library. Errors map to exit codes here only:
0 ok, 2 bad input or usage, 1 internal error (or a failed check, in later steps)."""

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
        except KeyboardInterrupt:
            click.echo("error: interrupted; nothing half-written was kept (re-run to finish)", err=True)
            code = 130
        except Exception as exc:
            if state.debug:
                raise
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


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 ok, 1 internal error or failed check, 2 bad input or usage.",
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

    resolved = Home.resolve(home)
    ctx.obj = _Ctx(resolved, debug, quiet)
    configure_logging(resolved.logs_dir, quiet=quiet, debug=debug, json_lines=log_format == "json")


def _ingest_options(mapping: Path | None, force: bool, max_reject_ratio: float, mode: str) -> Any:
    from netflix_elt.ingest import IngestOptions
    from netflix_elt.mapping import load_mapping_file

    overrides = load_mapping_file(mapping) if mapping else {}
    return IngestOptions(mapping_overrides=overrides, force=force, max_reject_ratio=max_reject_ratio, mode=mode)


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

    if b.status == "skipped":
        click.echo(f"skipped  {b.source.name}: {b.message}")
        return
    click.echo(
        f"loaded   {b.source.name}: batch {b.batch_id}, {b.rows_loaded:,} rows "
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
@click.pass_obj
@_guard
def ingest(
    state: _Ctx, files: tuple[Path, ...], mapping: Path | None, force: bool, max_reject_ratio: float, mode: str
) -> int:
    """Ingest catalog drops (CSV, CSV.GZ) into the raw layer and the warehouse, in the order given."""
    from netflix_elt.ingest import ingest_file
    from netflix_elt.warehouse import connect

    options = _ingest_options(mapping, force, max_reject_ratio, mode)
    home = state.home.ensure()
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


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drop(s) to process (default: the bundled sample). Repeatable.",
)
@_mapping_opt
@_force_opt
@_ratio_opt
@_mode_opt
@click.option(
    "--accept-key-changes",
    is_flag=True,
    help="Apply a drop even if the key-remap guard finds its show_ids renumbered.",
)
@click.option(
    "--key-change-threshold",
    type=click.FloatRange(0, 1),
    default=0.20,
    show_default=True,
    help="Key-remap guard: refuse a drop when more than this share of matched show_ids changed title.",
)
@click.pass_obj
@_guard
def run(
    state: _Ctx,
    sources: tuple[Path, ...],
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    accept_key_changes: bool,
    key_change_threshold: float,
) -> int:
    """Run the whole pipeline on the given drops (default: the bundled sample)."""
    from netflix_elt.pipeline import RunResult, new_run_id, run_pipeline
    from netflix_elt.transform import TransformOptions

    started = time.monotonic()
    options = _ingest_options(mapping, force, max_reject_ratio, mode)
    topts = TransformOptions(accept_key_changes=accept_key_changes, key_change_threshold=key_change_threshold)
    if not state.quiet:
        click.echo(f"netflix-elt {__version__}: home {state.home.root}")
    result = RunResult(run_id=new_run_id())
    try:
        run_pipeline(state.home, list(sources) or None, options, topts, result=result)
    finally:
        if not state.quiet:
            _echo_run(result, state.home, time.monotonic() - started)
    return EXIT_OK


def _echo_run(result: Any, home: Home, seconds: float) -> None:
    for b in result.batches:
        _echo_batch(b, home)
    for t in result.transforms:
        click.echo(f"cdc      batch {t.batch_id} ({t.mode}): {t.counts.line()}")
        if t.counts.duplicates_dropped:
            click.echo(f"         {t.counts.duplicates_dropped:,} duplicate show_id row(s) dropped (last one kept)")
        click.echo(f"         dbt checks: {t.tests_passed} passed, {t.tests_warned} warned, {t.tests_failed} failed")
        for w in t.warnings:
            click.echo(f"         warning: {w}")
    click.echo(
        f"summary: run {result.run_id}: {len(result.loaded)} batch(es) loaded, {len(result.skipped)} skipped, "
        f"{sum(b.rows_loaded for b in result.loaded):,} rows; {len(result.transforms)} batch(es) transformed; "
        f"{seconds:.2f}s"
    )


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many batches to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
@_guard
def status(state: _Ctx, limit: int, as_json: bool) -> int:
    """Show the batch ledger, newest first."""
    from netflix_elt.ingest import list_batches
    from netflix_elt.warehouse import connect

    if not state.home.warehouse.exists():
        click.echo(f"no warehouse at {state.home.warehouse} yet; run `netflix-elt run`")
        return EXIT_OK
    con = connect(state.home, read_only=True)
    try:
        rows = list_batches(con, limit)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return EXIT_OK
    if not rows:
        click.echo("no batches yet; run `netflix-elt run`")
        return EXIT_OK
    header = f"{'batch_id':<34} {'status':<9} {'read':>8} {'loaded':>8} {'quar.':>6} {'enc':<9} source"
    click.echo(header)
    for r in rows:
        click.echo(
            f"{r['batch_id']:<34} {r['status']:<9} {r['rows_read'] or 0:>8,} {r['rows_loaded'] or 0:>8,} "
            f"{r['rows_quarantined'] or 0:>6,} {(r['encoding'] or '-'):<9} {Path(r['source_path']).name}"
        )
        if r["status"] in ("rejected", "failed") and r["message"]:
            click.echo(f"{'':<34} {r['message']}")
    return EXIT_OK


def main() -> None:
    cli(prog_name="netflix-elt")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
