"""The offline HTML dashboard, opened in a real headless Chromium (Debian's `chromium` package,
driven by Playwright's Python package; no `playwright install`, no network)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from netflix_elt.dashboard import build_dashboard, donut_chart, hbar_chart
from netflix_elt.errors import InputError
from netflix_elt.home import Home
from netflix_elt.pipeline import run_pipeline
from netflix_elt.warehouse import connect

from conftest import query, scalar

try:
    from playwright.sync_api import BrowserContext, Page, sync_playwright
except ImportError:  # reported as a failure by the `browser` fixture, never as a skip
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = Path(os.environ.get("NETFLIX_ELT_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries to reach Google and this sandbox refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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
]
TITLE_XSS = "<script>window.__xss=1</script>"
COUNTRY_XSS = '<img src=x onerror="window.__xss=2">'
GENRE_XSS = "<script>alert('xss')</script>"
SOURCE_XSS = '/drops/x" onmouseover="window.__xss=3" data-x=".csv'
MESSAGE_XSS = '</td></tr></table><svg onload="window.__xss=4"><b>bold</b>'


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


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a new, empty profile under the test's tmp dir."""
    if sync_playwright is None:
        pytest.fail("the playwright Python package is missing: pip install playwright (no `playwright install`)")
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set NETFLIX_ELT_CHROMIUM)")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            device_scale_factor=1,
        )
        try:
            yield ctx
        finally:
            ctx.close()


@dataclass
class Opened:
    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_dashboard(ctx: BrowserContext, path: Path) -> Opened:
    page = ctx.new_page()
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


def test_failed_write_keeps_the_previous_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netflix_elt import dashboard

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
