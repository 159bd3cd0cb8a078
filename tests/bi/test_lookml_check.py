"""`netflix-elt lookml --check [--against duckdb|bigquery]`: the generated LookML's every field,
dashboard element and `test:` block is compiled to SQL and run, on the sample's DuckDB warehouse
and on a BigQuery API emulator (tests/bq_emulator.py) holding the tables the LookML reads; a renamed
column, a missing table or a broken join fails, naming what broke; the check writes nothing."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import lkml
import pytest
import yaml
from click.testing import CliRunner
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from netflix_elt.bi import lookml_sql as lk
from netflix_elt.bi.bigquery import BIGQUERY_TABLES, load_exports
from netflix_elt.bi.exports import export_tables
from netflix_elt.bi.lookml import VIEW_TABLES, LookmlOptions, generate_lookml
from netflix_elt.bi.lookml_run import CheckResult, Expression, ExpressionError, check_lookml
from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.transform import registry

from conftest import CANONICAL

CHECKED = re.compile(r"^checked  (\d+) fields of (\d+) explores, (\d+) dashboard elements, (\d+)/(\d+) tests passed")


# -- the sample, built once ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("lkcheck") / "home")
    result = run_pipeline(home)
    assert result.report is not None and result.report.failed == 0
    assert (home.root / "lookml" / "netflix_elt.model.lkml").is_file()
    return home


def _fields_in_views(folder: Path) -> int:
    """Every dimension, timeframe of a dimension group and measure of the folder's views, counted
    from the files with lkml (not with the checker's loader)."""
    n = 0
    for path in folder.glob("*.view.lkml"):
        for view in lkml.load(path.read_text()).get("views", []):
            n += len(view.get("dimensions", [])) + len(view.get("measures", []))
            n += sum(len(g.get("timeframes", [])) for g in view.get("dimension_groups", []))
    return n


def _model(folder: Path) -> dict[str, Any]:
    return lkml.load((folder / "netflix_elt.model.lkml").read_text())


def _copy_home(built: Home, root: Path, lookml_from: Path | None = None) -> Home:
    """A home holding a copy of the warehouse and of a LookML folder (default the built one's)."""
    root.mkdir(parents=True)
    shutil.copy2(built.warehouse, root / built.warehouse.name)
    shutil.copy2(built.lock_file, root / built.lock_file.name)  # a reader would make a missing one
    shutil.copytree(lookml_from or built.root / "lookml", root / "lookml")
    return Home(root)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _summary(stdout: str) -> tuple[int, ...]:
    m = next((CHECKED.match(line) for line in stdout.splitlines() if CHECKED.match(line)), None)
    assert m is not None, stdout
    return tuple(int(g) for g in m.groups())


# -- DuckDB ----------------------------------------------------------------------------------------


def test_every_field_of_every_explore_runs_on_duckdb_and_the_check_writes_nothing(built: Home) -> None:
    folder = built.root / "lookml"
    before = tree(built.root)
    out = CliRunner().invoke(cli, ["--home", str(built.root), "lookml", "--check"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1] == f"lookml: 0 problem(s) against {built.warehouse.name}"
    fields, explores, elements, passed, tests = _summary(out.stdout)
    assert fields == _fields_in_views(folder) > 150
    assert explores == len(_model(folder)["explores"]) == len(VIEW_TABLES) - len(registry.BRIDGES)
    dashboard = yaml.safe_load((folder / "netflix_overview.dashboard.lookml").read_text())
    assert elements == sum(len(d["elements"]) for d in dashboard) >= 8
    # Every test block of the generated model passes (the totals per type, all titles, the top country).
    assert tests == len(_model(folder).get("tests", [])) >= 4 and passed == tests
    assert out.stderr == ""
    assert tree(built.root) == before  # names, sizes and mtimes


def _copy_lookml(built: Home, dest: Path) -> Path:
    shutil.copytree(built.root / "lookml", dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path.name, old)
    path.write_text(text.replace(old, new, 1))


_UNDEFINED_JOIN = (
    "lookml/netflix_elt.model.lkml: explore analytics_netflix_current: join netflix_title_actors uses view "
    "netflix_title_actors, which is not defined (or not included)"
)

BREAKS = {
    # A column renamed in a view's sql: that field, and only it, fails.
    "renamed column": (
        "analytics_netflix_current.view.lkml",
        "sql: ${TABLE}.title ;;",
        "sql: ${TABLE}.title_x ;;",
        "lookml/netflix_elt.model.lkml: explore analytics_netflix_current: field analytics_netflix_current.title: ",
    ),
    # A number dimension whose SQL gives a string: the query runs, the check of its type fails.
    "number that is a string": (
        "analytics_netflix_current.view.lkml",
        "sql: ${TABLE}.release_year ;;",
        "sql: CAST(${TABLE}.release_year AS STRING) ;;",
        "lookml/netflix_elt.model.lkml: explore analytics_netflix_current: "
        "field analytics_netflix_current.release_year: is type: number, but its SQL gives VARCHAR",
    ),
    # A view pointed at a table that is not there (a renamed dbt model): the explore's view.
    "missing table": (
        "kpi_genres_over_time.view.lkml",
        "sql_table_name: netflix_elt.kpi_genres_over_time ;;",
        "sql_table_name: netflix_elt.kpi_genre_over_time ;;",
        "lookml/netflix_elt.model.lkml: explore kpi_genres_over_time: view kpi_genres_over_time "
        "(sql_table_name netflix_elt.kpi_genre_over_time): ",
        # and the dashboard's tile on it, which runs the same table
        "lookml/netflix_overview.dashboard.lookml: element genres_over_time: its query fails: ",
    ),
    "missing joined table": (
        "netflix_title_cast.view.lkml",
        "sql_table_name: netflix_elt.netflix_title_cast ;;",
        "sql_table_name: netflix_elt.netflix_title_actors ;;",
        "lookml/netflix_elt.model.lkml: explore analytics_netflix_current: join netflix_title_cast "
        "(view netflix_title_cast, sql_table_name netflix_elt.netflix_title_actors): ",
    ),
    "broken sql_on": (
        "netflix_elt.model.lkml",
        "sql_on: ${analytics_netflix_current.show_id} = ${netflix_title_genres.show_id} ;;",
        "sql_on: ${analytics_netflix_current.show_id} = netflix_title_genres.title_id ;;",
        "lookml/netflix_elt.model.lkml: explore analytics_netflix_current: join netflix_title_genres "
        "(view netflix_title_genres, sql_table_name netflix_elt.netflix_title_genres): ",
        # and the dashboard's tile that uses the join (the genres tile)
        "lookml/netflix_overview.dashboard.lookml: element genres: its query fails: ",
    ),
    "join of an undefined view": (
        "netflix_elt.model.lkml",
        "join: netflix_title_cast {",
        "join: netflix_title_actors {",
        _UNDEFINED_JOIN,
        # and every dashboard tile on the explore, each saying why
        *(
            f"lookml/netflix_overview.dashboard.lookml: element {tile}: {_UNDEFINED_JOIN}"
            for tile in ("movies_vs_tv", "content_growth", "countries", "ratings", "genres")
        ),
    ),
    "dashboard element of an unknown model": (
        "netflix_overview.dashboard.lookml",
        "title: Movies vs TV shows\n    model: netflix_elt\n",  # the element's, not a dashboard filter's
        "title: Movies vs TV shows\n    model: netflix\n",
        "lookml/netflix_overview.dashboard.lookml: element movies_vs_tv: model netflix is not in lookml/",
    ),
    "unknown field in a dashboard": (
        "netflix_overview.dashboard.lookml",
        "- netflix_title_genres.genre\n",
        "- netflix_title_genres.genre_name\n",
        "lookml/netflix_overview.dashboard.lookml: element genres: uses netflix_title_genres.genre_name, "
        "which is not a field of explore analytics_netflix_current",
    ),
    # A dashboard filter's listen target that is no field, though the filter has no default value.
    "unknown listened field in a dashboard": (
        "netflix_overview.dashboard.lookml",
        "listen:\n      country: kpi_country_recent_growth.country\n",
        "listen:\n      country: kpi_country_recent_growth.country_name\n",
        "lookml/netflix_overview.dashboard.lookml: element country_recent_growth: uses "
        "kpi_country_recent_growth.country_name, which is not a field of explore kpi_country_recent_growth",
    ),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_a_broken_lookml_fails_naming_what_broke(built: Home, tmp_path: Path, case: str) -> None:
    file, old, new, *named = BREAKS[case]
    home = _copy_home(built, tmp_path / "home")
    _edit(home.root / "lookml" / file, old, new)
    before = tree(home.root)
    out = CliRunner().invoke(cli, ["--home", str(home.root), "lookml", "--check"])
    assert out.exit_code == 1, out.output
    errors = out.stderr.splitlines()
    assert len(errors) == len(named), errors
    assert all(e.startswith(f"error: {n}") for e, n in zip(errors, named, strict=True)), errors
    if case == "missing table":  # the engine's words name the table
        assert all("kpi_genre_over_time does not exist" in e for e in errors), errors
    assert out.stdout.splitlines()[-1] == f"lookml: {len(named)} problem(s) against {built.warehouse.name}"
    if case == "renamed column":  # the engine's own words, on one line
        assert "title_x" in errors[0]
        fields = _summary(out.stdout)[0]
        assert fields == _fields_in_views(home.root / "lookml") - 1  # every other field still ran
    assert tree(home.root) == before


def test_check_without_lookml_or_with_a_bad_target_exits_2(built: Home, tmp_path: Path) -> None:
    home = _copy_home(built, tmp_path / "home")
    shutil.rmtree(home.root / "lookml")
    out = CliRunner().invoke(cli, ["--home", str(home.root), "lookml", "--check"])
    assert out.exit_code == 2, out.output
    assert out.stderr.strip() == (
        f"error: {home.root / 'lookml'}: no LookML files; run `netflix-elt lookml` to generate them"
    )
    shutil.copytree(built.root / "lookml", home.root / "lookml")
    for args in (
        ["--against", "bigquery", "--bigquery", "not a target"],
        ["--against", "bigquery", "--bigquery", "Bad_Project.ds"],
        ["--against", "bigquery"],  # and no NETFLIX_ELT_BQ_PROJECT
        ["--bigquery", "my-project.ds"],  # without --against bigquery
    ):
        out = CliRunner().invoke(
            cli, ["--home", str(home.root), "lookml", "--check", *args], env={"NETFLIX_ELT_BQ_PROJECT": ""}
        )
        assert out.exit_code == 2, (args, out.output)
        assert "Traceback" not in out.output and "lookml: " not in out.stdout, out.output


# -- test: blocks ----------------------------------------------------------------------------------


def _csv_figures() -> dict[str, int]:
    """Movies, TV shows and titles made in the United States, counted from the CSV with csv."""
    with CANONICAL.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    types = Counter(r["type"] for r in rows)
    us = sum(1 for r in rows if "United States" in {c.strip() for c in (r["country"] or "").split(",")})
    return {"Movie": types["Movie"], "TV Show": types["TV Show"], "United States": us}


def _test_model(figures: dict[str, int]) -> str:
    cur, countries = registry.CURRENT, registry.bridge("country")
    movie, tv, us = figures["Movie"], figures["TV Show"], figures["United States"]
    return f"""
connection: "test"
include: "/*.view.lkml"
explore: {cur} {{
  sql_always_where: NOT ${{{cur}.is_deleted}} ;;
  always_filter: {{ filters: [{cur}.is_deleted: "No"] }}
  join: {countries} {{
    type: left_outer
    relationship: one_to_many
    sql_on: ${{{cur}.show_id}} = ${{{countries}.show_id}} ;;
  }}
}}
test: movies {{
  explore_source: {cur} {{
    column: count {{ field: {cur}.count }}
    filters: [{cur}.type: "Movie"]
  }}
  assert: movie_count {{ expression: ${{{cur}.count}} = {movie} ;; }}
  assert: by_column_name {{ expression: ${{count}} = {movie} ;; }}
}}
test: by_type {{
  explore_source: {cur} {{
    column: type {{ field: {cur}.type }}
    column: count {{ field: {cur}.count }}
  }}
  assert: both_types {{
    expression: (${{{cur}.type}} = "Movie" AND ${{{cur}.count}} = {movie})
      OR (${{{cur}.type}} = "TV Show" AND ${{{cur}.count}} = {tv}) ;;
  }}
}}
test: united_states {{
  explore_source: {cur} {{
    column: titles {{ field: {countries}.titles }}
    column: count {{ field: {cur}.count }}
    filters: [{countries}.country: "United States"]
  }}
  assert: us_titles {{ expression: ${{{countries}.titles}} = {us} AND ${{{cur}.count}} = {us} ;; }}
}}
test: tv_shows_wrong {{
  explore_source: {cur} {{
    column: count {{ field: {cur}.count }}
    filters: [{cur}.type: "TV Show"]
  }}
  assert: tv_count {{ expression: ${{{cur}.count}} = {tv + 1} ;; }}
}}
test: no_rows {{
  explore_source: {cur} {{
    column: type {{ field: {cur}.type }}
    filters: [{cur}.type: "Documentary"]
  }}
  assert: any {{ expression: NOT is_null(${{{cur}.type}}) ;; }}
}}
"""


def _test_folder(built: Home, dest: Path, views_from: Path | None = None) -> Path:
    dest.mkdir()
    for view in (views_from or built.root / "lookml").glob("*.view.lkml"):
        shutil.copy2(view, dest)
    (dest / "tests.model.lkml").write_text(_test_model(_csv_figures()))
    return dest


def _assert_test_outcomes(result: CheckResult) -> None:
    figures = _csv_figures()
    assert figures == {"Movie": 6131, "TV Show": 2676, "United States": 3690}
    assert result.tests == 5 and result.tests_passed == 3, result.problems
    tests = [p for p in result.problems if ": test " in p]
    assert tests == [
        f"tests/tests.model.lkml: test tv_shows_wrong: assert tv_count (${{{registry.CURRENT}.count}} = "
        f"{figures['TV Show'] + 1}) is false for 1 of 1 row(s): {registry.CURRENT}.count = {figures['TV Show']}",
        f"tests/tests.model.lkml: test no_rows: assert any (NOT is_null(${{{registry.CURRENT}.type}})): "
        "the query returned no rows",
    ], result.problems


def test_test_blocks_pass_and_fail_on_duckdb(built: Home, tmp_path: Path) -> None:
    result = check_lookml(built, _test_folder(built, tmp_path / "tests"))
    _assert_test_outcomes(result)
    assert len(result.problems) == 2, result.problems


# -- BigQuery (the emulator) -----------------------------------------------------------------------


def _client(bq_endpoint: tuple[str, str]) -> Any:
    url, project = bq_endpoint
    return bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bq(built: Home, bq_endpoint: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two datasets on the emulator: `partial` with what a run's exports hold of the LookML's tables
    (the current table and the KPIs), `full` loaded by the real `netflix-elt export --bigquery`
    (every table the LookML reads); LookML generated for each."""
    url, project = bq_endpoint
    root = tmp_path_factory.mktemp("lkcheck-bq")
    exports = root / "exports"
    manifest = export_tables(built, exports)
    exported = [t for t in VIEW_TABLES if t in {e["table"] for e in manifest["tables"]}]
    rest = [t for t in VIEW_TABLES if t not in exported]
    out: dict[str, Any] = {"url": url, "project": project, "exported": exported, "rest": rest}
    client = _client(bq_endpoint)
    try:
        for kind in ("partial", "full"):
            dataset = f"lkc_{kind}_{os.getpid()}"
            client.create_dataset(f"{project}.{dataset}")
            if kind == "partial":
                load_exports(exports, f"{project}.{dataset}", endpoint=url, tables=exported)
            else:  # what a user runs
                home = _copy_home(built, root / "exporter")
                args = ["--home", str(home.root), "export", "--bigquery", f"{project}.{dataset}", "--endpoint", url]
                result = CliRunner().invoke(cli, args)
                assert result.exit_code == 0, result.output
                verified = [
                    line.split()[1].removesuffix(":")
                    for line in result.stdout.splitlines()
                    if line.startswith("bigquery ") and line.endswith(" rows verified")
                ]
                assert verified == [f"{project}.{dataset}.{t}" for t in BIGQUERY_TABLES]
                assert set(BIGQUERY_TABLES) == set(VIEW_TABLES)
            folder = root / kind / "lookml"
            generate_lookml(built, folder, LookmlOptions(dataset=dataset))
            out[kind] = (f"{project}.{dataset}", folder)
    finally:
        client.close()
    return out


def _check_bq(built: Home, bq: dict[str, Any], kind: str, folder: Path | None = None) -> CheckResult:
    target, generated = bq[kind]
    return check_lookml(built, folder or generated, against="bigquery", target=target, endpoint=bq["url"])


def test_every_lookml_table_loaded_every_field_runs_on_the_emulator(built: Home, bq: dict[str, Any]) -> None:
    target, folder = bq["full"]
    result = _check_bq(built, bq, "full")
    assert result.problems == []
    assert result.fields == _fields_in_views(folder)
    assert result.explores == len(_model(folder)["explores"]) and result.elements >= 8
    assert result.tests_passed == result.tests == len(_model(folder).get("tests", [])) >= 4
    # bqemulator 1.4.0 accepts dry_run but executes the query (the probe's ERROR() fires): LIMIT 0.
    assert result.mode in ("dry run", "LIMIT 0 (the endpoint executes dry runs)")
    assert result.where == f"bigquery {target} at {bq['url']}"


def test_the_tables_the_exports_lack_are_reported_missing(built: Home, bq: dict[str, Any]) -> None:
    target, _ = bq["partial"]
    result = _check_bq(built, bq, "partial")
    assert set(bq["rest"]) == {registry.HISTORY, *registry.BRIDGES}  # a run exports current and the KPIs
    dashboard = "lookml/netflix_overview.dashboard.lookml: "
    views = [p for p in result.problems if not p.startswith(dashboard)]
    for table in bq["rest"]:
        assert any(f"sql_table_name {target.split('.')[1]}.{table}): " in p for p in views), (table, result)
    assert len(views) == len(bq["rest"]), result.problems
    # and the dashboard's tiles whose fields are on a missing table (a bridge), each naming it
    tiles = [p for p in result.problems if p.startswith(dashboard)]
    assert [p.split(": its query fails: ")[0] for p in tiles] == [
        f"{dashboard}element countries",
        f"{dashboard}element genres",
    ], result.problems
    assert "netflix_title_countries" in tiles[0] and "netflix_title_genres" in tiles[1], tiles
    assert result.fields < _fields_in_views(bq["partial"][1]) or not bq["rest"]


def test_test_blocks_pass_and_fail_on_the_emulator(built: Home, bq: dict[str, Any], tmp_path: Path) -> None:
    _, generated = bq["full"]
    result = _check_bq(built, bq, "full", _test_folder(built, tmp_path / "tests", views_from=generated))
    _assert_test_outcomes(result)
    assert len(result.problems) == 2, result.problems


def test_cli_against_bigquery_reads_only_and_a_dropped_table_fails_naming_it(
    built: Home, bq: dict[str, Any], bq_endpoint: tuple[str, str], tmp_path: Path
) -> None:
    target, folder = bq["full"]
    home = _copy_home(built, tmp_path / "home", lookml_from=folder)
    before = tree(home.root)
    args = ["--home", str(home.root), "lookml", "--check", "--against", "bigquery", "--endpoint", bq["url"]]
    out = CliRunner().invoke(cli, [*args, "--bigquery", target])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1] == f"lookml: 0 problem(s) against bigquery {target} at {bq['url']}"
    assert _summary(out.stdout)[0] == _fields_in_views(folder)
    # The target from the dbt profile's variables, as `dbt --target bigquery` reads it.
    project, dataset = target.split(".")
    env = {
        "NETFLIX_ELT_BQ_PROJECT": project,
        "NETFLIX_ELT_BQ_DATASET": dataset,
        "NETFLIX_ELT_BQ_API_ENDPOINT": bq["url"],
    }
    out = CliRunner().invoke(cli, ["--home", str(home.root), "lookml", "--check", "--against", "bigquery"], env=env)
    assert out.exit_code == 0, out.output
    # A dataset that does not exist is bad input.
    out = CliRunner().invoke(cli, [*args, "--bigquery", f"{project}.no_such_dataset"])
    assert out.exit_code == 2 and "no_such_dataset does not exist" in out.stderr, out.output
    # Drop one table the LookML reads (the last KPI): the check names it, and nothing else but the
    # dashboard's tile on it.
    dropped = registry.kpis(VIEW_TABLES)[-1]
    dashboard = yaml.safe_load((folder / "netflix_overview.dashboard.lookml").read_text())
    tiles = [e["name"] for d in dashboard for e in d["elements"] if e["explore"] == dropped]
    assert tiles == ["titles_added_by_month"], tiles
    client = _client(bq_endpoint)
    try:
        client.delete_table(f"{target}.{dropped}")
    finally:
        client.close()
    out = CliRunner().invoke(cli, [*args, "--bigquery", target])
    assert out.exit_code == 1, out.output
    errors = out.stderr.splitlines()
    named = f"explore {dropped}: view {dropped} (sql_table_name {dataset}.{dropped}): "
    assert len(errors) == 2 and errors[0].startswith(f"error: lookml/netflix_elt.model.lkml: {named}"), errors
    tile = f"error: lookml/netflix_overview.dashboard.lookml: element {tiles[0]}: its query fails: "
    assert errors[1].startswith(tile), errors
    assert dropped in errors[0].split("): ", 1)[1]  # the engine's message names the table too
    assert dropped in errors[1].split(": its query fails: ", 1)[1]
    assert tree(home.root) == before


# -- the filter parser and the assert evaluator ------------------------------------------------------

_VALUES = {  # a column of each kind, with a NULL
    "string": ["Movie", "TV Show", "O'Brien, Jr.", "", "50%_off", "50xyoff", None],
    "number": [1999, 2000, 2005, 2010, 2011, None],
    "yesno": [True, False, None],
}


def _matching(kind: str, expression: str) -> list[Any]:
    con = duckdb.connect()
    try:
        sql_type = {"string": "VARCHAR", "number": "INTEGER", "yesno": "BOOLEAN"}[kind]
        con.execute(f"create table t (x {sql_type})")
        con.executemany("insert into t values (?)", [[v] for v in _VALUES[kind]])
        cond = lk.filter_sql("x", expression, kind, lk.DUCKDB)
        return [r[0] for r in con.execute(f"select x from t where {cond} order by x nulls last").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("kind", "expression", "expected"),
    [
        ("string", "Movie", ["Movie"]),
        ("string", "Movie, TV Show", ["Movie", "TV Show"]),
        ("string", "-Movie", ["", "50%_off", "50xyoff", "O'Brien, Jr.", "TV Show", None]),  # "is not" keeps NULLs
        ("string", "-Movie, -TV Show", ["", "50%_off", "50xyoff", "O'Brien, Jr.", None]),
        ("string", "O'Brien\\, Jr.", ["O'Brien, Jr."]),
        ("string", "O'Brien^, Jr.", ["O'Brien, Jr."]),  # ^ is Looker's escape
        ("string", "50^%^_off", ["50%_off"]),  # escaped wildcards are the characters
        ("string", "50%off", ["50%_off", "50xyoff"]),  # % any run
        ("string", "50__off", ["50%_off", "50xyoff"]),  # _ any one character
        ("string", "%Show", ["TV Show"]),
        ("string", "NULL", [None]),
        ("string", "-NULL", ["", "50%_off", "50xyoff", "Movie", "O'Brien, Jr.", "TV Show"]),
        ("number", ">= 2000", [2000, 2005, 2010, 2011]),
        ("number", "<2000", [1999]),
        ("number", "2000", [2000]),
        ("number", "2000, 2010", [2000, 2010]),
        ("number", "[2000, 2010]", [2000, 2005, 2010]),
        ("number", "(2000, 2010)", [2005]),
        ("number", "[2000, 2010)", [2000, 2005]),
        ("number", "NOT 2000", [1999, 2005, 2010, 2011, None]),
        ("number", "NULL", [None]),
        ("number", "NOT NULL", [1999, 2000, 2005, 2010, 2011]),
        ("yesno", "Yes", [True]),
        ("yesno", "No", [False, None]),
        ("yesno", "yes", [True]),
    ],
)
def test_filter_expressions(kind: str, expression: str, expected: list[Any]) -> None:
    assert _matching(kind, expression) == expected


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("string", "EMPTY"),
        ("string", "50^%%"),  # a wildcard beside an escaped one
        ("string", "-EMPTY"),
        ("string", ""),
        ("number", "> x"),
        ("number", "2000 to 2010"),
        ("number", "[2000, 2010"),
        ("yesno", "maybe"),
        ("time", "last 7 days"),
        ("time", "2021"),
    ],
)
def test_unsupported_filter_expressions_are_refused(kind: str, expression: str) -> None:
    with pytest.raises(lk.LookmlSqlError, match="unsupported filter expression"):
        lk.filter_sql("x", expression, kind, lk.DUCKDB)


def test_string_literals_are_quoted_for_each_dialect() -> None:
    assert lk.filter_sql("x", "O'Brien", "string", lk.DUCKDB) == "((x) = 'O''Brien')"
    assert lk.filter_sql("x", "O'Brien", "string", lk.BIGQUERY) == "((x) = 'O\\'Brien')"


ROW = {"v.count": 6131, "count": 6131, "v.type": "Movie", "v.avg": Decimal("1.5"), "v.none": None, "v.flag": "Yes"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${v.count} = 6131", True),
        ("${count} = 6131", True),  # a test's column by its name
        ("${v.count} = 6132", False),
        ("${v.count} != 6131", False),
        ("${v.count} <> 1", True),
        ("${v.count} > 6000 AND ${v.count} < 7000", True),
        ("${v.count} >= 6131 AND ${v.count} <= 6131", True),
        ('${v.type} = "Movie"', True),
        ("${v.type} = 'TV Show'", False),
        ('${v.type} = "TV Show" OR ${v.count} = 6131', True),
        ('NOT (${v.type} = "Movie")', False),
        ("is_null(${v.none})", True),
        ("NOT is_null(${v.count})", True),
        ("${v.none} > 1", False),  # a comparison with null is not true
        ("${v.avg} = 1.5", True),
        ("${v.count} * 2 - 1 = 12261", True),
        ("${v.flag}", True),
        ("${v.flag} = yes", True),
        ("(${v.count} = 1 OR ${v.count} = 6131) AND NOT is_null(${v.type})", True),
    ],
)
def test_assert_expressions(expression: str, expected: bool) -> None:
    assert Expression.parse(expression).holds(ROW) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "${v.count} = ",
        "${v.count} == 1",
        "(${v.count} = 1",
        "${v.count} = 1)",
        "sum(${v.count}) > 1",
        "__import__('os')",
        "${v.count} = 1 ; 2",
    ],
)
def test_bad_assert_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        Expression.parse(expression)


@pytest.mark.parametrize(
    ("expression", "row"),
    [
        ("${v.missing} = 1", ROW),  # not a column of the test's query
        ("${v.type} > 1", ROW),  # a string against a number
        ("${v.count}", ROW),  # a number is not yes/no
        ("${v.type} + 1 = 2", ROW),
    ],
)
def test_assert_expressions_that_cannot_be_evaluated(expression: str, row: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError):
        Expression.parse(expression).holds(row)


def test_an_unreachable_endpoint_or_bad_credentials_are_one_line(built: Home, tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = _copy_home(built, tmp_path / "home")
    args = ["--home", str(home.root), "lookml", "--check", "--against", "bigquery", "--bigquery", "my-project.ds"]
    started = time.monotonic()
    out = CliRunner().invoke(cli, [*args, "--endpoint", f"http://127.0.0.1:{port}"])
    assert out.exit_code == 1, out.output
    assert out.stderr.strip() == (
        f"error: cannot reach BigQuery at http://127.0.0.1:{port} (opening the dataset): connection failed; "
        "check --endpoint"
    )
    assert time.monotonic() - started < 30  # bounded retries, not the client's ten minutes
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "-----SECRET-KEY-----"}))
    out = CliRunner().invoke(cli, [*args, "--credentials", str(key)])
    assert out.exit_code == 2, out.output
    assert out.stderr.startswith(f"error: --credentials {key}: not a service-account JSON key"), out.stderr
    assert "SECRET" not in out.output


def test_a_file_that_does_not_parse_is_named(built: Home, tmp_path: Path) -> None:
    folder = _copy_lookml(built, tmp_path / "lookml")
    (folder / "kpi_genres_over_time.view.lkml").write_text("view: kpi_genres_over_time {\n  dimension: genre {\n")
    result = check_lookml(built, folder)
    assert result.problems[0].startswith("lookml/kpi_genres_over_time.view.lkml: does not parse ("), result.problems
    # and what needed the view says so: its explore, and the dashboard's tile on it
    assert result.problems[1:] == [
        "lookml/netflix_elt.model.lkml: explore kpi_genres_over_time: uses view kpi_genres_over_time, which is not "
        "defined (or not included)",
        "lookml/netflix_overview.dashboard.lookml: element genres_over_time: lookml/netflix_elt.model.lkml: explore "
        "kpi_genres_over_time: uses view kpi_genres_over_time, which is not defined (or not included)",
    ]
