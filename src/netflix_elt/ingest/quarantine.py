"""The quarantine: the lines of a drop that are not catalog rows (repeated headers, fragments, rows
without a key field) and those DuckDB could not parse, with their line or record numbers and
reasons, in one Parquet file per batch under `data/quarantine/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from netflix_elt.core.home import Home
from netflix_elt.ingest.parse import Parsed, sql_path


def quarantine_path(home: Home, partition: str, batch_id: str | None) -> Path:
    return home.quarantine_dir / partition / f"batch_{batch_id}.parquet"


def write_quarantine(
    sc: duckdb.DuckDBPyConnection,
    parsed: Parsed,
    headers: list[str],
    delimiter: str,
    target: Path,
    batch_id: str | None,
    source: str,
) -> None:
    """Write the rejected lines to `target` (through a hidden temporary name, then renamed)."""
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
        f"order by coalesce(line_number, record_number)) to '{sql_path(tmp)}' (format parquet)",
        [batch_id, source, *params],
    )
    tmp.replace(target)


def remove_partial_quarantine(home: Home, batch_id: str | None) -> None:
    """A quarantine write cut short (the disk filled up) leaves its temporary file: remove it."""
    for partial in home.quarantine_dir.glob(f"*/.batch_{batch_id}.parquet.tmp"):
        partial.unlink(missing_ok=True)
