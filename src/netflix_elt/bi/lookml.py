"""LookML generated from the warehouse schema, so it can never drift from it.

One view per table of the dbt project's `lookml` exposure (the current table, its history, the
bridges and the KPIs, see `netflix_elt.transform.registry`), typed from DuckDB's information
schema; a model with explores joining the bridges to the current titles; and a LookML dashboard
for the five business questions. `validate_lookml` checks a LookML folder against the warehouse:
it holds a model, every file parses, and every `${TABLE}.column` exists with a compatible type.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from netflix_elt.core import faults
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.transform import registry
from netflix_elt.warehouse.connection import connect

log = logging.getLogger(__name__)

MODEL_NAME = "netflix_elt"
# One view per table of the `lookml` exposure (models/exposures.yml), in its order.
VIEW_TABLES = registry.exposure_models("lookml")
CURRENT = registry.CURRENT
HISTORY = registry.HISTORY
BRIDGES = tuple(t for t in VIEW_TABLES if t in registry.BRIDGES)  # joined to CURRENT, in the exposure's order
KPI_VIEWS = registry.kpis(VIEW_TABLES)

# The grain of each table: its primary key in LookML (a hidden compound key when several columns),
# the columns its yml declares unique (registry.unique_key); a bridge's is its title and position.
GRAIN: dict[str, tuple[str, ...]] = {
    **{t: registry.unique_key(t) for t in VIEW_TABLES},
    **{b: ("show_id", "position") for b in BRIDGES},
}

NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$"
)
TABLE_REF = re.compile(r"\$\{TABLE\}\.(\w+)")
FIELD_REF = re.compile(r"\$\{(\w+)\.(\w+)\}")


DATASET_NAME = re.compile(r"[A-Za-z0-9_]+")  # a BigQuery dataset name


@dataclass(frozen=True)
class LookmlOptions:
    """Checked when made, so bad options fail (exit 2) before any file is written: an empty
    connection or dataset would still give LookML that parses and that no Looker can use."""

    connection: str = "bigquery_connection"
    dataset: str = "netflix_elt"

    def __post_init__(self) -> None:
        c, d = self.connection, self.dataset
        if not isinstance(c, str) or not c.strip() or not c.isprintable():
            raise InputError(f"lookml: connection {c!r} must be the name of a Looker connection (not empty)")
        if not isinstance(d, str) or not DATASET_NAME.fullmatch(d):
            raise InputError(f"lookml: dataset {d!r} must be a dataset name of letters, digits and underscores")


def _kind(data_type: str) -> str:
    t = data_type.upper()
    if t in ("VARCHAR", "JSON") or t.startswith("VARCHAR"):
        return "string"
    if NUMERIC.match(t):
        return "number"
    if t == "BOOLEAN":
        return "yesno"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return "string"


def _schema(home: Home) -> dict[str, list[tuple[str, str]]]:
    con = connect(home, read_only=True)
    try:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'main' order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    schema: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        schema.setdefault(table, []).append((column, dtype))
    return schema


def _group_name(column: str) -> str:
    return column[:-3] if column.endswith("_at") else column


def _view(table: str, columns: list[tuple[str, str]], options: LookmlOptions) -> dict[str, Any]:
    grain = GRAIN[table]
    dimensions: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    names = {c for c, _ in columns}
    if len(grain) > 1:
        parts = ", '|', ".join(f"COALESCE(CAST(${{TABLE}}.{c} AS STRING), '')" for c in grain)
        dimensions.append(
            {"name": "pk", "primary_key": "yes", "hidden": "yes", "type": "string", "sql": f"CONCAT({parts})"}
        )
    for column, dtype in columns:
        kind = _kind(dtype)
        if kind in ("date", "timestamp"):
            group: dict[str, Any] = {
                "name": _group_name(column),
                "type": "time",
                "timeframes": ["raw", "date", "week", "month", "quarter", "year"]
                if kind == "date"
                else ["raw", "time", "date", "week", "month", "quarter", "year"],
                "sql": f"${{TABLE}}.{column}",
            }
            if kind == "date":
                group["datatype"] = "date"
                group["convert_tz"] = "no"
            groups.append(group)
            continue
        dim: dict[str, Any] = {"name": column, "type": kind, "sql": f"${{TABLE}}.{column}"}
        if grain == (column,):
            dim["primary_key"] = "yes"
        dimensions.append(dim)
    measures: list[dict[str, Any]] = [{"name": "count", "type": "count"}]
    if "show_id" in names:
        measures.append(
            {"name": "titles", "type": "count_distinct", "sql": "${TABLE}.show_id", "label": "Distinct titles"}
        )
    for column in ("duration_minutes", "seasons"):
        if column in names:
            measures.append(
                {
                    "name": f"average_{column}",
                    "type": "average",
                    "sql": f"${{TABLE}}.{column}",
                    "value_format_name": "decimal_1",
                }
            )
    for column in ("total_titles", "total_titles_recent"):
        if column in names:
            measures.append({"name": f"sum_{column}", "type": "sum", "sql": f"${{TABLE}}.{column}"})
    view: dict[str, Any] = {"name": table, "sql_table_name": f"{options.dataset}.{table}"}
    if dimensions:
        view["dimensions"] = dimensions
    if groups:
        view["dimension_groups"] = groups
    view["measures"] = measures
    return view


def _model(options: LookmlOptions) -> dict[str, Any]:
    joins = [
        {
            "name": bridge,
            "type": "left_outer",
            "relationship": "one_to_many",
            "sql_on": f"${{{CURRENT}.show_id}} = ${{{bridge}.show_id}}",
        }
        for bridge in BRIDGES
    ]
    explores: list[dict[str, Any]] = [
        {
            "name": CURRENT,
            "label": "Netflix titles",
            "sql_always_where": f"NOT ${{{CURRENT}.is_deleted}}",
            "joins": joins,
        },
        {"name": HISTORY, "label": "Netflix title history (SCD2)"},
        *({"name": kpi} for kpi in KPI_VIEWS),
    ]
    return {
        "connection": options.connection,
        "includes": ["/*.view.lkml", "/*.dashboard.lookml"],
        "explores": explores,
    }


class Tile(NamedTuple):
    """A tile of the LookML dashboard: a chart of one KPI explore (in the `lookml` exposure)."""

    name: str
    title: str
    kpi: str
    chart: str
    dimension: str
    sort: str  # a field of the KPI's view, and its direction
    row: int
    col: int
    measure: str = "sum_total_titles"


# One tile per business question.
TILES = (
    Tile("movies_vs_tv", "Movies vs TV shows", "kpi_movies_vs_tv", "looker_pie", "type", "sum_total_titles desc", 0, 0),
    Tile(
        "content_growth",
        "Content growth by release year",
        "kpi_titles_by_year",
        "looker_line",
        "release_year",
        "release_year",
        0,
        12,
    ),
    Tile("countries", "Top countries", "kpi_titles_by_country", "looker_bar", "country", "sum_total_titles desc", 6, 0),
    Tile(
        "ratings",
        "Rating distribution",
        "kpi_titles_by_rating",
        "looker_column",
        "rating",
        "sum_total_titles desc",
        6,
        12,
    ),
    Tile("genres", "Top genres", "kpi_top_genres", "looker_bar", "genre", "sum_total_titles desc", 12, 0),
)


def _element(tile: Tile) -> dict[str, Any]:
    if tile.kpi not in KPI_VIEWS:
        raise registry.RegistryError(
            f"the LookML dashboard's tile {tile.name} shows {tile.kpi}, which the `lookml` exposure does not list"
        )
    return {
        "name": tile.name,
        "title": tile.title,
        "model": MODEL_NAME,
        "explore": tile.kpi,
        "type": tile.chart,
        "fields": [f"{tile.kpi}.{tile.dimension}", f"{tile.kpi}.{tile.measure}"],
        "sorts": [f"{tile.kpi}.{tile.sort}"],
        "limit": 500,
        "row": tile.row,
        "col": tile.col,
        "width": 12,
        "height": 6,
    }


def _dashboard() -> list[dict[str, Any]]:
    return [
        {
            "dashboard": "netflix_overview",
            "title": "Netflix catalog overview",
            "layout": "newspaper",
            "preferred_viewer": "dashboards-next",
            "elements": [_element(tile) for tile in TILES],
        }
    ]


def generate_lookml(home: Home, out: Path | None = None, options: LookmlOptions | None = None) -> list[Path]:
    """Write the model, one view per table and the dashboard to `out` (default `<home>/lookml/`)."""
    import lkml
    import yaml

    options = options or LookmlOptions()
    out = out or home.root / "lookml"
    absent = [t for t in (CURRENT, HISTORY) if t not in VIEW_TABLES]
    if absent:  # the model's first two explores
        raise registry.RegistryError(f"the dbt project's `lookml` exposure does not list {absent[0]}")
    schema = _schema(home)
    missing = [t for t in VIEW_TABLES if t not in schema]
    if missing:
        raise InputError(f"{home.warehouse}: no transformed data yet ({missing[0]} missing); run `netflix-elt run`")
    out.mkdir(parents=True, exist_ok=True)
    header = "# Generated by netflix-elt from the warehouse schema; do not edit (re-run `netflix-elt lookml`).\n"
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        target = out / name
        tmp = out / f".{name}.tmp"
        tmp.write_text(header + text.rstrip("\n") + "\n", encoding="utf-8")
        tmp.replace(target)
        written.append(target)
        faults.checkpoint(f"lookml_wrote:{name}")

    write(f"{MODEL_NAME}.model.lkml", lkml.dump(_model(options)) or "")
    for table in VIEW_TABLES:
        write(f"{table}.view.lkml", lkml.dump({"views": [_view(table, schema[table], options)]}) or "")
    write("netflix_overview.dashboard.lookml", yaml.safe_dump(_dashboard(), sort_keys=False))
    log.info("wrote %d LookML files to %s", len(written), out)
    return written


def _compatible(field_type: str, kind: str) -> bool:
    if field_type == "time":
        return kind in ("date", "timestamp")
    if field_type in ("number", "average", "sum", "median", "min", "max"):
        return kind == "number"
    if field_type == "yesno":
        return kind == "yesno"
    if field_type == "string":
        return kind == "string"
    return True  # count_distinct, count, list...: any column


def validate_lookml(home: Home, folder: Path) -> list[str]:
    """Problems found in a LookML folder against the warehouse; empty when it is all consistent."""
    import lkml
    import yaml

    schema = {t: {c: _kind(d) for c, d in cols} for t, cols in _schema(home).items()}
    # Nothing to check is not "consistent": a missing or empty folder fails the check.
    lkml_files = sorted(folder.glob("*.lkml"))
    if not lkml_files:
        return [f"{folder}: no LookML files; run `netflix-elt lookml` to generate them"]
    if not any(p.name.endswith(".model.lkml") for p in lkml_files):
        return [f"{folder}: no model file (*.model.lkml); run `netflix-elt lookml` to generate it"]
    problems: list[str] = []
    fields: dict[str, set[str]] = {}
    models: list[tuple[str, dict[str, Any]]] = []
    for path in lkml_files:
        try:
            doc = lkml.load(path.read_text(encoding="utf-8"))
        except Exception as exc:  # lkml raises its own syntax errors
            problems.append(f"{path.name}: does not parse ({exc})")
            continue
        if path.name.endswith(".model.lkml"):
            models.append((path.name, doc))
        for view in doc.get("views", []):
            table = str(view.get("sql_table_name", view["name"])).split(".")[-1].strip("`")
            columns = schema.get(table)
            if columns is None:
                problems.append(f"{path.name}: view {view['name']} reads {table}, which is not in the warehouse")
                continue
            names = fields.setdefault(view["name"], set())
            for key in ("dimensions", "dimension_groups", "measures"):
                for f in view.get(key, []):
                    names.add(f["name"])
                    for tf in f.get("timeframes", []):
                        names.add(f"{f['name']}_{tf}")
                    sql = f.get("sql", "")
                    refs = TABLE_REF.findall(sql)
                    for col in refs:
                        if col not in columns:
                            problems.append(
                                f"{path.name}: {view['name']}.{f['name']} uses ${{TABLE}}.{col}, "
                                f"which {table} does not have"
                            )
                        elif sql.strip() == f"${{TABLE}}.{col}" and not _compatible(f.get("type", ""), columns[col]):
                            problems.append(
                                f"{path.name}: {view['name']}.{f['name']} is {f.get('type')} but "
                                f"{table}.{col} is {columns[col]}"
                            )
    for name, model in models:
        for explore in model.get("explores", []):
            views = {explore["name"], *(j["name"] for j in explore.get("joins", []))}
            for v in views:
                if v not in fields:
                    problems.append(f"{name}: explore {explore['name']} uses view {v}, which is not defined")
            for j in explore.get("joins", []):
                for v, f in FIELD_REF.findall(j.get("sql_on", "")):
                    if f not in fields.get(v, set()):
                        problems.append(f"{name}: join {j['name']} refers to ${{{v}.{f}}}, which is not a field")
    for path in sorted(folder.glob("*.dashboard.lookml")):
        try:
            dashboards = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: does not parse ({exc})")
            continue
        for dash in dashboards or []:
            for el in dash.get("elements", []):
                for ref in el.get("fields", []):
                    v, _, f = ref.partition(".")
                    if f not in fields.get(v, set()):
                        problems.append(f"{path.name}: element {el['name']} uses {ref}, which is not a field")
    return problems
