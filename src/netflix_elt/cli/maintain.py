"""Looking after the home: `verify` (the raw layer against the ledger and the warehouse),
`rebuild` (the warehouse from the raw layer), `schedule` (cron and systemd lines) and `synth`
(synthetic drops to try it on)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from netflix_elt.cli.app import EXIT_FAIL, EXIT_OK, Ctx, echo, echo_lines, guard, writing
from netflix_elt.cli.options import lock_opt, share
from netflix_elt.cli.render import schedule_lines


@click.command()
@lock_opt
@click.pass_obj
@guard
def verify(state: Ctx, lock_timeout: float) -> int:
    """Read the raw layer back against the ledger and the warehouse (read-only).

    Each succeeded batch's raw Parquet file must exist, match the sha256 and row count in the
    ledger and have its manifest; no raw file may be unknown to the ledger; raw_netflix_titles must
    hold exactly each batch's rows. Exit codes: 0 all verified, 1 a problem (each named on a line).
    """
    from contextlib import nullcontext

    from netflix_elt.core.lock import shared_lock
    from netflix_elt.ops.rebuild import verify as verify_home

    # Wait for a run that writes the warehouse; a home that never ran has no lock file to create.
    lock = shared_lock(state.home, lock_timeout) if state.home.lock_file.exists() else nullcontext()
    with lock:
        report = verify_home(state.home)
    for p in report.problems:
        echo(f"problem: {p.line()}")
    if report.problems:
        echo(f"verify: {len(report.problems)} problem(s) in {report.batches} batch(es)", err=True)
        return EXIT_FAIL
    echo(f"verify: {report.batches} batch(es) verified: raw files, manifests and warehouse agree")
    return EXIT_OK


@click.command()
@lock_opt
@click.pass_obj
@guard
def rebuild(state: Ctx, lock_timeout: float) -> int:
    """Rebuild the warehouse from the raw layer, replaying every batch in as-of order.

    Builds a new warehouse under tmp/rebuild/ (ledger from the old warehouse if it opens, else from
    the manifests beside the raw files; every raw batch; the dbt project replayed batch by batch),
    then swaps it in atomically, keeping the old file as netflix_dw.duckdb.before-rebuild. Works
    when the warehouse is missing or corrupt. A rebuild that fails or is killed leaves the old
    warehouse in place. In a home whose models live in BigQuery the models are replayed into the
    scratch dataset DATASET__replay, then copied over the live tables. Exit codes: 0 rebuilt, 1 a
    damaged raw layer or a failed replay.
    """
    from netflix_elt.ops.pipeline import run_rebuild

    writing(state, create=True)
    result = run_rebuild(state.home, lock_timeout=lock_timeout)
    if not state.quiet:
        echo(
            f"rebuild: {result.replayed} batch(es) replayed ({result.refused} refused by a guard, as before) "
            f"from the raw layer (ledger from the {result.ledger_from}) in {result.seconds:.1f}s"
        )
        if result.backup is not None:
            echo(f"         the previous warehouse is kept as {result.backup.name}")
    return EXIT_OK


@click.command()
@click.option("--every", required=True, help='When to run, as a 5-field cron expression, e.g. "0 6 * * *".')
@click.option(
    "--inbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="The landing folder the scheduled run processes (default: <home>/inbox).",
)
@click.option("--lock-timeout", type=click.IntRange(0), help="Passed to the scheduled run.")
@click.pass_obj
@guard
def schedule(state: Ctx, every: str, inbox: Path | None, lock_timeout: int | None) -> int:
    """Print a crontab line and an equivalent systemd service/timer pair. Changes nothing."""
    from netflix_elt.ops.schedule import render_schedule

    files = render_schedule(
        every, home=state.home.root, executable=_executable(), inbox=inbox, lock_timeout=lock_timeout
    )
    if inbox is not None and not inbox.expanduser().is_dir():
        # The home's own inbox is made by the first run; another folder must exist.
        echo(f"warning: {inbox}: inbox does not exist yet; create it before the first scheduled run", err=True)
    echo_lines(schedule_lines(files.crontab, files.service, files.timer))
    return EXIT_OK


def _executable() -> Path:
    """The program running now (not whichever netflix-elt comes first on PATH), when it is one."""
    import shutil

    running = Path(sys.argv[0]).absolute()
    found = shutil.which("netflix-elt")
    if running.name.startswith("netflix-elt") and running.is_file():
        return running
    return Path(found) if found else running


@click.command()
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
@guard
def synth(
    state: Ctx, rows: int | None, next_of: Path | None, changed: str, new: str, deleted: str, seed: int, out: Path
) -> int:
    """Generate a synthetic catalog drop sampled from the bundled real data, or its next drop."""
    from netflix_elt.tools.synth import NextDropSpec, expected_path, synth_catalog, synth_next

    if (rows is None) == (next_of is None):
        raise click.UsageError("give either --rows N (a new catalog) or --next-of FILE (its next drop)")
    if rows is not None:
        written = synth_catalog(out, rows, seed, scratch_dir=state.home.tmp_dir)
        echo(f"wrote    {out}: {written:,} rows (seed {seed})")
        return EXIT_OK
    assert next_of is not None
    spec = NextDropSpec(changed=share(changed), new=share(new), deleted=share(deleted))
    counts = synth_next(next_of, out, spec, seed, scratch_dir=state.home.tmp_dir)
    echo(f"wrote    {out}: {counts['rows']:,} rows; expected CDC counts in {expected_path(out)}:")
    echo("         " + ", ".join(f"{counts[k]:,} {k}" for k in ("inserted", "updated", "unchanged", "deleted")))
    return EXIT_OK
