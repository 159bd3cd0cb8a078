"""Ingesting a drop: CSV -> immutable raw Parquet -> `raw_netflix_titles`, with a ledger row.

A drop is skipped only when its content was loaded before: its sha256. The hash is skipped only
for a file whose resolved path, size, mtime, inode and inode change time all equal those recorded
when that content was loaded (the ctime is stamped by the kernel on every write and no copying tool
can set it, so a same-size edit copied with a preserved mtime is always hashed and loaded).

Every batch gets the next `batch_seq` and an `as_of` (see warehouse.assign_sequence): everything
downstream orders and watermarks batches by these, never by the wall clock.

The CSV is parsed by DuckDB's reader in strict mode with every dialect setting explicit (the
sniffer guesses wrong on the 2020 release's backslash-escaped quotes). The reader also validates
UTF-8; a plain file is not decoded in Python first unless the reader reports an invalid encoding or
rejects any line, and one that is not UTF-8 after all is parsed again from a transcoded copy. Lines DuckDB cannot parse,
and repeated header lines, are quarantined with their line numbers and reasons. The batch is
written once to a Parquet file under `data/raw/` and appended to the warehouse in the same
transaction that marks its ledger row succeeded; row counts are checked at every hand-over.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core import faults
from netflix_elt.core.errors import BatchRejected, InputError, NetflixEltError, PipelineError, resource_error
from netflix_elt.core.files import file_sha256
from netflix_elt.core.home import Home
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, REQUIRED_COLUMNS, ColumnMapping, resolve_mapping
from netflix_elt.ingest.raw import ledger_record, manifest_path, write_manifest
from netflix_elt.ingest.source import (
    PreparedSource,
    SourceInfo,
    SourceStat,
    as_fallback,
    check_path,
    ends_mid_line,
    first_invalid_utf8,
    inspect_source,
    materialize_utf8,
    one_line,
    settled_stat,
    stat_source,
)
from netflix_elt.warehouse.connection import fetch_dicts, scratch, transaction, utcnow
from netflix_elt.warehouse.ledger import LEDGER_TABLE, RAW_TABLE, assign_sequence, recover_interrupted

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "|", "\t")
ESCAPES = ('"', "\\")  # RFC-4180 doubled quotes first, then backslash-escaped quotes
MAX_LINE_BYTES = 64 * 1024 * 1024
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


class _NotUtf8(Exception):
    """The reader found bytes that are not UTF-8 in a file only partly checked beforehand."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"first bad byte at offset {offset}")
        self.offset = offset


@dataclass
class _Parsed:
    table: str
    escape: str
    records: int  # records DuckDB returned, repeated headers included
    rejected_lines: int
    rejects_table: str | None


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

    if not options.force and stat.mtime_ns is not None:
        same = con.execute(
            f"select batch_id, source_sha256 from {LEDGER_TABLE} where status = 'succeeded' and "
            "source_realpath = ? and source_bytes = ? and source_mtime_ns = ? and source_ctime_ns = ? "
            "and source_inode = ? order by batch_seq limit 1",
            [stat.realpath, stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode],
        ).fetchone()
        if same:
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

    info = inspect_source(path, validate_utf8=False)
    if not options.force:
        prior = con.execute(
            f"select batch_id, source_path, source_realpath, source_bytes from {LEDGER_TABLE} "
            "where source_sha256 = ? and status = 'succeeded' order by batch_seq limit 1",
            [info.sha256],
        ).fetchone()
        if prior:
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

    started_at = utcnow()
    seq, as_of = assign_sequence(con, options.as_of, started_at)
    batch_id = f"{started_at:%Y%m%dT%H%M%S%f}Z_{info.sha256[:8]}"
    if con.execute(f"select 1 from {LEDGER_TABLE} where batch_id = ?", [batch_id]).fetchone():
        batch_id = f"{batch_id}_{seq}"  # a frozen or stepped-back clock, the same content forced again
    result = BatchResult(source=path, status="running", batch_id=batch_id, sha256=info.sha256, stat=stat)
    con.execute(
        f"insert into {LEDGER_TABLE} (batch_id, source_path, source_sha256, source_bytes, compression, "
        "encoding, mode, started_at, status, source_realpath, source_mtime_ns, source_ctime_ns, source_inode, "
        "batch_seq, as_of, as_of_explicit, accept_key_changes, accept_deletes) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            str(path),
            info.sha256,
            info.size,
            info.compression,
            info.encoding,
            options.mode,
            started_at,
            stat.realpath,
            stat.mtime_ns,
            stat.ctime_ns,
            stat.inode,
            seq,
            as_of,
            options.as_of is not None,
            options.accept_key_changes,
            options.accept_deletes,
        ],
    )
    log.info("%s: batch %s started (%s bytes, %s)", one_line(path.name), batch_id, f"{info.size:,}", info.encoding)

    sc = scratch(home)
    src: PreparedSource | None = None
    try:
        try:
            src = _prepare(home, info, result)
            _load(home, con, sc, src, options, result, started_at, verify_utf8=not info.utf8_verified)
        except _NotUtf8 as exc:
            log.info("%s: not UTF-8 after all (%s); parsing it again decoded as %s", one_line(path.name), exc, "cp1252")
            sc.close()
            sc = scratch(home)
            src = _prepare(home, as_fallback(info, exc.offset), result)
            _load(home, con, sc, src, options, result, started_at, verify_utf8=False)
    except BaseException as exc:
        # Disk full, out of memory, an I/O error (from the raw write, the warehouse append, ...): a
        # one-line ResourceError naming the cause, never what it left behind ("transaction aborted").
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
        for partial in home.quarantine_dir.glob(f"*/.batch_{batch_id}.parquet.tmp"):
            partial.unlink(missing_ok=True)  # a quarantine write cut short (the disk filled up)
        try:
            _finish_ledger(con, result, status)
        except duckdb.Error as ledger_exc:  # e.g. the disk is full: the row stays 'running' and
            # the next run marks it failed; the original error is the one to report
            log.warning("batch %s: could not record its %s status (%s)", batch_id, status, ledger_exc)
        log.error("%s: batch %s %s: %s", one_line(path.name), batch_id, status, message, extra={"console": False})
        if resource is not None:
            raise resource from exc
        raise
    finally:
        sc.close()
        if src is not None and src.transcoded:
            src.read_path.unlink(missing_ok=True)
    result.seconds = time.monotonic() - started
    log.info(
        "%s: batch %s loaded %s rows (%s quarantined) in %.2fs",
        one_line(path.name),
        batch_id,
        f"{result.rows_loaded:,}",
        f"{result.rows_quarantined:,}",
        result.seconds,
    )
    return result


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
    con.execute(
        f"update {LEDGER_TABLE} set source_realpath = ?, source_mtime_ns = ?, source_ctime_ns = ?, "
        "source_inode = ? where batch_id = ?",
        [stat.realpath, stat.mtime_ns, stat.ctime_ns, stat.inode, batch_id],
    )


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
    path = src.path
    delimiter = pick_delimiter(src.header_line)
    result.delimiter = delimiter
    headers = read_headers(sc, src, delimiter)
    mapping = resolve_mapping(headers, options.mapping_overrides)
    result.mapping = mapping.describe()
    _check_mapping(path, headers, mapping, result)

    parsed = parse(sc, src, delimiter, len(headers), _reject_reason_sql(headers, mapping))
    if verify_utf8 and parsed.rejected_lines:
        # The reader validated every line it parsed, but not the bytes of the lines it rejected.
        bad = first_invalid_utf8(src.read_path)
        if bad is not None:
            raise _NotUtf8(bad)
    result.escape = parsed.escape
    if parsed.escape == "\\":
        result.warnings.append('quotes inside fields are backslash-escaped (\\"), not doubled')
    header_rows = _scalar(sc, f"select count(*) from {parsed.table} where _reject_reason is not null")
    result.rows_read = parsed.records + parsed.rejected_lines
    result.rows_quarantined = header_rows + parsed.rejected_lines
    result.rows_loaded = parsed.records - header_rows
    if src.compression == "none" and ends_mid_line(src.read_path):
        # No line break at the end: the last line is complete only if it parsed as a catalog row.
        # A parser-rejected line that reaches the end of the file, or a last record that is a
        # fragment or lacks a key field, is what an upload cut short leaves: refuse the whole file
        # (quarantining the stub would load the rest as if it were the whole catalog).
        size = src.read_path.stat().st_size
        cut = bool(parsed.rejects_table) and (
            _scalar(
                sc,
                f"select count(*) from {parsed.rejects_table} "
                "where coalesce(line_byte_position, 0) + coalesce(strlen(csv_line), 0) >= ?",
                [size],
            )
            > 0
        )
        if not cut:
            last = sc.execute(f"select _reject_reason from {parsed.table} order by rowid desc limit 1").fetchone()
            cut = bool(last and last[0] and last[0] != "repeated header line")
        if cut:
            raise BatchRejected(
                f"{path}: ends mid-line (the last line is incomplete: a truncated upload?); copy the whole file again"
            )
    faults.checkpoint("after_parse")

    partition = f"ingest_date={started_at:%Y-%m-%d}"
    batch_id = result.batch_id
    if result.rows_quarantined:
        qpath = home.quarantine_dir / partition / f"batch_{batch_id}.parquet"
        _write_quarantine(sc, parsed, headers, delimiter, qpath, batch_id, str(path))
        result.quarantine_path = qpath
        result.warnings.append(
            f"quarantined {result.rows_quarantined:,} line(s) ({header_rows} not a catalog row, "
            f"{parsed.rejected_lines} unparseable): {qpath.relative_to(home.root)}"
        )
    if result.rows_read == 0 or result.rows_loaded == 0:
        raise BatchRejected(f"{path}: has a header but no data rows; nothing to ingest")
    share = result.rows_quarantined / result.rows_read
    if share > options.max_reject_ratio:
        raise BatchRejected(
            f"{path}: {result.rows_quarantined:,} of {result.rows_read:,} lines ({share:.1%}) are "
            f"malformed, more than the {options.max_reject_ratio:.1%} allowed; see "
            f"{result.quarantine_path}, fix the file or raise --max-reject-ratio"
        )

    extras = _extra_columns(sc, parsed, mapping, result)
    raw_dir = home.raw_dir / partition
    raw_dir.mkdir(parents=True, exist_ok=True)
    final = raw_dir / f"batch_{batch_id}.parquet"
    tmp = raw_dir / f".batch_{batch_id}.parquet.tmp"
    rel = str(final.relative_to(home.root))
    try:
        written = _write_raw(sc, parsed, mapping, extras, tmp, result, started_at)
        if written != result.rows_loaded:
            raise PipelineError(
                f"{path}: row counts disagree (parsed {result.rows_loaded} catalog rows, wrote {written} "
                "to the raw Parquet file); batch rolled back"
            )
        faults.checkpoint("after_raw_write")
        # Record the final name before publishing it, so a crash after the link is recoverable.
        con.execute(
            f"update {LEDGER_TABLE} set raw_path = ?, raw_sha256 = ?, raw_bytes = ? where batch_id = ?",
            [rel, file_sha256(tmp), tmp.stat().st_size, batch_id],
        )
        try:
            os.link(tmp, final)  # atomic, and never replaces an existing raw file
        except FileExistsError:
            raise PipelineError(f"{final}: a raw file of that name exists already; raw files are immutable") from None
    finally:
        tmp.unlink(missing_ok=True)
    result.raw_path = final
    faults.checkpoint("after_raw_publish")

    # The raw rows carry their file order in _source_row_number, so the append need not keep it:
    # DuckDB then writes compressed row groups straight away instead of at the checkpoint. Set and
    # reset outside the transaction: a statement inside an aborted one would mask its cause.
    con.execute("set preserve_insertion_order = false")
    try:
        with transaction(con):
            appended = _scalar(
                con,
                f"insert into {RAW_TABLE} by name select * from read_parquet(?, hive_partitioning = false)",
                [str(final)],
            )
            faults.checkpoint("after_raw_insert")
            parquet_rows = _scalar(con, "select count(*) from read_parquet(?, hive_partitioning = false)", [str(final)])
            expected = result.rows_read - result.rows_quarantined
            if not (parquet_rows == appended == result.rows_loaded == expected):
                raise PipelineError(
                    f"{path}: row counts disagree (read {result.rows_read} - quarantined "
                    f"{result.rows_quarantined} = {expected}, parquet {parquet_rows}, appended {appended}); "
                    "batch rolled back"
                )
            result.status = "succeeded"
            _finish_ledger(con, result, "succeeded")
            # The ledger row travels with the raw layer: written before the commit, so a batch that
            # committed always has it (one that did not is cleaned up by recover_interrupted).
            write_manifest(final, ledger_record(con, batch_id or ""))
            faults.checkpoint("before_commit")
    finally:
        try:
            con.execute("reset preserve_insertion_order")
        except duckdb.Error:  # the connection itself is gone; the original error says why
            log.debug("could not reset preserve_insertion_order", exc_info=True)


def _finish_ledger(con: duckdb.DuckDBPyConnection, result: BatchResult, status: str) -> None:
    con.execute(
        f"update {LEDGER_TABLE} set status = ?, message = ?, finished_at = ?, encoding = coalesce(?, encoding), "
        "delimiter = ?, quote = ?, escape = ?, column_mapping = ?, rows_read = ?, rows_loaded = ?, "
        "rows_quarantined = ?, quarantine_path = ?, warnings = ?, "
        "raw_path = case when ? then raw_path end, raw_sha256 = case when ? then raw_sha256 end, "
        "raw_bytes = case when ? then raw_bytes end, source_mtime_ns = ? where batch_id = ?",
        [
            status,
            result.message or None,
            utcnow(),
            result.encoding,
            result.delimiter,
            '"' if result.delimiter else None,
            result.escape,
            json.dumps(result.mapping) if result.mapping else None,
            result.rows_read,
            result.rows_loaded if status == "succeeded" else 0,
            result.rows_quarantined,
            str(result.quarantine_path) if result.quarantine_path else None,
            json.dumps(result.warnings),
            status == "succeeded",
            status == "succeeded",
            status == "succeeded",
            _trusted_mtime(result),
            result.batch_id,
        ],
    )


def _trusted_mtime(result: BatchResult) -> int | None:
    """The mtime to recognise the file by later: taken at the end, and only if the file did not
    change while it was read (same path, size, inode and ctime: any write or utime moves the
    ctime) and has settled (not changed within the last moments)."""
    first = result.stat
    if first is None:
        return None
    try:
        now = stat_source(result.source)
    except OSError:
        return None
    return now.mtime_ns if now.mtime_ns is not None and now.same_file_unchanged(first) else None


def pick_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header line into the most fields."""
    counts = {d: _count_unquoted(header_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_unquoted(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n


def _read_csv_sql(
    src: PreparedSource, delimiter: str, escape: str, ncols: int, *, header: bool, extra: str = ""
) -> str:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    compression = "gzip" if src.compression == "gzip" and not src.transcoded else "none"
    esc = escape.replace("'", "''")
    return (
        f"read_csv(?, auto_detect = false, header = {str(header).lower()}, delim = '{delimiter}', "
        f"quote = '\"', escape = '{esc}', columns = {columns}, compression = '{compression}', "
        f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {2 * MAX_LINE_BYTES}{extra})"
    )


def read_headers(sc: duckdb.DuckDBPyConnection, src: PreparedSource, delimiter: str) -> list[str]:
    """The header fields, read by DuckDB (quotes handled; a BOM is dropped)."""
    upper = _count_unquoted(src.header_line, delimiter) + 1
    sql = (
        "select * from "
        + _read_csv_sql(
            src,
            delimiter,
            '"',
            upper,
            header=False,
            extra=", null_padding = true, strict_mode = false, ignore_errors = true, parallel = false",
        )
        + " limit 1"
    )
    try:
        row = sc.execute(sql, [str(src.read_path)]).fetchone()
    except duckdb.Error as exc:
        resource = resource_error(exc, con=sc)  # out of memory or disk space: not the file's fault
        if resource is not None:
            raise resource from exc
        raise InputError(f"{src.path}: cannot read a header line ({_first_line(exc)})") from None
    if not row:
        raise InputError(f"{src.path}: has no header line; a drop starts with its column names")
    fields = list(row)
    return [(f or "").replace("\ufeff", "").strip() for f in fields]


def _check_mapping(path: Path, headers: list[str], mapping: ColumnMapping, result: BatchResult) -> None:
    missing_required = [c for c in REQUIRED_COLUMNS if c in mapping.missing]
    if missing_required:
        shown = ", ".join(repr(h) for h in headers[:15]) + (" …" if len(headers) > 15 else "")
        raise BatchRejected(
            f"{path}: no column for {', '.join(missing_required)} among the headers [{shown}]; "
            'add a mapping (header = "column") in a TOML file and pass --mapping FILE'
        )
    optional_missing = [c for c in mapping.missing if c not in REQUIRED_COLUMNS]
    if optional_missing:
        result.warnings.append(f"no column for {', '.join(optional_missing)}: loaded as NULL")
    renamed = {c.header: c.target for c in mapping.columns if c.target and c.header != c.target}
    if renamed:
        log.info(
            "%s: headers mapped %s", one_line(path.name), one_line(", ".join(f"{k}→{v}" for k, v in renamed.items()))
        )
    if mapping.duplicates:
        result.warnings.append(f"kept in _extra, already mapped: {', '.join(mapping.duplicates)}")


def parse(
    sc: duckdb.DuckDBPyConnection,
    src: PreparedSource,
    delimiter: str,
    ncols: int,
    reason: tuple[str, list[Any]] = ("null", []),
) -> _Parsed:
    """Parse strictly with each escape convention; keep the one that rejects the fewest lines.
    Each record gets its `_reject_reason` (see _reject_reason_sql) in the same pass; its record
    number is the table's rowid + 1 (DuckDB keeps the file's order)."""
    best: _Parsed | None = None
    for k, escape in enumerate(ESCAPES):
        table, rejects = f"parsed_{k}", f"rejects_{k}"
        extra = (
            f", strict_mode = true, store_rejects = true, rejects_table = '{rejects}', "
            f"rejects_scan = 'rejects_scan_{k}'"
        )
        sql = f"create or replace table {table} as select *, {reason[0]} as _reject_reason from " + _read_csv_sql(
            src, delimiter, escape, ncols, header=True, extra=extra
        )
        try:
            sc.execute(sql, [*reason[1], str(src.read_path)])
        except duckdb.Error as exc:
            resource = resource_error(exc, con=sc)  # out of memory or spill space: no dialect helps
            if resource is not None:
                raise resource from exc
            if best is None and k == len(ESCAPES) - 1:
                raise InputError(f"{src.path}: cannot be parsed as CSV ({_first_line(exc)})") from None
            continue
        records = _scalar(sc, f"select count(*) from {table}")
        has_rejects = _scalar(sc, "select count(*) from duckdb_tables() where table_name = ?", [rejects]) > 0
        rejected = _scalar(sc, f"select count(distinct line) from {rejects}") if has_rejects else 0
        candidate = _Parsed(table, escape, records, rejected, rejects if has_rejects else None)
        if (
            has_rejects
            and _scalar(sc, f"select count(*) from {rejects} where error_type::varchar = 'INVALID ENCODING'")
            # DuckDB also says INVALID ENCODING when a quoting error cuts a line inside a multi-byte
            # character of a valid UTF-8 file: only a real bad byte ends the search.
            and not src.transcoded
            and first_invalid_utf8(src.read_path, src.compression) is not None
        ):
            return candidate  # not UTF-8: no escape convention helps; the caller decides
        if best is None or candidate.rejected_lines < best.rejected_lines:
            best = candidate
        if best.rejected_lines == 0:
            break
    if best is None:
        raise InputError(f"{src.path}: cannot be parsed as CSV with any supported dialect")
    return best


def _reject_reason_sql(headers: list[str], mapping: ColumnMapping) -> tuple[str, list[Any]]:
    """Why a parsed record is not a catalog row, as a SQL expression (NULL for a good one):
    a repeated header line, a fragment of a broken line (a value in the first field only), or a
    row without a show_id, title or type (a row no later step can key or name)."""
    named = [(i, h) for i, h in enumerate(headers) if h]
    is_header = " and ".join(f"lower(trim(coalesce(c{i}, ''))) = lower(?)" for i, _ in named) or "false"
    rest = [f"nullif(trim(c{i}), '') is null" for i in range(1, len(headers))]
    is_fragment = " and ".join(rest) if rest else "false"
    by_target = mapping.by_target
    missing_key = " ".join(
        f"when nullif(trim(c{by_target[col].index}), '') is null then 'missing {col}'" for col in REQUIRED_COLUMNS
    )
    sql = (
        f"(case when {is_header} then 'repeated header line' "
        f"when {is_fragment} then 'fragment: only the first field has a value (broken line?)' {missing_key} end)"
    )
    return sql, [h.lower() for _, h in named]


def _write_quarantine(
    sc: duckdb.DuckDBPyConnection,
    parsed: _Parsed,
    headers: list[str],
    delimiter: str,
    target: Path,
    batch_id: str | None,
    source: str,
) -> None:
    parts = [
        f"select null::bigint as line_number, rowid + 1 as record_number, _reject_reason as reason, "
        f"concat_ws(?, {', '.join(f'c{i}' for i in range(len(headers)))}) as raw_line "
        f"from {parsed.table} where _reject_reason is not null"
    ]
    params: list[Any] = [delimiter]
    if parsed.rejects_table:
        parts.append(
            "select line::bigint, null::bigint, string_agg(distinct error_type::varchar || ': ' || "
            "split_part(error_message, chr(10), 1), ' | '), ltrim(any_value(csv_line), chr(13) || chr(10)) "
            f"from {parsed.rejects_table} group by line"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    sc.execute(
        f"copy (select ?::varchar as _batch_id, ?::varchar as _source_file, * from ({' union all '.join(parts)}) "
        f"order by coalesce(line_number, record_number)) to '{_sql_path(tmp)}' (format parquet)",
        [batch_id, source, *params],
    )
    tmp.replace(target)


def _extra_columns(
    sc: duckdb.DuckDBPyConnection, parsed: _Parsed, mapping: ColumnMapping, result: BatchResult
) -> list[tuple[str, int]]:
    """Unmapped columns that hold any value: (key in _extra, source index). Empty ones are dropped."""
    if not mapping.extras:
        return []
    counts = (
        sc.execute(
            "select "
            + ", ".join(f"count(nullif(trim(c{c.index}), ''))" for c in mapping.extras)
            + f" from {parsed.table} where _reject_reason is null"
        ).fetchone()
        or ()
    )
    kept: list[tuple[str, int]] = []
    dropped: list[str] = []
    used: set[str] = set()
    for col, n in zip(mapping.extras, counts, strict=True):
        key = col.key
        if key in used or key in CANONICAL_COLUMNS:
            key = f"{key}_{col.index + 1}"
        used.add(key)
        if n:
            kept.append((key, col.index))
            result.warnings.append(f"unmapped column {key!r} kept in _extra ({n:,} value(s))")
        else:
            dropped.append(key)
    if dropped:
        result.warnings.append(f"dropped empty column(s) {', '.join(repr(d) for d in dropped)}")
    return kept


def _write_raw(
    sc: duckdb.DuckDBPyConnection,
    parsed: _Parsed,
    mapping: ColumnMapping,
    extras: list[tuple[str, int]],
    target: Path,
    result: BatchResult,
    started_at: datetime,
) -> int:
    """Write the catalog rows to `target`; returns the number of rows written."""
    by_target = mapping.by_target
    cols = [(f"c{by_target[c].index}" if c in by_target else "null::varchar") + f' as "{c}"' for c in CANONICAL_COLUMNS]
    params: list[Any] = [result.batch_id, started_at, str(result.source), result.sha256]
    if extras:
        entries = ", ".join(f"{{'k': ?, 'v': c{i}}}" for _, i in extras)
        params.extend(k for k, _ in extras)
        extra_sql = (
            f"nullif(to_json(map_from_entries(list_filter([{entries}], "
            "lambda e: nullif(trim(e.v), '') is not null))), '{}')::json"
        )
    else:
        extra_sql = "null::json"
    return _scalar(
        sc,
        f"copy (select {', '.join(cols)}, ?::varchar as _batch_id, ?::timestamptz as _ingested_at, "
        f"?::varchar as _source_file, ?::varchar as _source_sha256, rowid + 1 as _source_row_number, "
        f"{extra_sql} as _extra from {parsed.table} where _reject_reason is null) "
        f"to '{_sql_path(target)}' (format parquet, compression zstd)",
        params,
    )


def _sql_path(path: Path) -> str:
    """A path as a SQL string literal body (COPY ... TO takes no parameter)."""
    return str(path).replace("'", "''")


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def list_batches(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    return fetch_dicts(
        con,
        f"select batch_id, status, source_path, encoding, delimiter, rows_read, rows_loaded, "
        f"rows_quarantined, started_at, finished_at, message from {LEDGER_TABLE} "
        "order by batch_seq desc nulls first limit ?",
        [limit],
    )
