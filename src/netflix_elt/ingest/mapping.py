"""Mapping a drop's headers onto the twelve canonical columns."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from netflix_elt.core.errors import InputError

CANONICAL_COLUMNS: tuple[str, ...] = (
    "show_id",
    "type",
    "title",
    "director",
    "cast",
    "country",
    "date_added",
    "release_year",
    "rating",
    "duration",
    "listed_in",
    "description",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("show_id", "title", "type")


def normalize_header(name: str) -> str:
    """Case-, space- and punctuation-insensitive form of a header ('\ufeffDate Added ' -> 'date_added')."""
    return re.sub(r"[^0-9a-z]+", "_", name.replace("\ufeff", "").strip().lower()).strip("_")


def _parse_mapping(text: str, origin: str) -> dict[str, str]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: not a valid TOML mapping file ({exc}); fix its syntax") from exc
    table = doc.get("columns")
    if not isinstance(table, dict):
        raise InputError(f'{origin}: mapping file needs a [columns] table of header = "column"')
    out: dict[str, str] = {}
    for header, target in table.items():
        if not isinstance(target, str) or (target and target not in CANONICAL_COLUMNS):
            raise InputError(
                f"{origin}: header {header!r} maps to {target!r}, which is not one of "
                f'{", ".join(CANONICAL_COLUMNS)} (or "" to ignore)'
            )
        out[normalize_header(header)] = target
    return out


def default_synonyms() -> dict[str, str]:
    text = (resources.files("netflix_elt") / "column_mapping.toml").read_text(encoding="utf-8")
    return _parse_mapping(text, "column_mapping.toml (bundled)")


def load_mapping_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read mapping file ({exc.strerror})") from exc
    return _parse_mapping(text, str(path))


@dataclass(frozen=True)
class SourceColumn:
    index: int
    header: str
    target: str | None  # canonical column, or None: kept in _extra

    @property
    def key(self) -> str:
        """The header, or `column_<n>` (1-based) for a column with an empty header."""
        return self.header or f"column_{self.index + 1}"


@dataclass
class ColumnMapping:
    columns: list[SourceColumn]
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def by_target(self) -> dict[str, SourceColumn]:
        return {c.target: c for c in self.columns if c.target}

    @property
    def extras(self) -> list[SourceColumn]:
        return [c for c in self.columns if c.target is None]

    def describe(self) -> dict[str, str]:
        """source header -> canonical column, for the ledger and the console."""
        return {c.key: c.target or "_extra" for c in self.columns}


def resolve_mapping(headers: list[str], overrides: dict[str, str] | None = None) -> ColumnMapping:
    """Assign each header a canonical column: user overrides, then exact names, then synonyms."""
    overrides = overrides or {}
    synonyms = default_synonyms()
    normalized = [normalize_header(h) for h in headers]
    targets: list[str | None] = [None] * len(headers)
    taken: set[str] = set()
    duplicates: list[str] = []

    def assign(i: int, target: str) -> None:
        if target in taken:
            duplicates.append(f"{headers[i]!r} (a second {target})")
            return
        targets[i] = target
        taken.add(target)

    forced_extra: set[int] = set()
    for i, key in enumerate(normalized):
        if key in overrides:
            if overrides[key]:
                assign(i, overrides[key])
            else:
                forced_extra.add(i)
    for i, key in enumerate(normalized):
        if targets[i] is None and i not in forced_extra and key in CANONICAL_COLUMNS:
            assign(i, key)
    for i, key in enumerate(normalized):
        if targets[i] is None and i not in forced_extra and key in synonyms:
            target = synonyms[key]
            if target and target not in taken:
                assign(i, target)

    columns = [SourceColumn(i, h, t) for i, (h, t) in enumerate(zip(headers, targets, strict=True))]
    missing = [c for c in CANONICAL_COLUMNS if c not in taken]
    return ColumnMapping(columns=columns, missing=missing, duplicates=duplicates)
