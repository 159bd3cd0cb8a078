"""The "Changes per batch" chart: grouped columns per batch on a log axis from 0."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from netflix_elt.bi.dashboard.charts import Svg, _no_data, _text
from netflix_elt.bi.dashboard.fmt import _as_of_day, _tick_label, _ts, esc

CHANGE_COLORS = {"inserted": "#1e9e74", "updated": "#2f6db5", "deleted": "#e50914", "revived": "#e39b17"}


def _log_y(v: float, decades: int) -> float:
    """0..1 on a log axis that starts at 0: log10(1 + v) over log10(1 + 10**decades)."""
    return math.log10(1 + max(0.0, v)) / math.log10(1 + 10**decades)


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
