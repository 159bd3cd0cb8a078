"""The KPI cache and the atomic writes of the page and the cache.

The catalog figures (headline, KPI charts, latest additions) change only when a batch is
transformed, and reading them scans the whole catalog: they are cached in
`reports/.dashboard-kpi.json`, keyed by the latest successful transform (batch, run and finish
time), and read from there while that transform is still the latest."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from netflix_elt.bi.dashboard.data import KPI_FIELDS, DashboardData
from netflix_elt.core import faults

log = logging.getLogger(__name__)

KPI_CACHE = ".dashboard-kpi.json"
KPI_CACHE_FORMAT = 1
_TUPLE_FIELDS = frozenset(KPI_FIELDS) - {"headline", "year_unknown", "latest_titles"}


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
