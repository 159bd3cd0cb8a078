"""The stages' options built from what a caller gives as plain values (the command line's flags):
a mapping file read, an as-of date parsed, thresholds gathered."""

from __future__ import annotations

from pathlib import Path

from netflix_elt.ingest.load import IngestOptions, parse_as_of
from netflix_elt.ingest.mapping import load_mapping_file
from netflix_elt.quality.checks import MonitorOptions


def ingest_options(
    mapping: Path | None,
    force: bool,
    max_reject_ratio: float,
    mode: str,
    as_of: str | None = None,
    accept_key_changes: bool = False,
    accept_deletes: bool = False,
) -> IngestOptions:
    """IngestOptions, with the extra header mappings read from `mapping` (a TOML file) and `as_of`
    parsed (raises InputError for a bad file or date)."""
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


def monitor_options(
    strict: bool, freshness_warn: float, freshness_fail: float, volume: float, null_jump: float
) -> MonitorOptions:
    return MonitorOptions(
        freshness_warn_hours=freshness_warn,
        freshness_fail_hours=freshness_fail,
        volume_change=volume,
        null_rate_jump=null_jump,
        strict=strict,
    )
