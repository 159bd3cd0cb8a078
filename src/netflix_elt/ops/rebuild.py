"""Trust in the raw layer: `verify` reads it back against the ledger, `rebuild` replays it.

`verify` (read-only) checks every succeeded batch's raw Parquet file and manifest against the
ledger (missing, truncated, altered, another row count, a manifest that disagrees), raw files no
ledger row names, and that the warehouse's `raw_netflix_titles` holds exactly each batch's rows.

`rebuild` builds a new warehouse from the raw layer alone: the ledger rows (from the old warehouse
when it still opens, else from the manifests beside the raw files), every raw batch appended, then
every batch replayed through the same dbt project in as-of order. It is built under
`tmp/rebuild/` and swapped in with one atomic rename, the old file kept as
`netflix_dw.duckdb.before-rebuild`, so a rebuild that is killed or fails leaves the old warehouse
in place. A run replays the same way when a late drop (an as-of before one already applied) has to
take its place in history.

When the models live in BigQuery the local warehouse is rebuilt the same way, and the models are
replayed into a scratch dataset (`<dataset>__replay`), the live dataset untouched meanwhile. Once
every batch is replayed its tables are copied over the live ones (copy jobs) and dbt creates its
views again there, then the local warehouse is swapped in and the scratch dataset dropped. That swap is
not atomic across tables: a mark in the home (`bigquery-replay.pending`) is kept while it lasts,
and a run that finds it replays again, so a kill at any point converges.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from netflix_elt.core import faults
from netflix_elt.core.errors import NetflixEltError, PipelineError
from netflix_elt.core.files import write_json_atomic
from netflix_elt.core.home import Home
from netflix_elt.ingest.raw import (
    JSON_COLUMNS,
    RawProblem,
    check_raw_file,
    ledger_records,
    manifest_path,
    manifests,
    raw_files,
    read_manifest,
    write_manifest,
)
from netflix_elt.warehouse.connection import connect, transaction
from netflix_elt.warehouse.ledger import DQ_TABLE, LEDGER_TABLE, RAW_TABLE, RUNS_TABLE

if TYPE_CHECKING:
    from netflix_elt.warehouse.target import BigQueryTarget

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".before-rebuild"
# In a BigQuery home, present while a replay swaps its tables into the live dataset.
REPLAY_MARK = "bigquery-replay.pending"


class RawLayerDamaged(PipelineError):
    """A raw file or manifest does not match the ledger: nothing is built over it."""


# ---------------------------------------------------------------------------------------------
# verify


@dataclass
class VerifyReport:
    batches: int = 0
    problems: list[RawProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(home: Home) -> VerifyReport:
    """Every problem of the raw layer against the ledger and the warehouse. Writes nothing."""
    report = VerifyReport()
    raw = raw_files(home)
    if not home.warehouse.exists():
        if raw:
            report.problems.append(
                RawProblem(
                    None,
                    str(home.warehouse),
                    f"warehouse is missing while data/raw holds {len(raw)} batch file(s); run `netflix-elt rebuild`",
                )
            )
        return report
    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
        con.execute("set TimeZone = 'UTC'")  # the manifests hold UTC times, whatever $TZ says
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.problems.append(
            RawProblem(None, str(home.warehouse), f"warehouse cannot be opened ({first}); run `netflix-elt rebuild`")
        )
        return report
    try:
        records = ledger_records(con, "status = 'succeeded'")
        loaded = dict(con.execute(f"select _batch_id, count(*) from {RAW_TABLE} group by 1").fetchall())
        unreadable = _unreadable_tables(con)
    except duckdb.Error as exc:
        report.problems.append(
            RawProblem(
                None, str(home.warehouse), f"warehouse cannot be read ({_first(exc)}); run `netflix-elt rebuild`"
            )
        )
        return report
    finally:
        con.close()
    for table, error in unreadable:
        report.problems.append(
            RawProblem(
                None,
                str(home.warehouse),
                f"table {table} cannot be read ({_first(error)}): the file is damaged; run `netflix-elt rebuild`",
            )
        )
    report.batches = len(records)
    named: set[Path] = set()
    for rec in records:
        report.problems += check_raw_file(home, rec)
        if rec.get("raw_path"):
            named.add((home.root / rec["raw_path"]).resolve())
        n = loaded.pop(rec["batch_id"], 0)
        if n != rec.get("rows_loaded"):
            report.problems.append(
                RawProblem(
                    rec["batch_id"],
                    str(home.warehouse.name),
                    f"{RAW_TABLE} holds {n:,} rows of the batch, the ledger says {rec.get('rows_loaded') or 0:,}; "
                    "run `netflix-elt rebuild`",
                )
            )
    for batch_id, n in loaded.items():
        report.problems.append(
            RawProblem(
                batch_id, home.warehouse.name, f"{RAW_TABLE} holds {n:,} rows of a batch the ledger does not list"
            )
        )
    for path in raw:
        if path.resolve() not in named:
            report.problems.append(
                RawProblem(None, str(path.relative_to(home.root)), "raw file is named by no succeeded ledger row")
            )
    return report


def _unreadable_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, duckdb.Error]]:
    """Tables whose every value cannot be read back (a truncated or overwritten file opens, and its
    catalog reads, until a scan reaches a block that is not there): hashing each row reads all."""
    tables = con.execute(
        "select table_name from information_schema.tables where table_type = 'BASE TABLE' order by 1"
    ).fetchall()
    bad: list[tuple[str, duckdb.Error]] = []
    for (table,) in tables:
        try:
            con.execute(f'select bit_xor(hash(t)) from "{table}" as t').fetchone()
        except duckdb.Error as exc:
            bad.append((str(table), exc))
    return bad


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_batches(home: Home, batch_ids: Collection[str]) -> None:
    """Refuse to go on over a damaged raw file: raises RawLayerDamaged naming the first problem."""
    if not batch_ids:
        return
    con = connect(home)
    try:
        records = ledger_records(con, "status = 'succeeded' and list_contains(?, batch_id)", [sorted(batch_ids)])
    finally:
        con.close()
    for rec in records:
        problems = check_raw_file(home, rec)
        if problems:
            raise RawLayerDamaged(
                f"{problems[0].line()}; nothing was transformed over it (`netflix-elt verify` lists every problem)"
            )


def refuse_fresh_start(home: Home) -> None:
    """A missing warehouse beside a raw layer is lost history, not a fresh home."""
    if home.warehouse.exists():
        return
    raw = raw_files(home)
    if raw:
        raise PipelineError(
            f"{home.warehouse}: the warehouse is missing but {home.raw_dir.relative_to(home.root)} holds "
            f"{len(raw)} batch file(s); run `netflix-elt rebuild` to restore it from the raw layer "
            "(a new run would start history afresh)"
        )


# ---------------------------------------------------------------------------------------------
# rebuild


@dataclass
class RebuildResult:
    run_id: str
    batches: int = 0
    replayed: int = 0
    refused: int = 0
    refusals: list[Exception] = field(default_factory=list)
    ledger_from: str = ""  # "warehouse" | "manifests"
    backup: Path | None = None
    transforms: list[Any] = field(default_factory=list)
    seconds: float = 0.0


def _old_state(home: Home) -> tuple[list[dict[str, Any]] | None, bool]:
    """All ledger rows of the old warehouse as JSON values, or None when it is missing or broken;
    and whether it opened (then its run history and check results are carried over)."""
    if not home.warehouse.exists():
        return None, False
    try:
        con = connect(home)  # migrates an older warehouse, so its columns match the new one
    except (NetflixEltError, duckdb.Error) as exc:
        log.warning("rebuild: the old warehouse cannot be opened (%s); the ledger comes from the raw layer", exc)
        return None, False
    try:
        return ledger_records(con), True
    except duckdb.Error as exc:
        log.warning("rebuild: the old ledger cannot be read (%s); it comes from the raw layer", exc)
        return None, False
    finally:
        con.close()


def _ledger_for_rebuild(home: Home, old: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], str]:
    """The ledger rows the new warehouse gets, and where they came from. Raw files without a ledger
    row (the warehouse was lost) are described by their manifests; a succeeded row whose manifest is
    missing gets it written again from the ledger."""
    from_manifests: dict[str, dict[str, Any]] = {}
    for m in manifests(home):
        try:
            rec = read_manifest(m)
        except (OSError, ValueError) as exc:
            raise RawLayerDamaged(f"{m.relative_to(home.root)}: batch manifest is unreadable ({exc})") from None
        from_manifests[str(rec["batch_id"])] = rec
    if old is None:
        records = sorted(from_manifests.values(), key=lambda r: r.get("batch_seq") or 0)
        return records, "manifests"
    known = {str(r["batch_id"]) for r in old}
    extra = [r for b, r in from_manifests.items() if b not in known]
    for rec in old:
        if rec.get("status") == "succeeded" and rec.get("raw_path"):
            raw = home.root / rec["raw_path"]
            if raw.is_file() and not manifest_path(raw).exists():
                write_manifest(raw, rec)
                log.warning("rebuild: batch %s had no manifest; written from the ledger", rec["batch_id"])
    if extra:
        log.warning("rebuild: %d raw batch(es) not in the old ledger are taken from their manifests", len(extra))
    return sorted([*old, *extra], key=lambda r: r.get("batch_seq") or 0), "warehouse"


def _insert_ledger(con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> None:
    columns = [r[0] for r in con.execute(f"describe {LEDGER_TABLE}").fetchall()]
    sql = f"insert into {LEDGER_TABLE} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})"
    for rec in records:
        values = []
        for c in columns:
            v = rec.get(c)
            if c in JSON_COLUMNS and v is not None and not isinstance(v, str):
                v = json.dumps(v)  # a manifest written by hand, with the JSON inline
            values.append(v)
        con.execute(sql, values)


def rebuild(home: Home, run_id: str, options: Any = None, *, carry_over: bool = True) -> RebuildResult:
    """Replay every raw batch into a new warehouse and swap it in. The caller holds the run lock."""
    from netflix_elt.transform.batches import BatchRefused, PendingBatch, TransformOptions, transform_batch
    from netflix_elt.transform.dbt import Dbt
    from netflix_elt.warehouse.target import home_target

    live = home_target(home)  # None: the models live in the local warehouse
    started = time.monotonic()
    result = RebuildResult(run_id=run_id)
    old, old_opens = _old_state(home)
    records, result.ledger_from = _ledger_for_rebuild(home, old)
    succeeded = sorted(
        (r for r in records if r.get("status") == "succeeded"),
        key=lambda r: (str(r.get("as_of") or r.get("started_at")), r.get("batch_seq") or 0),
    )
    result.batches = len(succeeded)
    log.info("rebuild: %d batch(es) from the raw layer (ledger from the %s)", len(succeeded), result.ledger_from)
    damaged = [p for r in succeeded for p in check_raw_file(home, r)]
    if damaged:
        more = f" (and {len(damaged) - 1} more; see `netflix-elt verify`)" if len(damaged) > 1 else ""
        raise RawLayerDamaged(f"{damaged[0].line()}{more}; the warehouse was left as it was")

    work = home.rebuild_dir
    shutil.rmtree(work, ignore_errors=True)  # what a killed rebuild left
    work.mkdir(parents=True)
    new_home = home.with_warehouse(work / home.warehouse.name)
    con = connect(new_home)
    try:
        with transaction(con):
            _insert_ledger(con, records)
            for i, rec in enumerate(succeeded, 1):
                raw = home.root / rec["raw_path"]
                n = con.execute(
                    f"insert into {RAW_TABLE} by name select * from read_parquet(?, hive_partitioning = false)",
                    [str(raw)],
                ).fetchone()
                if not n or int(n[0]) != int(rec.get("rows_loaded") or 0):
                    raise RawLayerDamaged(
                        f"batch {rec['batch_id']}: {rec['raw_path']} gave {n[0] if n else 0:,} rows, "
                        f"the ledger says {rec.get('rows_loaded')}; the warehouse was left as it was"
                    )
                log.info("rebuild: loaded raw batch %d/%d (%s rows)", i, len(succeeded), f"{int(n[0]):,}")
        if carry_over and old_opens:
            old_path = str(home.warehouse).replace("'", "''")
            try:
                con.execute(f"attach '{old_path}' as old_warehouse (read_only)")
                with transaction(con):
                    for table in (RUNS_TABLE, DQ_TABLE):
                        con.execute(f"insert into {table} by name select * from old_warehouse.{table}")
            except duckdb.Error as exc:  # a damaged old file: its ledger read, its history did not
                log.warning("rebuild: run history and check results of the old warehouse not carried over (%s)", exc)
            finally:
                try:
                    con.execute("detach old_warehouse")
                except duckdb.Error:
                    log.debug("old warehouse was not attached", exc_info=True)
    finally:
        con.close()
    faults.checkpoint("rebuild_loaded")

    replayed = None
    if live is not None:
        from netflix_elt.warehouse.bigquery import replay_target, reset_dataset

        replayed = replay_target(live)
        reset_dataset(replayed)  # what a killed replay left
        log.info("rebuild: replaying into %s; %s is untouched until the replay is complete", replayed.where, live.where)
    dbt = Dbt(new_home, bigquery=replayed) if replayed is not None else Dbt(new_home)
    for i, rec in enumerate(succeeded, 1):
        batch = PendingBatch(
            rec["batch_id"],
            rec.get("mode") or "snapshot",
            rec.get("source_path") or "",
            bool(rec.get("accept_key_changes")),
            bool(rec.get("accept_deletes")),
        )
        log.info("rebuild: replaying batch %d/%d: %s", i, len(succeeded), rec["batch_id"])
        try:
            t = transform_batch(new_home, dbt, run_id, batch, options=options or TransformOptions())
        except BatchRefused as exc:
            result.refused += 1
            result.refusals.append(exc)
            log.warning("rebuild: batch %s refused again: %s", rec["batch_id"], exc)
            continue
        result.transforms.append(t)
        result.replayed += 1
        faults.checkpoint(f"rebuild_replayed:{i}")
    faults.checkpoint("rebuild_before_swap")
    if replayed is not None and live is not None:
        from netflix_elt.warehouse.bigquery import drop_dataset, swap_in_dataset

        # From here until the local swap the dataset and the local warehouse may disagree: the
        # mark makes the next run replay again (see bigquery_replay_pending).
        _mark_replay(home, run_id, live.where)
        swap_in_dataset(replayed, live)
        _views_in(home, live, succeeded[-1]["batch_id"] if succeeded else None)
        faults.checkpoint("rebuild_bigquery_swapped")
    result.backup = _swap_in(home, new_home.warehouse)
    shutil.rmtree(work, ignore_errors=True)
    if replayed is not None:
        drop_dataset(replayed)
        _replay_mark(home).unlink(missing_ok=True)
    result.seconds = time.monotonic() - started
    log.info(
        "rebuild: %d batch(es) replayed, %d refused, in %.1fs; the previous warehouse is %s",
        result.replayed,
        result.refused,
        result.seconds,
        result.backup.name if result.backup else "none (it was missing)",
    )
    return result


def _views_in(home: Home, live: BigQueryTarget, batch_id: str | None) -> None:
    """The project's views, created again by dbt in the live dataset over the tables swapped in
    (a view names its dataset, so it cannot be copied)."""
    from netflix_elt.transform.dbt import Dbt

    outcome = Dbt(home, bigquery=live).run(["config.materialized:view"], {"batch_id": batch_id} if batch_id else None)
    if not outcome.success or outcome.failed:
        shown = "; ".join(outcome.failures[:3]) or "see logs/dbt/dbt.log"
        raise PipelineError(
            f"rebuild: the views could not be created in {live.where} ({shown}); run `netflix-elt rebuild` again"
        )


def _replay_mark(home: Home) -> Path:
    return home.root / REPLAY_MARK


def _mark_replay(home: Home, run_id: str, where: str) -> None:
    write_json_atomic(_replay_mark(home), {"run_id": run_id, "dataset": where})


def bigquery_replay_pending(home: Home) -> bool:
    """A replay onto BigQuery stopped while it swapped the replayed tables into the live dataset:
    the dataset may hold part of the new state; the next run replays again."""
    return _replay_mark(home).is_file()


def _swap_in(home: Home, new: Path) -> Path | None:
    """Replace the warehouse with `new` in one atomic rename, keeping the old file (and a WAL it
    may have) as `<name>.before-rebuild`."""
    live = home.warehouse
    backup = live.with_name(live.name + BACKUP_SUFFIX)
    with new.open("rb") as fh:
        os.fsync(fh.fileno())
    had_old = live.exists()
    if had_old:
        for stale in (backup, backup.with_name(backup.name + ".wal")):
            stale.unlink(missing_ok=True)
        os.link(live, backup)
        wal = live.with_name(live.name + ".wal")
        if wal.exists():  # it belongs to the old file: never let DuckDB replay it into the new one
            wal.replace(backup.with_name(backup.name + ".wal"))
    new.replace(live)
    dir_fd = os.open(live.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return backup if had_old else None
