"""What the dashboard shows, read from the warehouse: the catalog figures (the KPI views and the
current table) and the ledger's facts (latest transform, ingestion, check results and runs).

The ledger is read only through `netflix_elt.warehouse.ledger` and plain queries on its tables,
never through the stages that write it (quality/, ingest/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from netflix_elt.transform import registry
from netflix_elt.warehouse.connection import fetch_dicts, table_exists
from netflix_elt.warehouse.ledger import (
    DQ_TABLE,
    LEDGER_TABLE,
    RUNS_TABLE,
    TRANSFORMS_TABLE,
    latest_ingestion,
    latest_results,
    latest_transform,
)

# What the page reads: the `offline_dashboard` exposure of the dbt project (models/exposures.yml).
# Each chart's query below names its KPI; tests/bi/test_dashboard.py checks the page needs nothing
# outside the exposure.
TABLES = registry.exposure_models("offline_dashboard")
KPI_VIEWS = registry.kpis(TABLES)
CURRENT = registry.CURRENT
COUNTRIES = registry.bridge("country")
GENRES = registry.bridge("genre")

RUN_HISTORY = 10
LATEST_TITLES = 12
BATCH_HISTORY = 30
NONE_LABEL = "(none)"
STATUS_ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
# DashboardData fields that depend only on the transformed catalog (cached per transform)
KPI_FIELDS = (
    "headline",
    "movies_vs_tv",
    "by_year",
    "year_unknown",
    "added_by_month",
    "by_country",
    "by_rating",
    "top_genres",
    "genres_over_time",
    "country_growth",
    "latest_titles",
)


@dataclass
class DashboardData:
    """Everything the page shows, already read from the warehouse."""

    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    warehouse: str = ""
    headline: dict[str, int] = field(default_factory=dict)
    batch: dict[str, Any] | None = None
    freshness_at: datetime | None = None
    movies_vs_tv: list[tuple[str, int]] = field(default_factory=list)
    by_year: list[tuple[int, int]] = field(default_factory=list)
    year_unknown: int = 0
    added_by_month: list[tuple[date, str, int]] = field(default_factory=list)
    by_country: list[tuple[str, int]] = field(default_factory=list)
    by_rating: list[tuple[str, int]] = field(default_factory=list)
    top_genres: list[tuple[str, int]] = field(default_factory=list)
    genres_over_time: list[tuple[int, str, int]] = field(default_factory=list)
    country_growth: list[tuple[str, int]] = field(default_factory=list)
    latest_titles: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    batch_changes: list[dict[str, Any]] = field(default_factory=list)
    batches_total: int = 0


def _collect(con: duckdb.DuckDBPyConnection) -> DashboardData:
    """Everything the page shows, read from the warehouse (no cache)."""
    d = DashboardData()
    _collect_live(con, d)
    _collect_kpis(con, d)
    return d


def _collect_kpis(con: duckdb.DuckDBPyConnection, d: DashboardData) -> None:
    """The catalog figures: they change only when a batch is transformed."""
    rows = con.execute(
        f"select count(*), count(*) filter (where type = 'Movie'), count(*) filter (where type = 'TV Show') "
        f"from {CURRENT} where not is_deleted"
    ).fetchone()
    titles, movies, shows = rows if rows else (0, 0, 0)
    d.headline = {
        "titles": titles,
        "movies": movies,
        "shows": shows,
        "countries": _distinct_values(con, COUNTRIES),
        "genres": _distinct_values(con, GENRES),
    }
    d.movies_vs_tv = [
        (_label(t), n)
        for t, n in con.execute("select type, total_titles from kpi_movies_vs_tv order by 2 desc, 1").fetchall()
    ]
    years = con.execute("select release_year, total_titles from kpi_titles_by_year").fetchall()
    d.by_year = sorted((y, n) for y, n in years if y is not None)
    d.year_unknown = sum(n for y, n in years if y is None)
    d.added_by_month = [
        (_as_date(m), _label(t), n)
        for m, t, n in con.execute(
            "select month_added, type, total_titles from kpi_titles_added_by_month "
            "where month_added is not null order by 1, 2"
        ).fetchall()
    ]
    d.by_country = _pairs(con, "select country, total_titles from kpi_titles_by_country order by 2 desc, 1")
    d.by_rating = _pairs(con, "select rating, total_titles from kpi_titles_by_rating order by 2 desc, 1 nulls last")
    d.top_genres = _pairs(con, "select genre, total_titles from kpi_top_genres order by 2 desc, 1")
    d.country_growth = _pairs(
        con, "select country, total_titles_recent from kpi_country_recent_growth order by 2 desc, 1"
    )
    d.genres_over_time = [
        (y, _label(g), n)
        for y, g, n in con.execute(
            "select release_year, genre, total_titles from kpi_genres_over_time where release_year is not null"
        ).fetchall()
    ]
    d.latest_titles = fetch_dicts(
        con,
        f"select show_id, title, type, country, date_added, release_year, rating from {CURRENT} "
        "where not is_deleted and date_added is not null order by date_added desc, show_id limit ?",
        [LATEST_TITLES],
    )


def _collect_live(con: duckdb.DuckDBPyConnection, d: DashboardData) -> None:
    """The latest transformed batch, freshness, checks and runs: cheap, read on every build."""
    if table_exists(con, TRANSFORMS_TABLE):
        d.batch = latest_transform(con)  # in batch order, never by the clock
    if table_exists(con, LEDGER_TABLE):
        d.freshness_at = latest_ingestion(con)
    if table_exists(con, DQ_TABLE):
        # the current answer of every check (a run with no new batch re-runs only the cheap ones)
        d.checks = latest_results(con)
        d.checks.sort(key=lambda c: (STATUS_ORDER.get(c["status"], 9), str(c["check"])))
    if table_exists(con, RUNS_TABLE):
        d.runs = fetch_dicts(
            con, f"select * from {RUNS_TABLE} order by run_seq desc nulls last, started_at desc limit ?", [RUN_HISTORY]
        )
        if table_exists(con, TRANSFORMS_TABLE) and table_exists(con, LEDGER_TABLE):
            d.batch_changes, d.batches_total = _batch_changes(con)


# Per batch, the transform that counts: its latest succeeded one (a replay transforms a batch again
# in a later run), else its latest refused one (a guard's refusal is final for that batch).
BATCH_CHANGES_SQL = f"""
with ranked as (
    select t.batch_id, t.run_id, t.status, t.inserted, t.updated, t.unchanged, t.deleted, t.revived, t.message,
           row_number() over (
               partition by t.batch_id
               order by t.status = 'succeeded' desc, r.run_seq desc nulls last, t.finished_at desc nulls last
           ) as pick
    from {TRANSFORMS_TABLE} t left join {RUNS_TABLE} r using (run_id)
    where t.status in ('succeeded', 'refused')
)
select b.batch_id, b.batch_seq, b.as_of, b.source_path, t.run_id, t.status, t.inserted, t.updated, t.unchanged,
       t.deleted, t.revived, t.message
from ranked t join {LEDGER_TABLE} b using (batch_id)
where t.pick = 1
order by b.as_of, b.batch_seq
"""


def _batch_changes(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], int]:
    """The last BATCH_HISTORY transformed or refused batches in apply order, and how many there are."""
    rows = fetch_dicts(con, BATCH_CHANGES_SQL)
    return rows[-BATCH_HISTORY:], len(rows)


def _distinct_values(con: duckdb.DuckDBPyConnection, bridge: str) -> int:
    if not table_exists(con, bridge):
        return 0
    row = con.execute(
        f"select count(distinct b.value) from {bridge} b join {CURRENT} c on b.show_id = c.show_id "
        "where not c.is_deleted"
    ).fetchone()
    return int(row[0]) if row else 0


def _pairs(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, int]]:
    return [(_label(k), int(n)) for k, n in con.execute(sql).fetchall()]


def _label(value: Any) -> str:
    return NONE_LABEL if value is None or str(value).strip() == "" else str(value)


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value
