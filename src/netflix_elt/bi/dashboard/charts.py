"""The inline SVG charts, drawn here without a library or a script: horizontal bars, a donut,
columns over a year range and lines over shared x values.

Every text a chart shows (labels, legends, tooltips, its <title> and <desc>) goes through `esc`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netflix_elt.bi.dashboard.fmt import _clip, _pct, _tick_label, _ticks, esc

RED = "#e50914"
TYPE_COLORS = {"Movie": RED, "TV Show": "#2f6db5"}
PALETTE = ("#e50914", "#2f6db5", "#e39b17", "#1e9e74", "#7c4dcc", "#d45d9b", "#5b6b7c")
BAR_COLORS = {"country": "#2f6db5", "growth": "#1e9e74", "rating": "#5b6b7c", "genre": "#7c4dcc"}
# Charts never render their text smaller than this: a chart narrower than its box would need
# scrolls inside the box instead (the smallest SVG text is the 11.5-unit tick label).
MIN_TEXT_PX = 10.0
SMALLEST_SVG_TEXT = 11.5


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
