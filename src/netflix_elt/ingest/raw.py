"""The raw layer, the source of truth: one immutable Parquet file per batch, and beside it a small
JSON manifest that is a copy of the batch's ledger row (sequence, as-of, source sha256, the raw
file's sha256 and row count, per-drop acceptance). The raw layer alone therefore describes every
batch: `verify` reads it back against the ledger, and `rebuild` replays it into a new warehouse.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.errors import PipelineError
from netflix_elt.core.files import file_sha256
from netflix_elt.core.home import Home
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, ColumnMapping
from netflix_elt.ingest.parse import Parsed, scalar, sql_path

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
# Ledger columns that describe where the source file was last seen (refreshed when a drop is
# recognised again): not part of what a batch is, so not compared by verify.
STAT_COLUMNS = ("source_realpath", "source_mtime_ns", "source_ctime_ns", "source_inode")


def manifest_path(raw_file: Path) -> Path:
    """`batch_<id>.json` beside `batch_<id>.parquet`."""
    return raw_file.with_suffix(".json")


JSON_COLUMNS = ("column_mapping", "warnings")  # kept as their exact text, so a round trip is lossless


def ledger_records(
    con: duckdb.DuckDBPyConnection, where: str = "true", params: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Ledger rows as JSON values (timestamps as ISO strings; JSON columns as their text), in
    batch sequence order."""
    text = ", ".join(f"{c}::varchar as {c}" for c in JSON_COLUMNS)
    rows = con.execute(
        f"select to_json(b)::varchar, {text} from etl_batches b where {where} order by batch_seq", params or []
    ).fetchall()
    records = []
    for row in rows:
        record: dict[str, Any] = json.loads(row[0])
        record.update(zip(JSON_COLUMNS, row[1:], strict=True))
        records.append(record)
    return records


def ledger_record(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, Any]:
    """One batch's ledger row (see ledger_records)."""
    records = ledger_records(con, "batch_id = ?", [batch_id])
    if not records:
        raise KeyError(batch_id)
    return records[0]


def write_raw_parquet(
    sc: duckdb.DuckDBPyConnection,
    parsed: Parsed,
    mapping: ColumnMapping,
    extras: list[tuple[str, int]],
    target: Path,
    lineage: tuple[str | None, datetime, str, str | None],
) -> int:
    """Write a parsed drop's catalog rows to `target`, in the canonical columns with the batch's
    lineage (`lineage`: batch id, ingestion time, source file, source sha256) and the unmapped
    columns that hold a value in `_extra`; returns the number of rows written."""
    by_target = mapping.by_target
    cols = [(f"c{by_target[c].index}" if c in by_target else "null::varchar") + f' as "{c}"' for c in CANONICAL_COLUMNS]
    params: list[Any] = list(lineage)
    if extras:
        entries = ", ".join(f"{{'k': ?, 'v': c{i}}}" for _, i in extras)
        params.extend(k for k, _ in extras)
        extra_sql = (
            f"nullif(to_json(map_from_entries(list_filter([{entries}], "
            "lambda e: nullif(trim(e.v), '') is not null))), '{}')::json"
        )
    else:
        extra_sql = "null::json"
    return scalar(
        sc,
        f"copy (select {', '.join(cols)}, ?::varchar as _batch_id, ?::timestamptz as _ingested_at, "
        f"?::varchar as _source_file, ?::varchar as _source_sha256, rowid + 1 as _source_row_number, "
        f"{extra_sql} as _extra from {parsed.table} where _reject_reason is null) "
        f"to '{sql_path(target)}' (format parquet, compression zstd)",
        params,
    )


def link_raw(tmp: Path, final: Path) -> None:
    """Publish a written raw file under its final name: atomic, and never over an existing one."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise PipelineError(f"{final}: a raw file of that name exists already; raw files are immutable") from None


def write_manifest(raw_file: Path, record: dict[str, Any]) -> Path:
    """Write the manifest beside the raw file: temporary name, fsync, then a no-clobber link."""
    target = manifest_path(raw_file)
    tmp = target.with_name(f".{target.name}.tmp")
    body = json.dumps({"manifest_version": MANIFEST_VERSION, "batch": record}, indent=1, sort_keys=True) + "\n"
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def read_manifest(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("batch"), dict):
        raise ValueError("not a netflix-elt batch manifest")
    batch: dict[str, Any] = data["batch"]
    return batch


def raw_files(home: Home) -> list[Path]:
    """Every published raw Parquet file (hidden temporary names excluded)."""
    return sorted(p for p in home.raw_dir.glob("ingest_date=*/batch_*.parquet") if not p.name.startswith("."))


def manifests(home: Home) -> list[Path]:
    return sorted(p for p in home.raw_dir.glob("ingest_date=*/batch_*.json") if not p.name.startswith("."))


@dataclass(frozen=True)
class RawProblem:
    batch_id: str | None
    path: str
    problem: str

    def line(self) -> str:
        who = f"batch {self.batch_id}: " if self.batch_id else ""
        return f"{who}{self.path}: {self.problem}"


def check_raw_file(home: Home, batch: dict[str, Any]) -> list[RawProblem]:
    """The problems of one succeeded batch's raw file and manifest against its ledger row: missing,
    altered (sha256), truncated or unreadable (Parquet footer), another row count, or a manifest
    that is missing or disagrees."""
    batch_id = str(batch["batch_id"])
    rel = batch.get("raw_path")
    if not rel:
        return [RawProblem(batch_id, "-", "the ledger names no raw file")]
    path = home.root / str(rel)
    problems: list[RawProblem] = []
    if not path.is_file():
        return [RawProblem(batch_id, str(rel), "raw file is missing; restore it from a backup or re-ingest the drop")]
    expected = batch.get("raw_sha256")
    if expected:
        actual = file_sha256(path)
        if actual != expected:
            problems.append(
                RawProblem(
                    batch_id,
                    str(rel),
                    f"raw file was altered (sha256 {actual[:12]}…, the ledger says {str(expected)[:12]}…); "
                    "restore it from a backup or re-ingest the drop",
                )
            )
    rows = parquet_rows(path)
    if rows is None:
        problems.append(RawProblem(batch_id, str(rel), "raw file is truncated or not Parquet (unreadable footer)"))
    elif batch.get("rows_loaded") is not None and rows != int(batch["rows_loaded"]):
        problems.append(
            RawProblem(batch_id, str(rel), f"raw file holds {rows:,} rows, the ledger says {batch['rows_loaded']:,}")
        )
    mpath = manifest_path(path)
    mrel = str(mpath.relative_to(home.root))
    if not mpath.is_file():
        problems.append(
            RawProblem(
                batch_id, mrel, "batch manifest is missing (`netflix-elt rebuild` writes it again from the ledger)"
            )
        )
    else:
        try:
            record = read_manifest(mpath)
        except (OSError, ValueError) as exc:
            problems.append(RawProblem(batch_id, mrel, f"batch manifest is unreadable ({exc})"))
        else:
            diff = manifest_differences(record, batch)
            if diff:
                problems.append(
                    RawProblem(batch_id, mrel, f"batch manifest disagrees with the ledger on {', '.join(diff)}")
                )
    return problems


def manifest_differences(record: dict[str, Any], batch: dict[str, Any]) -> list[str]:
    """Columns on which a manifest and a ledger row (both as JSON values) differ."""
    return sorted(
        k for k in set(record) | set(batch) if k not in STAT_COLUMNS and _norm(record.get(k)) != _norm(batch.get(k))
    )


def _norm(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str)


def parquet_rows(path: Path) -> int | None:
    """Rows in a Parquet file from its footer, or None when the file is truncated or not Parquet."""
    con = duckdb.connect(":memory:")
    try:
        row = con.execute(
            "select sum(row_group_num_rows) from (select distinct row_group_id, row_group_num_rows "
            "from parquet_metadata(?))",
            [str(path)],
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    except duckdb.Error:
        return None
    finally:
        con.close()
