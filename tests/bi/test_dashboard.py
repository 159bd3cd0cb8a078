"""The offline HTML dashboard, opened in a real headless Chromium (Debian's `chromium` package,
driven by Playwright's Python package; no `playwright install`, no network)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pytest
from playwright.sync_api import BrowserContext, Page

from netflix_elt.bi.dashboard import _last_full_year, _spread, build_dashboard, donut_chart, hbar_chart
from netflix_elt.bi.dashboard.data import KPI_FIELDS, TABLES, _collect
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.warehouse.connection import connect

from conftest import drop_models_except, query, scalar

# Set to a path to keep a copy of the full-page screenshot (for a person, or a CI artifact).
SCREENSHOT_COPY = os.environ.get("NETFLIX_ELT_DASHBOARD_SCREENSHOT")

CHARTS = [
    "chart-types",
    "chart-genres",
    "chart-years",
    "chart-added",
    "chart-countries",
    "chart-growth",
    "chart-ratings",
    "chart-genres-time",
    "chart-batches",
]
TITLE_XSS = "<script>window.__xss=1</script>"
COUNTRY_XSS = '<img src=x onerror="window.__xss=2">'
GENRE_XSS = "<script>alert('xss')</script>"
SOURCE_XSS = '/drops/x" onmouseover="window.__xss=3" data-x=".csv'
MESSAGE_XSS = '</td></tr></table><svg onload="window.__xss=4"><b>bold</b>'
PHONE = {"width": 420, "height": 900}
# The latest succeeded transform of each batch, in apply order: what "Changes per batch" draws.
BATCH_CHANGES = """
select t.batch_id, t.inserted, t.updated, t.deleted, t.revived
from etl_transforms t join etl_batches b using (batch_id) left join etl_runs r using (run_id)
where t.status = 'succeeded'
qualify row_number() over (partition by t.batch_id order by r.run_seq desc nulls last, t.finished_at desc) = 1
order by b.as_of, b.batch_seq
"""
# Rendered size of every text in every chart: its font size times the SVG's scale on screen.
TEXT_PX = (
    "() => [...document.querySelectorAll('svg.chart')].map(svg => { const k = svg.getScreenCTM().a;"
    " const sizes = [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * k);"
    " const box = svg.parentElement, b = box.getBoundingClientRect(), r = svg.getBoundingClientRect();"
    " return {id: svg.id, min: Math.min(...sizes), offset: r.left - b.left, scrollLeft: box.scrollLeft,"
    " scrolls: box.scrollWidth > box.clientWidth + 1, wide: svg.classList.contains('wide')}; })"
)
# The screen boxes of a chart's line-end labels, top to bottom.
END_LABELS = (
    "id => [...document.querySelectorAll(`#${id} text.end-label`)].map(t => { const r = t.getBoundingClientRect();"
    " return {text: t.textContent, top: r.top, bottom: r.bottom, left: r.left, right: r.right}; })"
    ".sort((a, b) => a.top - b.top)"
)


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The whole pipeline once on the bundled sample (about 15 s), shared by this module's tests."""
    home = Home(tmp_path_factory.mktemp("dashboard") / "home")
    run_pipeline(home)
    return home


@pytest.fixture
def home_copy(built_home: Home, tmp_path: Path) -> Home:
    """A private copy of the built home, for a test that changes the warehouse."""
    root = tmp_path / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("reports", ".run.lock"))
    return Home(root)


@dataclass
class Opened:
    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_dashboard(ctx: BrowserContext, path: Path, viewport: dict[str, int] | None = None) -> Opened:
    page = ctx.new_page()
    if viewport:
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
    opened = Opened(page, path.resolve().as_uri())
    ctx.on("request", lambda r: opened.requests.append(r.url))
    page.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.page_errors.append(str(e)))

    def on_dialog(d: Any) -> None:
        opened.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(opened.url, wait_until="load")
    page.wait_for_timeout(300)  # let anything that would run late (onerror, timers) have its chance
    return opened


def drawn_batches(page: Page) -> list[dict[str, Any]]:
    """The batches "Changes per batch" draws, left to right: id, status and each bar's count."""
    return page.evaluate(
        "() => [...document.querySelectorAll('#chart-batches g.batch')].map(g => ({id: g.dataset.batchId,"
        " status: g.dataset.status, counts: Object.fromEntries([...g.querySelectorAll('g.bar')]"
        ".map(b => [b.dataset.kind, Number(b.dataset.value)]))}))"
    )


def assert_end_labels_apart(page: Page, cid: str) -> list[dict[str, Any]]:
    """The line-end labels of chart `cid` do not overlap one another and stay inside the chart."""
    labels = page.evaluate(END_LABELS, cid)
    chart = page.locator(f"#{cid}").bounding_box()
    assert labels and chart, cid
    for above, below in pairwise(labels):
        assert above["bottom"] <= below["top"] + 0.01, (cid, above, below)
    for label in labels:
        assert chart["y"] <= label["top"] and label["bottom"] <= chart["y"] + chart["height"], (cid, label)
    return labels


def assert_clean(opened: Opened) -> None:
    assert opened.console_errors == [], opened.console_errors
    assert opened.page_errors == [], opened.page_errors
    assert not [u for u in opened.requests if u.split(":", 1)[0] in ("http", "https", "ws", "wss")], opened.requests
    assert [u for u in opened.requests if not u.startswith("data:")] == [opened.url], opened.requests


# --------------------------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_dashboard_in_chromium(built_home: Home, browser: BrowserContext, tmp_path: Path) -> None:
    out = build_dashboard(built_home)
    assert out == built_home.root / "reports" / "dashboard.html"
    opened = open_dashboard(browser, out)
    page = opened.page
    assert_clean(opened)
    assert page.evaluate("document.scripts.length") == 0

    # every chart: an accessible, drawn, visible SVG
    assert page.locator("svg.chart").count() == len(CHARTS)
    for cid in CHARTS:
        svg = page.locator(f"svg#{cid}")
        assert svg.is_visible(), cid
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (cid, box)
        drawn = svg.evaluate(
            "el => { const shapes = [...el.querySelectorAll('rect,path,circle,polyline')];"
            " const inked = shapes.filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; });"
            " const c = el.getBBox(); return {shapes: shapes.length, inked: inked.length,"
            " texts: el.querySelectorAll('text').length, w: c.width, h: c.height}; }"
        )
        assert drawn["inked"] >= 2 and drawn["texts"] >= 3 and drawn["w"] > 0 and drawn["h"] > 0, (cid, drawn)
        assert (svg.locator(":scope > title").text_content() or "").strip(), cid
        assert svg.get_attribute("role") == "img"
        assert page.evaluate(
            "id => document.getElementById(id).getAttribute('aria-labelledby').split(' ')"
            ".every(i => (document.getElementById(i)?.textContent || '').trim().length > 0)",
            cid,
        ), cid

    for cid in ("chart-added", "chart-genres-time"):
        assert_end_labels_apart(page, cid)

    # changes per batch: the latest succeeded transform of each batch, as the transform log has it
    expected = [
        {"id": b, "status": "succeeded", "counts": {"inserted": i, "updated": u, "deleted": d}}
        for b, i, u, d, _revived in query(built_home, BATCH_CHANGES)
    ]
    assert drawn_batches(page) == expected
    assert page.locator("#chart-batches text", has_text="8,807").first.is_visible()

    # the recent-growth card says what it counts: titles by release year from max - recent_years on
    hi = scalar(built_home, "select max(release_year) from analytics_netflix_current where not is_deleted")
    lo = hi - 5  # recent_years in dbt_project.yml
    assert page.locator("#card-growth h2").inner_text() == f"Titles released {lo}–{hi}, by country"
    us = scalar(
        built_home,
        "select count(distinct c.show_id) from netflix_title_countries c join analytics_netflix_current t "
        "using (show_id) where c.value = 'United States' and not t.is_deleted and t.release_year between ? and ?",
        [lo, hi],
    )
    assert page.locator("#chart-growth text", has_text=f"{us:,}").first.is_visible()
    assert f"{lo} to {hi}" not in page.locator("#card-growth .note").inner_text()  # one spelling: lo–hi
    assert f"release year {lo}–{hi}" in page.locator("#card-growth .note").inner_text()

    # the footer names the warehouse inside the home; the page never holds the home's absolute path
    foot = page.locator("footer").inner_text()
    assert built_home.warehouse.name in foot
    assert str(built_home.root) not in out.read_text(encoding="utf-8")

    donut = page.locator("#chart-types").text_content() or ""
    assert "Movie" in donut and "6,131" in donut and "TV Show" in donut and "2,676" in donut
    stats = page.locator("section.stats").inner_text()
    assert "8,807" in stats and "6,131" in stats and "2,676" in stats and "122" in stats and "42" in stats
    assert page.locator("#chart-countries text", has_text="United States").first.is_visible()
    assert page.locator("#chart-countries text", has_text="3,690").first.is_visible()
    assert page.locator("#chart-ratings text", has_text="(none)").first.is_visible()

    # where the data came from, and when
    batch_id = scalar(built_home, "select batch_id from etl_transforms where status = 'succeeded'")
    header = page.locator("header").inner_text()
    assert batch_id in header and "netflix_titles.csv" in header and "UTC" in header
    assert page.locator("header time").get_attribute("datetime")

    # the data-quality panel agrees with the warehouse
    quality = page.locator("#quality")
    assert quality.is_visible()
    (run_id,) = query(built_home, "select run_id from dq_results order by checked_at desc limit 1")[0]
    for status in ("pass", "warn", "fail", "skip"):
        expected = scalar(
            built_home, "select count(*) from dq_results where run_id = ? and status = ?", [run_id, status]
        )
        chip = page.locator(f"#dq-counts .chip-{status} .chip-n").inner_text()
        assert int(chip.replace(",", "")) == expected, status
    flagged = scalar(built_home, "select count(*) from dq_results where run_id = ? and status <> 'pass'", [run_id])
    assert page.locator("#dq-flagged tbody tr").count() == flagged
    runs = scalar(built_home, "select count(*) from etl_runs")
    assert page.locator("#run-history tbody tr").count() == min(runs, 10) >= 1
    assert "succeeded" in page.locator("#run-history").inner_text()
    assert "freshness" in quality.inner_text()

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 100_000
    if SCREENSHOT_COPY:
        shutil.copyfile(shot, SCREENSHOT_COPY)


@pytest.mark.slow
def test_genres_over_time_ends_at_the_last_full_year(home_copy: Home, browser: BrowserContext) -> None:
    """One title released in 2024 (three years after the rest of the catalog) must not stretch the
    axis to 2024 and draw every other genre falling to 0, nor pile the end labels onto each other."""
    con = duckdb.connect(str(home_copy.warehouse))
    try:
        con.execute("update analytics_netflix_current set release_year = 2024 where show_id = 's1383'")
        # the two KPI tables the chart reads, rebuilt as their dbt models define them
        con.execute(
            "create or replace table kpi_titles_by_year as select release_year, count(*) as total_titles "
            "from analytics_netflix_current where not is_deleted group by release_year"
        )
        con.execute(
            "create or replace table kpi_genres_over_time as select release_year, genre, count(*) as total_titles "
            "from (select distinct t.release_year, g.value as genre, t.show_id from netflix_title_genres g "
            "join analytics_netflix_current t on g.show_id = t.show_id where not t.is_deleted) "
            "group by release_year, genre"
        )
    finally:
        con.close()
    assert scalar(home_copy, "select sum(total_titles) from kpi_titles_by_year where release_year = 2024") == 1

    opened = open_dashboard(browser, build_dashboard(home_copy))
    page = opened.page
    assert_clean(opened)
    chart = page.locator("#chart-genres-time")
    ticks = [t.strip() for t in chart.locator("text.tick").all_text_contents() if t.strip().isdigit()]
    years = [int(t) for t in ticks if int(t) > 1900]
    assert years == list(range(2007, 2022)), years
    note = page.locator("#card-genres-time .note").inner_text()
    assert "Release years 2007–2021" in note and "1 title(s) released after 2021 (2024)" in note, note
    assert "2007–2021" in (chart.locator(":scope > title").text_content() or "")

    # every line ends on its 2021 count (none falls to 0), and the labels at the ends say so
    last = page.evaluate(
        "() => [...document.querySelectorAll('#chart-genres-time g.series')].map(g => {"
        " const pts = g.querySelector('polyline').getAttribute('points').trim().split(/\\s+/);"
        " const dots = [...g.querySelectorAll('circle > title')].map(t => t.textContent);"
        " return {name: g.querySelector(':scope > title').textContent, last: dots[dots.length - 1],"
        " points: pts.length}; })"
    )
    assert len(last) == 5
    for series in last:
        assert series["points"] == 15, series
        genre, count = series["last"].rsplit(": ", 1)
        assert genre.endswith(", 2021"), series
        expected = scalar(
            home_copy,
            "select total_titles from kpi_genres_over_time where release_year = 2021 and genre = ?",
            [series["name"]],
        )
        assert int(count.replace(",", "")) == expected > 0, series
    labels = assert_end_labels_apart(page, "chart-genres-time")
    assert sorted(int(x["text"].replace(",", "")) for x in labels) == sorted(
        int(s["last"].rsplit(": ", 1)[1].replace(",", "")) for s in last
    )


@pytest.mark.slow
def test_phone_viewport_keeps_charts_legible(built_home: Home, browser: BrowserContext, tmp_path: Path) -> None:
    """On a 420 px phone every chart's text renders at 10 px or more; a chart wider than the screen
    scrolls inside its own box, opened at its start; the page itself never scrolls sideways."""
    out = build_dashboard(built_home, tmp_path / "phone.html")
    opened = open_dashboard(browser, out, viewport=PHONE)
    page = opened.page
    assert_clean(opened)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    charts = page.evaluate(TEXT_PX)
    assert sorted(c["id"] for c in charts) == sorted(CHARTS)
    for c in charts:
        assert c["min"] >= 9.95, c
        assert c["scrollLeft"] == 0 and abs(c["offset"]) < 0.5, c  # opened at its left edge
    assert all(c["scrolls"] for c in charts if c["wide"]), charts
    hint = page.locator("#card-batches .scroll-hint")
    assert hint.is_visible() and "scrolls sideways" in hint.inner_text()

    # a wide chart scrolls within its box, and only the box moves
    box = page.locator("#chart-years").locator("xpath=..")
    box.evaluate("b => b.scrollBy(400, 0)")
    assert box.evaluate("b => b.scrollLeft") > 0
    assert page.evaluate("window.scrollX") == 0

    # on a desktop the same page needs no scrolling anywhere and shows no hint
    page.set_viewport_size({"width": 1400, "height": 900})
    for c in page.evaluate(TEXT_PX):
        assert not c["scrolls"] and c["min"] >= 9.95, c
    assert not hint.is_visible()


LONG_REFUSAL = (
    "drop refused by the mass-deletion guard: 4,412 of 8,807 active titles (50.1%) would be deleted, "
    "more than max_delete_ratio 10%; the current catalog is unchanged and the drop stays in the inbox; "
    "if the deletions are real, run `netflix-elt ingest --force --accept-deletes "
    "/very/long/path/to/the/drops/2026/12/netflix_titles_half_catalog_export_from_the_partner_feed.csv`"
)


@pytest.mark.slow
def test_changes_per_batch_and_refused_runs(home_copy: Home, browser: BrowserContext) -> None:
    """Batches in apply order (a late drop with an earlier as-of first), a replayed batch by its
    latest transform, a refused batch marked refused; a refused run is a warning whose long
    message stays on one line."""
    con = duckdb.connect(str(home_copy.warehouse))
    try:
        (b1, as_of, seq) = con.execute("select batch_id, as_of, batch_seq from etl_batches").fetchone()
        run_seq = con.execute("select max(run_seq) from etl_runs").fetchone()[0]
        day = timedelta(days=1)
        batches = [("b-update", seq + 1, as_of + day), ("b-refused", seq + 2, as_of + 2 * day)]
        batches.append(("b-late", seq + 3, as_of - day))  # a late drop: applies before the first one
        for batch_id, bseq, bas_of in batches:
            con.execute(
                "insert into etl_batches (batch_id, source_path, source_sha256, source_bytes, started_at, "
                "finished_at, status, batch_seq, as_of) values (?, ?, 'x', 1, ?, ?, 'succeeded', ?, ?)",
                [batch_id, f"/drops/{batch_id}.csv", bas_of, bas_of, bseq, bas_of],
            )
        runs = [
            ("r-2", "succeeded", None),
            ("r-3", "refused", LONG_REFUSAL),
            ("r-4", "succeeded", None),
        ]
        for i, (run_id, status, message) in enumerate(runs, start=1):
            con.execute(
                "insert into etl_runs (run_id, command, started_at, finished_at, status, run_seq, message) "
                "values (?, 'run', ?, ?, ?, ?, ?)",
                [run_id, as_of + i * day, as_of + i * day, status, run_seq + i, message],
            )
        transforms = [  # run, batch, status, inserted, updated, deleted, revived
            ("r-2", "b-update", "succeeded", 12, 40, 3, 0),
            ("r-3", "b-refused", "refused", None, None, None, None),
            ("r-4", "b-update", "succeeded", 12, 41, 3, 2),  # a replay of b-update: this one counts
            ("r-4", "b-late", "succeeded", 0, 7, 0, 1),
        ]
        for i, (run_id, batch_id, status, ins, upd, dele, rev) in enumerate(transforms, start=1):
            con.execute(
                "insert into etl_transforms (run_id, batch_id, started_at, finished_at, status, inserted, updated, "
                "unchanged, deleted, revived, message) values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                [
                    run_id,
                    batch_id,
                    as_of + i * day,
                    as_of + i * day,
                    status,
                    ins,
                    upd,
                    dele,
                    rev,
                    "key-remap guard: 31% of matched titles renamed" if status == "refused" else None,
                ],
            )
    finally:
        con.close()

    opened = open_dashboard(browser, build_dashboard(home_copy))
    page = opened.page
    assert_clean(opened)

    # the chart draws the SQL's numbers, in apply order, and the refused batch as refused
    kinds = ("inserted", "updated", "deleted", "revived")
    applied = [
        {"id": b, "status": "succeeded", "counts": dict(zip(kinds, counts, strict=True))}
        for b, *counts in query(home_copy, BATCH_CHANGES)
    ]
    assert [a["id"] for a in applied] == ["b-late", b1, "b-update"]
    assert applied[2]["counts"] == {"inserted": 12, "updated": 41, "deleted": 3, "revived": 2}
    drawn = drawn_batches(page)
    assert drawn == [*applied, {"id": "b-refused", "status": "refused", "counts": {}}]
    chart = page.locator("#chart-batches")
    for label in ("41", "8,807", "refused", "#2", "revived (3)"):
        assert chart.locator("text", has_text=label).first.is_visible(), label
    refused = chart.locator('g.batch[data-status="refused"]')
    tip = refused.locator(":scope > title").text_content() or ""
    assert "b-refused" in tip and "refused by a guard" in tip and "key-remap guard" in tip
    assert "1 batch(es) refused by a guard" in page.locator("#card-batches .note").inner_text()

    # the refused run: a warning badge and row, its message one line cut with an ellipsis
    row = page.locator('#run-history tr[data-status="refused"]')
    ok_row = page.locator('#run-history tr[data-status="succeeded"]').first
    assert row.locator(".badge").get_attribute("class") == "badge badge-warn"
    assert "row-warn" in (row.get_attribute("class") or "")
    assert ok_row.locator(".badge").get_attribute("class") == "badge badge-pass"
    height, ok_height = row.bounding_box()["height"], ok_row.bounding_box()["height"]  # type: ignore[index]
    assert height <= ok_height + 4 and height < 48, (height, ok_height)
    line = row.locator("summary.one-line")
    assert line.get_attribute("title") == LONG_REFUSAL
    clip = line.evaluate(
        "e => ({overflow: getComputedStyle(e).textOverflow, clipped: e.scrollWidth > e.clientWidth,"
        " wrap: getComputedStyle(e).whiteSpace})"
    )
    assert clip == {"overflow": "ellipsis", "clipped": True, "wrap": "nowrap"}, clip
    full = row.locator("details.msg-details > p")
    assert not full.is_visible() and full.text_content() == LONG_REFUSAL
    line.click()
    assert full.is_visible()


@pytest.mark.slow
def test_hostile_values_are_shown_as_text(home_copy: Home, browser: BrowserContext) -> None:
    home = home_copy
    con = duckdb.connect(str(home.warehouse))
    try:
        (latest,) = con.execute(
            "select show_id from analytics_netflix_current where not is_deleted and date_added is not null "
            "order by date_added desc, show_id limit 1"
        ).fetchone()
        con.execute(
            "update analytics_netflix_current set title = ?, country = ? where show_id = ?",
            [TITLE_XSS, COUNTRY_XSS, latest],
        )
        # the KPI tables the charts read, as dbt would rebuild them from such values
        for kpi in ("kpi_titles_by_country", "kpi_country_recent_growth"):
            con.execute(f"update {kpi} set country = ? where country = 'India'", [COUNTRY_XSS])
        con.execute("update kpi_top_genres set genre = ? where genre = 'Dramas'", [GENRE_XSS])
        con.execute("update etl_batches set source_path = ?", [SOURCE_XSS])
        con.execute("update dq_results set message = ? where status = 'skip'", [MESSAGE_XSS])
        con.execute("update etl_runs set message = ?", [MESSAGE_XSS])
    finally:
        con.close()

    html_text = build_dashboard(home).read_text(encoding="utf-8")
    for raw in (TITLE_XSS, COUNTRY_XSS, GENRE_XSS, 'x" onmouseover', "<svg onload"):
        assert raw not in html_text, raw

    opened = open_dashboard(browser, home.root / "reports" / "dashboard.html")
    page = opened.page
    assert_clean(opened)
    assert opened.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('img, b, [onerror], [onmouseover], [onload]').length") == 0

    # the values are there, literally and visibly
    assert page.locator("#latest-titles td", has_text=TITLE_XSS).first.is_visible()
    assert page.locator("#latest-titles td", has_text=COUNTRY_XSS).first.is_visible()
    for cid in ("chart-countries", "chart-growth"):
        assert page.locator(f"#{cid} text", has_text=COUNTRY_XSS).first.is_visible(), cid
    assert page.locator("#chart-genres text", has_text=GENRE_XSS).first.is_visible()
    assert page.locator("header span[title]").get_attribute("title") == SOURCE_XSS
    assert page.locator("#dq-flagged td", has_text=MESSAGE_XSS).first.is_visible()
    assert page.locator("#run-history td", has_text=MESSAGE_XSS).first.is_visible()


@pytest.mark.slow
def test_empty_check_and_run_history(home_copy: Home, tmp_path: Path) -> None:
    con = duckdb.connect(str(home_copy.warehouse))
    try:
        con.execute("delete from dq_results")
        con.execute("delete from etl_runs")
    finally:
        con.close()
    out = build_dashboard(home_copy, tmp_path / "elsewhere" / "deep" / "board.html")
    assert out == tmp_path / "elsewhere" / "deep" / "board.html"
    text = out.read_text(encoding="utf-8")
    assert 'id="dq-empty"' in text and "No data-quality checks recorded yet." in text
    assert 'id="runs-empty"' in text and "No runs recorded yet." in text
    assert 'id="quality"' in text and "freshness" in text
    # self-contained: no scripts, no external references of any kind
    assert "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "Content-Security-Policy" in text
    assert not [p for p in out.parent.iterdir() if p.name != out.name], "a temporary file was left behind"


def test_the_dashboard_reads_nothing_outside_its_exposure(built_home: Home, home_copy: Home, tmp_path: Path) -> None:
    """From a warehouse holding only the models of the offline_dashboard exposure (and the ledger),
    the page shows the same catalog figures: the exposure lists everything the page reads."""
    assert drop_models_except(home_copy.warehouse, TABLES)
    figures = []
    for home in (built_home, home_copy):
        con = connect(home, read_only=True)
        try:
            data = _collect(con)
        finally:
            con.close()
        figures.append({name: getattr(data, name) for name in KPI_FIELDS})
    assert figures[0] == figures[1] and figures[0]["top_genres"]
    assert build_dashboard(home_copy, tmp_path / "board.html", use_cache=False).is_file()


def test_no_transformed_data_is_an_input_error(tmp_path: Path) -> None:
    empty = Home(tmp_path / "empty")
    with pytest.raises(InputError, match=r"no transformed data yet; run `netflix-elt run` first"):
        build_dashboard(empty)

    migrated = Home(tmp_path / "migrated").ensure()
    connect(migrated).close()  # a warehouse with the ledger tables but nothing transformed
    with pytest.raises(InputError, match=r"no transformed data yet"):
        build_dashboard(migrated)
    assert not (migrated.root / "reports" / "dashboard.html").exists()


def test_chart_helpers_escape_and_handle_edge_cases() -> None:
    svg = hbar_chart("c", "T <b>", [("<i>x</i>", 3), ("a & b", 1)], color="#000", x_label="titles")
    assert "<i>" not in svg and "&lt;i&gt;x&lt;/i&gt;" in svg and "a &amp; b" in svg and "T &lt;b&gt;" in svg
    assert svg.count("<rect") == 2
    assert "No data yet" in hbar_chart("e", "Empty", [], color="#000", x_label="titles")
    whole = donut_chart("d", "All movies", [("Movie", 5)], {})
    assert "<circle" in whole and "100.0%" in whole
    long = hbar_chart("l", "Long", [("x" * 80, 1)], color="#000", x_label="titles")
    assert "x" * 39 + "…" in long and "x" * 80 in long  # clipped on the axis, whole in the tooltip


def test_end_label_spread_and_sparse_trailing_years() -> None:
    assert _spread([100, 100, 100], 16, 0, 300) == [100, 116, 132]  # pushed apart, downwards
    assert _spread([296, 300, 300], 16, 0, 300) == [268, 284, 300]  # at the bottom: pushed back up
    assert _spread([5, 50], 16, 20, 300) == [20, 50]
    assert _last_full_year([(2019, 900), (2020, 1000), (2021, 400), (2022, 0), (2024, 1)]) == (2021, [(2024, 1)])
    assert _last_full_year([(2020, 100), (2021, 1)]) == (2020, [(2021, 1)])
    assert _last_full_year([(2020, 10), (2021, 1)]) == (2021, [])  # 10% of the peak: kept
    assert _last_full_year([(2021, 1)]) == (2021, [])
    assert _last_full_year([]) == (None, [])


def test_failed_write_keeps_the_previous_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netflix_elt.bi.dashboard import cache as dashboard

    out = tmp_path / "reports" / "dashboard.html"
    out.parent.mkdir()
    out.write_text("previous", encoding="utf-8")

    def boom(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(dashboard.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        dashboard._write_atomically(out, "new")
    assert out.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in out.parent.iterdir()] == ["dashboard.html"]
