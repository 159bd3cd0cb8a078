"""The hand-over of a parsed batch: its raw Parquet file written, recorded and published
(immutable), then appended to `raw_netflix_titles` in the transaction that marks its ledger row
succeeded (and writes its manifest beside the raw file). Row counts are checked at each step."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import duckdb

from netflix_elt.core import faults
from netflix_elt.core.errors import PipelineError
from netflix_elt.core.files import file_sha256
from netflix_elt.core.home import Home
from netflix_elt.ingest.batch import BatchResult
from netflix_elt.ingest.mapping import ColumnMapping
from netflix_elt.ingest.parse import Parsed, scalar
from netflix_elt.ingest.raw import ledger_record, link_raw, write_manifest, write_raw_parquet
from netflix_elt.ingest.source import stat_source
from netflix_elt.warehouse.connection import transaction
from netflix_elt.warehouse.ledger import RAW_TABLE, finish_batch, record_raw_file

log = logging.getLogger(__name__)


def publish_raw(
    home: Home,
    con: duckdb.DuckDBPyConnection,
    sc: duckdb.DuckDBPyConnection,
    parsed: Parsed,
    mapping: ColumnMapping,
    extras: list[tuple[str, int]],
    partition: str,
    result: BatchResult,
    started_at: datetime,
) -> Path:
    """Write the raw Parquet file under a temporary name, record it, then publish it (immutable)."""
    path, batch_id = result.source, result.batch_id
    raw_dir = home.raw_dir / partition
    raw_dir.mkdir(parents=True, exist_ok=True)
    final = raw_dir / f"batch_{batch_id}.parquet"
    tmp = raw_dir / f".batch_{batch_id}.parquet.tmp"
    rel = str(final.relative_to(home.root))
    lineage = (batch_id, started_at, str(result.source), result.sha256)
    try:
        written = write_raw_parquet(sc, parsed, mapping, extras, tmp, lineage)
        if written != result.rows_loaded:
            raise PipelineError(
                f"{path}: row counts disagree (parsed {result.rows_loaded} catalog rows, wrote {written} "
                "to the raw Parquet file); batch rolled back"
            )
        faults.checkpoint("after_raw_write")
        # Record the final name before publishing it, so a crash after the link is recoverable.
        record_raw_file(con, batch_id or "", rel, file_sha256(tmp), tmp.stat().st_size)
        link_raw(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    result.raw_path = final
    faults.checkpoint("after_raw_publish")
    return final


def append(con: duckdb.DuckDBPyConnection, final: Path, result: BatchResult) -> None:
    """Append the raw file to the warehouse and mark the batch succeeded, in one transaction."""
    path = result.source
    # The raw rows carry their file order in _source_row_number, so the append need not keep it:
    # DuckDB then writes compressed row groups straight away instead of at the checkpoint. Set and
    # reset outside the transaction: a statement inside an aborted one would mask its cause.
    con.execute("set preserve_insertion_order = false")
    try:
        with transaction(con):
            appended = scalar(
                con,
                f"insert into {RAW_TABLE} by name select * from read_parquet(?, hive_partitioning = false)",
                [str(final)],
            )
            faults.checkpoint("after_raw_insert")
            parquet_rows = scalar(con, "select count(*) from read_parquet(?, hive_partitioning = false)", [str(final)])
            expected = result.rows_read - result.rows_quarantined
            if not (parquet_rows == appended == result.rows_loaded == expected):
                raise PipelineError(
                    f"{path}: row counts disagree (read {result.rows_read} - quarantined "
                    f"{result.rows_quarantined} = {expected}, parquet {parquet_rows}, appended {appended}); "
                    "batch rolled back"
                )
            result.status = "succeeded"
            finish_ledger(con, result, "succeeded")
            # The ledger row travels with the raw layer: written before the commit, so a batch that
            # committed always has it (one that did not is cleaned up by recover_interrupted).
            write_manifest(final, ledger_record(con, result.batch_id or ""))
            faults.checkpoint("before_commit")
    finally:
        try:
            con.execute("reset preserve_insertion_order")
        except duckdb.Error:  # the connection itself is gone; the original error says why
            log.debug("could not reset preserve_insertion_order", exc_info=True)


def finish_ledger(con: duckdb.DuckDBPyConnection, result: BatchResult, status: str) -> None:
    finish_batch(
        con,
        result.batch_id,
        status,
        {
            "message": result.message or None,
            "encoding": result.encoding,
            "delimiter": result.delimiter,
            "quote": '"' if result.delimiter else None,
            "escape": result.escape,
            "column_mapping": json.dumps(result.mapping) if result.mapping else None,
            "rows_read": result.rows_read,
            "rows_loaded": result.rows_loaded if status == "succeeded" else 0,
            "rows_quarantined": result.rows_quarantined,
            "quarantine_path": str(result.quarantine_path) if result.quarantine_path else None,
            "warnings": json.dumps(result.warnings),
            "source_mtime_ns": trusted_mtime(result),
        },
    )


def trusted_mtime(result: BatchResult) -> int | None:
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
