"""Connections to the DuckDB warehouse: session settings (UTC, memory, spill folder) and helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.core.home import Home

if TYPE_CHECKING:
    pass

from netflix_elt.core.clock import utcnow as utcnow
from netflix_elt.core.settings import DEFAULT_MEMORY_LIMIT as DEFAULT_MEMORY_LIMIT
from netflix_elt.core.settings import MEMORY_LIMIT_ENV as MEMORY_LIMIT_ENV
from netflix_elt.core.settings import THREADS_ENV as THREADS_ENV
from netflix_elt.core.settings import resource_settings as resource_settings

log = logging.getLogger(__name__)


def connect(home: Home, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating and migrating it when writable), UTC session time zone."""
    if read_only and not home.warehouse.exists():
        raise PipelineError(f"{home.warehouse}: no warehouse yet; run `netflix-elt run` first")
    try:
        con = duckdb.connect(str(home.warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        first = (str(exc).strip().splitlines() or ["IOException"])[0]
        hint = ""
        if "not a valid DuckDB database" in first or "Could not read" in first:
            hint = "; `netflix-elt verify` checks it, `netflix-elt rebuild` restores it from the raw layer"
        raise PipelineError(f"{home.warehouse}: cannot open the warehouse ({first}){hint}") from exc
    configure(con, home, read_only=read_only)
    if not read_only:
        from netflix_elt.warehouse.migrations import migrate

        migrate(con)
    return con


def scratch(home: Home) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for parsing, spilling to the home's tmp/ rather than anywhere else."""
    con = duckdb.connect(":memory:")
    configure(con, home)
    return con


def configure(con: duckdb.DuckDBPyConnection, home: Home, *, read_only: bool = False) -> None:
    """UTC session time, spill files under the home, bounded memory (DuckDB spills past it). A
    read-only connection creates no folder (its spill folder is used only if it exists)."""
    if not read_only:
        home.tmp_dir.mkdir(parents=True, exist_ok=True)
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    spill = str(home.tmp_dir / "duckdb")
    # A database instance still open in this process (dbt's, say) keeps its spill folder: DuckDB
    # refuses to switch it once used, so only set it when it differs.
    current = con.execute("select current_setting('temp_directory')").fetchone()
    if read_only and not home.tmp_dir.is_dir():
        pass
    elif not current or current[0] != spill:
        try:
            con.execute("set temp_directory = ?", [spill])
        except duckdb.NotImplementedException:
            log.debug("keeping DuckDB's spill folder %s (already in use)", current[0] if current else "?")
    for name, value in resource_settings().items():
        try:
            con.execute(f"set {name} = ?", [value])
        except duckdb.Error as exc:
            env = MEMORY_LIMIT_ENV if name == "memory_limit" else THREADS_ENV
            raise InputError(f"${env}={value!r} is not a valid DuckDB {name} ({exc}); fix or unset it") from exc


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()
    return bool(row and row[0])
