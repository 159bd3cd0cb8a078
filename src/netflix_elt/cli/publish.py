"""Publishing the warehouse: `lookml` (the Looker project), `export` (Parquet and CSV files, and
BigQuery) and `dashboard` (the offline HTML page)."""

from __future__ import annotations

from pathlib import Path

import click

from netflix_elt.cli.app import EXIT_FAIL, EXIT_OK, Ctx, echo, guard, need_warehouse, writing
from netflix_elt.cli.options import lock_opt


@click.command()
@click.option("--connection", default="bigquery_connection", show_default=True, help="Looker connection name.")
@click.option(
    "--dataset",
    help="Dataset (schema) the views read from (default: the home's BigQuery dataset, else netflix_elt).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Only check the existing lookml/ folder: run every field, dashboard element and test: block (read-only).",
)
@click.option(
    "--against",
    type=click.Choice(["duckdb", "bigquery"]),
    help="The engine the check runs the SQL on: the home's DuckDB warehouse or a BigQuery dataset "
    "(default: where the home's models are).",
)
@click.option(
    "--bigquery",
    "bq_target",
    metavar="PROJECT.DATASET",
    help="With --against bigquery: the dataset (default $NETFLIX_ELT_BQ_PROJECT.$NETFLIX_ELT_BQ_DATASET).",
)
@click.option("--endpoint", help="BigQuery API endpoint (an emulator, say; default $NETFLIX_ELT_BQ_API_ENDPOINT).")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Service-account JSON file (else GOOGLE_APPLICATION_CREDENTIALS or application-default credentials).",
)
@click.pass_obj
@guard
def lookml(
    state: Ctx,
    connection: str,
    dataset: str | None,
    check: bool,
    against: str | None,
    bq_target: str | None,
    endpoint: str | None,
    credentials: Path | None,
) -> int:
    """Generate LookML (model, views, dashboard) from the dbt docs and contracts into lookml/, then
    check it by running its SQL where the models are; --check only checks."""
    import os

    from netflix_elt.bi.lookml import FiguresReader, LookmlOptions, generate_lookml
    from netflix_elt.bi.lookml_run import check_lookml
    from netflix_elt.core.lock import shared_lock
    from netflix_elt.warehouse.target import home_target

    if not connection.strip():
        raise click.BadParameter("give a Looker connection name", param_hint="--connection")
    home_bq = home_target(state.home)  # a home whose models are in BigQuery: its dataset, by default
    figures: FiguresReader | None = None
    if home_bq is not None:
        from netflix_elt.ops.publish import bigquery_figures

        dataset = dataset or home_bq.dataset
        against = against or "bigquery"
        if against == "bigquery" and not bq_target:
            bq_target, endpoint = f"{home_bq.project}.{home_bq.dataset}", endpoint or home_bq.api_endpoint
        figures = bigquery_figures(home_bq)
    dataset, against = dataset or "netflix_elt", against or "duckdb"
    if against == "bigquery":
        if not bq_target:
            project = os.environ.get("NETFLIX_ELT_BQ_PROJECT", "").strip()
            if not project:
                raise click.UsageError(
                    "--against bigquery needs --bigquery PROJECT.DATASET (or NETFLIX_ELT_BQ_PROJECT and "
                    "NETFLIX_ELT_BQ_DATASET)"
                )
            bq_target = f"{project}.{os.environ.get('NETFLIX_ELT_BQ_DATASET', '').strip() or 'netflix_elt'}"
        endpoint = endpoint or os.environ.get("NETFLIX_ELT_BQ_API_ENDPOINT") or None
        from netflix_elt.bi.bigquery import parse_target

        parse_target(bq_target)  # before any work
    elif bq_target or endpoint or credentials:
        raise click.UsageError("--bigquery, --endpoint and --credentials go with --check --against bigquery")
    need_warehouse(state)
    if not check:  # --check only reads: it logs to the console alone
        writing(state, create=True)
    folder = state.home.root / "lookml"
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        if not check:
            options = LookmlOptions(connection=connection, dataset=dataset)
            for path in generate_lookml(state.home, folder, options, figures=figures):
                echo(f"wrote    {path.relative_to(state.home.root)}")
        result = check_lookml(
            state.home, folder, against=against, target=bq_target, endpoint=endpoint, credentials=credentials
        )
    for p in result.problems:
        echo(f"error: {p}", err=True)
    if not state.quiet:
        echo(
            f"checked  {result.fields} fields of {result.explores} explores, {result.elements} dashboard elements, "
            f"{result.tests_passed}/{result.tests} tests passed ({result.queries} queries, {result.mode}, "
            f"{result.seconds:.2f}s)"
        )
        echo(f"lookml: {len(result.problems)} problem(s) against {result.where or state.home.warehouse.name}")
    return EXIT_FAIL if result.problems else EXIT_OK


@click.command()
@click.option("--bigquery", "bq_target", metavar="PROJECT.DATASET", help="Also load the exports into BigQuery.")
@click.option("--endpoint", help="BigQuery API endpoint (an emulator, for instance).")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Service-account JSON file (else GOOGLE_APPLICATION_CREDENTIALS or application-default credentials).",
)
@click.pass_obj
@guard
def export(state: Ctx, bq_target: str | None, endpoint: str | None, credentials: Path | None) -> int:
    """Write each KPI table (Parquet, CSV) and the current catalog (Parquet) to exports/, with
    manifest.json; with --bigquery, also history and the bridges (Parquet), then load every table
    the generated LookML reads into PROJECT.DATASET. In a home whose models live in BigQuery the
    tables are read from its dataset."""
    from netflix_elt.bi.exports import EXPORT_TABLES, export_tables, exports_dir, with_tables
    from netflix_elt.core.lock import shared_lock
    from netflix_elt.warehouse.target import home_target

    if (endpoint or credentials) and not bq_target:
        raise click.UsageError("--endpoint and --credentials go with --bigquery PROJECT.DATASET")
    if bq_target:
        from netflix_elt.bi.bigquery import parse_target

        parse_target(bq_target)  # before any work
    need_warehouse(state)
    writing(state, create=True)
    tables = EXPORT_TABLES
    if bq_target:
        from netflix_elt.bi.bigquery import BIGQUERY_TABLES

        tables = with_tables(EXPORT_TABLES, BIGQUERY_TABLES)
    home_bq = home_target(state.home)  # a home whose models are in BigQuery: exported from there
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        if home_bq is None:
            manifest = export_tables(state.home, tables=tables)
        else:
            from netflix_elt.ops.publish import bigquery_copy

            with bigquery_copy(state.home, home_bq, tables) as copy:
                manifest = export_tables(copy, exports_dir(state.home), tables=tables)
    for t in manifest["tables"]:
        files = ", ".join(f"exports/{f}" for f in t["files"].values())
        echo(f"exported {t['table']}: {t['rows']:,} rows -> {files}")
    if bq_target:
        from netflix_elt.bi.bigquery import load_exports

        loads = load_exports(
            exports_dir(state.home), bq_target, endpoint=endpoint, credentials=credentials, tables=BIGQUERY_TABLES
        )
        for loaded in loads:
            echo(f"bigquery {bq_target}.{loaded.table}: {loaded.rows_verified:,} rows verified")
    return EXIT_OK


@click.command()
@click.pass_obj
@guard
def dashboard(state: Ctx) -> int:
    """Write the offline HTML dashboard to reports/dashboard.html."""
    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.core.lock import shared_lock
    from netflix_elt.warehouse.target import home_target

    need_warehouse(state)
    bq = home_target(state.home)  # a home whose models are in BigQuery: the figures come from there
    writing(state, create=True)
    with shared_lock(state.home):  # waits for a run that is writing the warehouse
        if bq is not None:
            from netflix_elt.ops.publish import bigquery_dashboard

            path = bigquery_dashboard(state.home, bq)
        else:
            path = build_dashboard(state.home)
    echo(f"wrote    {path.relative_to(state.home.root)} (open it in any browser; it needs no server)")
    return EXIT_OK


@click.command()
@lock_opt
@click.pass_obj
@guard
def docs(state: Ctx, lock_timeout: float) -> int:
    """Write dbt's documentation site (models, columns, tests, lineage, exposures) as one offline
    file, reports/dbt-docs.html."""
    from netflix_elt.core.lock import run_lock
    from netflix_elt.transform.docs import build_docs

    need_warehouse(state)
    writing(state, create=True)
    with run_lock(state.home, state.run_id, lock_timeout):  # dbt opens the warehouse to read its catalog
        path = build_docs(state.home)
    echo(f"wrote    {path.relative_to(state.home.root)} (open it in any browser; it needs no server)")
    return EXIT_OK
