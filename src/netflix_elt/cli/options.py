"""Options several commands share (ingest and run take the same drop options; run and monitor the
same check thresholds), and the usage rules that go with them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def as_of_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of",
        metavar="DATE",
        help="The catalog date the drop stands for (YYYY-MM-DD or an ISO-8601 time, UTC): places it in "
        "history at that date, before newer drops if need be. Default: the drop is the newest. In an "
        "inbox, a date in the file name (netflix_titles_2021-09-25.csv) does the same.",
    )(fn)


def accept_opts(fn: Callable[..., Any]) -> Callable[..., Any]:
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


mapping_opt = click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help='TOML file of extra header mappings ([columns] header = "canonical_column").',
)
force_opt = click.option("--force", is_flag=True, help="Load a file again even if its sha256 was loaded.")
mode_opt = click.option(
    "--mode",
    type=click.Choice(["snapshot", "delta"]),
    default="snapshot",
    show_default=True,
    help="snapshot: each drop is the full catalog (missing keys are soft-deleted); delta: upserts only.",
)
ratio_opt = click.option(
    "--max-reject-ratio",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Reject the whole batch when more than this share of its lines is malformed.",
)
strict_opt = click.option("--strict", is_flag=True, help="Exit 1 when any check warns, not only when one fails.")
lock_opt = click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=300,
    show_default=True,
    help="Seconds to wait for another run on the same home to finish.",
)


def monitor_thresholds(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def one_drop_to_accept(accept_key_changes: bool, accept_deletes: bool, drops: int) -> None:
    """An override of a guard names one drop: it must not wave through others by accident."""
    if (accept_key_changes or accept_deletes) and drops != 1:
        flag = "--accept-key-changes" if accept_key_changes else "--accept-deletes"
        raise click.UsageError(f"{flag} applies to one drop: give exactly one file with it (not an inbox)")


def share(value: str) -> float:
    """'1%' or '0.01' -> 0.01."""
    text = value.strip()
    try:
        result = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a share such as 1% or 0.01") from None
    if not 0 <= result <= 1:
        raise click.BadParameter(f"{value!r} is not between 0% and 100%")
    return result
