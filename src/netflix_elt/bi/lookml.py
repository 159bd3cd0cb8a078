"""LookML generated from the dbt project's docs and contracts, so it can never drift from them.

One view per table of the dbt project's `lookml` exposure (the current table, its history, the
bridges and the KPIs, see `netflix_elt.transform.registry`). Names, types, labels and descriptions
come from the models' yml (`registry.model_docs`): the enforced contracts' `data_type`, the
descriptions, and `config: meta:` hints, so no warehouse is needed to know the schema (it works for
`run --target bigquery` too):

- `label: ...` on a model or column where the title-cased name is wrong;
- `lookml: {hidden: true}` on technical columns (row_hash, batch ids, the bridges' keys);
- `lookml: {name: genre}` on a bridge's `value` column: the dimension's name;
- `lookml: {measure: sum}` on a KPI's pre-aggregated count: a hidden dimension and a sum measure
  named without its `total_` prefix (`total_titles` -> `titles`);
- `lookml: {measure: average}`: an average measure next to the dimension;
- `lookml: {timeframes: [...], datatype: date}`: a dimension group's grain (monthly KPIs).

The model has a datagroup triggered by the latest batch, explores (the current titles with the
bridges joined and an `always_filter` on Deleted = No, the history, each KPI), and `test:` blocks
asserting KPI totals against figures counted independently from the current table and its country
bridge (`Figures`, read by a `FiguresReader`: the home's DuckDB warehouse by default; none, and no
tests, when it holds no models, e.g. in BigQuery mode). The LookML dashboard answers the business
questions with type, country and release-year filters.

`validate_lookml` checks a LookML folder against the warehouse: it holds a model, every file
parses, every `${TABLE}.column` exists with a compatible type, and every field the explores, tests
and dashboard name is defined.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
COUNTRY_BRIDGE = registry.bridge("country")  # the top-country test's independent count
DATAGROUP = "latest_batch"
DRILL_SETS: dict[str, tuple[str, tuple[str, ...]]] = {  # view -> (set name, its fields)
    CURRENT: ("title_details", ("show_id", "title", "type", "release_year", "rating", "country", "date_added_date")),
    HISTORY: ("version_details", ("show_id", "title", "change_type", "valid_from_time", "valid_to_time")),
}
# The views' labels where the yml's `meta: {label: ...}` cannot say it: the role models' meta stays
# `{role: ...}` alone (the registry's tests edit it).
VIEW_LABELS = {CURRENT: "Titles", HISTORY: "Title history"}
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
    """The LookML type of a DuckDB, BigQuery or contract data type."""
    t = data_type.upper()
    if t in ("VARCHAR", "JSON", "STRING", "TEXT") or t.startswith("VARCHAR"):
        return "string"
    if NUMERIC.match(t) or t in ("INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "INT"):
        return "number"
    if t in ("BOOLEAN", "BOOL"):
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


ACRONYMS = {"id": "ID", "tv": "TV", "kpi": "KPI", "pk": "PK"}


def _title(name: str) -> str:
    """The default label: the name title-cased (`release_year` -> `Release Year`)."""
    return " ".join(ACRONYMS.get(w, w.capitalize()) for w in name.split("_") if w)


def _text(description: str) -> str:
    """A yml description as a LookML string: one line, no double quotes (lkml cannot read them back)."""
    return " ".join(description.replace('"', "'").split())


def _hints(column: registry.Column) -> Mapping[str, Any]:
    hints = column.meta.get("lookml") or {}
    return hints if isinstance(hints, Mapping) else {}


def _label(column: registry.Column) -> str:
    return str(column.meta.get("label") or _title(column.name))


def _field_name(column: registry.Column) -> str:
    return str(_hints(column).get("name") or column.name)


def _view_label(table: str) -> str:
    return str(registry.model_docs(table).meta.get("label") or VIEW_LABELS.get(table) or _title(table))


def _view(table: str, options: LookmlOptions) -> dict[str, Any]:
    docs = registry.model_docs(table)
    columns = docs.columns
    grain = GRAIN[table]
    dimensions: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    measures: list[dict[str, Any]] = []
    if len(grain) > 1:
        parts = ", '|', ".join(f"COALESCE(CAST(${{TABLE}}.{c} AS STRING), '')" for c in grain)
        dimensions.append(
            {
                "name": "pk",
                "label": "Row key",
                "description": f"The row's key: {', '.join(grain)} (a table of one row per {' and '.join(grain)}).",
                "primary_key": "yes",
                "hidden": "yes",
                "type": "string",
                "sql": f"CONCAT({parts})",
            }
        )
    visible: list[str] = []  # the view's visible dimensions, for the KPI counts' drill
    for column in columns:
        kind = _kind(column.data_type)
        hints = _hints(column)
        label, description = _label(column), _text(column.description)
        measure = hints.get("measure")
        hidden = bool(hints.get("hidden")) or measure == "sum"
        if kind in ("date", "timestamp"):
            timeframes = hints.get("timeframes") or (
                ["raw", "date", "week", "month", "quarter", "year"]
                if kind == "date"
                else ["raw", "time", "date", "week", "month", "quarter", "year"]
            )
            name = str(hints.get("name") or _group_name(column.name))
            group: dict[str, Any] = {
                "name": name,
                "label": str(column.meta.get("label") or _title(name)),
                "description": description,
                "type": "time",
                "timeframes": list(timeframes),
                "sql": f"${{TABLE}}.{column.name}",
            }
            if kind == "date" or hints.get("datatype") == "date":
                group["datatype"] = "date"
                group["convert_tz"] = "no"
            if hidden:
                group["hidden"] = "yes"
            else:
                visible.append(f"{name}_{next(t for t in timeframes if t != 'raw')}")
            groups.append(group)
            continue
        name = _field_name(column)
        dim: dict[str, Any] = {
            "name": name,
            "label": f"{label} (per row)" if measure == "sum" else label,  # the measure has the label
            "description": description,
        }
        if grain == (column.name,):
            dim["primary_key"] = "yes"
        if hidden:
            dim["hidden"] = "yes"
        else:
            visible.append(name)
        dim["type"] = kind
        dim["sql"] = f"${{TABLE}}.{column.name}"
        dimensions.append(dim)
        if measure == "sum":
            measures.append(
                {
                    "name": column.name.removeprefix("total_"),
                    "label": label,
                    "description": description,
                    "type": "sum",
                    "sql": f"${{TABLE}}.{column.name}",
                    "value_format_name": "decimal_0",
                }
            )
        elif measure == "average":
            measures.append(
                {
                    "name": f"average_{column.name}",
                    "label": f"Average {label[0].lower()}{label[1:]}",
                    "description": f"The average of {label}: {description}",
                    "type": "average",
                    "sql": f"${{TABLE}}.{column.name}",
                    "value_format_name": "decimal_1",
                }
            )
    sets: list[dict[str, Any]] = []
    if table in DRILL_SETS:
        set_name, set_fields = DRILL_SETS[table]
        sets.append({"name": set_name, "fields": list(set_fields)})
    if table == CURRENT:
        measures.insert(
            0,
            {
                "name": "count",
                "label": "Titles",
                "description": "Titles (one per show_id); with Deleted = No, the explore's default, the listed ones.",
                "type": "count",
                "drill_fields": [f"{DRILL_SETS[CURRENT][0]}*"],
                "value_format_name": "decimal_0",
            },
        )
    elif table == HISTORY:
        measures[:0] = [
            {
                "name": "count",
                "label": "Versions",
                "description": "Versions of titles (SCD2 rows).",
                "type": "count",
                "drill_fields": [f"{DRILL_SETS[HISTORY][0]}*"],
                "value_format_name": "decimal_0",
            },
            {
                "name": "titles",
                "label": "Titles",
                "description": "Distinct titles (show_id) among the versions.",
                "type": "count_distinct",
                "sql": "${TABLE}.show_id",
                "drill_fields": [f"{DRILL_SETS[HISTORY][0]}*"],
                "value_format_name": "decimal_0",
            },
        ]
    elif table in BRIDGES:
        dimension = next(d for d in dimensions if d["sql"] == "${TABLE}.value")
        measures.append(
            {
                "name": "titles",
                "label": "Titles",
                "description": f"Distinct titles (show_id) listing the {dimension['label'].lower()}.",
                "type": "count_distinct",
                "sql": "${TABLE}.show_id",
                "drill_fields": [dimension["name"], f"{CURRENT}.{DRILL_SETS[CURRENT][0]}*"],
                "value_format_name": "decimal_0",
            }
        )
    else:  # a KPI: its sums drill into its own dimensions
        for m in measures:
            if m["type"] == "sum":
                m["drill_fields"] = visible
    view: dict[str, Any] = {
        "name": table,
        "label": _view_label(table),
        "sql_table_name": f"{options.dataset}.{table}",
    }
    if sets:
        view["sets"] = sets
    if dimensions:
        view["dimensions"] = dimensions
    if groups:
        view["dimension_groups"] = groups
    view["measures"] = measures
    return view


class Figures(NamedTuple):
    """Catalog totals counted from the current table and its country bridge, independently of the
    KPI tables the model's `test:` blocks assert with them."""

    by_type: Mapping[str, int]  # listed (not deleted) titles per type
    total: int  # every listed title
    top_country: tuple[str, int] | None  # the country listed by most titles, and how many


SqlRunner = Callable[[str], Iterable[Sequence[Any]]]  # runs one SELECT, returns its rows
FiguresReader = Callable[[Home], "Figures | None"]  # None: no data to assert, no test blocks


def read_figures(run: SqlRunner, table: Callable[[str], str]) -> Figures:
    """The figures through any SQL engine: `run` executes portable SQL (DuckDB, BigQuery) and
    `table` names a model's relation there (`analytics_netflix_current`, or
    `` `project.dataset.analytics_netflix_current` `` for a BigQuery reader)."""
    current, countries = table(CURRENT), table(COUNTRY_BRIDGE)
    by_type = {
        str(t): int(n)
        for t, n in run(f"SELECT type, COUNT(*) FROM {current} WHERE NOT is_deleted GROUP BY type ORDER BY type")
        if t is not None
    }
    (total,) = next(iter(run(f"SELECT COUNT(*) FROM {current} WHERE NOT is_deleted")))
    top = list(
        run(
            f"SELECT b.value, COUNT(DISTINCT b.show_id) AS n FROM {countries} AS b "
            f"JOIN {current} AS c ON c.show_id = b.show_id WHERE NOT c.is_deleted "
            "GROUP BY b.value ORDER BY n DESC, b.value LIMIT 1"
        )
    )
    return Figures(by_type, int(total), (str(top[0][0]), int(top[0][1])) if top else None)


def duckdb_figures(home: Home) -> Figures | None:
    """The figures from the home's DuckDB warehouse (read-only); None when it holds no models."""
    if not home.warehouse.is_file():
        return None
    con = connect(home, read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        if not {CURRENT, COUNTRY_BRIDGE} <= tables:
            return None
        return read_figures(lambda sql: con.execute(sql).fetchall(), lambda t: t)
    finally:
        con.close()


def no_figures(home: Home) -> Figures | None:
    """A reader for a model without `test:` blocks."""
    return None


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "blank"


def _filter_value(value: str) -> str:
    """A Looker filter expression matching `value` exactly (its special characters escaped)."""
    return re.sub(r"([\^,%_\"])", r"^\1", value)


def _test(name: str, kpi: str, measure: str, expected: int, dimension: str | None, value: str | None) -> dict:
    columns = [{"name": "total", "field": f"{kpi}.{measure}"}]
    source: dict[str, Any] = {"name": kpi}
    if dimension is not None and value is not None:
        columns.insert(0, {"name": dimension, "field": f"{kpi}.{dimension}"})
        source["filters__all"] = [[{f"{kpi}.{dimension}": _filter_value(value)}]]
    source["columns"] = columns
    return {
        "name": name,
        "explore_source": source,
        "asserts": [{"name": "matches_the_current_titles", "expression": f"${{{kpi}.{measure}}} = {expected}"}],
    }


def _tests(figures: Figures | None) -> list[dict[str, Any]]:
    if figures is None:
        return []
    tests: list[dict[str, Any]] = []
    kpis = set(KPI_VIEWS)
    if "kpi_movies_vs_tv" in kpis:
        for value, n in sorted(figures.by_type.items()):
            tests.append(_test(f"{_slug(value)}_total_is_{n}", "kpi_movies_vs_tv", "titles", n, "type", value))
        tests.append(
            _test(f"all_titles_total_is_{figures.total}", "kpi_movies_vs_tv", "titles", figures.total, None, None)
        )
    if "kpi_titles_by_country" in kpis and figures.top_country is not None:
        country, n = figures.top_country
        tests.append(_test(f"{_slug(country)}_total_is_{n}", "kpi_titles_by_country", "titles", n, "country", country))
    return tests


def _model(options: LookmlOptions, figures: Figures | None = None) -> dict[str, Any]:
    joins = [
        {
            "name": bridge,
            "type": "left_outer",
            "relationship": "one_to_many",
            "sql_on": f"${{{CURRENT}.show_id}} = ${{{bridge}.show_id}}",
        }
        for bridge in BRIDGES
    ]
    docs = {t: registry.model_docs(t) for t in VIEW_TABLES}

    explores: list[dict[str, Any]] = [
        {
            "name": CURRENT,
            "label": "Netflix titles",
            "description": _text(
                f"{docs[CURRENT].description} Only listed titles by default: set Deleted to Yes or any "
                "value to see the deleted ones. Genres, countries, cast and directors are joined one row each."
            ),
            "always_filter": {"filters__all": [[{f"{CURRENT}.is_deleted": "No"}]]},
            "joins": joins,
        },
        {"name": HISTORY, "label": "Netflix title history (SCD2)", "description": _text(docs[HISTORY].description)},
        *({"name": kpi, "label": _view_label(kpi), "description": _text(docs[kpi].description)} for kpi in KPI_VIEWS),
    ]
    model: dict[str, Any] = {
        "connection": options.connection,
        "includes": ["/*.view.lkml", "/*.dashboard.lookml"],
        "datagroups": [
            {
                "name": DATAGROUP,
                "label": "Latest batch",
                "description": "Caches until netflix-elt processes a new batch (the latest batch id changes).",
                "sql_trigger": f"SELECT MAX(last_changed_batch_id) FROM {options.dataset}.{CURRENT}",
                "max_cache_age": "24 hours",
            }
        ],
        "persist_with": DATAGROUP,
        "explores": explores,
    }
    tests = _tests(figures)
    if tests:
        model["tests"] = tests
    return model


class Tile(NamedTuple):
    """A tile of the LookML dashboard: one business question, on the explore that can answer it."""

    name: str
    title: str
    explore: str
    chart: str
    fields: tuple[str, ...]  # view.field
    sort: str  # a field and its direction
    listen: tuple[str, ...] = ()  # the dashboard filters it listens to (FILTERS' names)
    limit: int = 500
    pivots: tuple[str, ...] = ()


def _filters() -> dict[str, tuple[str, str, str, dict[str, str]]]:
    """The dashboard filters: name -> (title, explore, field, ui_config)."""
    return {
        "type": ("Type", CURRENT, f"{CURRENT}.type", {"type": "checkboxes", "display": "popover"}),
        "country": (
            "Country",
            CURRENT,
            f"{COUNTRY_BRIDGE}.{_bridge_field(COUNTRY_BRIDGE)}",
            {"type": "tag_list", "display": "popover"},
        ),
        "release_year": (
            "Release year",
            CURRENT,
            f"{CURRENT}.release_year",
            {"type": "range_slider", "display": "inline"},
        ),
    }


def _bridge_field(bridge: str) -> str:
    """The name of a bridge's dimension (its `value` column's `lookml: {name: ...}`)."""
    return next(_field_name(c) for c in registry.columns(bridge) if c.name == "value")


# What each dashboard filter is on every explore a tile uses: the current explore has them all;
# a KPI explore only the ones it keeps as a column (its pre-aggregation removed the others).
def _listen(tile: Tile) -> dict[str, str]:
    on_current = {name: field for name, (_, _, field, _) in _filters().items()}
    if tile.explore == CURRENT:
        return {f: on_current[f] for f in tile.listen}
    kpi_fields = {"type": "type", "country": "country", "release_year": "release_year"}
    return {f: f"{tile.explore}.{kpi_fields[f]}" for f in tile.listen}


def _tiles() -> tuple[Tile, ...]:
    c, genres, countries = CURRENT, registry.bridge("genre"), COUNTRY_BRIDGE
    genre, country = _bridge_field(genres), _bridge_field(countries)
    every = ("type", "country", "release_year")
    return (
        Tile(
            "movies_vs_tv", "Movies vs TV shows", c, "looker_pie", (f"{c}.type", f"{c}.count"), f"{c}.count desc", every
        ),
        Tile(
            "content_growth",
            "Content growth by release year",
            c,
            "looker_line",
            (f"{c}.release_year", f"{c}.count"),
            f"{c}.release_year",
            every,
        ),
        Tile(
            "countries",
            "Top countries",
            c,
            "looker_bar",
            (f"{countries}.{country}", f"{countries}.titles"),
            f"{countries}.titles desc",
            every,
            10,
        ),
        Tile(
            "ratings",
            "Rating distribution",
            c,
            "looker_column",
            (f"{c}.rating", f"{c}.count"),
            f"{c}.count desc",
            every,
        ),
        Tile(
            "genres",
            "Top genres",
            c,
            "looker_bar",
            (f"{genres}.{genre}", f"{genres}.titles"),
            f"{genres}.titles desc",
            every,
            10,
        ),
        Tile(
            "titles_added_by_month",
            "Titles added by month",
            "kpi_titles_added_by_month",
            "looker_area",
            (
                "kpi_titles_added_by_month.month_added_month",
                "kpi_titles_added_by_month.type",
                "kpi_titles_added_by_month.titles",
            ),
            "kpi_titles_added_by_month.month_added_month",
            ("type",),
            pivots=("kpi_titles_added_by_month.type",),
        ),
        Tile(
            "genres_over_time",
            "Genres over time",
            "kpi_genres_over_time",
            "looker_line",
            (
                "kpi_genres_over_time.release_year",
                "kpi_genres_over_time.genre",
                "kpi_genres_over_time.titles",
            ),
            "kpi_genres_over_time.release_year",
            ("release_year",),
            pivots=("kpi_genres_over_time.genre",),
        ),
        Tile(
            "country_recent_growth",
            "Country growth in recent years",
            "kpi_country_recent_growth",
            "looker_bar",
            ("kpi_country_recent_growth.country", "kpi_country_recent_growth.titles_recent"),
            "kpi_country_recent_growth.titles_recent desc",
            ("country",),
        ),
    )


def _element(tile: Tile, index: int) -> dict[str, Any]:
    if tile.explore != CURRENT and tile.explore not in KPI_VIEWS:
        raise registry.RegistryError(
            f"the LookML dashboard's tile {tile.name} shows {tile.explore}, which the `lookml` exposure does not list"
        )
    element: dict[str, Any] = {
        "name": tile.name,
        "title": tile.title,
        "model": MODEL_NAME,
        "explore": tile.explore,
        "type": tile.chart,
        "fields": list(tile.fields),
    }
    if tile.pivots:
        element["pivots"] = list(tile.pivots)
    if tile.explore == CURRENT:  # the explore's always_filter, as Looker would save it
        element["filters"] = {f"{CURRENT}.is_deleted": "No"}
    element |= {
        "sorts": [tile.sort],
        "limit": tile.limit,
        "listen": _listen(tile),
        "row": (index // 2) * 6,
        "col": (index % 2) * 12,
        "width": 12,
        "height": 6,
    }
    return element


def _dashboard() -> list[dict[str, Any]]:
    filters = [
        {
            "name": name,
            "title": title,
            "type": "field_filter",
            "default_value": "",
            "allow_multiple_values": True,
            "required": False,
            "ui_config": ui,
            "model": MODEL_NAME,
            "explore": explore,
            "field": field,
        }
        for name, (title, explore, field, ui) in _filters().items()
    ]
    return [
        {
            "dashboard": "netflix_overview",
            "title": "Netflix catalog overview",
            "description": "The catalog's business questions: listed titles by type, release year, country, "
            "rating and genre, and the KPIs over time.",
            "layout": "newspaper",
            "preferred_viewer": "dashboards-next",
            "filters": filters,
            "elements": [_element(tile, i) for i, tile in enumerate(_tiles())],
        }
    ]


def generate_lookml(
    home: Home,
    out: Path | None = None,
    options: LookmlOptions | None = None,
    figures: FiguresReader | None = None,
) -> list[Path]:
    """Write the model, one view per table and the dashboard to `out` (default `<home>/lookml/`),
    from the dbt project's docs alone. `figures` reads the totals the model's `test:` blocks
    assert (default `duckdb_figures`, the home's warehouse; it gives None, and the model no tests,
    when the warehouse holds no models, as with `--target bigquery`: pass a BigQuery reader built
    on `read_figures` there, or `no_figures` to leave the tests out)."""
    import lkml
    import yaml

    options = options or LookmlOptions()
    out = out or home.root / "lookml"
    absent = [t for t in (CURRENT, HISTORY) if t not in VIEW_TABLES]
    if absent:  # the model's first two explores
        raise registry.RegistryError(f"the dbt project's `lookml` exposure does not list {absent[0]}")
    found = (figures or duckdb_figures)(home)
    if found is None:
        log.info("lookml: no figures to assert (no models in the warehouse); the model has no test blocks")
    model = _model(options, found)
    views = [_view(table, options) for table in VIEW_TABLES]
    dashboard = _dashboard()
    out.mkdir(parents=True, exist_ok=True)
    header = (
        "# Generated by netflix-elt from the dbt project's docs and contracts; do not edit "
        "(re-run `netflix-elt lookml`).\n"
    )
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        target = out / name
        tmp = out / f".{name}.tmp"
        tmp.write_text(header + text.rstrip("\n") + "\n", encoding="utf-8")
        tmp.replace(target)
        written.append(target)
        faults.checkpoint(f"lookml_wrote:{name}")

    write(f"{MODEL_NAME}.model.lkml", lkml.dump(model) or "")
    for table, view in zip(VIEW_TABLES, views, strict=True):
        write(f"{table}.view.lkml", lkml.dump({"views": [view]}) or "")
    write("netflix_overview.dashboard.lookml", yaml.safe_dump(dashboard, sort_keys=False))
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
        explores = {e["name"] for e in model.get("explores", [])}
        for test in model.get("tests", []):
            source = test.get("explore_source", {})
            if source.get("name") not in explores:
                problems.append(
                    f"{name}: test {test['name']} queries explore {source.get('name')}, which is not defined"
                )
            refs = [c.get("field", "") for c in source.get("columns", [])]
            refs += [k for group in source.get("filters__all", []) for f in group for k in f]
            refs += [f"{v}.{f}" for a in test.get("asserts", []) for v, f in FIELD_REF.findall(a.get("expression", ""))]
            for ref in refs:
                v, _, f = ref.partition(".")
                if f not in fields.get(v, set()):
                    problems.append(f"{name}: test {test['name']} uses {ref}, which is not a field")
    for path in sorted(folder.glob("*.dashboard.lookml")):
        try:
            dashboards = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: does not parse ({exc})")
            continue
        for dash in dashboards or []:
            filters = {}
            for flt in dash.get("filters", []):
                filters[flt["name"]] = flt
                v, _, f = str(flt.get("field", "")).partition(".")
                if f not in fields.get(v, set()):
                    problems.append(f"{path.name}: filter {flt['name']} is on {flt.get('field')}, which is not a field")
            for el in dash.get("elements", []):
                refs = [
                    *el.get("fields", []),
                    *el.get("pivots", []),
                    *(sort.split()[0] for sort in el.get("sorts", [])),
                ]
                refs += [*(el.get("filters") or {})]
                listen = el.get("listen") or {}
                refs += listen.values()
                for ref in refs:
                    v, _, f = ref.partition(".")
                    if f not in fields.get(v, set()):
                        problems.append(f"{path.name}: element {el['name']} uses {ref}, which is not a field")
                for flt in listen:
                    if flt not in filters:
                        problems.append(f"{path.name}: element {el['name']} listens to {flt}, which is no filter")
    return problems
