"""Looking at the warehouse: `monitor` (the data-quality checks, now) and `status` (the latest
runs, batches and check results)."""

from __future__ import annotations

import json

import click

from netflix_elt.cli.app import EXIT_OK, Ctx, echo, echo_lines, guard, need_warehouse, writing
from netflix_elt.cli.options import lock_opt, monitor_thresholds, strict_opt
from netflix_elt.cli.render import check_lines, render_status, writer_line


@click.command()
@strict_opt
@lock_opt
@click.option("--no-dbt", is_flag=True, help="Skip re-running dbt's tests (only the warehouse checks).")
@click.option(
    "--wait",
    is_flag=True,
    help="While a run writes the warehouse, wait for it (up to --lock-timeout) and check afresh, instead of "
    "answering at once from the checks it last published (freshness re-evaluated).",
)
@monitor_thresholds
@click.pass_obj
@guard
def monitor(
    state: Ctx,
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
    from netflix_elt.ops.monitoring import published_answer
    from netflix_elt.ops.options import monitor_options
    from netflix_elt.ops.pipeline import run_monitor

    mopts = monitor_options(strict, freshness_warn_hours, freshness_fail_hours, volume_change, null_rate_jump)
    need_warehouse(state)
    answer = published_answer(state.home, state.run_id, mopts, wait=wait)
    if answer is not None:
        echo(writer_line(answer.writer, answer.published_at), err=state.quiet)
        # Warned and failed checks even in quiet mode (on stderr): they are what cron mails.
        echo_lines(check_lines(answer.report), err=state.quiet)
        if not state.quiet:
            echo(f"checks: {answer.report.summary()}")
        return answer.report.exit_code(strict)
    writing(state)
    report = run_monitor(state.home, mopts, with_dbt_tests=not no_dbt, lock_timeout=lock_timeout, run_id=state.run_id)
    state.status = "checks_failed" if report.failed else "succeeded"
    echo_lines(check_lines(report), err=state.quiet)
    if not state.quiet:
        echo(f"checks: {report.summary()} (run {report.run_id})")
    return report.exit_code(strict)


@click.command()
@click.option(
    "--limit", type=click.IntRange(1), default=10, show_default=True, help="How many runs and batches to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_obj
@guard
def status(state: Ctx, limit: int, as_json: bool) -> int:
    """Show the latest runs, batches and check results (read-only: writes nothing)."""
    from netflix_elt.quality.state import collect_status

    if not state.home.warehouse.exists():
        echo(f"no warehouse at {state.home.warehouse} yet; run `netflix-elt run`")
        return EXIT_OK
    snap = collect_status(state.home, limit)
    if as_json:
        echo(json.dumps(snap, default=str, indent=2))
        return EXIT_OK
    echo_lines(render_status(snap))
    return EXIT_OK
