"""The offline HTML dashboard: `<home>/reports/dashboard.html`.

One self-contained file that opens in any browser without a server or a network: inline CSS,
charts drawn here as inline SVG, no JavaScript at all, and a Content-Security-Policy that forbids
scripts and every fetch, so a data value that slipped through unescaped still could not run or
phone home. Every value read from the warehouse is HTML-escaped before it is written.

The catalog figures (headline, KPI charts, latest additions) change only when a batch is
transformed, and reading them scans the whole catalog: they are cached in
`reports/.dashboard-kpi.json`, keyed by the latest successful transform (batch, run and finish
time), and read from there while that transform is still the latest. Checks, runs and freshness
are always read afresh.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from netflix_elt import __version__
from netflix_elt.core import faults
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import connect, fetch_dicts, table_exists
from netflix_elt.warehouse.ledger import (
    DQ_TABLE,
    LEDGER_TABLE,
    RUNS_TABLE,
    TRANSFORMS_TABLE,
    latest_ingestion,
    latest_results,
    latest_transform,
)

log = logging.getLogger(__name__)

KPI_VIEWS = (
    "kpi_movies_vs_tv",
    "kpi_titles_by_year",
    "kpi_titles_added_by_month",
    "kpi_titles_by_country",
    "kpi_titles_by_rating",
    "kpi_top_genres",
    "kpi_genres_over_time",
    "kpi_country_recent_growth",
)
CURRENT = "analytics_netflix_current"
COUNTRIES = "netflix_title_countries"
GENRES = "netflix_title_genres"

# The monitor's defaults for the freshness check (`--freshness-warn-hours` / `--freshness-fail-hours`).
FRESHNESS_WARN_HOURS = 24.0
FRESHNESS_FAIL_HOURS = 72.0
RUN_HISTORY = 10
LATEST_TITLES = 12
GENRE_LINES = 5
GENRE_YEARS = 15
# Trailing release years with fewer titles than this share of the busiest year's are left out of
# "Genres over time": one stray future year would otherwise stretch the axis and drop every line to 0.
SPARSE_YEAR_SHARE = 0.05
BATCH_HISTORY = 30
# kpi_country_recent_growth counts titles released from max(release_year) - recent_years on (the
# dbt var, read from the bundled project; the model is the definition, this only describes it).
RECENT_YEARS_VAR = "recent_years"
NONE_LABEL = "(none)"
MAX_LABEL_CHARS = 40

RED = "#e50914"
TYPE_COLORS = {"Movie": RED, "TV Show": "#2f6db5"}
PALETTE = ("#e50914", "#2f6db5", "#e39b17", "#1e9e74", "#7c4dcc", "#d45d9b", "#5b6b7c")
BAR_COLORS = {"country": "#2f6db5", "growth": "#1e9e74", "rating": "#5b6b7c", "genre": "#7c4dcc"}
CHANGE_COLORS = {"inserted": "#1e9e74", "updated": "#2f6db5", "deleted": "#e50914", "revived": "#e39b17"}
# Charts never render their text smaller than this: a chart narrower than its box would need
# scrolls inside the box instead (the smallest SVG text is the 11.5-unit tick label).
MIN_TEXT_PX = 10.0
SMALLEST_SVG_TEXT = 11.5
# No scripts, no fetches of any kind: only the inline styles and data: URLs (the empty favicon).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STATUS_ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
KPI_CACHE = ".dashboard-kpi.json"
KPI_CACHE_FORMAT = 1
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
_TUPLE_FIELDS = frozenset(KPI_FIELDS) - {"headline", "year_unknown", "latest_titles"}


def build_dashboard(home: Home, out: Path | None = None, *, use_cache: bool = True) -> Path:
    """Write the dashboard for `home` (default `<home>/reports/dashboard.html`) and return its path.

    Reads the warehouse read-only; raises InputError when it holds no transformed data yet. The
    catalog figures come from the KPI cache when it matches the latest transform (see the module
    doc); `use_cache=False` reads them afresh (and refreshes the cache)."""
    out = Path(out) if out is not None else home.root / "reports" / "dashboard.html"
    if not home.warehouse.exists():
        raise InputError(f"{home.warehouse}: no transformed data yet; run `netflix-elt run` first")
    cache = home.root / "reports" / KPI_CACHE
    con = connect(home, read_only=True)
    try:
        missing = [v for v in KPI_VIEWS if not table_exists(con, v)]
        if missing or not table_exists(con, CURRENT):
            raise InputError(f"{home.warehouse}: no transformed data yet; run `netflix-elt run` first")
        data = DashboardData()
        _collect_live(con, data)
        key = _cache_key(data.batch)
        if not (use_cache and key is not None and _load_kpis(cache, key, data)):
            _collect_kpis(con, data)
            if key is not None:
                _save_kpis(cache, key, data)
    finally:
        con.close()
    data.warehouse = _home_relative(home.warehouse, home.root)
    page = render(data)
    _write_atomically(out, page)
    log.info("dashboard written to %s (%d bytes)", out, len(page.encode()))
    return out


# --------------------------------------------------------------------------------------------- data


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


def _cache_key(batch: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the cached catalog figures were read after: the latest successful transform."""
    if not batch or not batch.get("batch_id"):
        return None
    finished = batch.get("finished_at")
    return {
        "format": KPI_CACHE_FORMAT,
        "batch_id": batch["batch_id"],
        "run_id": batch.get("run_id"),
        "finished_at": finished.isoformat() if isinstance(finished, datetime) else str(finished),
    }


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not cached")


def _decode(obj: dict[str, Any]) -> Any:
    if obj.keys() == {"$datetime"}:
        return datetime.fromisoformat(obj["$datetime"])
    if obj.keys() == {"$date"}:
        return date.fromisoformat(obj["$date"])
    return obj


def _load_kpis(cache: Path, key: dict[str, Any], d: DashboardData) -> bool:
    """Fill the catalog figures from the cache when it was written for `key`."""
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"), object_hook=_decode)
        if doc.get("key") != key:
            return False
        values = doc["data"]
        for name in KPI_FIELDS:
            value = values[name]
            setattr(d, name, [tuple(v) for v in value] if name in _TUPLE_FIELDS else value)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("dashboard KPI cache %s not used: %s", cache, exc)
        return False
    log.info("dashboard: catalog figures from the cache (batch %s unchanged)", key["batch_id"])
    return True


def _save_kpis(cache: Path, key: dict[str, Any], d: DashboardData) -> None:
    try:
        text = json.dumps({"key": key, "data": {n: getattr(d, n) for n in KPI_FIELDS}}, default=_encode)
    except (TypeError, ValueError) as exc:  # a value of a type the cache does not keep: no cache
        log.debug("dashboard KPI cache not written: %s", exc)
        return
    try:
        _write_atomically(cache, text)
    except OSError as exc:
        log.warning("could not write the dashboard KPI cache %s: %s", cache, exc)


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


def _write_atomically(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).chmod(0o644)
        faults.checkpoint(f"dashboard_before_replace:{out.name}")
        Path(tmp).replace(out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------- formatting


def esc(value: Any) -> str:
    """Every data value goes through here: text and attribute safe."""
    return html.escape("" if value is None else str(value), quote=True)


def _int(n: Any) -> str:
    return "–" if n is None else f"{int(n):,}"


def _secs(s: Any) -> str:
    return "–" if s is None else f"{s:,.1f}"


def _slash(row: dict[str, Any], *keys: str) -> str:
    return " / ".join(_int(row.get(k)) for k in keys)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _ts(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _hours_since(then: datetime | None, now: datetime) -> float | None:
    if then is None:
        return None
    then = then.replace(tzinfo=UTC) if then.tzinfo is None else then
    return max(0.0, (now - then).total_seconds() / 3600)


def _age(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min ago"
    if hours < 48:
        return f"{hours:.1f} h ago"
    return f"{hours / 24:.1f} days ago"


def _clip(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0:
        return 1
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return max(1, m * mag)
    return 10 * mag  # pragma: no cover


def _ticks(top: float, ticks: int = 5) -> tuple[list[float], float]:
    """Tick values from 0 and the axis maximum (a multiple of the step, at least `top`)."""
    step = _nice_step(top, ticks)
    axis_max = max(step, math.ceil(top / step) * step)
    return [i * step for i in range(round(axis_max / step) + 1)], axis_max


def _tick_label(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


# ------------------------------------------------------------------------------------------ charts


@dataclass
class Svg:
    """An accessible inline SVG: role=img, labelled by its <title> and described by its <desc>."""

    cid: str
    title: str
    desc: str
    width: int
    height: int
    parts: list[str] = field(default_factory=list)
    wide: bool = False

    def add(self, part: str) -> None:
        self.parts.append(part)

    def render(self) -> str:
        cls = "chart wide" if self.wide else "chart"
        # never scaled down so far that its smallest text falls under MIN_TEXT_PX: the box scrolls
        min_width = math.ceil(self.width * MIN_TEXT_PX / SMALLEST_SVG_TEXT)
        return (
            f'<svg class="{cls}" id="{self.cid}" data-chart="{self.cid}" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" style="min-width:{min_width}px" role="img" '
            f'aria-labelledby="{self.cid}-t {self.cid}-d">'
            f'<title id="{self.cid}-t">{esc(self.title)}</title><desc id="{self.cid}-d">{esc(self.desc)}</desc>'
            + "".join(self.parts)
            + "</svg>"
        )


def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "start", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}{extra}>{esc(s)}</text>'


def _no_data(svg: Svg) -> str:
    svg.add(f'<rect x="0" y="0" width="{svg.width}" height="{svg.height}" class="empty-bg" rx="8"/>')
    svg.add(_text(svg.width / 2, svg.height / 2, "No data yet", "empty", "middle"))
    return svg.render()


def hbar_chart(cid: str, title: str, rows: Sequence[tuple[str, int]], *, color: str, x_label: str) -> str:
    """Horizontal bars, one per (label, value), value labels at the bar ends, a value axis below."""
    row_h, top, bottom, width = 26, 8, 46, 640
    height = top + max(1, len(rows)) * row_h + bottom
    desc = "; ".join(f"{k}: {v:,}" for k, v in rows) or "no data"
    svg = Svg(cid, title, desc, width, height)
    if not rows:
        return _no_data(svg)
    longest = max(len(_clip(k)) for k, _ in rows)
    left = min(300, max(70, 12 + longest * 6.9))
    plot_w = width - left - 64
    tick_values, axis_max = _ticks(max(v for _, v in rows), 4)
    plot_bottom = top + len(rows) * row_h
    for t in tick_values:
        x = left + plot_w * t / axis_max
        svg.add(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{plot_bottom}" class="grid"/>')
        svg.add(_text(x, plot_bottom + 16, _tick_label(t), "tick", "middle"))
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        w = max(1.5, plot_w * value / axis_max)
        svg.add(
            f'<g class="bar"><title>{esc(label)}: {value:,} {esc(x_label)}</title>'
            f'<rect x="{left:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="3" fill="{color}"/>'
            + _text(left - 8, y + row_h / 2 + 4, _clip(label), "label", "end")
            + _text(left + w + 6, y + row_h / 2 + 4, f"{value:,}", "value")
            + "</g>"
        )
    svg.add(f'<line x1="{left:.1f}" y1="{top}" x2="{left:.1f}" y2="{plot_bottom}" class="axis"/>')
    svg.add(_text(left + plot_w / 2, height - 6, x_label, "axis-label", "middle"))
    return svg.render()


def donut_chart(cid: str, title: str, rows: Sequence[tuple[str, int]], colors: dict[str, str]) -> str:
    """A donut of shares with a legend (label, count, share) beside it."""
    width, height = 640, 300
    total = sum(v for _, v in rows)
    desc = "; ".join(f"{k}: {v:,} ({_pct(v, total)})" for k, v in rows) or "no data"
    svg = Svg(cid, title, desc, width, height)
    if not rows or total <= 0:
        return _no_data(svg)
    cx, cy, r_out, r_in = 150, 150, 118, 72
    angle = -math.pi / 2
    for i, (label, value) in enumerate(rows):
        color = colors.get(label, PALETTE[i % len(PALETTE)])
        tip = f"<title>{esc(label)}: {value:,} ({_pct(value, total)})</title>"
        if value >= total:  # a full ring cannot be drawn as one arc
            svg.add(
                f'<g class="slice">{tip}<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2}" fill="none" '
                f'stroke="{color}" stroke-width="{r_out - r_in}"/></g>'
            )
            continue
        sweep = 2 * math.pi * value / total
        a0, a1 = angle, angle + sweep
        angle = a1
        if value <= 0:
            continue
        large = 1 if sweep > math.pi else 0
        p = [
            (cx + r_out * math.cos(a0), cy + r_out * math.sin(a0)),
            (cx + r_out * math.cos(a1), cy + r_out * math.sin(a1)),
            (cx + r_in * math.cos(a1), cy + r_in * math.sin(a1)),
            (cx + r_in * math.cos(a0), cy + r_in * math.sin(a0)),
        ]
        d = (
            f"M{p[0][0]:.2f},{p[0][1]:.2f} A{r_out},{r_out} 0 {large} 1 {p[1][0]:.2f},{p[1][1]:.2f} "
            f"L{p[2][0]:.2f},{p[2][1]:.2f} A{r_in},{r_in} 0 {large} 0 {p[3][0]:.2f},{p[3][1]:.2f} Z"
        )
        svg.add(f'<g class="slice">{tip}<path d="{d}" fill="{color}" stroke="#fff" stroke-width="2"/></g>')
    svg.add(_text(cx, cy - 2, f"{total:,}", "donut-total", "middle"))
    svg.add(_text(cx, cy + 18, "titles", "tick", "middle"))
    lx, ly = 290, max(40, cy - (len(rows) - 1) * 30)
    for i, (label, value) in enumerate(rows):
        color = colors.get(label, PALETTE[i % len(PALETTE)])
        y = ly + i * 60
        svg.add(f'<rect x="{lx}" y="{y - 13}" width="16" height="16" rx="4" fill="{color}"/>')
        svg.add(_text(lx + 26, y, _clip(label, 28), "legend-label"))
        svg.add(_text(lx + 26, y + 26, f"{value:,}", "legend-value"))
        svg.add(_text(lx + 26 + 14 * len(f"{value:,}") + 10, y + 26, _pct(value, total), "tick"))
    return svg.render()


def column_chart(
    cid: str, title: str, points: Sequence[tuple[int, int]], *, x_label: str, y_label: str, color: str
) -> str:
    """Vertical bars over a continuous integer range (years), gaps drawn as zero."""
    width, height = 1200, 330
    left, right, top, bottom = 64, 20, 28, 52
    if points:
        lo, hi = points[0][0], points[-1][0]
        peak = max(points, key=lambda p: p[1])
        desc = f"{len(points)} years from {lo} to {hi}; peak {peak[1]:,} titles in {peak[0]}"
    else:
        desc = "no data"
    svg = Svg(cid, title, desc, width, height, wide=True)
    if not points:
        return _no_data(svg)
    values = dict(points)
    years = list(range(lo, hi + 1))
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(years)
    tick_values, axis_max = _ticks(peak[1], 5)
    base = top + plot_h
    for t in tick_values:
        y = base - plot_h * t / axis_max
        svg.add(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>')
        svg.add(_text(left - 8, y + 4, _tick_label(t), "tick", "end"))
    every = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100) if len(years) / s <= 14)
    for i, year in enumerate(years):
        n = values.get(year, 0)
        x = left + i * slot
        if n:
            h = max(1.0, plot_h * n / axis_max)
            svg.add(
                f'<g class="bar"><title>{year}: {n:,} titles</title><rect x="{x + slot * 0.12:.1f}" '
                f'y="{base - h:.1f}" width="{max(1.0, slot * 0.76):.1f}" height="{h:.1f}" rx="1.5" fill="{color}"/></g>'
            )
        if year % every == 0:
            svg.add(f'<line x1="{x + slot / 2:.1f}" y1="{base}" x2="{x + slot / 2:.1f}" y2="{base + 5}" class="axis"/>')
            svg.add(_text(x + slot / 2, base + 19, str(year), "tick", "middle"))
    px = left + (peak[0] - lo) * slot + slot / 2
    py = base - plot_h * peak[1] / axis_max
    svg.add(_text(px, py - 7, f"{peak[1]:,} in {peak[0]}", "value", "end" if px > width * 0.8 else "middle"))
    svg.add(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" class="axis"/>')
    svg.add(_text(left + plot_w / 2, height - 8, x_label, "axis-label", "middle"))
    svg.add(
        _text(16, top + plot_h / 2, y_label, "axis-label", "middle", f' transform="rotate(-90 16 {top + plot_h / 2})"')
    )
    return svg.render()


# Baseline to baseline of the end labels: more than the 12-unit bold text's box (about 14 units).
END_LABEL_GAP = 16.0


def _spread(wanted: Sequence[float], gap: float, lo: float, hi: float) -> list[float]:
    """Positions as close to `wanted` (ascending) as they can be with at least `gap` between
    neighbours, inside [lo, hi] when there is room: pushed down, then back up from the bottom."""
    out: list[float] = []
    for w in wanted:
        out.append(max(w, lo) if not out else max(w, out[-1] + gap))
    if out and out[-1] > hi:
        out[-1] = hi
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    return out


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: list[int]


def line_chart(
    cid: str,
    title: str,
    xs: Sequence[Any],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    tick_at: Callable[[int, Any], str | None],
    point_label: Callable[[Any], str],
    dots: bool = False,
) -> str:
    """One line per series over the shared x values; a legend (with totals) above the plot."""
    width, height = 1200, 340
    left, right, top, bottom = 64, 90, 46, 52
    desc = (
        "; ".join(f"{s.name}: {sum(s.values):,} titles" for s in series)
        + (f", {point_label(xs[0])} to {point_label(xs[-1])}" if xs else "")
        if series and xs
        else "no data"
    )
    svg = Svg(cid, title, desc, width, height, wide=True)
    if not series or not xs:
        return _no_data(svg)
    plot_w, plot_h = width - left - right, height - top - bottom
    tick_values, axis_max = _ticks(max(max(s.values) for s in series) or 1, 5)
    base = top + plot_h

    def px(i: int) -> float:
        return left + (plot_w * i / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return base - plot_h * v / axis_max

    for t in tick_values:
        svg.add(f'<line x1="{left}" y1="{py(t):.1f}" x2="{left + plot_w}" y2="{py(t):.1f}" class="grid"/>')
        svg.add(_text(left - 8, py(t) + 4, _tick_label(t), "tick", "end"))
    for i, x in enumerate(xs):
        label = tick_at(i, x)
        if label is not None:
            svg.add(f'<line x1="{px(i):.1f}" y1="{base}" x2="{px(i):.1f}" y2="{base + 5}" class="axis"/>')
            svg.add(_text(px(i), base + 19, label, "tick", "middle"))
    lx = left
    for s in series:  # legend
        svg.add(f'<rect x="{lx}" y="10" width="14" height="14" rx="3" fill="{s.color}"/>')
        text = f"{_clip(s.name, 32)} ({sum(s.values):,})"
        svg.add(_text(lx + 20, 22, text, "legend-small"))
        lx += int(20 + len(text) * 7.2 + 22)
    for s in series:
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(s.values))
        svg.add(
            f'<g class="series"><title>{esc(s.name)}</title><polyline points="{pts}" fill="none" '
            f'stroke="{s.color}" stroke-width="2.2" stroke-linejoin="round" stroke-linecap="round"/>'
        )
        if dots:
            for i, v in enumerate(s.values):
                svg.add(
                    f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.2" fill="{s.color}">'
                    f"<title>{esc(s.name)}, {esc(point_label(xs[i]))}: {v:,}</title></circle>"
                )
        svg.add("</g>")
    # value labels at the line ends (baselines), nudged apart so they never overlap
    ends = sorted(series, key=lambda s: py(s.values[-1]))
    spread = _spread([py(s.values[-1]) + 4 for s in ends], END_LABEL_GAP, top + 10, base + 4)
    for y, s in zip(spread, ends, strict=True):
        svg.add(_text(px(len(xs) - 1) + 8, y, f"{s.values[-1]:,}", "value end-label", extra=f' fill="{s.color}"'))
    svg.add(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" class="axis"/>')
    svg.add(_text(left + plot_w / 2, height - 8, x_label, "axis-label", "middle"))
    svg.add(
        _text(16, top + plot_h / 2, y_label, "axis-label", "middle", f' transform="rotate(-90 16 {top + plot_h / 2})"')
    )
    return svg.render()


def _months_chart(rows: Sequence[tuple[date, str, int]]) -> str:
    title = "Titles added to Netflix by month"
    if not rows:
        return line_chart(
            "chart-added", title, [], [], x_label="", y_label="", tick_at=lambda *_: None, point_label=str
        )
    first, last = min(r[0] for r in rows), max(r[0] for r in rows)
    idx0, idx1 = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    months = [date(i // 12, i % 12 + 1, 1) for i in range(idx0, idx1 + 1)]
    counts: dict[str, dict[date, int]] = {}
    for m, t, n in rows:
        counts.setdefault(t, {})[m] = counts.get(t, {}).get(m, 0) + n
    types = sorted(counts, key=lambda t: -sum(counts[t].values()))
    series = [
        Series(t, TYPE_COLORS.get(t, PALETTE[(i + 2) % len(PALETTE)]), [counts[t].get(m, 0) for m in months])
        for i, t in enumerate(types)
    ]
    years = last.year - first.year + 1
    every = next(s for s in (1, 2, 5, 10, 20) if years / s <= 14)
    return line_chart(
        "chart-added",
        title,
        months,
        series,
        x_label="month added (date_added)",
        y_label="titles added",
        tick_at=lambda _i, m: str(m.year) if m.month == 1 and m.year % every == 0 else None,
        point_label=lambda m: m.strftime("%b %Y"),
    )


def _last_full_year(by_year: Sequence[tuple[int, int]]) -> tuple[int | None, list[tuple[int, int]]]:
    """The last release year with a meaningful count (at least SPARSE_YEAR_SHARE of the busiest
    year's titles), and the later (year, titles) left out as too sparse to draw."""
    counted = sorted((y, n) for y, n in by_year if n > 0)
    if not counted:
        return None, []
    floor = SPARSE_YEAR_SHARE * max(n for _, n in counted)
    last = len(counted) - 1
    while last > 0 and counted[last][1] < floor:
        last -= 1
    return counted[last][0], counted[last + 1 :]


def _genres_chart(rows: Sequence[tuple[int, str, int]], by_year: Sequence[tuple[int, int]]) -> tuple[str, str]:
    """The chart and its caption (which release years it shows, and which it leaves out)."""
    title = f"Top {GENRE_LINES} genres by release year"
    if not rows:
        chart = line_chart(
            "chart-genres-time", title, [], [], x_label="", y_label="", tick_at=lambda *_: None, point_label=str
        )
        return chart, ""
    # titles per release year decide where the axis ends (the genre rows as a fallback)
    per_year: dict[int, int] = {}
    for y, _, n in rows:
        per_year[y] = per_year.get(y, 0) + n
    hi, sparse = _last_full_year(by_year or sorted(per_year.items()))
    if hi is None:
        hi, sparse = max(per_year), []
    years = list(range(hi - GENRE_YEARS + 1, hi + 1))
    title = f"Top {GENRE_LINES} genres by release year, {years[0]}–{years[-1]}"
    note = f"Release years {years[0]}–{years[-1]}. A title listed in several genres counts once for each."
    if sparse:
        shown = ", ".join(str(y) for y, _ in sparse[:5]) + (", …" if len(sparse) > 5 else "")
        n = sum(c for _, c in sparse)
        note += (
            f" Left out: {n:,} title(s) released after {hi} ({shown}), too few to draw (under "
            f"{SPARSE_YEAR_SHARE:.0%} of the busiest year's titles)."
        )
    totals: dict[str, int] = {}
    by: dict[tuple[str, int], int] = {}
    for y, g, n in rows:
        if y in years:
            totals[g] = totals.get(g, 0) + n
            by[(g, y)] = by.get((g, y), 0) + n
    top = sorted(totals, key=lambda g: (-totals[g], g))[:GENRE_LINES]
    series = [Series(g, PALETTE[i % len(PALETTE)], [by.get((g, y), 0) for y in years]) for i, g in enumerate(top)]
    chart = line_chart(
        "chart-genres-time",
        title,
        years,
        series,
        x_label="release year",
        y_label="titles",
        tick_at=lambda _i, y: str(y),
        point_label=str,
        dots=True,
    )
    return chart, note


def _log_y(v: float, decades: int) -> float:
    """0..1 on a log axis that starts at 0: log10(1 + v) over log10(1 + 10**decades)."""
    return math.log10(1 + max(0.0, v)) / math.log10(1 + 10**decades)


def _as_of_day(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%d")
    return "–" if value is None else str(value)[:10]


def batch_chart(cid: str, title: str, rows: Sequence[dict[str, Any]]) -> str:
    """Grouped columns per batch, in apply order: rows inserted, updated, deleted (and revived when
    any batch revived one) by the batch's transform, on a log axis from 0, each bar labelled with
    its count when there is room; a batch a guard refused is a marked slot without bars."""
    width, height = 1200, 340
    left, right, top, bottom = 64, 20, 46, 56
    applied = [r for r in rows if r["status"] == "succeeded"]
    kinds = ["inserted", "updated", "deleted"]
    if any(r.get("revived") for r in applied):
        kinds.append("revived")
    totals = {k: sum(int(r.get(k) or 0) for r in applied) for k in kinds}
    refused = len(rows) - len(applied)
    desc = (
        f"{len(rows)} batch(es) in apply order; "
        + ", ".join(f"{k} {totals[k]:,}" for k in kinds)
        + (f"; {refused} refused" if refused else "")
        if rows
        else "no data"
    )
    svg = Svg(cid, title, desc, width, height, wide=True)
    if not rows:
        return _no_data(svg)
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    peak = max((int(r.get(k) or 0) for r in applied for k in kinds), default=0)
    decades = max(1, math.ceil(math.log10(peak))) if peak > 1 else 1

    def py(v: float) -> float:  # headroom above the top tick for the count labels
        return base - plot_h * _log_y(v, decades) / 1.18

    for t in [0, *(10**i for i in range(decades + 1))]:
        svg.add(f'<line x1="{left}" y1="{py(t):.1f}" x2="{width - right}" y2="{py(t):.1f}" class="grid"/>')
        svg.add(_text(left - 8, py(t) + 4, _tick_label(t), "tick", "end"))
    lx = left
    for k in kinds:  # legend
        svg.add(f'<rect x="{lx}" y="10" width="14" height="14" rx="3" fill="{CHANGE_COLORS[k]}"/>')
        text = f"{k} ({totals[k]:,})"
        svg.add(_text(lx + 20, 22, text, "legend-small"))
        lx += int(20 + len(text) * 7.2 + 22)
    if refused:
        svg.add(f'<rect x="{lx}" y="10" width="14" height="14" rx="3" class="refused-bg"/>')
        svg.add(_text(lx + 20, 22, f"refused ({refused:,})", "legend-small"))
    slot = plot_w / len(rows)
    bar_w = min(56.0, slot * 0.78 / len(kinds))
    every = max(1, math.ceil(64 / slot))
    for i, r in enumerate(rows):
        x0 = left + i * slot
        mid = x0 + slot / 2
        seq = "–" if r.get("batch_seq") is None else f"#{r['batch_seq']}"
        who = f"batch {r['batch_id']} ({seq}, as of {_ts(r.get('as_of'))})"
        if r["status"] != "succeeded":
            tip = f"{who}: refused by a guard, nothing applied" + (f": {r['message']}" if r.get("message") else "")
            svg.add(
                f'<g class="batch batch-refused" data-batch-id="{esc(r["batch_id"])}" data-status="refused">'
                f"<title>{esc(tip)}</title>"
                f'<rect x="{x0 + 2:.1f}" y="{top}" width="{max(1.0, slot - 4):.1f}" height="{plot_h}" rx="4" '
                'class="refused-bg"/>'
                + (
                    _text(mid, base - plot_h / 2, "refused", "refused-label", "middle")
                    if slot >= 60
                    else _text(
                        mid + 4,
                        base - plot_h / 2,
                        "refused",
                        "refused-label",
                        "middle",
                        f' transform="rotate(-90 {mid + 4:.1f} {base - plot_h / 2:.1f})"',
                    )
                )
                + "</g>"
            )
        else:
            counts = ", ".join(f"{k} {int(r.get(k) or 0):,}" for k in [*kinds, "unchanged"])
            svg.add(
                f'<g class="batch" data-batch-id="{esc(r["batch_id"])}" data-status="succeeded">'
                f"<title>{esc(who)}: {esc(counts)}; run {esc(r.get('run_id'))}</title>"
            )
            gx = mid - bar_w * len(kinds) / 2
            for j, k in enumerate(kinds):
                v = int(r.get(k) or 0)
                bx, cx = gx + j * bar_w, gx + j * bar_w + bar_w / 2
                h = base - py(v)
                svg.add(f'<g class="bar" data-kind="{k}" data-value="{v}"><title>{esc(seq)} {k}: {v:,}</title>')
                if v:
                    svg.add(
                        f'<rect x="{bx + 1:.1f}" y="{base - h:.1f}" width="{max(1.0, bar_w - 2):.1f}" '
                        f'height="{h:.1f}" rx="1.5" fill="{CHANGE_COLORS[k]}"/>'
                    )
                label, cls = f"{v:,}", "value" if v else "tick"
                if bar_w >= 8.5 * len(label) + 4:
                    svg.add(_text(cx, base - h - 5, label, cls, "middle"))
                elif bar_w >= 15:
                    y = base - h - 5
                    svg.add(_text(cx + 4, y, label, cls, "start", f' transform="rotate(-90 {cx + 4:.1f} {y:.1f})"'))
                svg.add("</g>")
            svg.add("</g>")
        if i % every == 0:
            svg.add(_text(mid, base + 17, seq, "tick", "middle"))
            svg.add(_text(mid, base + 32, _as_of_day(r.get("as_of")), "tick", "middle"))
    svg.add(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" class="axis"/>')
    svg.add(_text(left + plot_w / 2, height - 6, "batch, in apply order (as-of day)", "axis-label", "middle"))
    svg.add(
        _text(
            16,
            top + plot_h / 2,
            "rows (log scale)",
            "axis-label",
            "middle",
            f' transform="rotate(-90 16 {top + plot_h / 2})"',
        )
    )
    return svg.render()


# -------------------------------------------------------------------------------------------- page


# Run, batch and transform statuses as the check colours: `refused` (a guard refused a drop; the
# catalog is unchanged and the drop waits for a person) is a warning, neither success nor failure.
STATUS_CLASSES = {
    "pass": "pass",
    "warn": "warn",
    "fail": "fail",
    "skip": "skip",
    "succeeded": "pass",
    "skipped": "skip",
    "refused": "warn",
    "checks_failed": "fail",
    "rejected": "fail",
    "failed": "fail",
}


def _status_class(status: Any) -> str:
    return STATUS_CLASSES.get(status, "other") if isinstance(status, str) else "other"


def _badge(status: Any) -> str:
    return f'<span class="badge badge-{_status_class(status)}">{esc(status)}</span>'


def _message(text: Any) -> str:
    """A message cell: one line, cut with an ellipsis by the CSS; the whole text on hover (title)
    and, when it is long, in a <details> that opens on a click or a tap (phones have no hover)."""
    if text is None or str(text) == "":
        return ""
    t = esc(text)
    if len(str(text)) <= 60:
        return f'<div class="one-line" title="{t}">{t}</div>'
    return f'<details class="msg-details"><summary class="one-line" title="{t}">{t}</summary><p>{t}</p></details>'


def _card(title: str, body: str, *, wide: bool = False, note: str = "", cid: str = "") -> str:
    cls = "card wide" if wide else "card"
    ident = f' id="{cid}"' if cid else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    # shown (by the CSS) only on screens too narrow for the chart, which then scrolls in its box
    hint = '<p class="scroll-hint">↔ The chart scrolls sideways.</p>' if '<svg class="chart' in body else ""
    return (
        f'<section class="{cls}"{ident}><h2>{esc(title)}</h2>{note_html}<div class="chart-box">{body}</div>'
        f"{hint}</section>"
    )


def _stat(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="stat-sub">{sub}</div>' if sub else ""
    return (
        f'<div class="stat"><div class="stat-value">{value}</div>'
        f'<div class="stat-label">{esc(label)}</div>{sub_html}</div>'
    )


def _freshness(d: DashboardData) -> tuple[str, str]:
    """(css status, text) for the latest successful ingestion."""
    hours = _hours_since(d.freshness_at, d.generated_at)
    if hours is None:
        return "fail", "no successful ingestion yet"
    status = "fail" if hours > FRESHNESS_FAIL_HOURS else "warn" if hours > FRESHNESS_WARN_HOURS else "pass"
    return status, f"latest successful ingestion {_age(hours)} ({_ts(d.freshness_at)})"


def _dq_panel(d: DashboardData) -> str:
    parts: list[str] = []
    fstatus, ftext = _freshness(d)
    hours = _hours_since(d.freshness_at, d.generated_at)
    fvalue = "–" if hours is None else f"{hours:,.1f} h"
    parts.append(
        '<div class="dq-top">'
        f'<div class="fresh fresh-{fstatus}"><div class="fresh-value">{esc(fvalue)}</div>'
        f'<div class="fresh-label">freshness: {esc(ftext)}; warn after {FRESHNESS_WARN_HOURS:g} h, '
        f"fail after {FRESHNESS_FAIL_HOURS:g} h</div></div>"
    )
    if d.checks:
        counts = {s: sum(1 for c in d.checks if c["status"] == s) for s in ("pass", "warn", "fail", "skip")}
        chips = "".join(
            f'<div class="chip chip-{s}"><span class="chip-n">{counts[s]:,}</span><span>{s}</span></div>'
            for s in ("pass", "warn", "fail", "skip")
        )
        run = max(d.checks, key=lambda c: (c.get("result_seq") or 0, str(c["checked_at"])))
        parts.append(
            f'<div class="chips" id="dq-counts">{chips}</div></div>'
            f'<p class="note">Latest result of each check for batch <code>{esc(run["batch_id"] or "–")}</code>; '
            f"latest run <code>{esc(run['run_id'])}</code>, {esc(_ts(run['checked_at']))}.</p>"
        )
        flagged = [c for c in d.checks if c["status"] != "pass"]
        if flagged:
            rows = "".join(
                f'<tr class="row-{esc(c["status"])}"><td>{_badge(c["status"])}</td>'
                f"<td><code>{esc(c['check'])}</code></td>"
                f"<td>{esc(c['table'])}</td><td>{esc(c['severity'])}</td><td>{esc(c['observed'])}</td>"
                f'<td>{esc(c["threshold"])}</td><td class="msg">{_message(c["message"])}</td></tr>'
                for c in flagged
            )
            parts.append(
                '<div class="table-wrap"><table class="dq-table" id="dq-flagged"><thead><tr>'
                "<th>status</th><th>check</th><th>table</th><th>severity</th><th>observed</th><th>threshold</th><th>message</th></tr></thead>"
                f"<tbody>{rows}</tbody></table></div>"
            )
        else:
            parts.append('<p class="ok-line">Every check passed.</p>')
    else:
        parts.append('</div><p class="empty-line" id="dq-empty">No data-quality checks recorded yet.</p>')
    parts.append("<h3>Run history</h3>")
    if d.runs:
        rows = "".join(
            f'<tr class="row-{_status_class(r["status"])}" data-status="{esc(r["status"])}">'
            f"<td><code>{esc(r['run_id'])}</code></td><td>{esc(r['command'])}</td>"
            f"<td class='ts'>{esc(_ts(r['started_at']))}</td>"
            f"<td>{_badge(r['status'])}</td>"
            f'<td class="num">{_slash(r, "batches_loaded", "batches_skipped", "batches_rejected")}</td>'
            f'<td class="num">{_slash(r, "inserted", "updated", "deleted", "revived")}</td>'
            f'<td class="num">{_slash(r, "checks_passed", "checks_warned", "checks_failed")}</td>'
            f'<td class="num">{_secs(r["duration_s"])}</td>'
            f'<td class="msg">{_message(r["message"])}</td></tr>'
            for r in d.runs
        )
        parts.append(
            '<div class="table-wrap"><table id="run-history"><thead><tr><th>run</th><th>command</th><th>started</th>'
            '<th>status</th><th class="num" title="batches loaded / skipped / rejected">batches ok/skip/rej</th>'
            '<th class="num" title="rows inserted / updated / deleted / revived">rows +/~/−/↺</th>'
            '<th class="num" title="checks passed / warned / failed">checks ok/warn/fail</th>'
            f'<th class="num">secs</th><th>message</th></tr></thead><tbody>{rows}</tbody></table></div>'
        )
    else:
        parts.append('<p class="empty-line" id="runs-empty">No runs recorded yet.</p>')
    return "".join(parts)


def _latest_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="empty-line">No titles with a date added.</p>'
    body = "".join(
        f'<tr><td>{esc(r["date_added"])}</td><td class="title-cell">{esc(r["title"])}</td>'
        f"<td>{_type_pill(r['type'])}</td><td class='country-cell'>{esc(r['country'] or '–')}</td>"
        f"<td>{esc(r['release_year'])}</td>"
        f"<td>{esc(r['rating'] or NONE_LABEL)}</td></tr>"
        for r in rows
    )
    return (
        '<div class="table-wrap"><table id="latest-titles"><thead><tr><th>added</th><th>title</th><th>type</th>'
        f"<th>country</th><th>year</th><th>rating</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


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


def _type_pill(t: Any) -> str:
    cls = {"Movie": "movie", "TV Show": "tv"}.get(t, "other")
    return f'<span class="pill pill-{cls}">{esc(t or NONE_LABEL)}</span>'


def render(d: DashboardData) -> str:
    """The whole page as one string."""
    h = d.headline
    titles = h.get("titles", 0)
    batch = d.batch
    if batch:
        source = batch.get("source_path") or "–"
        source_name = Path(source).name if source != "–" else source
        origin = (
            f'batch <code>{esc(batch["batch_id"])}</code> from <span title="{esc(source)}">{esc(source_name)}</span>, '
            f"transformed {esc(_ts(batch['finished_at']))}"
        )
    else:
        origin = "no successfully transformed batch recorded"
    fstatus, ftext = _freshness(d)
    check_counts = {s: sum(1 for c in d.checks if c["status"] == s) for s in ("pass", "warn", "fail", "skip")}
    worst = "fail" if check_counts["fail"] else "warn" if check_counts["warn"] else "pass"
    health = (
        f'<a class="badge badge-{worst}" href="#quality">checks {check_counts["pass"]} pass · '
        f"{check_counts['warn']} warn · {check_counts['fail']} fail</a>"
        if d.checks
        else '<a class="badge badge-other" href="#quality">no checks yet</a>'
    )
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
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="generator" content="netflix-elt {esc(__version__)}">
<link rel="icon" href="data:,">
<title>Netflix catalog dashboard · netflix-elt</title>
<style>{CSS}</style>
</head>
<body>
<header class="top">
  <div class="wrap">
    <div class="brand"><span class="logo">N</span><div><h1>Netflix catalog</h1>
    <p class="sub">netflix-elt dashboard · generated
    <time datetime="{generated.isoformat()}">{esc(_ts(generated))}</time></p></div></div>
    <div class="meta">
      <p>{origin}</p>
      <p><span class="dot dot-{fstatus}"></span>{esc(ftext)} · {health}</p>
    </div>
  </div>
</header>
<main class="wrap">
  <section class="stats" aria-label="headline numbers">{stats}</section>
  <div class="grid">
{chr(10).join(cards)}
  </div>
</main>
<footer class="wrap foot">netflix-elt {esc(__version__)} · warehouse <code>{esc(d.warehouse)}</code> in the home ·
self-contained page: no scripts, no network.</footer>
</body>
</html>
"""


CSS = """
:root{--bg:#f3f4f6;--card:#fff;--ink:#1c2024;--muted:#5f6873;--line:#e4e7eb;--grid:#eceef1;--red:#e50914;
--pass:#177245;--pass-bg:#dcf5e6;--warn:#9a5b00;--warn-bg:#fff1cc;--fail:#b3151b;--fail-bg:#fde1e1;
--skip:#4b5563;--skip-bg:#e8ebef;color-scheme:light}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif;font-variant-numeric:tabular-nums}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:#f0f1f4;
padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
.wrap{max-width:1320px;margin:0 auto;padding:0 24px}
.top{background:#141414;color:#f5f5f5;border-bottom:4px solid var(--red)}
.top .wrap{display:flex;flex-wrap:wrap;gap:12px 32px;align-items:center;justify-content:space-between;padding-top:20px;
padding-bottom:20px}
.brand{display:flex;gap:14px;align-items:center}
.logo{display:inline-grid;place-items:center;width:44px;height:44px;border-radius:8px;background:var(--red);color:#fff;
font:800 28px/1 system-ui,sans-serif}
h1{margin:0;font-size:24px;font-weight:700;letter-spacing:-.01em}
.sub{margin:2px 0 0;color:#b9b9b9;font-size:13px}
.meta{font-size:13px;color:#d4d4d4;text-align:right}
.meta p{margin:2px 0}
.meta code{background:#2a2a2a;color:#f0f0f0}
.meta .badge{margin-left:4px}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:1px}
.dot-pass{background:#3ccf7a}.dot-warn{background:#f5b300}.dot-fail{background:#ff4d4f}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:16px;margin:24px 0 16px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;
box-shadow:0 1px 2px rgba(16,24,40,.05)}
.stat-value{font-size:30px;font-weight:700;letter-spacing:-.02em;line-height:1.15}
.stat-label{color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.06em;margin-top:2px}
.stat-sub{color:var(--muted);font-size:12.5px}
.stat:first-child .stat-value{color:var(--red)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,620px),1fr));gap:16px;margin-bottom:24px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px 16px;min-width:0;
box-shadow:0 1px 2px rgba(16,24,40,.05)}
.card.wide{grid-column:1/-1}
.card h2{margin:0 0 4px;font-size:16px;font-weight:650}
.card h3{margin:18px 0 6px;font-size:14px;font-weight:650}
.note{margin:0 0 8px;color:var(--muted);font-size:12.5px}
.chart-box{overflow-x:auto;overscroll-behavior-x:contain}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
svg text{fill:#2b3036;font-size:12px}
svg .tick{fill:#6b7480;font-size:11.5px}
svg .label{font-size:12.5px}
svg .value{font-size:12px;font-weight:600;fill:#2b3036}
svg .axis-label{fill:#6b7480;font-size:12px}
svg .legend-label{font-size:15px;font-weight:600}
svg .legend-value{font-size:24px;font-weight:700}
svg .legend-small{font-size:12.5px}
svg .donut-total{font-size:26px;font-weight:700}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .axis{stroke:#b8bec6;stroke-width:1}
svg .empty-bg{fill:#f7f8fa}
svg .empty{fill:var(--muted);font-size:15px}
svg .bar:hover rect,svg .slice:hover path{opacity:.8}
svg .refused-bg{fill:var(--warn-bg);stroke:#efd58f;stroke-width:1}
svg .refused-label{fill:var(--warn);font-size:12.5px;font-weight:650}
.table-wrap{overflow-x:auto}
table{width:100%;border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap;background:#fafbfc}
td.num,th.num{text-align:right;white-space:nowrap}
.title-cell{font-weight:600;overflow-wrap:anywhere}
td code,td:first-child,td.ts{white-space:nowrap}
.title-cell{min-width:13em}.country-cell{color:var(--muted);font-size:12.5px}
.pill{display:inline-block;padding:0 8px;border-radius:999px;font-size:12px;white-space:nowrap}
.pill-movie{background:#fde3e4;color:#a80710}.pill-tv{background:#e1ecfa;color:#1f4f8a}.pill-other{background:#eee}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap;
text-decoration:none}
.badge-pass{background:var(--pass-bg);color:var(--pass)}.badge-warn{background:var(--warn-bg);color:var(--warn)}
.badge-fail{background:var(--fail-bg);color:var(--fail)}.badge-skip,.badge-other{background:var(--skip-bg);
color:var(--skip)}
tr.row-fail td{background:#fff6f6}tr.row-warn td{background:#fffbef}
td.msg{width:100%;max-width:0;min-width:16em}
.dq-table td,#run-history td{white-space:nowrap}
.one-line{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.msg-details summary{cursor:pointer}
.msg-details p{margin:4px 0 0;white-space:normal;overflow-wrap:anywhere}
.dq-top{display:flex;flex-wrap:wrap;gap:16px;align-items:stretch;margin:6px 0 10px}
.fresh{flex:1 1 320px;border-radius:10px;padding:10px 14px;border-left:5px solid}
.fresh-pass{background:var(--pass-bg);border-color:var(--pass)}.fresh-warn{background:var(--warn-bg);
border-color:var(--warn)}.fresh-fail{background:var(--fail-bg);border-color:var(--fail)}
.fresh-value{font-size:22px;font-weight:700}
.fresh-label{font-size:12.5px;color:#394048}
.chips{display:flex;gap:10px;flex-wrap:wrap}
.chip{display:flex;flex-direction:column;align-items:center;justify-content:center;min-width:84px;border-radius:10px;
padding:8px 12px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.05em}
.chip-n{font-size:24px;letter-spacing:0}
.chip-pass{background:var(--pass-bg);color:var(--pass)}.chip-warn{background:var(--warn-bg);color:var(--warn)}
.chip-fail{background:var(--fail-bg);color:var(--fail)}.chip-skip{background:var(--skip-bg);color:var(--skip)}
.ok-line{color:var(--pass);font-weight:600}
.empty-line{color:var(--muted);font-style:italic}
.foot{color:var(--muted);font-size:12px;padding-bottom:28px}
.scroll-hint{display:none;margin:6px 0 0;color:var(--muted);font-size:12px}
@media (max-width:1140px){.card.wide .scroll-hint{display:block}}
@media (max-width:620px){.scroll-hint{display:block}}
@media (max-width:900px){.grid{grid-template-columns:minmax(0,1fr)}.meta{text-align:left}.wrap{padding:0 14px}
.card{padding:14px 14px 12px}}
@media print{body{background:#fff}.card,.stat{box-shadow:none;break-inside:avoid}}
"""
