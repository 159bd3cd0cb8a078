"""The working home: the one directory everything a run writes lives under."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

HOME_ENV = "NETFLIX_ELT_HOME"
WAREHOUSE_FILE = "netflix_dw.duckdb"


@dataclass(frozen=True)
class Home:
    root: Path
    # Another warehouse file for this home (`rebuild` builds a new one beside the live one).
    warehouse_path: Path | None = None

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        """`--home DIR`, else `$NETFLIX_ELT_HOME`, else the current directory."""
        chosen = explicit or os.environ.get(HOME_ENV) or Path.cwd()
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.root / WAREHOUSE_FILE

    def with_warehouse(self, path: Path) -> Home:
        """The same home reading and writing another warehouse file (the raw layer stays shared)."""
        return replace(self, warehouse_path=path)

    @property
    def rebuild_dir(self) -> Path:
        """Where `rebuild` builds the new warehouse before swapping it in (same file system)."""
        return self.root / "tmp" / "rebuild"

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw" / "netflix_titles"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "data" / "quarantine" / "netflix_titles"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space (transcoded inputs, DuckDB spill files); safe to delete between runs."""
        return self.root / "tmp"

    @property
    def lock_file(self) -> Path:
        return self.root / ".run.lock"

    def ensure(self) -> Home:
        for d in (self.root, self.raw_dir, self.quarantine_dir, self.logs_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
