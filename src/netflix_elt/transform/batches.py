"""The transformation step: each newly loaded batch, in as-of order, through the dbt project.

Per batch, one `dbt build`: staging and its tests, among them the key-remap and mass-deletion
guards against the current table; then, only if they pass, the change set, the current table, its
SCD2 snapshot, the bridges and the KPI tables (and their tests). Batches are applied in as-of order
(then sequence), never by the wall clock; a pending batch whose as-of lies before one already
applied is *late*, and the caller replays the raw layer instead (see rebuild). The CDC counts
come from what the batch applied, and are recorded in `etl_transforms` keyed by run and batch.
"""

from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from netflix_elt.core import faults, timing
from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.core.home import Home
from netflix_elt.core.text import one_line
from netflix_elt.transform.dbt import Dbt, DbtNodeResult, DbtOutcome
from netflix_elt.transform.registry import BATCH, CHANGES, CURRENT, GUARDS, RETITLED_KEYS, STAGING
from netflix_elt.warehouse import ledger
from netflix_elt.warehouse.connection import MEMORY_LIMIT_ENV, connect, resource_settings
from netflix_elt.warehouse.engine import reader_for
from netflix_elt.warehouse.ledger import LEDGER_TABLE, TRANSFORMS_TABLE

log = logging.getLogger(__name__)

# One `dbt build` per batch: staging and its tests, the guards' figures and the guards (tests on
# them), then, only if they pass, the change set and everything downstream of it.
SELECT = [BATCH, STAGING, RETITLED_KEYS, GUARDS, f"{CHANGES}+"]
GUARD_TEST = "assert_keys_not_renumbered"
DELETE_GUARD_TEST = "assert_deletes_within_threshold"


DEFAULT_KEY_CHANGE_THRESHOLD = 0.20  # as var('key_change_threshold') in dbt_project.yml
DEFAULT_MAX_DELETE_RATIO = 0.10  # as var('max_delete_ratio')


class BatchRefused(InputError):
    """A guard refused the batch before it touched current or history. Final for that batch."""

    def __init__(self, message: str, batch_id: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.source = source  # the drop's path, as ingested
        self.result: TransformResult | None = None  # the refused transform, as recorded


class KeyRemapRefused(BatchRefused):
    """The drop renumbered its keys: too many matched show_ids changed title."""


class DeletesRefused(BatchRefused):
    """The snapshot drop would delete too many active titles, or lists too few (truncated?)."""


class TransformFailed(PipelineError):
    """A dbt model or an error-level test failed."""


@dataclass(frozen=True)
class TransformOptions:
    key_change_threshold: float = DEFAULT_KEY_CHANGE_THRESHOLD
    max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO


@dataclass(frozen=True)
class PendingBatch:
    batch_id: str
    mode: str
    source: str
    accept_key_changes: bool = False
    accept_deletes: bool = False
    late: bool = False


@dataclass
class CdcCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    revived: int = 0
    staged: int = 0
    duplicates_dropped: int = 0

    def line(self) -> str:
        return (
            f"{self.inserted:,} inserted, {self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.deleted:,} deleted, {self.revived:,} revived"
        )


@dataclass
class TransformResult:
    batch_id: str
    mode: str
    status: str = "running"
    counts: CdcCounts = field(default_factory=CdcCounts)
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    key_change_share: float | None = None
    delete_share: float | None = None
    dbt_results: list[DbtNodeResult] = field(default_factory=list)


@dataclass(frozen=True)
class GuardFigures:
    """What the drop guards measured for the staged batch (dbt's int_netflix_batch_guards)."""

    active: int = 0  # titles not deleted in the current table before the batch
    listed: int = 0  # keys the batch lists
    deleted: int = 0  # active titles the batch does not list
    matched: int = 0  # keys in both
    retitled: int = 0  # matched keys whose title changed
    examples: tuple[tuple[str, str, str], ...] = ()  # (show_id, previous title, title), the first 3

    @property
    def key_change_share(self) -> float | None:
        return self.retitled / self.matched if self.matched else None

    @property
    def delete_share(self) -> float:
        return self.deleted / self.active if self.active else 0.0


def pending_batches(con: duckdb.DuckDBPyConnection) -> list[PendingBatch]:
    """Succeeded batches not yet transformed, in as-of order (then sequence: never the wall clock).
    A batch a guard refused is final (re-ingest the file with --force and --accept-key-changes or
    --accept-deletes to apply it). `late` marks a batch whose as-of lies before that of a batch
    already applied: history can take it at its place only by replaying the raw layer (`rebuild`)."""
    return [
        PendingBatch(b, m, src, bool(ak), bool(ad), bool(late))
        for b, m, src, ak, ad, late in ledger.pending_batch_rows(con)
    ]


def transform_pending(
    home: Home,
    run_id: str,
    options: TransformOptions | None = None,
    dbt: Dbt | None = None,
    pending: list[PendingBatch] | None = None,
    into: list[TransformResult] | None = None,
) -> list[BatchRefused]:
    """Transform every pending batch in order (`pending` when the caller has read them already),
    appending each result to `into` as it is decided, so a caller keeps what was applied when a
    later batch fails. A refused batch is final and does not stop the others (each snapshot is
    judged against the state the batches before it left); the refusals are returned. A batch that
    fails (dbt, the machine) stops the loop: it and the ones after it stay pending."""
    options = options or TransformOptions()
    into = [] if into is None else into
    if pending is None:
        con = connect(home)
        try:
            pending = pending_batches(con)
        finally:
            con.close()
    if not pending:
        log.debug("transform: no pending batch")
        return []
    dbt = dbt or Dbt.for_home(home)
    refusals: list[BatchRefused] = []
    for p in pending:
        try:
            into.append(transform_batch(home, dbt, run_id, p, options))
        except BatchRefused as exc:
            if exc.result is not None:
                into.append(exc.result)
            refusals.append(exc)
    return refusals


def transform_batch(
    home: Home, dbt: Dbt, run_id: str, batch: PendingBatch, options: TransformOptions | None = None
) -> TransformResult:
    options = options or TransformOptions()
    batch_id = batch.batch_id
    started = time.monotonic()
    result = TransformResult(batch_id=batch_id, mode=batch.mode)
    _record(home, run_id, result, insert=True)
    variables: dict[str, Any] = {"batch_id": batch_id}
    if options.key_change_threshold != DEFAULT_KEY_CHANGE_THRESHOLD:
        variables["key_change_threshold"] = options.key_change_threshold
    if options.max_delete_ratio != DEFAULT_MAX_DELETE_RATIO:
        variables["max_delete_ratio"] = options.max_delete_ratio
    if batch.accept_key_changes:
        variables["accept_key_changes"] = True
    if batch.accept_deletes:
        variables["accept_deletes"] = True
    name = one_line(batch.source or batch_id)
    again = f"netflix-elt --home {shlex.quote(str(home.root))} run --force {{flag}} --source {shlex.quote(name)}"
    try:
        log.info("transform: batch %s (%s drop)", batch_id, batch.mode)
        faults.checkpoint("transform_started")
        if dbt.bigquery is not None:
            with timing.phase("transform.bigquery_load"):
                _load_into_bigquery(home, dbt, batch_id)
            faults.checkpoint("after_bigquery_load")
        with timing.phase("transform.dbt_build"):
            outcome = dbt.build(SELECT, variables)
        faults.checkpoint("after_dbt_build")
        refused_by = {r.name for r in outcome.results if r.status == "fail"} & {GUARD_TEST, DELETE_GUARD_TEST}
        with timing.phase("transform.guard_figures"):
            figures = (
                guard_figures(home, dbt, examples=GUARD_TEST in refused_by) if outcome.success or refused_by else None
            )
        if figures is not None:
            result.key_change_share = figures.key_change_share
        if GUARD_TEST in refused_by and figures is not None:
            # dbt stopped before the change set: staging holds the batch, current is untouched.
            share = figures.key_change_share or 0.0
            examples = "; ".join(f"{sid}: {old!r} -> {new!r}" for sid, old, new in figures.examples)
            raise KeyRemapRefused(
                f"{name}: batch {batch_id} refused: {figures.retitled:,} of {figures.matched:,} matched show_ids "
                f"({share:.0%}) changed title, more than the {options.key_change_threshold:.0%} allowed: "
                f"the drop looks renumbered (e.g. {examples}); current and history were left as they were "
                "and the batch will not be retried. "
                f"To apply it anyway: {again.format(flag='--accept-key-changes')}",
                batch_id,
                batch.source,
            )
        if DELETE_GUARD_TEST in refused_by and figures is not None:
            result.key_change_share = None
            result.delete_share = figures.delete_share
            raise DeletesRefused(
                f"{name}: batch {batch_id} refused: it would delete {figures.deleted:,} of {figures.active:,} "
                f"active titles ({figures.delete_share:.0%}) and lists {figures.listed:,}, more than the "
                f"{options.max_delete_ratio:.0%} allowed (--max-delete-ratio): a truncated or partial drop? "
                "Current and history were left as they were and the batch will not be retried. "
                f"If the deletions are real: {again.format(flag='--accept-deletes')}",
                batch_id,
                batch.source,
            )
        _require(outcome, result, "build")
        with timing.phase("transform.cdc_counts"):
            result.counts = _cdc_counts(home, dbt, batch_id)
        if result.key_change_share is not None and result.key_change_share > options.key_change_threshold:
            result.warnings.append(
                f"key-remap guard overridden: {result.key_change_share:.0%} of matched keys changed title"
            )
            log.warning("batch %s: key-remap guard overridden by --accept-key-changes", batch_id)
        if batch.accept_deletes and result.counts.deleted:
            log.warning(
                "batch %s: %s deletion(s) applied with --accept-deletes", batch_id, f"{result.counts.deleted:,}"
            )
        result.status = "succeeded"
    except BatchRefused as exc:
        result.status, result.message = "refused", str(exc)
        exc.result = result
        log.error("%s", exc, extra={"console": False})  # the CLI prints it once, at the end of the run
        raise
    except BaseException as exc:
        result.status, result.message = "failed", str(exc) or type(exc).__name__
        raise
    finally:
        result.seconds = time.monotonic() - started
        _record(home, run_id, result)
    log.info("transform: batch %s: %s (%.1fs)", batch_id, result.counts.line(), result.seconds)
    return result


def _load_into_bigquery(home: Home, dbt: Dbt, batch_id: str) -> None:
    """The batch's raw rows and the ledger, from the local warehouse (the source of truth) into the
    dataset dbt's sources point at: idempotent by batch (see warehouse.bigquery.load_sources)."""
    from netflix_elt.warehouse.bigquery import load_sources

    assert dbt.bigquery is not None
    con = connect(home)
    try:
        load_sources(dbt.bigquery, con, batch_id, home.tmp_dir)
    finally:
        con.close()


def _require(outcome: DbtOutcome, result: TransformResult, stage: str) -> None:
    result.tests_passed += outcome.passed
    result.tests_warned += outcome.warned
    result.tests_failed += outcome.failed
    result.warnings.extend(outcome.warnings)
    result.dbt_results.extend(outcome.results)
    if not outcome.success or outcome.failed:
        shown = "; ".join(outcome.failures[:5]) or "see logs/dbt/dbt.log"
        hint = "fix the cause"
        if "Out of Memory" in " ".join(outcome.failures):
            limit = resource_settings()["memory_limit"]
            hint = f"DuckDB ran out of its memory limit ({limit}): raise {MEMORY_LIMIT_ENV}"
        raise TransformFailed(
            f"batch {result.batch_id}: dbt {stage} failed ({shown}); the batch stays pending: {hint} "
            "and run again (logs/dbt/dbt.log has the details)"
        )


def guard_figures(home: Home, dbt: Dbt, *, examples: bool = False) -> GuardFigures:
    """The figures the build's guards judged (dbt's int_netflix_batch_guards), and with `examples`
    the first three retitled keys: read back, never recomputed, from where `dbt` builds."""
    reader = reader_for(home, dbt.bigquery)
    try:
        if not reader.exists(GUARDS):
            return GuardFigures()
        rows = reader.rows(
            f"select active_titles, listed_titles, deleted_titles, matched_keys, retitled_keys from {{{GUARDS}}}"
        )
        first = f"select show_id, previous_title, title from {{{RETITLED_KEYS}}} order by show_id limit 3"
        shown = reader.rows(first) if examples else []
    finally:
        reader.close()
    if not rows:
        return GuardFigures()
    active, listed, deleted, matched, retitled = (int(x or 0) for x in rows[0])
    return GuardFigures(
        active, listed, deleted, matched, retitled, tuple((str(a), str(b), str(c)) for a, b, c in shown)
    )


# What a batch changed, for its first successful transform: the current table's rows it changed
# last. The change set would not do: a build stopped after it updated the current table and run
# again finds nothing left to change.
_APPLIED_BY_TYPE = f"select last_change_type, count(*) from {{{CURRENT}}} where last_changed_batch_id = ? group by 1"
# What this build changed: for a batch transformed again after it succeeded (nothing, normally).
_CHANGES_BY_TYPE = f"select change_type, count(*) from {{{CHANGES}}} group by 1"
_STAGED = f"select sum(case when show_id is not null then 1 else 0 end), count(*) from {{{STAGING}}}"


def _cdc_counts(home: Home, dbt: Dbt, batch_id: str) -> CdcCounts:
    """The batch's CDC counts, read from what `dbt` built (wherever it builds; the ledger is
    local). For the batch's first successful transform, what the batch applied (also when an
    interrupted build of it had applied part); for a batch transformed again, what this build
    changed."""
    con = connect(home)
    try:
        again = _scalar(
            con, f"select count(*) from {TRANSFORMS_TABLE} where batch_id = ? and status = 'succeeded'", [batch_id]
        )
        loaded = _scalar(
            con, f"select coalesce(max(rows_loaded), 0) from {LEDGER_TABLE} where batch_id = ?", [batch_id]
        )
        reader = reader_for(home, dbt.bigquery, con)
        try:
            by_type_sql, params = (_CHANGES_BY_TYPE, []) if again else (_APPLIED_BY_TYPE, [batch_id])
            by_type = {str(k): int(v) for k, v in reader.rows(by_type_sql, params)}
            staged_row = reader.rows(_STAGED)
        finally:
            reader.close()
    finally:
        con.close()
    staged = int(staged_row[0][0] or 0) if staged_row else 0
    total = int(staged_row[0][1] or 0) if staged_row else 0
    dropped = loaded - total
    c = CdcCounts(
        inserted=by_type.get("insert", 0),
        updated=by_type.get("update", 0),
        deleted=by_type.get("delete", 0),
        revived=by_type.get("revive", 0),
        staged=staged,
        duplicates_dropped=dropped,
    )
    c.unchanged = staged - c.inserted - c.updated - c.revived
    return c


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _record(home: Home, run_id: str, r: TransformResult, insert: bool = False) -> None:
    con = connect(home)
    try:
        if insert:
            ledger.insert_transform(con, run_id, r.batch_id, r.mode)
            return
        c = r.counts
        ledger.finish_transform(
            con,
            run_id,
            r.batch_id,
            {
                "status": r.status,
                "staged_rows": c.staged,
                "duplicates_dropped": c.duplicates_dropped,
                "inserted": c.inserted,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "deleted": c.deleted,
                "revived": c.revived,
                "tests_passed": r.tests_passed,
                "tests_warned": r.tests_warned,
                "tests_failed": r.tests_failed,
                "message": r.message or None,
                "key_change_share": r.key_change_share,
                "delete_share": r.delete_share,
            },
        )
    finally:
        con.close()
