"""The DuckDB session synth works in: an in-memory database with bounded memory and threads and
insertion order preserved (the output's order and bytes must not depend on timing), and a scratch
directory for its spill files and, for a .gz output, the uncompressed CSV: by default a hidden
temporary directory beside the output (same disk; the system temp dir may be a small tmpfs),
removed afterwards. Also the one-line message synth's errors quote from a DuckDB exception.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from netflix_elt.core.errors import InputError

MEMORY_LIMIT = "1GB"
THREADS = 2


@contextmanager
def _duckdb(scratch_dir: Path | None, out: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """An in-memory DuckDB with bounded memory, and a scratch directory (its spill files, the
    uncompressed copy of a .gz output) removed afterwards: under `scratch_dir`, else a hidden one
    beside `out` (same disk as the output; the system temp dir may be a small tmpfs)."""
    parent = Path(scratch_dir) if scratch_dir is not None else out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".synth-scratch-", dir=parent))
    except OSError as exc:
        raise InputError(f"{parent}: cannot use as scratch directory ({exc.strerror or exc})") from None
    try:
        con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": THREADS,
                "temp_directory": str(scratch / "duckdb"),
                "preserve_insertion_order": True,  # the output order (and bytes) must not depend on timing
            },
        )
        try:
            yield con, scratch
        finally:
            con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
