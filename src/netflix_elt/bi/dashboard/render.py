"""The page: the cards and their notes assembled from DashboardData, poured into `page.html.j2`
with `dashboard.css` inlined, so the page stays one self-contained file.

The template is rendered with autoescape on, and every value that is not already HTML (a
Markup fragment built by the chart and panel code, which escapes its own data) is escaped by
`esc`, exactly as the fragments are: nothing read from the warehouse reaches the page raw."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from netflix_elt import __version__
from netflix_elt.bi.dashboard.batches import batch_chart
from netflix_elt.bi.dashboard.charts import BAR_COLORS, RED, TYPE_COLORS, column_chart, donut_chart, hbar_chart
from netflix_elt.bi.dashboard.data import NONE_LABEL, DashboardData
from netflix_elt.bi.dashboard.fmt import _int, _pct, _ts, esc
from netflix_elt.bi.dashboard.kpi_charts import _genres_chart, _months_chart
from netflix_elt.bi.dashboard.panels import _card, _dq_panel, _freshness, _latest_table, _stat

log = logging.getLogger(__name__)

# kpi_country_recent_growth counts titles released from max(release_year) - recent_years on (the
# dbt var, read from the bundled project; the model is the definition, this only describes it).
RECENT_YEARS_VAR = "recent_years"
# No scripts, no fetches of any kind: only the inline styles and data: URLs (the empty favicon).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
TEMPLATE = "page.html.j2"
STYLESHEET = "dashboard.css"


def _escape(value: Any) -> Any:
    """The template's finalize: HTML fragments as they are, every other value through `esc`."""
    return value if isinstance(value, Markup) else Markup(esc(value))


def _resource(name: str) -> str:
    return resources.files("netflix_elt.bi.dashboard").joinpath(name).read_text(encoding="utf-8")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        autoescape=True, finalize=_escape, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return env.from_string(_resource(TEMPLATE))


@cache
def _stylesheet() -> Markup:
    """The CSS, inlined into <style> as it is (so it must not be able to close the element)."""
    css = _resource(STYLESHEET)
    if "</" in css or "<!--" in css:
        raise ValueError(f"{STYLESHEET} must not contain '</' or '<!--'")
    return Markup(css)


def _home_relative(path: Path, root: Path) -> str:
    """`path` as the page shows it: relative to the home, never the absolute path (the page gets
    shared; where the home lives on someone's disk is not the reader's business)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _recent_years_var() -> int | None:
    """The dbt var kpi_country_recent_growth reads, from the bundled dbt project."""
    try:
        import yaml

        text = resources.files("netflix_elt").joinpath("dbt_project", "dbt_project.yml").read_text(encoding="utf-8")
        value = (yaml.safe_load(text).get("vars") or {}).get(RECENT_YEARS_VAR)
        return int(value)  # type: ignore[arg-type]  # None or junk: the except below
    except (OSError, ValueError, TypeError, AttributeError, ImportError) as exc:
        log.debug("dashboard: %s not read from the dbt project: %s", RECENT_YEARS_VAR, exc)
        return None


def _recent_release_years(by_year: Sequence[tuple[int, int]]) -> str:
    """The release years kpi_country_recent_growth counts ("2016–2021"), or "" if unknown."""
    n = _recent_years_var()
    years = [y for y, c in by_year if c]
    if n is None or not years:
        return ""
    hi = max(years)
    return f"{hi - n}–{hi}"


def _batch_note(d: DashboardData) -> str:
    rows = d.batch_changes
    if not rows:
        return "No batch transformed yet."
    parts = [
        "Rows each batch inserted, updated and deleted in the current catalog (and revived, when any was), "
        "by the latest successful transform of the batch; batches in the order they apply (as-of, then "
        "sequence). Log scale from 0, so a first load of thousands and a later drop of a few both show."
    ]
    refused = sum(1 for r in rows if r["status"] != "succeeded")
    if refused:
        parts.append(f"{refused} batch(es) refused by a guard changed nothing.")
    if d.batches_total > len(rows):
        parts.append(f"The latest {len(rows):,} of {d.batches_total:,} batches.")
    return " ".join(parts)


def render(d: DashboardData) -> str:
    """The whole page as one string."""
    h = d.headline
    titles = h.get("titles", 0)
    batch = d.batch
    source = (batch.get("source_path") or "–") if batch else "–"
    fstatus, ftext = _freshness(d)
    check_counts = {s: sum(1 for c in d.checks if c["status"] == s) for s in ("pass", "warn", "fail", "skip")}
    worst = "fail" if check_counts["fail"] else "warn" if check_counts["warn"] else "pass"
    year_note = f"{d.year_unknown:,} title(s) without a valid release year are left out." if d.year_unknown else ""
    rating_note = (
        f"Titles without a rating are shown as {NONE_LABEL}." if any(k == NONE_LABEL for k, _ in d.by_rating) else ""
    )

    stats = "".join(
        [
            _stat("titles", _int(titles), "current, not deleted"),
            _stat("movies", _int(h.get("movies")), _pct(h.get("movies", 0), titles)),
            _stat("TV shows", _int(h.get("shows")), _pct(h.get("shows", 0), titles)),
            _stat("countries", _int(h.get("countries"))),
            _stat("genres", _int(h.get("genres"))),
        ]
    )
    dated = sum(n for _, _, n in d.added_by_month)
    months_note = f"{titles - dated:,} title(s) without a parsed date added are left out." if titles > dated else ""
    ratings = hbar_chart("chart-ratings", "Titles by rating", d.by_rating, color=BAR_COLORS["rating"], x_label="titles")
    countries = hbar_chart(
        "chart-countries", "Top 10 countries by titles", d.by_country, color=BAR_COLORS["country"], x_label="titles"
    )
    recent = _recent_release_years(d.by_year)
    growth_title = f"Titles released {recent}, by country" if recent else "Recently released titles, by country"
    growth_note = (
        f"Top 10 countries by titles with a release year {recent}: the catalog's latest release year and the "
        f"{_recent_years_var()} before it. A title made in several countries counts once for each."
        if recent
        else "Top 10 countries by titles released in the catalog's latest release years."
    )
    growth = hbar_chart(
        "chart-growth",
        f"Top 10 countries by {growth_title[0].lower()}{growth_title[1:]}",
        d.country_growth,
        color=BAR_COLORS["growth"],
        x_label=f"titles released {recent}" if recent else "recently released titles",
    )
    genres_time, genres_note = _genres_chart(d.genres_over_time, d.by_year)
    changes_note = _batch_note(d)
    genres = hbar_chart(
        "chart-genres", "Top 10 genres by titles", d.top_genres, color=BAR_COLORS["genre"], x_label="titles"
    )
    years = column_chart(
        "chart-years", "Titles by release year", d.by_year, x_label="release year", y_label="titles", color=RED
    )
    cards = [
        _card("Movies vs TV shows", donut_chart("chart-types", "Movies vs TV shows", d.movies_vs_tv, TYPE_COLORS)),
        _card("Top 10 genres", genres, note="A title listed in several genres counts once for each."),
        _card("Titles by release year", years, wide=True, note=esc(year_note)),
        _card("Titles added by month, per type", _months_chart(d.added_by_month), wide=True, note=esc(months_note)),
        _card("Top 10 countries", countries, note="A title made in several countries counts once for each."),
        _card(growth_title, growth, note=esc(growth_note), cid="card-growth"),
        _card("Ratings", ratings, note=esc(rating_note)),
        _card("Latest additions", _latest_table(d.latest_titles), note="The most recently added titles."),
        _card("Genres over time", genres_time, wide=True, note=esc(genres_note), cid="card-genres-time"),
        _card(
            "Changes per batch",
            batch_chart("chart-batches", "Rows changed per batch, in apply order", d.batch_changes),
            wide=True,
            note=esc(changes_note),
            cid="card-batches",
        ),
        _card("Data quality and runs", _dq_panel(d), wide=True, cid="quality"),
    ]
    generated = d.generated_at.astimezone(UTC)
    return _template().render(
        csp=Markup(CSP),
        css=_stylesheet(),
        version=__version__,
        generated_iso=generated.isoformat(),
        generated_text=_ts(generated),
        batch=batch,
        source=source,
        source_name=Path(source).name if source != "–" else source,
        transformed=_ts(batch["finished_at"]) if batch else "",
        fstatus=fstatus,
        ftext=ftext,
        checks=bool(d.checks),
        worst=worst,
        counts=check_counts,
        stats=Markup(stats),
        cards=[Markup(c) for c in cards],
        warehouse=d.warehouse,
    )
