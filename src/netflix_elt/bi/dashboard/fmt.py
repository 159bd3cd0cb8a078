"""Formatting for the page and its charts: HTML escaping, numbers, times, labels and axis ticks."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

MAX_LABEL_CHARS = 40


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


def _as_of_day(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%d")
    return "–" if value is None else str(value)[:10]


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
