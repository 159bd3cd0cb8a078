"""The registry of model and table names (netflix_elt.transform.registry): it reads the dbt project
exactly as dbt parses it, it names the tables users rely on, and a project missing what netflix-elt
needs fails with an error that says what is missing."""

from __future__ import annotations

import ast
import dataclasses
import shutil
import sys
from pathlib import Path

import pytest

from netflix_elt.bi import bigquery, exports, lookml
from netflix_elt.bi.dashboard import data as dashboard
from netflix_elt.transform import registry
from netflix_elt.transform.dbt import project_dir
from netflix_elt.transform.registry import RegistryError, load
from netflix_elt.warehouse.ledger import LEDGER_TABLE, RAW_TABLE

from conftest import dbt_parse

# The names users' queries, BI tools and the BigQuery dataset rely on: the original pipeline's
# tables, kept by contract. Typed here on purpose, independently of the project files.
KPIS = (
    "kpi_movies_vs_tv",
    "kpi_titles_by_year",
    "kpi_titles_by_country",
    "kpi_titles_by_rating",
    "kpi_top_genres",
    "kpi_genres_over_time",
    "kpi_country_recent_growth",
    "kpi_titles_added_by_month",
)


def test_the_names_users_rely_on() -> None:
    assert registry.RAW == "raw_netflix_titles"
    assert registry.STAGING == "staging_netflix_titles"
    assert registry.BATCH == "staging_netflix_batch"
    assert registry.CURRENT == "analytics_netflix_current"
    assert registry.HISTORY == "analytics_netflix_history"
    assert registry.BRIDGES == (
        "netflix_title_cast",
        "netflix_title_countries",
        "netflix_title_directors",
        "netflix_title_genres",
    )
    assert {d: registry.bridge(d) for d in ("country", "genre", "cast", "director")} == {
        "country": "netflix_title_countries",
        "genre": "netflix_title_genres",
        "cast": "netflix_title_cast",
        "director": "netflix_title_directors",
    }
    assert registry.kpi_models() == KPIS
    assert ("analytics_netflix_current", *KPIS) == exports.EXPORT_TABLES
    assert (
        "analytics_netflix_current",
        "analytics_netflix_history",
        "netflix_title_countries",
        "netflix_title_genres",
        "netflix_title_cast",
        "netflix_title_directors",
        *KPIS,
    ) == lookml.VIEW_TABLES


def _node_name(unique_id: str) -> str:
    return unique_id.split(".")[-1]


def test_the_registry_is_what_dbt_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `dbt parse` of the packaged project: its manifest's exposures, models (layer, meta,
    unique tests) and sources are exactly what the registry read from the files."""
    manifest = dbt_parse(tmp_path, monkeypatch)
    project = registry.project()

    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert list(exposures) and set(exposures) == set(project.exposures)
    for name, exposure in exposures.items():
        assert [r["name"] for r in exposure["refs"]] == list(project.exposure_models(name)), name
        assert [tuple(s) for s in exposure["sources"]] == list(project.exposure(name).sources), name
        # dbt's resolved nodes: the same models (sources first, then the refs in order)
        models = [_node_name(n) for n in exposure["depends_on"]["nodes"] if n.startswith("model.")]
        assert models == list(project.exposure_models(name)), name

    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert set(nodes) == set(project.models)
    for name, node in nodes.items():
        model = project.models[name]
        assert model.layer == node["path"].split("/")[0], name
        assert dict(model.meta) == node["config"]["meta"], name

    # The grain each model declares: a unique_combination test, else its unique column.
    unique: dict[str, set[tuple[str, ...]]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") == "unique":
            key: tuple[str, ...] = (kwargs["column_name"],)
        elif meta.get("name") == "unique_combination":
            key = tuple(kwargs["columns"])
        else:
            continue
        unique.setdefault(_node_name(node["attached_node"]), set()).add(key)
    for name, model in project.models.items():
        if model.unique_key:
            assert model.unique_key in unique.get(name, set()), name
        else:
            assert name not in unique, name

    sources = {(s["source_name"], s["name"]): s["config"]["meta"] for s in manifest["sources"].values()}
    assert sources == {key: dict(meta) for key, meta in project.sources.items()}


def test_every_exposure_lists_its_kpis_in_the_one_kpi_order() -> None:
    order = {name: i for i, name in enumerate(registry.kpi_models())}
    for name, exposure in registry.project().exposures.items():
        kpis = registry.kpis(exposure.models)
        assert list(kpis) == sorted(kpis, key=order.__getitem__), name
    # every KPI the project builds is exported, modelled in LookML and loaded into BigQuery
    for name in ("exports", "lookml", "bigquery"):
        assert registry.kpis(registry.exposure_models(name)) == registry.kpi_models(), name


def test_each_output_takes_its_tables_from_its_exposure() -> None:
    assert registry.exposure_models("exports") == exports.EXPORT_TABLES
    assert registry.exposure_models("lookml") == lookml.VIEW_TABLES
    assert registry.exposure_models("offline_dashboard") == dashboard.TABLES
    assert registry.exposure_models("bigquery") == bigquery.BIGQUERY_TABLES
    assert set(lookml.GRAIN) == set(lookml.VIEW_TABLES) and all(lookml.GRAIN.values())


def test_the_tables_below_transform_are_the_sources_the_project_declares() -> None:
    """warehouse/ creates the raw table and the ledger (it cannot import the registry); the project
    reads them as sources under the same names."""
    assert registry.RAW == RAW_TABLE
    assert registry.exposure_sources("offline_dashboard") == (("netflix", LEDGER_TABLE),)
    assert ("netflix", LEDGER_TABLE) in registry.project().sources


def test_the_registry_imports_only_core_the_standard_library_and_yaml() -> None:
    tree = ast.parse(Path(registry.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    ours = {m for m in imported if m.startswith("netflix_elt")}
    assert ours and all(m.startswith("netflix_elt.core") for m in ours), ours
    assert {m.split(".")[0] for m in imported - ours} <= {"__future__", "yaml", *sys.stdlib_module_names}


# ------------------------------------------------------------------ a project that lacks something


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(project_dir(), tmp_path / "dbt_project"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_copy_of_the_project_reads_the_same(copy: Path) -> None:
    read = load(copy)
    assert read == dataclasses.replace(registry.project(), where=str(copy))
    assert list(read.models) == list(registry.project().models)  # in the same order


def test_a_missing_role_is_a_clear_error(copy: Path) -> None:
    _edit(copy / "models" / "marts" / "analytics_netflix_current.yml", "      meta: {role: current}\n", "")
    project = load(copy)  # the rest still reads
    assert project.role("history") == "analytics_netflix_history"
    with pytest.raises(RegistryError, match=r"no model declares `config: meta: \{role: current\}` in its yml"):
        project.role("current")
    with pytest.raises(RegistryError, match=str(copy)):
        project.role("current")


def test_a_role_declared_twice_is_a_clear_error(copy: Path) -> None:
    _edit(copy / "models" / "marts" / "analytics_netflix_history.yml", "{role: history}", "{role: current}")
    with pytest.raises(RegistryError, match=r"2 models \(analytics_netflix_current, analytics_netflix_history\)"):
        load(copy).role("current")


def test_a_missing_bridge_dimension_or_raw_source_is_a_clear_error(copy: Path) -> None:
    _edit(copy / "models" / "marts" / "netflix_title_genres.yml", ", dimension: genre", "")
    _edit(copy / "models" / "staging" / "_sources.yml", "          meta: {role: raw}\n", "          meta: {}\n")
    project = load(copy)
    assert project.bridge("country") == "netflix_title_countries"
    with pytest.raises(RegistryError, match=r"0 models declare `config: meta: \{role: bridge, dimension: genre\}`"):
        project.bridge("genre")
    with pytest.raises(RegistryError, match=r"0 source tables declare `config: meta: \{role: raw\}`"):
        project.source_role("raw")


def test_an_exposure_missing_or_naming_an_unknown_model_is_a_clear_error(copy: Path) -> None:
    with pytest.raises(RegistryError, match=r"no exposure 'tableau' in models/exposures.yml"):
        load(copy).exposure_models("tableau")
    exposures = copy / "models" / "exposures.yml"
    text = exposures.read_text(encoding="utf-8")
    exposures.write_text(text.replace("ref('kpi_top_genres')", "ref('kpi_top_genre')", 1), encoding="utf-8")
    with pytest.raises(RegistryError, match=r"offline_dashboard depends on ref\('kpi_top_genre'\), which is no model"):
        load(copy)
    exposures.write_text(text.replace("ref('kpi_top_genres')", "kpi_top_genres", 1), encoding="utf-8")
    with pytest.raises(RegistryError, match=r"depends_on entry 'kpi_top_genres' is not ref\('model'\)"):
        load(copy)


def test_a_new_kpi_needs_only_the_project_files(copy: Path) -> None:
    """A model and its yml in models/kpi/ and a line in an exposure: the registry lists it, with
    its grain, after the KPIs the exposures already list."""
    kpi = copy / "models" / "kpi"
    (kpi / "kpi_titles_by_decade.sql").write_text("select 1 as decade, 1 as total_titles\n", encoding="utf-8")
    (kpi / "kpi_titles_by_decade.yml").write_text(
        "version: 2\nmodels:\n  - name: kpi_titles_by_decade\n    columns:\n"
        "      - name: decade\n        data_tests: [unique]\n",
        encoding="utf-8",
    )
    _edit(
        copy / "models" / "exposures.yml",
        "      - ref('kpi_titles_added_by_month')\n\n  - name: lookml",
        "      - ref('kpi_titles_added_by_month')\n      - ref('kpi_titles_by_decade')\n\n  - name: lookml",
    )
    project = load(copy)
    assert project.kpi_models() == (*KPIS, "kpi_titles_by_decade")
    assert project.exposure_models("exports")[-1] == "kpi_titles_by_decade"
    assert project.model("kpi_titles_by_decade").unique_key == ("decade",)
