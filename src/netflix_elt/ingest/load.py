"""Ingesting a drop: CSV -> immutable raw Parquet -> `raw_netflix_titles`, with a ledger row.

A drop is skipped only when its content was loaded before: its sha256. The hash is skipped only
for a file whose resolved path, size, mtime, inode and inode change time all equal those recorded
when that content was loaded (the ctime is stamped by the kernel on every write and no copying tool
can set it, so a same-size edit copied with a preserved mtime is always hashed and loaded).

Every batch gets the next `batch_seq` and an `as_of` (see warehouse.assign_sequence): everything
downstream orders and watermarks batches by these, never by the wall clock.

The drop is read and parsed by ingest.parse. The reader also validates UTF-8; a plain file is not
decoded in Python first unless the reader reports an invalid encoding or rejects any line, and one
that is not UTF-8 after all is parsed again from a transcoded copy. Lines DuckDB cannot parse, and
repeated header lines, are quarantined (ingest.quarantine) with their line numbers and reasons. The
batch is written once to a Parquet file under `data/raw/` (ingest.raw) and appended to the
warehouse in the same transaction that marks its ledger row succeeded; row counts are checked at
every hand-over.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core import faults, timing
from netflix_elt.core.errors import BatchRejected, InputError, NetflixEltError, resource_error
from netflix_elt.core.home import Home
from netflix_elt.ingest.batch import MODES as MODES
from netflix_elt.ingest.batch import BatchResult as BatchResult
from netflix_elt.ingest.batch import IngestOptions as IngestOptions
from netflix_elt.ingest.batch import as_of_from_name as as_of_from_name
from netflix_elt.ingest.batch import parse_as_of as parse_as_of
from netflix_elt.ingest.commit import append, finish_ledger, publish_raw
from netflix_elt.ingest.mapping import ColumnMapping, resolve_mapping
from netflix_elt.ingest.parse import (
    NotUtf8,
    Parsed,
    check_complete,
    check_rejected_utf8,
    extra_columns,
    mapping_warnings,
    not_rows,
    parse,
    pick_delimiter,
    read_headers,
    reject_reason_sql,
)
from netflix_elt.ingest.quarantine import quarantine_path, remove_partial_quarantine, write_quarantine
from netflix_elt.ingest.raw import manifest_path
from netflix_elt.ingest.source import (
    PreparedSource,
    SourceInfo,
    SourceStat,
    as_fallback,
    check_path,
    inspect_source,
    materialize_utf8,
    one_line,
    settled_stat,
    stat_source,
)
from netflix_elt.warehouse.connection import scratch, utcnow
from netflix_elt.warehouse.ledger import (
    assign_sequence,
    batch_exists,
    batch_loaded_from,
    batch_with_content,
    insert_batch,
    recover_interrupted,
    remember_source_stat,
)

log = logging.getLogger(__name__)


def ingest_file(
    home: Home, con: duckdb.DuckDBPyConnection, path: Path, options: IngestOptions | None = None
) -> BatchResult:
    """Ingest one drop. Returns a result for a loaded or skipped batch; raises InputError (or a
    subclass) for input that cannot be loaded, PipelineError for anything else. A batch that
    does not succeed leaves `raw_netflix_titles` and `data/raw/` exactly as they were. Error
    messages are one line, whatever the file's name holds."""
    try:
        return _ingest_file(home, con, path, options)
    except NetflixEltError as exc:
        _one_line(exc)
        raise


def _one_line(exc: NetflixEltError) -> NetflixEltError:
    """Make the error's message one line: a line break in it (a file name may hold one) is shown
    escaped, so a crafted name cannot forge extra lines on the console or in the ledger."""
    message = str(exc)
    if one_line(message) != message:
        exc.args = (one_line(message),)
    return exc


def _ingest_file(home: Home, con: duckdb.DuckDBPyConnection, path: Path, options: IngestOptions | None) -> BatchResult:
    options = options or IngestOptions()
    if options.mode not in MODES:
        raise InputError(f"mode {options.mode!r} is not one of {', '.join(MODES)}")
    started = time.monotonic()
    path = Path(path).expanduser().absolute()
    recover_interrupted(con, home)
    check_path(path)
    stat = stat_source(path)
    skipped = None if options.force else _skip_unchanged(con, path, stat, started)
    if skipped is not None:
        return skipped
    with timing.phase("ingest.inspect"):  # the sha256 of the file, its encoding and compression
        info = inspect_source(path, validate_utf8=False)
    skipped = None if options.force else _skip_same_content(con, path, stat, info, started)
    if skipped is not None:
        return skipped

    started_at = utcnow()
    result = _open_batch(con, path, stat, info, options, started_at)
    _run_batch(home, con, info, options, result, started_at)
    result.seconds = time.monotonic() - started
    log.info(
        "%s: batch %s loaded %s rows (%s quarantined) in %.2fs",
        one_line(path.name),
        result.batch_id,
        f"{result.rows_loaded:,}",
        f"{result.rows_quarantined:,}",
        result.seconds,
    )
    return result


def _skip_unchanged(con: duckdb.DuckDBPyConnection, path: Path, stat: SourceStat, started: float) -> BatchResult | None:
    """The skip without reading the file: a batch loaded from this very file, unchanged since."""
    if stat.mtime_ns is None:
        return None
    same = batch_loaded_from(con, stat.realpath, stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode)
    if not same:
        return None
    log.info(
        "%s: already loaded as batch %s (matched by path, size, mtime, inode and ctime); skipped",
        one_line(path.name),
        same[0],
    )
    return BatchResult(
        source=path,
        status="skipped",
        batch_id=same[0],
        sha256=same[1],
        message=f"already loaded as batch {same[0]} (same path, size, mtime, inode and ctime: "
        "unchanged since); use --force to load it again",
        seconds=time.monotonic() - started,
        stat=stat,
    )


def _skip_same_content(
    con: duckdb.DuckDBPyConnection, path: Path, stat: SourceStat, info: SourceInfo, started: float
) -> BatchResult | None:
    """The skip by content: a batch of the same sha256 succeeded before."""
    prior = batch_with_content(con, info.sha256)
    if not prior:
        return None
    _remember_stat(con, prior, settled_stat(path, stat))
    log.info("%s: already loaded as batch %s (same sha256); skipped", one_line(path.name), prior[0])
    return BatchResult(
        source=path,
        status="skipped",
        batch_id=prior[0],
        sha256=info.sha256,
        message=f"already loaded as batch {prior[0]} (same sha256); use --force to load it again",
        seconds=time.monotonic() - started,
        stat=stat,
    )


def _open_batch(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    stat: SourceStat,
    info: SourceInfo,
    options: IngestOptions,
    started_at: datetime,
) -> BatchResult:
    """The batch's id, sequence and as-of, and its ledger row, 'running'."""
    seq, as_of = assign_sequence(con, options.as_of, started_at)
    batch_id = f"{started_at:%Y%m%dT%H%M%S%f}Z_{info.sha256[:8]}"
    if batch_exists(con, batch_id):
        batch_id = f"{batch_id}_{seq}"  # a frozen or stepped-back clock, the same content forced again
    insert_batch(
        con,
        {
            "batch_id": batch_id,
            "source_path": str(path),
            "source_sha256": info.sha256,
            "source_bytes": info.size,
            "compression": info.compression,
            "encoding": info.encoding,
            "mode": options.mode,
            "started_at": started_at,
            "source_realpath": stat.realpath,
            "source_mtime_ns": stat.mtime_ns,
            "source_ctime_ns": stat.ctime_ns,
            "source_inode": stat.inode,
            "batch_seq": seq,
            "as_of": as_of,
            "as_of_explicit": options.as_of is not None,
            "accept_key_changes": options.accept_key_changes,
            "accept_deletes": options.accept_deletes,
        },
    )
    log.info("%s: batch %s started (%s bytes, %s)", one_line(path.name), batch_id, f"{info.size:,}", info.encoding)
    return BatchResult(source=path, status="running", batch_id=batch_id, sha256=info.sha256, stat=stat)


def _run_batch(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    info: SourceInfo,
    options: IngestOptions,
    result: BatchResult,
    started_at: datetime,
) -> None:
    """Load the opened batch; a file that turns out not to be UTF-8 is loaded again, transcoded.
    Whatever stops it is recorded on its ledger row and raised (see _fail_batch)."""
    sc = scratch(home)
    src: PreparedSource | None = None
    try:
        try:
            src = _prepare(home, info, result)
            _load(home, con, sc, src, options, result, started_at, verify_utf8=not info.utf8_verified)
        except NotUtf8 as exc:
            log.info(
                "%s: not UTF-8 after all (%s); parsing it again decoded as %s",
                one_line(result.source.name),
                exc,
                "cp1252",
            )
            sc.close()
            sc = scratch(home)
            src = _prepare(home, as_fallback(info, exc.offset), result)
            _load(home, con, sc, src, options, result, started_at, verify_utf8=False)
    except BaseException as exc:
        resource = _fail_batch(home, con, sc, result, exc)
        if resource is not None:
            raise resource from exc
        raise
    finally:
        sc.close()
        if src is not None and src.transcoded:
            src.read_path.unlink(missing_ok=True)


def _fail_batch(
    home: Home, con: duckdb.DuckDBPyConnection, sc: duckdb.DuckDBPyConnection, result: BatchResult, exc: BaseException
) -> NetflixEltError | None:
    """Mark the batch rejected (bad input) or failed, and remove what it left behind. Returns the
    ResourceError to raise instead of `exc`, if any: disk full, out of memory, an I/O error (from
    the raw write, the warehouse append, ...) is reported as a one-line ResourceError naming the
    cause, never what it left behind ("transaction aborted")."""
    batch_id = result.batch_id
    resource = (
        resource_error(exc, home.root, con=sc)
        if isinstance(exc, Exception) and not isinstance(exc, NetflixEltError)
        else None
    )
    error: BaseException = resource or exc
    status = "rejected" if isinstance(error, InputError) else "failed"
    message = str(_one_line(error)) if isinstance(error, NetflixEltError) else f"{type(exc).__name__}: {exc}"
    result.status, result.message = status, message
    if result.raw_path is not None:
        result.raw_path.unlink(missing_ok=True)
        manifest_path(result.raw_path).unlink(missing_ok=True)
        result.raw_path = None
    remove_partial_quarantine(home, batch_id)
    try:
        finish_ledger(con, result, status)
    except duckdb.Error as ledger_exc:  # e.g. the disk is full: the row stays 'running' and
        # the next run marks it failed; the original error is the one to report
        log.warning("batch %s: could not record its %s status (%s)", batch_id, status, ledger_exc)
    log.error("%s: batch %s %s: %s", one_line(result.source.name), batch_id, status, message, extra={"console": False})
    return resource


def _remember_stat(con: duckdb.DuckDBPyConnection, prior: tuple[Any, ...], stat: SourceStat) -> None:
    """A drop recognised by its sha256 at the path its batch was loaded from (touched since, or
    loaded before the ledger kept file stats): record its current size and mtime on that batch,
    so the next offer of the unchanged file is recognised without reading it."""
    batch_id, source_path, realpath, size = prior
    if stat.mtime_ns is None or size != stat.size:
        return
    if realpath is None:
        try:
            realpath = str(Path(source_path).resolve())
        except OSError:
            return
    if realpath != stat.realpath:
        return
    remember_source_stat(con, batch_id, stat.realpath, stat.mtime_ns, stat.ctime_ns, stat.inode)


def _prepare(home: Home, info: SourceInfo, result: BatchResult) -> PreparedSource:
    """The file DuckDB reads; resets what an earlier attempt at this batch noted."""
    src = materialize_utf8(info, home.tmp_dir, result.batch_id or "batch")
    result.encoding = src.encoding
    result.warnings = [src.encoding_warning] if src.encoding_warning else []
    result.mapping, result.delimiter, result.escape = {}, None, None
    return src


def _load(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    sc: duckdb.DuckDBPyConnection,
    src: PreparedSource,
    options: IngestOptions,
    result: BatchResult,
    started_at: datetime,
    *,
    verify_utf8: bool,
) -> None:
    """Parse, quarantine, write the raw file and append it: each step fills in `result`."""
    with timing.phase("ingest.parse"):
        headers, mapping, parsed = _parse_drop(sc, src, options, result, verify_utf8=verify_utf8)
    faults.checkpoint("after_parse")
    partition = f"ingest_date={started_at:%Y-%m-%d}"
    with timing.phase("ingest.quarantine"):
        _quarantine(home, sc, src, parsed, headers, partition, result)
        _check_rejects(src.path, options, result)
        extras = extra_columns(sc, parsed, mapping, result.warnings)
    with timing.phase("ingest.raw_parquet"):
        final = publish_raw(home, con, sc, parsed, mapping, extras, partition, result, started_at)
    with timing.phase("ingest.warehouse_append"):
        append(con, final, result)


def _parse_drop(
    sc: duckdb.DuckDBPyConnection,
    src: PreparedSource,
    options: IngestOptions,
    result: BatchResult,
    *,
    verify_utf8: bool,
) -> tuple[list[str], ColumnMapping, Parsed]:
    """The drop's headers, column mapping and parsed records; the row counts in `result`."""
    path = src.path
    delimiter = pick_delimiter(src.header_line)
    result.delimiter = delimiter
    headers = read_headers(sc, src, delimiter)
    mapping = resolve_mapping(headers, options.mapping_overrides)
    result.mapping = mapping.describe()
    result.warnings += mapping_warnings(path, headers, mapping)
    renamed = {c.header: c.target for c in mapping.columns if c.target and c.header != c.target}
    if renamed:
        log.info(
            "%s: headers mapped %s", one_line(path.name), one_line(", ".join(f"{k}→{v}" for k, v in renamed.items()))
        )

    parsed = parse(sc, src, delimiter, len(headers), reject_reason_sql(headers, mapping))
    if verify_utf8:
        check_rejected_utf8(src, parsed)
    result.escape = parsed.escape
    if parsed.escape == "\\":
        result.warnings.append('quotes inside fields are backslash-escaped (\\"), not doubled')
    header_rows = not_rows(sc, parsed)
    result.rows_read = parsed.records + parsed.rejected_lines
    result.rows_quarantined = header_rows + parsed.rejected_lines
    result.rows_loaded = parsed.records - header_rows
    check_complete(sc, src, parsed)
    return headers, mapping, parsed


def _quarantine(
    home: Home,
    sc: duckdb.DuckDBPyConnection,
    src: PreparedSource,
    parsed: Parsed,
    headers: list[str],
    partition: str,
    result: BatchResult,
) -> None:
    """Write the batch's rejected lines to the quarantine, if it has any."""
    if not result.rows_quarantined:
        return
    qpath = quarantine_path(home, partition, result.batch_id)
    delimiter = result.delimiter or ","
    write_quarantine(sc, parsed, headers, delimiter, qpath, result.batch_id, str(src.path))
    result.quarantine_path = qpath
    result.warnings.append(
        f"quarantined {result.rows_quarantined:,} line(s) ({result.rows_quarantined - parsed.rejected_lines} "
        f"not a catalog row, {parsed.rejected_lines} unparseable): {qpath.relative_to(home.root)}"
    )


def _check_rejects(path: Path, options: IngestOptions, result: BatchResult) -> None:
    """Refuse a drop with no catalog row, or with more malformed lines than allowed."""
    if result.rows_read == 0 or result.rows_loaded == 0:
        raise BatchRejected(f"{path}: has a header but no data rows; nothing to ingest")
    share = result.rows_quarantined / result.rows_read
    if share > options.max_reject_ratio:
        raise BatchRejected(
            f"{path}: {result.rows_quarantined:,} of {result.rows_read:,} lines ({share:.1%}) are "
            f"malformed, more than the {options.max_reject_ratio:.1%} allowed; see "
            f"{result.quarantine_path}, fix the file or raise --max-reject-ratio"
        )
