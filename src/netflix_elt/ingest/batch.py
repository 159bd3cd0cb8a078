"""What one drop's ingestion is asked to do and what it answers: the options, the result, and the
catalog date (`as_of`) a drop is placed at in history."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.source import SourceStat

MODES = ("snapshot", "delta")


@dataclass(frozen=True)
class IngestOptions:
    mapping_overrides: dict[str, str] = field(default_factory=dict)
    force: bool = False
    max_reject_ratio: float = 0.01
    mode: str = "snapshot"
    # The catalog's date (`--as-of`): places the drop in history; None = the newest drop.
    as_of: datetime | None = None
    # Per-drop overrides of the guards, recorded on the batch's ledger row.
    accept_key_changes: bool = False
    accept_deletes: bool = False


@dataclass
class BatchResult:
    source: Path
    status: str  # succeeded | skipped | rejected | failed
    batch_id: str | None = None
    sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    escape: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    raw_path: Path | None = None
    quarantine_path: Path | None = None
    message: str = ""
    seconds: float = 0.0
    stat: SourceStat | None = None


_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def parse_as_of(text: str) -> datetime:
    """`--as-of`: a date (midnight UTC) or an ISO-8601 time (UTC unless it names its offset)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--as-of {text!r}: not a date; use YYYY-MM-DD (or an ISO-8601 time)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_of_from_name(path: Path) -> datetime | None:
    """The catalog date an inbox drop carries in its name (`netflix_titles_2021-09-25.csv`), if any."""
    match = _NAME_DATE.search(path.name)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None
