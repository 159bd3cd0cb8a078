"""Versioned schema migrations of the warehouse: append-only, each run once, in order."""

from __future__ import annotations

import logging

import duckdb

from netflix_elt.core.clock import utcnow
from netflix_elt.warehouse.connection import transaction
from netflix_elt.warehouse.ledger import DQ_TABLE, LEDGER_TABLE, RAW_TABLE, RUNS_TABLE, TRANSFORMS_TABLE

log = logging.getLogger(__name__)


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
