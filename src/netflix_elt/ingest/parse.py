"""Reading a drop into rows and rejects: the delimiter, the header line, the column mapping's
verdict, and DuckDB's strict parse with each escape convention, every record tagged with why it is
not a catalog row (NULL for a good one). All of it on the scratch connection; nothing is written.

The CSV is parsed by DuckDB's reader in strict mode with every dialect setting explicit (the
sniffer guesses wrong on the 2020 release's backslash-escaped quotes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.errors import BatchRejected, InputError, resource_error
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, REQUIRED_COLUMNS, ColumnMapping
from netflix_elt.ingest.source import PreparedSource, ends_mid_line, first_invalid_utf8

DELIMITERS = (",", ";", "|", "\t")
ESCAPES = ('"', "\\")  # RFC-4180 doubled quotes first, then backslash-escaped quotes
MAX_LINE_BYTES = 64 * 1024 * 1024


class NotUtf8(Exception):
    """The reader found bytes that are not UTF-8 in a file only partly checked beforehand."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"first bad byte at offset {offset}")
        self.offset = offset


@dataclass
class Parsed:
    table: str
    escape: str
    records: int  # records DuckDB returned, repeated headers included
    rejected_lines: int
    rejects_table: str | None


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
        raise InputError(f"{src.path}: cannot read a header line ({first_line(exc)})") from None
    if not row:
        raise InputError(f"{src.path}: has no header line; a drop starts with its column names")
    fields = list(row)
    return [(f or "").replace("\ufeff", "").strip() for f in fields]


def mapping_warnings(path: Path, headers: list[str], mapping: ColumnMapping) -> list[str]:
    """Refuse a drop without a column for a required field; else what the mapping warns of."""
    missing_required = [c for c in REQUIRED_COLUMNS if c in mapping.missing]
    if missing_required:
        shown = ", ".join(repr(h) for h in headers[:15]) + (" …" if len(headers) > 15 else "")
        raise BatchRejected(
            f"{path}: no column for {', '.join(missing_required)} among the headers [{shown}]; "
            'add a mapping (header = "column") in a TOML file and pass --mapping FILE'
        )
    warnings = []
    optional_missing = [c for c in mapping.missing if c not in REQUIRED_COLUMNS]
    if optional_missing:
        warnings.append(f"no column for {', '.join(optional_missing)}: loaded as NULL")
    if mapping.duplicates:
        warnings.append(f"kept in _extra, already mapped: {', '.join(mapping.duplicates)}")
    return warnings


def parse(
    sc: duckdb.DuckDBPyConnection,
    src: PreparedSource,
    delimiter: str,
    ncols: int,
    reason: tuple[str, list[Any]] = ("null", []),
) -> Parsed:
    """Parse strictly with each escape convention; keep the one that rejects the fewest lines.
    Each record gets its `_reject_reason` (see reject_reason_sql) in the same pass; its record
    number is the table's rowid + 1 (DuckDB keeps the file's order)."""
    best: Parsed | None = None
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
                raise InputError(f"{src.path}: cannot be parsed as CSV ({first_line(exc)})") from None
            continue
        records = scalar(sc, f"select count(*) from {table}")
        has_rejects = scalar(sc, "select count(*) from duckdb_tables() where table_name = ?", [rejects]) > 0
        rejected = scalar(sc, f"select count(distinct line) from {rejects}") if has_rejects else 0
        candidate = Parsed(table, escape, records, rejected, rejects if has_rejects else None)
        if (
            has_rejects
            and scalar(sc, f"select count(*) from {rejects} where error_type::varchar = 'INVALID ENCODING'")
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


def check_rejected_utf8(src: PreparedSource, parsed: Parsed) -> None:
    """The reader validated every line it parsed, but not the bytes of the lines it rejected:
    raise NotUtf8 when one of them holds a byte that is not UTF-8."""
    if parsed.rejected_lines:
        bad = first_invalid_utf8(src.read_path)
        if bad is not None:
            raise NotUtf8(bad)


def reject_reason_sql(headers: list[str], mapping: ColumnMapping) -> tuple[str, list[Any]]:
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


def not_rows(sc: duckdb.DuckDBPyConnection, parsed: Parsed) -> int:
    """Parsed records that are not catalog rows (repeated headers, fragments, missing keys)."""
    return scalar(sc, f"select count(*) from {parsed.table} where _reject_reason is not null")


def check_complete(sc: duckdb.DuckDBPyConnection, src: PreparedSource, parsed: Parsed) -> None:
    """No line break at the end: the last line is complete only if it parsed as a catalog row.
    A parser-rejected line that reaches the end of the file, or a last record that is a fragment
    or lacks a key field, is what an upload cut short leaves: refuse the whole file (quarantining
    the stub would load the rest as if it were the whole catalog)."""
    if src.compression != "none" or not ends_mid_line(src.read_path):
        return
    size = src.read_path.stat().st_size
    cut = bool(parsed.rejects_table) and (
        scalar(
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
            f"{src.path}: ends mid-line (the last line is incomplete: a truncated upload?); copy the whole file again"
        )


def extra_columns(
    sc: duckdb.DuckDBPyConnection, parsed: Parsed, mapping: ColumnMapping, warnings: list[str]
) -> list[tuple[str, int]]:
    """Unmapped columns that hold any value: (key in _extra, source index). Empty ones are dropped.
    What was kept or dropped is appended to `warnings`."""
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
            warnings.append(f"unmapped column {key!r} kept in _extra ({n:,} value(s))")
        else:
            dropped.append(key)
    if dropped:
        warnings.append(f"dropped empty column(s) {', '.join(repr(d) for d in dropped)}")
    return kept


def sql_path(path: Path) -> str:
    """A path as a SQL string literal body (COPY ... TO takes no parameter)."""
    return str(path).replace("'", "''")


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
