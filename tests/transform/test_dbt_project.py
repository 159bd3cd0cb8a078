"""The dbt project's own guarantees: the CDC unit tests pass, the published models have enforced
contracts matching the warehouse, the bridges are tied to the current table, every exposure
resolves to what its consumer reads, and the docs build into one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from netflix_elt.bi.bigquery import BIGQUERY_TABLES
from netflix_elt.bi.dashboard.data import TABLES as DASHBOARD_TABLES
from netflix_elt.bi.exports import EXPORT_TABLES
from netflix_elt.bi.lookml import VIEW_TABLES
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.transform.dbt import Dbt
from netflix_elt.transform.docs import DOCS_FILE, build_docs, external_urls
from netflix_elt.transform.registry import BRIDGES, CURRENT, HISTORY, kpi_models
from netflix_elt.warehouse.ledger import LEDGER_TABLE

from conftest import CANONICAL, dbt_parse

CONTRACTED = (CURRENT, HISTORY, *BRIDGES, *kpi_models())
CDC_UNIT_TESTS = {
    "changes_classify_a_snapshot_drop",
    "changes_of_a_delta_drop_delete_nothing",
    "changes_of_the_first_build_are_inserts",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, manifest_cache: Path) -> Home:
    """One pipeline run over the canonical file: the unit tests take their fixtures' column
    types from the warehouse, and the contracts are compared with it."""
    home = Home(tmp_path_factory.mktemp("dbtproject") / "home")
    run_pipeline(home, [CANONICAL])
    return home


def _manifest(home: Home) -> Any:
    dbt = Dbt(home)
    dbt.parse()
    return dbt._manifest


def _models(manifest: Any) -> dict[str, Any]:
    return {n.name: n for n in manifest.nodes.values() if n.resource_type == "model"}


def test_the_cdc_unit_tests_pass(built: Home) -> None:
    unit_tests = {u.name for u in _manifest(built).unit_tests.values() if u.model == "int_netflix_changes"}
    assert unit_tests == CDC_UNIT_TESTS
    outcome = Dbt(built).test(["int_netflix_changes,test_type:unit"])
    assert outcome.success, outcome.failures
    assert (outcome.passed, outcome.failed) == (len(CDC_UNIT_TESTS), 0), outcome.summary()
    everything = Dbt(built).test(["test_type:unit"])  # the staging ones too
    assert everything.success and everything.failed == 0, everything.failures


def test_the_published_models_have_enforced_contracts_matching_the_warehouse(built: Home) -> None:
    models = _models(_manifest(built))
    con = duckdb.connect(str(built.warehouse), read_only=True)
    try:
        for name in CONTRACTED:
            node = models[name]
            assert node.contract.enforced, name
            assert node.description.strip(), name
            for column in node.columns.values():
                assert column.data_type, f"{name}.{column.name}: no data_type"
                assert column.description.strip(), f"{name}.{column.name}: no description"
            # The contract lists the table's columns in the table's order (dbt creates a contracted
            # table from the contract's column list).
            described = [r[0] for r in con.execute(f"describe {name}").fetchall()]
            assert list(node.columns) == described, name
    finally:
        con.close()
    # Contracts on incremental models need on_schema_change append_new_columns or fail.
    for name in (CURRENT, *BRIDGES):
        assert models[name].config.materialized == "incremental", name
        assert models[name].config.on_schema_change == "fail", name


def test_every_bridge_has_a_relationships_test_to_the_current_table(tmp_path: Path) -> None:
    manifest = _manifest(Home(tmp_path / "home"))  # parsing reads no warehouse
    tied = set()
    for node in manifest.nodes.values():
        meta = getattr(node, "test_metadata", None)
        if node.resource_type == "test" and meta is not None and meta.name == "relationships":
            kwargs = meta.kwargs
            assert kwargs["column_name"] == "show_id" and kwargs["field"] == "show_id"
            assert CURRENT in kwargs["to"]
            tied.add(node.attached_node.split(".")[-1])
    assert tied == set(BRIDGES)


def test_every_exposure_resolves_to_what_its_consumer_reads(tmp_path: Path, monkeypatch) -> None:
    manifest = dbt_parse(tmp_path, monkeypatch)
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    known = set(manifest["nodes"]) | set(manifest["sources"])
    for name, exposure in exposures.items():
        assert exposure["type"] and exposure["owner"]["name"] and exposure["description"].strip(), name
        nodes = exposure["depends_on"]["nodes"]
        assert nodes and set(nodes) <= known, name
        assert len(nodes) == len(exposure["refs"]) + len(exposure["sources"]), name

    def reads(name: str) -> list[str]:  # the models, in the order written
        return [r["name"] for r in exposures[name]["refs"]]

    # Each consumer's table list, in its order, is its exposure's (tests/transform/test_registry.py checks
    # the registry reads the project as dbt does).
    assert reads("offline_dashboard") == list(DASHBOARD_TABLES)
    assert exposures["offline_dashboard"]["sources"] == [["netflix", LEDGER_TABLE]]
    assert reads("exports") == list(EXPORT_TABLES)
    # it loads exactly what the LookML reads, so the Looker model and the dataset agree
    assert reads("bigquery") == list(BIGQUERY_TABLES) == list(VIEW_TABLES)
    assert reads("lookml") == list(VIEW_TABLES)
    # and the runner's own (cached) manifest carries them too
    assert {e.name for e in _manifest(Home(tmp_path / "home")).exposures.values()} == set(exposures)


def test_build_docs_writes_one_html_file(built: Home) -> None:
    out = build_docs(built)
    assert out == built.root / "reports" / DOCS_FILE
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower() and all(name in html for name in (CURRENT, *BRIDGES))
    # dbt's docs app loads a tracker only when the manifest says usage stats may be sent.
    assert '"send_anonymous_usage_stats": false' in html
    assert not [u for u in external_urls(out) if "fonts.googleapis" in u or "fonts.gstatic" in u]


def test_build_docs_refuses_a_home_without_a_warehouse(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    with pytest.raises(InputError, match="no warehouse yet"):
        build_docs(home)
    assert not home.warehouse.exists() and not (home.root / "reports" / DOCS_FILE).exists()


def test_docs_command_writes_a_page_that_opens_offline(built: Home, browser: Any, tmp_path: Path) -> None:
    """`netflix-elt docs`, then the page in headless Chromium: it renders the project's models and
    makes no network request (only the file itself and inline data)."""
    from click.testing import CliRunner

    from netflix_elt.cli import cli

    result = CliRunner().invoke(cli, ["--home", str(built.root), "docs"])
    assert result.exit_code == 0, result.output
    assert "wrote    reports/dbt-docs.html" in result.stdout
    out = built.root / "reports" / DOCS_FILE
    requests: list[str] = []
    page = browser.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri() + f"#!/model/model.netflix_elt.{CURRENT}")
    page.wait_for_function(f"document.body.innerText.includes('{CURRENT}')", timeout=30_000)
    assert "Exposures" in page.inner_text("body")  # the consumers are listed in the navigation
    remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert remote == [], remote
