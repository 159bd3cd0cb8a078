"""The packaged dbt project on BigQuery (dbt-bigquery, the profile's `bigquery` target) against a
real BigQuery API emulator (tests/bq_emulator.py): two batches through staging, the change set,
the incremental current table (MERGE on BigQuery), the snapshot, the bridges and the KPI views
give the same rows as the DuckDB pipeline on the same batches."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dbt.adapters.bigquery  # noqa: F401  (dbt-bigquery: the profile's `bigquery` target needs it)
import duckdb
import pytest

from bq_compare import COMPARED, bq_query, duck_rows, second_drop
from bq_compare import client as _client
from bq_compare import sorted_rows as _sorted
from netflix_elt.bi.bigquery import load_exports
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.transform import registry
from netflix_elt.transform.batches import SELECT
from netflix_elt.transform.dbt import Dbt

from conftest import CANONICAL

MODEL_DATASET = "netflix_dbt"
BQ_TOKEN = "emulator-takes-any-token-5f3c9a"  # a secret: must never reach a log
# The tables netflix-elt writes that the project reads as sources (the raw table, the ledger).
SOURCES = tuple(table for source, table in registry.project().sources if source == "netflix")


@pytest.fixture(scope="module")
def duck_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The DuckDB pipeline over two snapshot drops: the reference."""
    root = tmp_path_factory.mktemp("duck")
    home = Home(root / "home")
    run_pipeline(home, sources=[CANONICAL, second_drop(root / "netflix_titles_next.csv")])
    return home


def _bq_dbt(endpoint: tuple[str, str], root: Path) -> Dbt:
    url, project = endpoint
    return Dbt(
        Home(root).ensure(),  # dbt's target/ and logs/ only: the warehouse is BigQuery
        target="bigquery",
        extra_env={
            "NETFLIX_ELT_BQ_PROJECT": project,
            "NETFLIX_ELT_BQ_DATASET": MODEL_DATASET,
            "NETFLIX_ELT_BQ_METHOD": "oauth-secrets",
            "NETFLIX_ELT_BQ_TOKEN": BQ_TOKEN,
            "NETFLIX_ELT_BQ_API_ENDPOINT": url,
        },
    )


def export_sources(home: Home, out: Path) -> Path:
    """raw_netflix_titles and etl_batches as Parquet + manifest.json, as netflix_elt.bi.exports does."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home.warehouse), read_only=True)
    entries = []
    try:
        for table in SOURCES:
            cols = con.execute(
                "select column_name, data_type from information_schema.columns where table_name = ? "
                "order by ordinal_position",
                [table],
            ).fetchall()
            path = out / f"{table}.parquet"
            con.execute(f"copy {table} to '{path}' (format parquet)")
            entries.append(
                {
                    "table": table,
                    "rows": con.execute(f"select count(*) from {table}").fetchone()[0],
                    "columns": [{"name": n, "type": t} for n, t in cols],
                    "files": {"parquet": path.name},
                    "sha256": {"parquet": hashlib.sha256(path.read_bytes()).hexdigest()},
                }
            )
    finally:
        con.close()
    (out / "manifest.json").write_text(json.dumps({"tables": entries}), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def bq_dbt(bq_endpoint, duck_home, tmp_path_factory) -> Dbt:
    """dbt bound to the emulator, with the sources loaded where the project's sources point."""
    root = tmp_path_factory.mktemp("bqdbt")
    dbt = _bq_dbt(bq_endpoint, root / "home")
    dbt.parse()
    sources = {n.name: n for n in dbt._manifest.sources.values()}
    locations = {(sources[t].database, sources[t].schema) for t in SOURCES}
    assert len(locations) == 1, locations
    ((database, schema),) = locations
    client = _client(bq_endpoint)
    try:
        client.create_dataset(f"{database}.{schema}", exists_ok=True)
    finally:
        client.close()
    loaded = load_exports(export_sources(duck_home, root / "sources"), f"{database}.{schema}", endpoint=bq_endpoint[0])
    assert [t.table for t in loaded] == list(SOURCES)
    return dbt


# -- comparing ------------------------------------------------------------------------------------


def _changes(endpoint: tuple[str, str]) -> dict[str, int]:
    _, project = endpoint
    sql = f"select change_type, count(*) from `{project}.{MODEL_DATASET}.int_netflix_changes` group by change_type"
    return dict(bq_query(endpoint, sql))


def _duck_transforms(home: Home) -> list[tuple[str, dict[str, int]]]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select t.batch_id, t.inserted, t.updated, t.deleted, t.revived from etl_transforms t "
            "join etl_batches b using (batch_id) where t.status = 'succeeded' order by b.started_at"
        ).fetchall()
    finally:
        con.close()
    names = ("insert", "update", "delete", "revive")
    return [(r[0], {n: c for n, c in zip(names, r[1:], strict=True) if c}) for r in rows]


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dbt_build_on_bigquery_gives_the_duckdb_rows(bq_endpoint, bq_dbt, duck_home):
    batches = _duck_transforms(duck_home)
    assert [c for _, c in batches] == [{"insert": 8807}, {"insert": 3, "update": 5, "delete": 50}]
    for batch_id, expected_changes in batches:
        variables = {"batch_id": batch_id}
        outcome = bq_dbt.build(SELECT, variables)  # as netflix_elt.transform.batches runs it
        assert outcome.success, outcome.failures
        assert outcome.failed == 0 and outcome.warned == 0, outcome.failures + outcome.warnings
        assert _changes(bq_endpoint) == expected_changes, batch_id

    _, project = bq_endpoint
    for table in COMPARED:
        cols, expected = duck_rows(duck_home, table)
        got = _sorted(bq_query(bq_endpoint, f"select {', '.join(cols)} from `{project}.{MODEL_DATASET}.{table}`"))
        assert len(got) == len(expected), table
        assert got == expected, table

    # The headline numbers of the README, on BigQuery.
    kpi = dict(bq_query(bq_endpoint, f"select type, total_titles from `{project}.{MODEL_DATASET}.kpi_movies_vs_tv`"))
    assert sum(kpi.values()) == 8807 - 50 + 3

    # The token was read from the environment and never written anywhere under the home.
    written = [f for f in bq_dbt.home.root.rglob("*") if f.is_file()]
    assert any(f.name == "dbt.log" for f in written)
    assert not [f for f in written if BQ_TOKEN.encode() in f.read_bytes()]


@pytest.mark.slow
def test_the_staging_unit_tests_pass_on_bigquery(bq_dbt):
    """The dbt unit tests of the parsing rules (dates in every format, years, durations, ratings,
    duplicates) run the bigquery__ macros."""
    outcome = bq_dbt.test(["staging_netflix_titles,resource_type:unit_test"])
    assert outcome.success, outcome.failures
    assert outcome.passed == 3 and outcome.failed == 0, outcome.summary()


def test_the_bigquery_profile_reads_the_environment(bq_endpoint, tmp_path):
    """`dbt debug`-free check: the parsed manifest carries the project and dataset from the env."""
    dbt = _bq_dbt(bq_endpoint, tmp_path / "home")
    dbt.parse()
    _, project = bq_endpoint
    node = next(n for n in dbt._manifest.nodes.values() if n.name == "kpi_movies_vs_tv")
    assert (node.database, node.schema) == (project, MODEL_DATASET)
