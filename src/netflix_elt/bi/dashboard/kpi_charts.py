"""The catalog's charts that need their data shaped first: titles added by month (one line per
type) and the top genres over the latest full release years."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from netflix_elt.bi.dashboard.charts import PALETTE, TYPE_COLORS, Series, line_chart

GENRE_LINES = 5
GENRE_YEARS = 15
# Trailing release years with fewer titles than this share of the busiest year's are left out of
# "Genres over time": one stray future year would otherwise stretch the axis and drop every line to 0.
SPARSE_YEAR_SHARE = 0.05


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
