"""Reading a drop (the base of a next drop, or the source the pools sample): its header, plain or
gzip, found by Python, and a DuckDB view of its 12 canonical columns as VARCHAR in file order, from
a strict RFC-4180 parse with no type detection (so what is read is what the file says).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import IO

import duckdb

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS
from netflix_elt.tools.synth.sql import _sql_str

COLUMNS = CANONICAL_COLUMNS
GZIP_MAGIC = b"\x1f\x8b"


def _header(path: Path) -> tuple[list[str], str]:
    """The header fields of a drop (plain or gzip) and its compression."""
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == GZIP_MAGIC
        stream: IO[bytes] = gzip.open(path, "rb") if gz else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115 (closed by the with below)
        with stream as fh:
            line = fh.readline(1 << 20)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff")
    fields = next(csv.reader(io.StringIO(text)), [])
    return [f.strip() for f in fields], "gzip" if gz else "none"


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> None:
    """`view`: the drop's canonical columns as VARCHAR, in file order (strict RFC-4180 parse)."""
    headers, compression = _header(path)
    index = {h.lower(): i for i, h in reversed(list(enumerate(headers)))}
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)}; synth needs a drop with the 12 canonical columns")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers))) + "}"
    select = ", ".join(f'c{index[c]} as "{c}"' for c in COLUMNS)
    con.execute(
        f"create or replace temp view {view} as select {select} from read_csv({_sql_str(str(path))}, "
        f"auto_detect = false, header = true, delim = ',', quote = '\"', escape = '\"', columns = {columns}, "
        f"compression = '{compression}', strict_mode = true, max_line_size = 16777216, buffer_size = 33554432)"
    )
