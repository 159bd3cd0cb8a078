"""Publishing a run's BI outputs: exports/, lookml/ and reports/dashboard.html."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netflix_elt.core import timing
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import connect
from netflix_elt.warehouse.ledger import latest_transform

if TYPE_CHECKING:
    from netflix_elt.bi.lookml import Figures
    from netflix_elt.warehouse.target import BigQueryTarget

log = logging.getLogger(__name__)


def publish(home: Home) -> list[Path]:
    """The BI outputs of a run: exports/, lookml/ and reports/dashboard.html, from the local
    warehouse or, when the models live in BigQuery, from the dataset (`bigquery_copy`). Exports
    and LookML are rewritten only when they do not already reflect the latest transformed batch;
    the dashboard (which shows checks, runs and freshness) always is. Nothing to publish before
    the first batch is transformed."""
    from netflix_elt.bi.exports import EXPORT_TABLES, with_tables
    from netflix_elt.transform.registry import exposure_models
    from netflix_elt.warehouse.target import home_target

    transform = _latest_transform(home)
    if transform is None:
        return []
    bq = home_target(home)
    if bq is None:
        return _publish(home, home, transform, None)
    tables = with_tables(EXPORT_TABLES, exposure_models("offline_dashboard"))
    with bigquery_copy(home, bq, tables) as copy:
        return _publish(home, copy, transform, bq)


def _publish(home: Home, source: Home, transform: dict[str, Any], bq: BigQueryTarget | None) -> list[Path]:
    """Publish `home`'s outputs from the models in `source` (the home itself, or a copy of the
    tables fetched from BigQuery `bq`)."""
    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.bi.exports import MANIFEST, export_tables, exports_dir
    from netflix_elt.bi.lookml import MODEL_NAME, LookmlOptions, generate_lookml

    latest = (transform["batch_id"], transform["run_id"])
    manifest = exports_dir(home) / MANIFEST
    lookml_dir = home.root / "lookml"
    try:
        published = json.loads(manifest.read_text(encoding="utf-8"))
        published_key = (published.get("batch_id"), published.get("transform_run_id"))
    except (OSError, ValueError, AttributeError):
        published_key = None
    # Keyed on the transform, not the batch: a replay (a late drop, rebuild) rewrites the tables
    # while the latest batch stays the same.
    if published_key != latest or not (lookml_dir / f"{MODEL_NAME}.model.lkml").is_file():
        # LookML first: the manifest, written last of all, then marks both as done, so a run
        # stopped half-way through either redoes both.
        with timing.phase("publish.lookml"):
            if bq is None:
                generate_lookml(home, lookml_dir)
            else:  # for the dataset, its test blocks' figures counted there
                generate_lookml(home, lookml_dir, LookmlOptions(dataset=bq.dataset), figures=bigquery_figures(bq))
        with timing.phase("publish.exports"):
            export_tables(source, exports_dir(home))
    else:
        log.info("publish: exports/ and lookml/ already reflect batch %s", latest[0])
    with timing.phase("publish.dashboard"):
        dashboard = build_dashboard(source, out=home.root / "reports" / "dashboard.html")
    where = f" from BigQuery {bq.where}" if bq is not None else ""
    log.info("published exports/, lookml/ and %s%s", dashboard.relative_to(home.root), where)
    return [exports_dir(home), lookml_dir, dashboard]


def _latest_transform(home: Home) -> dict[str, Any] | None:
    """The latest transform (None, logged: nothing to publish before the first batch)."""
    con = connect(home)
    try:
        transform = latest_transform(con)
    finally:
        con.close()
    if transform is None:
        log.info("publish: nothing transformed yet")
    return transform


def bigquery_figures(bq: BigQueryTarget) -> Callable[[Home], Figures | None]:
    """The LookML test blocks' figures, counted in the BigQuery dataset (`generate_lookml`'s
    `figures`)."""
    from netflix_elt.bi.lookml import read_figures
    from netflix_elt.warehouse.engine import BigQueryReader

    def figures(_: Home) -> Figures | None:
        reader = BigQueryReader(bq)  # names the dataset's tables as the transform's reads do
        try:
            return read_figures(reader.rows, reader.table)
        finally:
            reader.close()

    return figures


def bigquery_dashboard(home: Home, bq: BigQueryTarget) -> Path:
    """`reports/dashboard.html` of a home whose models live in BigQuery, from the tables the
    `offline_dashboard` exposure lists (`bigquery_copy`)."""
    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.transform.registry import exposure_models

    with bigquery_copy(home, bq, exposure_models("offline_dashboard")) as copy:
        return build_dashboard(copy, out=home.root / "reports" / "dashboard.html")


@contextmanager
def bigquery_copy(home: Home, bq: BigQueryTarget, tables: tuple[str, ...]) -> Iterator[Home]:
    """`home` with a scratch warehouse holding `tables` fetched from the dataset (`to_arrow()`)
    beside a copy of the local ledger, runs and checks: what the same export and dashboard code
    reads. The scratch file is removed afterwards."""
    import duckdb

    from netflix_elt.warehouse.bigquery import BigQuerySession
    from netflix_elt.warehouse.ledger import RAW_TABLE

    scratch = home.tmp_dir / "models_from_bigquery.duckdb"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        out = duckdb.connect(str(scratch))
        try:
            out.execute("attach ? as local (read_only)", [str(home.warehouse)])
            local_tables = [
                t
                for (t,) in out.execute(
                    "select table_name from information_schema.tables where table_catalog = 'local' "
                    "and table_schema = 'main'"
                ).fetchall()
            ]
            for table in local_tables:
                if table != RAW_TABLE:  # the ledger, the runs and the checks; not the raw rows
                    out.execute(f'create table "{table}" as select * from local.main."{table}"')
            out.execute("detach local")
            with timing.phase("publish.fetch_from_bigquery"), BigQuerySession(bq) as session:
                for model in tables:
                    arrow = session.to_arrow(model)  # noqa: F841  (read by DuckDB's replacement scan)
                    out.execute(f'create or replace table "{model}" as select * from arrow')
        finally:
            out.close()
        yield home.with_warehouse(scratch)
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
