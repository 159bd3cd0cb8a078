"""Loading drops: `ingest` (into the raw layer and the warehouse, pending) and `run` (the whole
pipeline: ingest, transform, check)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from netflix_elt import __version__
from netflix_elt.cli.app import Ctx, echo, echo_lines, guard, writing
from netflix_elt.cli.options import (
    accept_opts,
    as_of_opt,
    force_opt,
    lock_opt,
    mapping_opt,
    mode_opt,
    monitor_thresholds,
    one_drop_to_accept,
    ratio_opt,
    strict_opt,
)
from netflix_elt.cli.render import batch_lines, check_lines, run_lines, run_summary_lines
from netflix_elt.core.home import Home

if TYPE_CHECKING:
    from netflix_elt.ops.pipeline import RunResult


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@mapping_opt
@force_opt
@ratio_opt
@mode_opt
@as_of_opt
@accept_opts
@lock_opt
@click.pass_obj
@guard
def ingest(
    state: Ctx,
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
    from netflix_elt.ops.options import ingest_options
    from netflix_elt.ops.pipeline import RunResult, check_arguments, run_ingest

    writing(state)
    if as_of and len(files) > 1:
        raise click.UsageError("--as-of names one drop; ingest the files one at a time")
    one_drop_to_accept(accept_key_changes, accept_deletes, len(files))
    options = ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    missing = [f for f in files if not f.expanduser().exists() and not f.is_symlink()]
    if len(missing) == len(files):
        check_arguments(state.home, missing, None)  # nothing to load: say so before creating anything
    writing(state, create=True)
    result = RunResult(run_id=state.run_id)
    try:
        run_ingest(state.home, list(files), options, lock_timeout=lock_timeout, result=result)
    finally:
        state.status = result.status
        for b in result.batches:
            echo_lines(batch_lines(b, state.home))
        for r in result.rejected:
            echo(f"error: {r.reason}", err=True)
    if result.batches and not state.quiet:
        pending = [b for b in result.loaded]
        if pending:
            echo(f"ingest:  {len(pending)} batch(es) pending; `netflix-elt run` transforms them")
    return result.exit_code()


@click.command()
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
@mapping_opt
@force_opt
@ratio_opt
@mode_opt
@as_of_opt
@accept_opts
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
@click.option(
    "--target",
    type=click.Choice(["duckdb", "bigquery"]),
    default=None,
    help="Where dbt builds the models (default: the home's, else NETFLIX_ELT_DBT_TARGET, else duckdb). "
    "bigquery reads NETFLIX_ELT_BQ_PROJECT, _DATASET, _METHOD, _KEYFILE, _TOKEN, _LOCATION, _API_ENDPOINT.",
)
@strict_opt
@lock_opt
@monitor_thresholds
@click.pass_obj
@guard
def run(
    state: Ctx,
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
    target: str | None,
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
    from netflix_elt.ops.options import ingest_options, monitor_options
    from netflix_elt.ops.pipeline import RunResult, check_arguments, run_pipeline
    from netflix_elt.transform.batches import TransformOptions
    from netflix_elt.warehouse.target import check_target

    writing(state)
    if inbox is not None and sources:
        raise click.UsageError("give --source or --inbox, not both")
    started = time.monotonic()
    if inbox is not None and as_of:
        raise click.UsageError("--as-of names one drop: with --inbox, put the date in each file's name")
    if as_of and len(sources) > 1:
        raise click.UsageError("--as-of names one drop; give one --source with it")
    one_drop_to_accept(accept_key_changes, accept_deletes, 0 if inbox is not None else max(len(sources), 1))
    options = ingest_options(mapping, force, max_reject_ratio, mode, as_of, accept_key_changes, accept_deletes)
    topts = TransformOptions(key_change_threshold=key_change_threshold, max_delete_ratio=max_delete_ratio)
    mopts = monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    check_arguments(state.home, list(sources), inbox)
    check_target(state.home, target)  # a bad or missing setting: exit 2 before anything is written
    writing(state, create=True)
    result = RunResult(run_id=state.run_id)
    if not state.quiet:
        echo(f"netflix-elt {__version__}: run {result.run_id}, home {state.home.root}", err=True)
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
            target=target,
        )
    finally:
        state.status = result.status
        _echo_run(result, state.home, time.monotonic() - started, state.quiet)
    for r in result.rejected:
        echo(f"error: {r.reason} (moved to {r.moved_to})", err=True)
    for e in result.refused:
        echo(f"error: {e}", err=True)
    return result.exit_code(strict)


def _echo_run(result: RunResult, home: Home, seconds: float, quiet: bool) -> None:
    """What the run did, on stdout once it ends (progress went to stderr as it happened): each
    drop, each batch's CDC counts, the warned and failed checks (even in quiet mode, on stderr:
    they are what cron mails), then one summary."""
    if not quiet:
        echo_lines(run_lines(result, home))
    if result.report is not None:
        echo_lines(check_lines(result.report), err=quiet)
    if not quiet:
        echo_lines(run_summary_lines(result, home, seconds))
