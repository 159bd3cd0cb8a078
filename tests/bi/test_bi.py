"""BI outputs: exports with a manifest, LookML generated from (and checked against) the warehouse."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import duckdb
import lkml
import pytest
import yaml
from click.testing import CliRunner

from netflix_elt.bi import exports
from netflix_elt.bi.bigquery import BIGQUERY_TABLES
from netflix_elt.bi.exports import EXPORT_TABLES, KPI_VIEWS, ORDER_BY, PARQUET_ONLY, export_tables
from netflix_elt.bi.lookml import VIEW_TABLES, LookmlOptions, generate_lookml, validate_lookml
from netflix_elt.cli.main import cli
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.transform import registry
from netflix_elt.transform.registry import CURRENT

from conftest import drop_models_except, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("bi") / "home")
    result = run_pipeline(home)
    assert result.report is not None and result.report.failed == 0
    return home


def test_run_publishes_exports_lookml_and_dashboard(built: Home) -> None:
    assert (built.root / "exports" / "manifest.json").is_file()
    assert (built.root / "lookml" / "netflix_elt.model.lkml").is_file()
    assert (built.root / "reports" / "dashboard.html").is_file()


def test_exports_match_the_warehouse(built: Home, tmp_path: Path) -> None:
    manifest = export_tables(built, tmp_path / "out")
    assert [t["table"] for t in manifest["tables"]] == list(EXPORT_TABLES)
    assert manifest["batch_id"] == query(built, "select max(batch_id) from etl_transforms")[0][0]
    for t in manifest["tables"]:
        # The catalog is exported as Parquet only; every KPI table as Parquet and CSV.
        assert sorted(t["files"]) == (["parquet"] if t["table"] in PARQUET_ONLY else ["csv", "parquet"])
        assert not (tmp_path / "out" / f"{t['table']}.csv").exists() or "csv" in t["files"]
        for fmt, name in t["files"].items():
            assert hashlib.sha256((tmp_path / "out" / name).read_bytes()).hexdigest() == t["sha256"][fmt]
        parquet = tmp_path / "out" / t["files"]["parquet"]
        warehouse_rows = query(built, f"select * from {t['table']} order by all")
        assert t["rows"] == len(warehouse_rows)
        assert duckdb.execute("select * from read_parquet(?) order by all", [str(parquet)]).fetchall() == warehouse_rows
        assert [c["name"] for c in t["columns"]] == [
            r[0] for r in query(built, f"select column_name from (describe {t['table']})")
        ]
        if "csv" in t["files"]:
            csv = tmp_path / "out" / t["files"]["csv"]
            csv_rows = duckdb.execute("select count(*) from read_csv(?, header = true)", [str(csv)]).fetchone()
            assert csv_rows == (t["rows"],)
    movies = next(t for t in manifest["tables"] if t["table"] == "kpi_movies_vs_tv")
    assert movies["columns"] == [{"name": "type", "type": "VARCHAR"}, {"name": "total_titles", "type": "BIGINT"}]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


# The meaningful order of each KPI export. A ranking: its count, largest first, the name breaking
# ties. A time series: by time, then as a ranking within each period.
RANKINGS = {
    "kpi_movies_vs_tv": ("total_titles", "type"),
    "kpi_titles_by_country": ("total_titles", "country"),
    "kpi_titles_by_rating": ("total_titles", "rating"),
    "kpi_top_genres": ("total_titles", "genre"),
    "kpi_country_recent_growth": ("total_titles_recent", "country"),
}
SERIES = {
    "kpi_titles_by_year": ("release_year", "total_titles", None),
    "kpi_genres_over_time": ("release_year", "total_titles", "genre"),
    "kpi_titles_added_by_month": ("month_added", "total_titles", "type"),
}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_kpi_exports_are_written_in_rank_or_time_order(built: Home, tmp_path: Path) -> None:
    # Every KPI with a sort order is checked here; a KPI without one is written in `order by all`.
    assert (
        set(RANKINGS) | set(SERIES) == set(ORDER_BY) - {CURRENT, registry.HISTORY, *registry.BRIDGES} == set(KPI_VIEWS)
    )
    assert set(ORDER_BY) <= set(EXPORT_TABLES) | set(BIGQUERY_TABLES)
    out = tmp_path / "out"
    export_tables(built, out)
    for table, (count, name) in RANKINGS.items():
        rows = _csv_rows(out / f"{table}.csv")
        counts = [int(r[count]) for r in rows]
        assert len(counts) > 1 and counts == sorted(counts, reverse=True), (table, counts)
        warehouse = query(built, f"select {name}, {count} from {table} order by {count} desc, {name} nulls last")
        assert [(r[name], int(r[count])) for r in rows] == [(n or "", c) for n, c in warehouse], table
        parquet = duckdb.execute(f"select {name}, {count} from read_parquet(?)", [str(out / f"{table}.parquet")])
        assert parquet.fetchall() == warehouse, table
    for table, (time, count, name) in SERIES.items():
        rows = _csv_rows(out / f"{table}.csv")
        keys = f"{time}, {count} desc" + (f", {name}" if name else "")
        cols = f"{time}::varchar, {count}" + (f", {name}" if name else "")
        warehouse = query(built, f"select {cols} from {table} order by {keys}")
        got = [tuple(r[c] if c != count else int(r[c]) for c in (time, count, name) if c) for r in rows]
        assert got == [tuple(v if v is not None else "" for v in w) for w in warehouse], table
        parquet = duckdb.execute(f"select {cols} from read_parquet(?)", [str(out / f"{table}.parquet")])
        assert parquet.fetchall() == warehouse, table


def test_an_export_without_a_sort_order_is_written_in_order_by_all(
    built: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(exports.ORDER_BY, "kpi_top_genres")  # as a KPI just added to the exposure
    export_tables(built, tmp_path / "out")
    rows = [(r["genre"], int(r["total_titles"])) for r in _csv_rows(tmp_path / "out" / "kpi_top_genres.csv")]
    assert rows == query(built, "select genre, total_titles from kpi_top_genres order by all")


def test_exports_and_lookml_read_nothing_outside_their_exposures(built: Home, tmp_path: Path) -> None:
    """From a warehouse holding only the models of its exposure, each output is the same."""
    full = export_tables(built, tmp_path / "full-exports")
    generate_lookml(built, tmp_path / "full-lookml")
    only_exports = _copy_of(built, tmp_path / "exports-only")
    assert drop_models_except(only_exports.warehouse, EXPORT_TABLES)
    trimmed = export_tables(only_exports, tmp_path / "exports")
    assert trimmed["tables"] == full["tables"]
    only_lookml = _copy_of(built, tmp_path / "lookml-only")
    assert drop_models_except(only_lookml.warehouse, VIEW_TABLES)
    for path in generate_lookml(only_lookml, tmp_path / "lookml"):
        assert path.read_text() == (tmp_path / "full-lookml" / path.name).read_text(), path.name


def test_month_added_is_exported_as_a_date(built: Home, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = export_tables(built, out)
    table = "kpi_titles_added_by_month"
    rows = _csv_rows(out / f"{table}.csv")
    assert rows and all(re.fullmatch(r"\d{4}-\d{2}-01", r["month_added"]) for r in rows), rows[:3]
    # A date in the model itself (its contract), so every engine and every reader sees one.
    assert query(built, f"select distinct typeof(month_added) from {table}") == [("DATE",)]
    first = query(built, f"select strftime(min(month_added), '%Y-%m-%d') from {table}")[0][0]
    assert rows[0]["month_added"] == first
    parquet = str(out / f"{table}.parquet")
    schema = duckdb.execute("select type, converted_type from parquet_schema(?) where name = 'month_added'", [parquet])
    assert schema.fetchall() == [("INT32", "DATE")]  # the Parquet DATE type, days since the epoch
    assert duckdb.execute("select typeof(month_added) from read_parquet(?) limit 1", [parquet]).fetchone() == ("DATE",)
    # The manifest lists the type written, which the BigQuery load uses for its schema.
    (entry,) = [t for t in manifest["tables"] if t["table"] == table]
    assert {"name": "month_added", "type": "DATE"} in entry["columns"]


def test_lookml_parses_and_matches_the_warehouse(built: Home, tmp_path: Path) -> None:
    files = generate_lookml(built, tmp_path / "lookml")
    names = sorted(p.name for p in files)
    assert names == sorted(
        ["netflix_elt.model.lkml", "netflix_overview.dashboard.lookml", *(f"{t}.view.lkml" for t in VIEW_TABLES)]
    )
    assert validate_lookml(built, tmp_path / "lookml") == []

    model = lkml.load((tmp_path / "lookml" / "netflix_elt.model.lkml").read_text())
    assert model["connection"] == "bigquery_connection"
    current = next(e for e in model["explores"] if e["name"] == "analytics_netflix_current")
    assert {j["name"]: j["relationship"] for j in current["joins"]} == {
        "netflix_title_countries": "one_to_many",
        "netflix_title_genres": "one_to_many",
        "netflix_title_cast": "one_to_many",
        "netflix_title_directors": "one_to_many",
    }
    view = lkml.load((tmp_path / "lookml" / "analytics_netflix_current.view.lkml").read_text())["views"][0]
    dims = {d["name"]: d for d in view["dimensions"]}
    assert dims["show_id"]["primary_key"] == "yes"
    assert dims["release_year"]["type"] == "number" and dims["is_deleted"]["type"] == "yesno"
    groups = {g["name"]: g for g in view["dimension_groups"]}
    assert groups["date_added"]["type"] == "time" and groups["date_added"]["datatype"] == "date"
    measures = {m["name"]: m for m in view["measures"]}
    assert measures["count"]["type"] == "count"
    assert measures["average_duration_minutes"]["type"] == "average"
    assert measures["average_seasons"]["type"] == "average"
    bridge = lkml.load((tmp_path / "lookml" / "netflix_title_countries.view.lkml").read_text())["views"][0]
    assert [d["name"] for d in bridge["dimensions"] if d.get("primary_key") == "yes"] == ["pk"]

    dashboards = yaml.safe_load((tmp_path / "lookml" / "netflix_overview.dashboard.lookml").read_text())
    titles = [e["title"] for e in dashboards[0]["elements"]]
    assert titles == [
        "Movies vs TV shows",
        "Content growth by release year",
        "Top countries",
        "Rating distribution",
        "Top genres",
        "Titles added by month",
        "Genres over time",
        "Country growth in recent years",
    ]


def test_a_renamed_column_fails_validation(built: Home, tmp_path: Path) -> None:
    folder = tmp_path / "lookml"
    generate_lookml(
        built,
        folder,
    )
    copy = Home(tmp_path / "copy")
    copy.root.mkdir()
    (copy.root / built.warehouse.name).write_bytes(built.warehouse.read_bytes())
    con = duckdb.connect(str(copy.warehouse))
    con.execute("alter table analytics_netflix_current rename column seasons to season_count")
    con.execute(
        "create or replace table kpi_movies_vs_tv as select type, cast(count(*) as varchar) as total_titles "
        "from analytics_netflix_current group by type"
    )
    con.close()
    problems = validate_lookml(copy, folder)
    assert any("analytics_netflix_current.seasons uses ${TABLE}.seasons" in p for p in problems), problems
    assert any(
        "kpi_movies_vs_tv.total_titles is number but kpi_movies_vs_tv.total_titles is string" in p for p in problems
    ), problems


def test_broken_lookml_file_is_reported(built: Home, tmp_path: Path) -> None:
    folder = tmp_path / "lookml"
    generate_lookml(built, folder)
    (folder / "kpi_top_genres.view.lkml").write_text("view: kpi_top_genres {\n  dimension: genre {\n", "utf-8")
    assert any("kpi_top_genres.view.lkml: does not parse" in p for p in validate_lookml(built, folder))


def _copy_of(built: Home, root: Path) -> Home:
    """A home holding a copy of the built warehouse and nothing else (no lookml/)."""
    copy = Home(root)
    copy.root.mkdir()
    (copy.root / built.warehouse.name).write_bytes(built.warehouse.read_bytes())
    return copy


def test_a_missing_or_empty_lookml_folder_is_a_problem(built: Home, tmp_path: Path) -> None:
    folder = tmp_path / "lookml"
    hint = "no LookML files; run `netflix-elt lookml` to generate them"
    assert validate_lookml(built, folder) == [f"{folder}: {hint}"]
    folder.mkdir()
    assert validate_lookml(built, folder) == [f"{folder}: {hint}"]
    (folder / "notes.txt").write_text("not LookML\n", "utf-8")
    assert validate_lookml(built, folder) == [f"{folder}: {hint}"]
    # Views without the model that explores them are not a LookML project either.
    generate_lookml(built, folder)
    (folder / "netflix_elt.model.lkml").unlink()
    problems = validate_lookml(built, folder)
    assert problems == [f"{folder}: no model file (*.model.lkml); run `netflix-elt lookml` to generate it"]


def test_cli_lookml_check_without_lookml_fails(built: Home, tmp_path: Path) -> None:
    copy = _copy_of(built, tmp_path / "home")
    folder = copy.root / "lookml"
    for make in (lambda: None, folder.mkdir):
        make()
        out = CliRunner().invoke(cli, ["--home", str(copy.root), "lookml", "--check"])
        assert out.exit_code == 2, out.output  # bad input: there is nothing to check
        assert f"error: {folder}: no LookML files; run `netflix-elt lookml` to generate them" in out.stderr.splitlines()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"connection": ""}, "connection"),
        ({"connection": "  \t"}, "connection"),
        ({"connection": "my\nbq"}, "connection"),
        ({"dataset": ""}, "dataset"),
        ({"dataset": " "}, "dataset"),
        ({"dataset": "netflix-elt"}, "dataset"),
        ({"dataset": "netflix elt"}, "dataset"),
        ({"dataset": "netflix_elt; drop"}, "dataset"),
    ],
)
def test_bad_lookml_options_are_input_errors_that_write_nothing(
    built: Home, tmp_path: Path, options: dict[str, str], named: str
) -> None:
    folder = tmp_path / "lookml"
    with pytest.raises(InputError, match=named) as info:
        generate_lookml(built, folder, LookmlOptions(**options))
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    assert not folder.exists()


def test_cli_lookml_with_an_empty_connection_exits_2_and_writes_nothing(built: Home, tmp_path: Path) -> None:
    copy = _copy_of(built, tmp_path / "home")
    for args in (["--connection", ""], ["--connection", " "], ["--dataset", " "], ["--dataset", "my-dataset"]):
        out = CliRunner().invoke(cli, ["--home", str(copy.root), "lookml", *args])
        assert out.exit_code == 2, out.output
        assert args[0].lstrip("-") in out.stderr and "Traceback" not in out.output, out.stderr
        if args[0] == "--dataset":  # (the CLI refuses an empty --connection itself, as a usage error)
            assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert not (copy.root / "lookml").exists()
    assert LookmlOptions(dataset="Netflix_2024").dataset == "Netflix_2024"  # digits and capitals are fine


def test_cli_lookml_and_export(built: Home) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["--home", str(built.root), "lookml", "--connection", "my_bq"])
    assert out.exit_code == 0, out.output
    assert "lookml: 0 problem(s)" in out.stdout
    assert 'connection: "my_bq"' in (built.root / "lookml" / "netflix_elt.model.lkml").read_text()
    exp = runner.invoke(cli, ["--home", str(built.root), "export"])
    assert exp.exit_code == 0, exp.output
    assert "exported kpi_movies_vs_tv: 2 rows" in exp.stdout
    bad = runner.invoke(cli, ["--home", str(built.root), "export", "--endpoint", "http://127.0.0.1:9"])
    assert bad.exit_code == 2
