"""The warehouse's table names, each typed once, and the one-value query helper the ledger's
modules share."""

from __future__ import annotations

from typing import Any

import duckdb

RAW_TABLE = "raw_netflix_titles"
LEDGER_TABLE = "etl_batches"
TRANSFORMS_TABLE = "etl_transforms"
DQ_TABLE = "dq_results"
RUNS_TABLE = "etl_runs"


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None
