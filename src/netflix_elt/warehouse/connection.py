"""The DuckDB warehouse: connections, versioned schema migrations and the batch ledger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.core.home import Home

if TYPE_CHECKING:
    from pathlib import Path

from netflix_elt.core.clock import utcnow as utcnow
from netflix_elt.core.settings import DEFAULT_MEMORY_LIMIT as DEFAULT_MEMORY_LIMIT
from netflix_elt.core.settings import MEMORY_LIMIT_ENV as MEMORY_LIMIT_ENV
from netflix_elt.core.settings import THREADS_ENV as THREADS_ENV
from netflix_elt.core.settings import resource_settings as resource_settings

log = logging.getLogger(__name__)

RAW_TABLE = "raw_netflix_titles"
LEDGER_TABLE = "etl_batches"
TRANSFORMS_TABLE = "etl_transforms"
DQ_TABLE = "dq_results"
RUNS_TABLE = "etl_runs"

# Append-only, versioned migrations: each runs once, in order, inside one transaction. Tables that
# hold history (the ledger, the raw layer) are created here; derived tables are rebuilt by dbt.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "ledger and raw layer",
        f"""
        create table {LEDGER_TABLE} (
            batch_id varchar primary key,
            source_path varchar not null,
            source_sha256 varchar not null,
            source_bytes bigint not null,
            compression varchar,
            encoding varchar,
            delimiter varchar,
            quote varchar,
            escape varchar,
            mode varchar not null default 'snapshot',
            column_mapping json,
            rows_read bigint,
            rows_loaded bigint,
            rows_quarantined bigint,
            raw_path varchar,
            quarantine_path varchar,
            warnings json,
            started_at timestamptz not null,
            finished_at timestamptz,
            status varchar not null check (status in ('running', 'succeeded', 'skipped', 'rejected', 'failed')),
            message varchar
        );
        create table {RAW_TABLE} (
            show_id varchar,
            type varchar,
            title varchar,
            director varchar,
            "cast" varchar,
            country varchar,
            date_added varchar,
            release_year varchar,
            rating varchar,
            duration varchar,
            listed_in varchar,
            description varchar,
            _batch_id varchar not null,
            _ingested_at timestamptz not null,
            _source_file varchar not null,
            _source_sha256 varchar not null,
            _source_row_number bigint not null,
            _extra json
        );
        """,
    ),
    (
        2,
        "transform log (CDC counts per run and batch)",
        f"""
        create table {TRANSFORMS_TABLE} (
            run_id varchar not null,
            batch_id varchar not null,
            mode varchar,
            started_at timestamptz not null,
            finished_at timestamptz,
            status varchar not null check (status in ('running', 'succeeded', 'refused', 'failed')),
            staged_rows bigint,
            duplicates_dropped bigint,
            inserted bigint,
            updated bigint,
            unchanged bigint,
            deleted bigint,
            revived bigint,
            tests_passed integer,
            tests_warned integer,
            tests_failed integer,
            message varchar,
            primary key (run_id, batch_id)
        );
        """,
    ),
    (
        3,
        "data-quality results and run history",
        f"""
        alter table {TRANSFORMS_TABLE} add column key_change_share double;
        create table {DQ_TABLE} (
            run_id varchar not null,
            batch_id varchar,
            "check" varchar not null,
            "table" varchar,
            severity varchar not null check (severity in ('warn', 'fail')),
            status varchar not null check (status in ('pass', 'warn', 'fail', 'skip')),
            observed varchar,
            threshold varchar,
            message varchar,
            checked_at timestamptz not null
        );
        create table {RUNS_TABLE} (
            run_id varchar primary key,
            command varchar not null,
            started_at timestamptz not null,
            finished_at timestamptz,
            status varchar not null,
            batches_loaded integer,
            batches_skipped integer,
            batches_rejected integer,
            batches_transformed integer,
            inserted bigint,
            updated bigint,
            unchanged bigint,
            deleted bigint,
            revived bigint,
            checks_passed integer,
            checks_warned integer,
            checks_failed integer,
            duration_s double,
            message varchar
        );
        """,
    ),
    (
        4,
        "source file stat in the ledger (skip an unchanged drop without reading it)",
        f"""
        alter table {LEDGER_TABLE} add column source_realpath varchar;
        alter table {LEDGER_TABLE} add column source_mtime_ns bigint;
        """,
    ),
    (
        5,
        "batch sequence and as-of, per-drop acceptance, inode change time, raw file digest",
        f"""
        alter table {LEDGER_TABLE} add column batch_seq bigint;
        alter table {LEDGER_TABLE} add column as_of timestamptz;
        alter table {LEDGER_TABLE} add column as_of_explicit boolean default false;
        alter table {LEDGER_TABLE} add column accept_key_changes boolean default false;
        alter table {LEDGER_TABLE} add column accept_deletes boolean default false;
        alter table {LEDGER_TABLE} add column source_ctime_ns bigint;
        alter table {LEDGER_TABLE} add column source_inode bigint;
        alter table {LEDGER_TABLE} add column raw_sha256 varchar;
        alter table {LEDGER_TABLE} add column raw_bytes bigint;
        update {LEDGER_TABLE} set batch_seq = s.seq, as_of = s.started_at
        from (select batch_id, started_at, row_number() over (order by started_at, batch_id) as seq
              from {LEDGER_TABLE}) as s
        where {LEDGER_TABLE}.batch_id = s.batch_id;
        update {LEDGER_TABLE} set source_mtime_ns = null;
        alter table {TRANSFORMS_TABLE} add column delete_share double;
        """,
    ),
    (
        6,
        "sequence numbers for runs and check results (newest by sequence, not by the clock)",
        f"""
        alter table {RUNS_TABLE} add column run_seq bigint;
        alter table {DQ_TABLE} add column result_seq bigint;
        update {RUNS_TABLE} set run_seq = s.seq
        from (select run_id, row_number() over (order by started_at, run_id) as seq from {RUNS_TABLE}) as s
        where {RUNS_TABLE}.run_id = s.run_id;
        update {DQ_TABLE} set result_seq = s.seq
        from (select run_id, dense_rank() over (order by min(checked_at), run_id) as seq
              from {DQ_TABLE} group by run_id) as s
        where {DQ_TABLE}.run_id = s.run_id;
        """,
    ),
]


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


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table if not exists schema_migrations "
        "(version integer primary key, description varchar, applied_at timestamptz)"
    )
    row = con.execute("select coalesce(max(version), 0) from schema_migrations").fetchone()
    current = row[0] if row else 0
    applied = []
    for version, description, ddl in MIGRATIONS:
        if version <= current:
            continue
        with transaction(con):
            con.execute(ddl)
            con.execute("insert into schema_migrations values (?, ?, ?)", [version, description, utcnow()])
        log.debug("warehouse schema migrated to version %d (%s)", version, description)
        applied.append(version)
    if applied and current == 0:
        log.info("warehouse created (schema version %d)", applied[-1])
    elif applied:
        log.info("warehouse schema migrated from version %d to %d", current, applied[-1])


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
