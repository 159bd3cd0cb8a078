"""The offline HTML dashboard: `<home>/reports/dashboard.html`.

One self-contained file that opens in any browser without a server or a network: inline CSS,
charts drawn here as inline SVG, no JavaScript at all, and a Content-Security-Policy that forbids
scripts and every fetch, so a data value that slipped through unescaped still could not run or
phone home. Every value read from the warehouse is HTML-escaped before it is written.

The modules, one concern each: `data` reads the warehouse (the ledger only through
`netflix_elt.warehouse.ledger`) into DashboardData; `cache` keeps the catalog figures between
builds and writes files atomically; `fmt` formats values; `charts`, `kpi_charts` and `batches`
draw the SVG charts; `panels` builds the HTML fragments; `render` pours them into the Jinja2
template `page.html.j2` with `dashboard.css` inlined.

The catalog figures (headline, KPI charts, latest additions) change only when a batch is
transformed, and reading them scans the whole catalog: they are cached in
`reports/.dashboard-kpi.json`, keyed by the latest successful transform (batch, run and finish
time), and read from there while that transform is still the latest. Checks, runs and freshness
are always read afresh.
"""

from __future__ import annotations

import logging
from pathlib import Path

from netflix_elt.bi.dashboard.cache import KPI_CACHE, _cache_key, _load_kpis, _save_kpis, _write_atomically
from netflix_elt.bi.dashboard.charts import _spread, donut_chart, hbar_chart
from netflix_elt.bi.dashboard.data import (
    CURRENT,
    KPI_FIELDS,
    KPI_VIEWS,
    DashboardData,
    _collect,
    _collect_kpis,
    _collect_live,
)
from netflix_elt.bi.dashboard.kpi_charts import _last_full_year
from netflix_elt.bi.dashboard.render import _home_relative, render
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import connect, table_exists

__all__ = [
    "KPI_FIELDS",
    "DashboardData",
    "_cache_key",
    "_collect",
    "_last_full_year",
    "_load_kpis",
    "_spread",
    "_write_atomically",
    "build_dashboard",
    "donut_chart",
    "hbar_chart",
    "render",
]

log = logging.getLogger(__name__)


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
