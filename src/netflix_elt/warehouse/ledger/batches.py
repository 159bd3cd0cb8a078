"""etl_batches: one row per ingestion of a drop. Its sequence and as-of (never the wall clock)
order batches; "latest" means the newest by as-of, then sequence."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import fetch_dicts
from netflix_elt.warehouse.ledger.tables import LEDGER_TABLE, RAW_TABLE, TRANSFORMS_TABLE, _one

log = logging.getLogger(__name__)


AS_OF_STEP = timedelta(microseconds=1)


def assign_sequence(
    con: duckdb.DuckDBPyConnection, explicit_as_of: datetime | None, now: datetime
) -> tuple[int, datetime]:
    """The next batch's sequence number and as-of. The sequence is strictly increasing in arrival
    order. The as-of is the catalog time the batch stands for in history: an explicit one (the
    drop's own date) as given, else the later of the clock and just after the newest batch's, so a
    clock that steps back can never place a new drop before an earlier one. As-ofs are unique
    (a tie moves by a microsecond), so (as_of) alone orders batches."""
    row = con.execute(
        f"select coalesce(max(batch_seq), 0) + 1, max(as_of) filter (where status = 'succeeded') from {LEDGER_TABLE}"
    ).fetchone()
    seq, newest = (int(row[0]), row[1]) if row else (1, None)
    if explicit_as_of is None:
        as_of = now if newest is None or now > newest else newest + AS_OF_STEP
    else:
        as_of = explicit_as_of if explicit_as_of.tzinfo else explicit_as_of.replace(tzinfo=UTC)
    while con.execute(f"select 1 from {LEDGER_TABLE} where status = 'succeeded' and as_of = ?", [as_of]).fetchone():
        as_of += AS_OF_STEP
    return seq, as_of


def recover_interrupted(con: duckdb.DuckDBPyConnection, home: Home) -> list[str]:
    """Batches left 'running' by a killed process never committed rows: mark them failed and
    remove any raw file they managed to publish, so every raw file has a succeeded ledger row."""
    stale = con.execute(f"select batch_id, raw_path from {LEDGER_TABLE} where status = 'running'").fetchall()
    for batch_id, raw_path in stale:
        if raw_path:
            _remove_quietly(home.root / raw_path)
            _remove_quietly((home.root / raw_path).with_suffix(".json"))
        for leftover in [
            *home.root.glob(f"data/*/*/*/.batch_{batch_id}.parquet.tmp"),
            *home.root.glob(f"data/*/*/*/.batch_{batch_id}.json.tmp"),
            *home.tmp_dir.glob(f"{batch_id}.*"),
        ]:
            _remove_quietly(leftover)
        con.execute(
            f"update {LEDGER_TABLE} set status = 'failed', finished_at = ?, "
            "message = 'interrupted before it finished; ingest the file again' where batch_id = ?",
            [utcnow(), batch_id],
        )
        log.warning("batch %s was interrupted by an earlier run; marked failed", batch_id)
    return [b for b, _ in stale]


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # pragma: no cover - permissions on a user's disk
        log.warning("could not remove %s: %s", path, exc)


def latest_ingestion(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest batch (by sequence) finished loading: what freshness measures."""
    value: datetime | None = _one(
        con, f"select finished_at from {LEDGER_TABLE} where status = 'succeeded' order by batch_seq desc limit 1"
    )
    return value


def latest_batches(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """The latest successfully transformed batch and the one before it, in as-of order (the
    sequence breaks ties): what the current table reflects, never decided by the wall clock."""
    rows = con.execute(
        f"select t.batch_id from {TRANSFORMS_TABLE} t join {LEDGER_TABLE} b using (batch_id) "
        "where t.status = 'succeeded' group by t.batch_id order by max(b.as_of) desc, max(b.batch_seq) desc limit 2"
    ).fetchall()
    return (rows[0][0] if rows else None, rows[1][0] if len(rows) > 1 else None)


# -- etl_batches: one row per ingestion of a drop ------------------------------------------------


def batch_loaded_from(
    con: duckdb.DuckDBPyConnection, realpath: str, size: int, mtime_ns: int, ctime_ns: int | None, inode: int | None
) -> tuple[str, str] | None:
    """(batch_id, source_sha256) of the first succeeded batch loaded from this very file, as it
    was then (same resolved path, size, mtime, inode change time and inode)."""
    row = con.execute(
        f"select batch_id, source_sha256 from {LEDGER_TABLE} where status = 'succeeded' and "
        "source_realpath = ? and source_bytes = ? and source_mtime_ns = ? and source_ctime_ns = ? "
        "and source_inode = ? order by batch_seq limit 1",
        [realpath, size, mtime_ns, ctime_ns, inode],
    ).fetchone()
    return (row[0], row[1]) if row else None


def batch_with_content(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple[Any, ...] | None:
    """(batch_id, source_path, source_realpath, source_bytes) of the first succeeded batch of
    this content."""
    row = con.execute(
        f"select batch_id, source_path, source_realpath, source_bytes from {LEDGER_TABLE} "
        "where source_sha256 = ? and status = 'succeeded' order by batch_seq limit 1",
        [sha256],
    ).fetchone()
    return tuple(row) if row else None


def batch_exists(con: duckdb.DuckDBPyConnection, batch_id: str) -> bool:
    return con.execute(f"select 1 from {LEDGER_TABLE} where batch_id = ?", [batch_id]).fetchone() is not None


def insert_batch(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """A new batch's row, 'running' (`row`: its columns by name)."""
    columns = [*row, "status"]
    con.execute(
        f"insert into {LEDGER_TABLE} ({', '.join(columns)}) values ({', '.join('?' for _ in row)}, 'running')",
        list(row.values()),
    )


def remember_source_stat(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    realpath: str,
    mtime_ns: int | None,
    ctime_ns: int | None,
    inode: int | None,
) -> None:
    """Where and as what the batch's source file was last seen (to recognise it unread later)."""
    con.execute(
        f"update {LEDGER_TABLE} set source_realpath = ?, source_mtime_ns = ?, source_ctime_ns = ?, "
        "source_inode = ? where batch_id = ?",
        [realpath, mtime_ns, ctime_ns, inode, batch_id],
    )


def record_raw_file(con: duckdb.DuckDBPyConnection, batch_id: str, raw_path: str, sha256: str, size: int) -> None:
    """The batch's raw file, recorded before it is published under that name."""
    con.execute(
        f"update {LEDGER_TABLE} set raw_path = ?, raw_sha256 = ?, raw_bytes = ? where batch_id = ?",
        [raw_path, sha256, size, batch_id],
    )


def finish_batch(con: duckdb.DuckDBPyConnection, batch_id: str | None, status: str, fields: dict[str, Any]) -> None:
    """The batch's final status and what its load found (`fields`: message, encoding, delimiter,
    quote, escape, column_mapping, rows_read, rows_loaded, rows_quarantined, quarantine_path,
    warnings, source_mtime_ns). The encoding is kept when none is given; the raw file's columns
    only when the batch succeeded."""
    f = fields
    succeeded = status == "succeeded"
    con.execute(
        f"update {LEDGER_TABLE} set status = ?, message = ?, finished_at = ?, encoding = coalesce(?, encoding), "
        "delimiter = ?, quote = ?, escape = ?, column_mapping = ?, rows_read = ?, rows_loaded = ?, "
        "rows_quarantined = ?, quarantine_path = ?, warnings = ?, "
        "raw_path = case when ? then raw_path end, raw_sha256 = case when ? then raw_sha256 end, "
        "raw_bytes = case when ? then raw_bytes end, source_mtime_ns = ? where batch_id = ?",
        [
            status,
            f["message"],
            utcnow(),
            f["encoding"],
            f["delimiter"],
            f["quote"],
            f["escape"],
            f["column_mapping"],
            f["rows_read"],
            f["rows_loaded"],
            f["rows_quarantined"],
            f["quarantine_path"],
            f["warnings"],
            succeeded,
            succeeded,
            succeeded,
            f["source_mtime_ns"],
            batch_id,
        ],
    )


def list_batches(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """The newest batches, by sequence (a row not yet numbered first)."""
    return fetch_dicts(
        con,
        f"select batch_id, status, source_path, encoding, delimiter, rows_read, rows_loaded, "
        f"rows_quarantined, started_at, finished_at, message from {LEDGER_TABLE} "
        "order by batch_seq desc nulls first limit ?",
        [limit],
    )


def pending_batch_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """Succeeded batches not yet transformed (nor refused), in as-of order, then sequence: (batch_id,
    mode, source_path, accept_key_changes, accept_deletes, late), `late` when the batch's as-of lies
    before that of a batch already applied."""
    return con.execute(
        f"select b.batch_id, b.mode, b.source_path, coalesce(b.accept_key_changes, false), "
        "coalesce(b.accept_deletes, false), "
        f"coalesce(b.as_of < (select max(a.as_of) from {LEDGER_TABLE} a join {TRANSFORMS_TABLE} t "
        "on t.batch_id = a.batch_id and t.status = 'succeeded'), false) "
        f"from {LEDGER_TABLE} b where b.status = 'succeeded' and not exists "
        f"(select 1 from {TRANSFORMS_TABLE} t where t.batch_id = b.batch_id "
        "and t.status in ('succeeded', 'refused')) "
        "order by b.as_of, b.batch_seq"
    ).fetchall()


def rows_loaded(con: duckdb.DuckDBPyConnection, batch_ids: list[str | None]) -> dict[str, int]:
    """Rows loaded by each of the batches (those that exist)."""
    return dict(
        con.execute(
            f"select batch_id, rows_loaded from {LEDGER_TABLE} where list_contains(?, batch_id)", [batch_ids]
        ).fetchall()
    )


def column_mapping(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, str]:
    """How the batch's header mapped onto the canonical columns (`_extra` for an unknown one)."""
    raw = _one(con, f"select column_mapping from {LEDGER_TABLE} where batch_id = ?", [batch_id])
    mapping: dict[str, str] = json.loads(raw) if raw else {}
    return mapping


def keys_seen(con: duckdb.DuckDBPyConnection) -> int:
    """Distinct keys in the raw batches that were applied: every one is a row of the current table."""
    return int(
        _one(
            con,
            f"select count(distinct nullif(trim(show_id), '')) from {RAW_TABLE} where _batch_id in "
            f"(select batch_id from {TRANSFORMS_TABLE} where status = 'succeeded')",
        )
        or 0
    )
