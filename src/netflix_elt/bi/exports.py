"""KPI exports: each KPI table as Parquet and CSV, and the current catalog as Parquet, with a manifest.

`export_tables(home)` writes the `exports` exposure's tables (what every run publishes);
`export --bigquery` asks for the `bigquery` exposure's too (history and the bridges, which the
generated LookML reads), written as Parquet only, for the load.

The catalog is not written as CSV: at a million titles that file alone took ~7 s of every run,
for a format no spreadsheet opens at that size; Parquet keeps its types and loads into BigQuery.

Files are written under a temporary name and renamed, and `manifest.json` is written last, so a
reader that trusts the manifest never sees a half-written export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netflix_elt.core import faults
from netflix_elt.core.errors import InputError
from netflix_elt.core.files import file_sha256, write_json_atomic
from netflix_elt.core.home import Home
from netflix_elt.transform import registry
from netflix_elt.warehouse.connection import connect, table_exists, utcnow
from netflix_elt.warehouse.ledger import latest_transform

log = logging.getLogger(__name__)

# What is exported, in the order written: the `exports` exposure of the dbt project
# (models/exposures.yml), never a list typed here.
EXPORT_TABLES = registry.exposure_models("exports")
KPI_VIEWS = registry.kpis(EXPORT_TABLES)
# Only the KPI tables, small enough for a spreadsheet, are written as CSV too.
PARQUET_ONLY = frozenset(EXPORT_TABLES) - frozenset(KPI_VIEWS)
FORMATS = {"parquet": "format parquet, compression zstd", "csv": "format csv, header"}
# The order each table is written in, the one a reader of the file expects: a ranking by its
# count, largest first, the name breaking ties (a top 10 sorted by name hides the ranking); a time
# series by time, then ranked within each period. The catalog, its history and the bridges
# (`None`) are written in their storage order, deterministic for a given table: sorting a
# million-title catalog by key doubled the time of every export (2.5 s of 4.8 s at 1M rows), for
# readers that filter or sort on read anyway. A table not listed (a KPI added to the exposure)
# is written in `order by all`: deterministic, if not meaningful.
ORDER_BY: dict[str, str | None] = {
    registry.CURRENT: None,
    registry.HISTORY: None,
    **dict.fromkeys(registry.BRIDGES),
    "kpi_movies_vs_tv": "total_titles desc, type",
    "kpi_titles_by_year": "release_year",
    "kpi_titles_by_country": "total_titles desc, country",
    "kpi_titles_by_rating": "total_titles desc, rating nulls last",
    "kpi_top_genres": "total_titles desc, genre",
    "kpi_genres_over_time": "release_year, total_titles desc, genre",
    "kpi_country_recent_growth": "total_titles_recent desc, country",
    "kpi_titles_added_by_month": "month_added, total_titles desc, type",
}
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportedTable:
    table: str
    rows: int
    columns: list[dict[str, str]]
    files: dict[str, str]
    sha256: dict[str, str]


def exports_dir(home: Home) -> Path:
    return home.root / "exports"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def with_tables(*lists: tuple[str, ...]) -> tuple[str, ...]:
    """The tables of several exposures, each once, in the order first listed."""
    return tuple(dict.fromkeys(t for tables in lists for t in tables))


def export_tables(home: Home, out: Path | None = None, tables: tuple[str, ...] = EXPORT_TABLES) -> dict[str, Any]:
    """Write `tables` (default: the `exports` exposure's) to `out` (default `<home>/exports/`):
    each KPI table as Parquet and CSV, any other as Parquet; return the manifest, which lists
    exactly those."""
    out = out or exports_dir(home)
    out.mkdir(parents=True, exist_ok=True)
    kpis = frozenset(registry.kpis(tables))
    con = connect(home, read_only=True)
    exported: list[ExportedTable] = []
    try:
        missing = [t for t in tables if not table_exists(con, t)]
        if missing:
            raise InputError(f"{home.warehouse}: no transformed data yet ({missing[0]} missing); run `netflix-elt run`")
        for table in tables:
            order = ORDER_BY.get(table, "all")
            select = f"select * from {table}" + (f" order by {order}" if order else "")
            # The types of what is written (the BigQuery load takes its schema from them).
            cols = [{"name": row[0], "type": row[1]} for row in con.execute(f"describe {select}").fetchall()]
            files, digests = {}, {}
            for fmt, options in FORMATS.items():
                if fmt != "parquet" and table not in kpis:
                    continue
                target = out / f"{table}.{fmt}"
                tmp = out / f".{table}.{fmt}.tmp"
                con.execute(f"copy ({select}) to '{_sql_path(tmp)}' ({options})")
                tmp.replace(target)
                files[fmt], digests[fmt] = target.name, file_sha256(target)
            faults.checkpoint(f"export_wrote:{table}")
            rows = con.execute(f"select count(*) from {table}").fetchone()
            exported.append(ExportedTable(table, int(rows[0]) if rows else 0, cols, files, digests))
        latest = latest_transform(con)
    finally:
        con.close()
    manifest = {
        "generated_at": utcnow().isoformat(),
        "batch_id": latest["batch_id"] if latest else None,
        # the run that last transformed it: a replay (late drop, rebuild) changes it, not the batch
        "transform_run_id": latest["run_id"] if latest else None,
        "tables": [t.__dict__ for t in exported],
    }
    faults.checkpoint("export_before_manifest")
    write_json_atomic(out / MANIFEST, manifest)
    log.info("exported %d tables to %s", len(exported), out)
    return manifest
