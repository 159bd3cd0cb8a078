"""Writing a synthetic drop: checking the output name and directory before any work, COPYing the
query as CSV to a temporary file renamed into place (atomic: a reader never sees half a drop), a
`.gz` name's gzip in parallel blocks (deterministic for a given zlib), and the atomic write of the
`.expected.json` counts.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import duckdb

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.tools.synth.session import THREADS, _first_line
from netflix_elt.tools.synth.sql import _sql_str

GZIP_LEVEL = 1  # test data: speed over size (level 6 is ~3x slower for ~15% smaller files)
GZIP_BLOCK = 16 << 20


def _check_output(out: Path, inputs: list[Path]) -> None:
    if out.is_dir():
        raise InputError(f"{out}: is a directory; pass a file name ending in .csv or .csv.gz")
    name = out.name.lower()
    if not any(name.endswith(suffix) and len(name) > len(suffix) for suffix in (".csv", ".csv.gz")):
        # The file is CSV whatever its name: x.xlsx or x.parquet would be a lie to the next reader.
        raise InputError(f"{out}: synth writes CSV; use .csv or .csv.gz as the file name's ending")
    for p in inputs:
        with suppress(OSError):
            if out.exists() and out.samefile(p):
                raise InputError(f"{out}: is also the input; write the synthetic drop to another file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create its directory ({exc.strerror or exc})") from None
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"{out}: directory {out.parent} is not writable; choose another output")


def _copy_to(con: duckdb.DuckDBPyConnection, sql: str, out: Path, scratch: Path) -> None:
    """COPY the query as CSV to a temporary file beside `out`, then rename it into place. For a
    `.gz` name, DuckDB writes the plain CSV to scratch and it is gzipped in parallel blocks (DuckDB's
    own gzip writer runs at ~13 MB/s on one core: minutes for 10M rows)."""
    gz = out.name.lower().endswith(".gz")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    plain = scratch / "out.csv" if gz else tmp
    tmp.unlink(missing_ok=True)
    try:
        con.execute(
            f"copy ({sql}) to {_sql_str(str(plain))} "
            "(format csv, header true, delimiter ',', quote '\"', escape '\"', compression none)"
        )
        if gz:
            _gzip(plain, tmp)
            plain.unlink()
        tmp.replace(out)
    except duckdb.IOException as exc:
        raise InputError(f"{out}: cannot write ({_first_line(exc)})") from None
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except duckdb.Error as exc:
        raise PipelineError(f"{out}: synthetic drop failed ({_first_line(exc)})") from None
    finally:
        tmp.unlink(missing_ok=True)


def _gzip(src: Path, dst: Path) -> None:
    """gzip `src` into `dst` as a series of gzip members (one per block, compressed on THREADS
    threads, written in order): a valid .gz that gunzip, Python and DuckDB read as one stream.
    Deterministic for a given zlib; memory stays at a few blocks."""

    def member(block: bytes) -> bytes:
        z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip header, mtime 0
        return z.compress(block) + z.flush()

    with src.open("rb") as fin, dst.open("wb") as fout, ThreadPoolExecutor(THREADS) as pool:
        pending: deque[Future[bytes]] = deque()
        while block := fin.read(GZIP_BLOCK):
            pending.append(pool.submit(member, block))
            if len(pending) >= 2 * THREADS:
                fout.write(pending.popleft().result())
        while pending:
            fout.write(pending.popleft().result())


def _write_json(path: Path, data: dict[str, int]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
