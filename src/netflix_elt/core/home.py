"""The working home: the one directory everything a run writes lives under."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, replace
from pathlib import Path

from netflix_elt.core.errors import InputError

HOME_ENV = "NETFLIX_ELT_HOME"
WAREHOUSE_FILE = "netflix_dw.duckdb"


class HomeNotWritable(InputError):
    """A writing command was pointed at a home it cannot write. Exit code 2."""


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
    def inbox_dir(self) -> Path:
        """Where the scheduled run (`run --inbox`) looks for new drops; created with the home."""
        return self.root / "inbox"

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
        """Create the home's folders. A home that cannot be written (a read-only file system, no
        permission, a path below a regular file) is a one-line HomeNotWritable naming the path."""
        for d in (self.root, self.raw_dir, self.quarantine_dir, self.logs_dir, self.tmp_dir, self.inbox_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise HomeNotWritable(f"{d}: is not a folder (a file is in the way); pass another --home") from None
            except OSError as exc:
                if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise
                raise _not_writable(d, "cannot be created", exc.strerror or str(exc)) from None
        if not os.access(self.root, os.W_OK):  # folders that exist already on a read-only mount
            cause = "Read-only file system" if os.statvfs(self.root).f_flag & os.ST_RDONLY else "Permission denied"
            raise _not_writable(self.root, "cannot be written", cause)
        return self


def _not_writable(path: Path, what: str, cause: str) -> HomeNotWritable:
    return HomeNotWritable(
        f"{path}: {what} ({cause}); this command writes the home: "
        "pass a writable --home (status, verify and schedule only read)"
    )
