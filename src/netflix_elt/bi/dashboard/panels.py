"""The page's HTML fragments: cards, headline stats, status badges, the data-quality and runs
panel and the latest-additions table. Every value read from the warehouse goes through `esc`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netflix_elt.bi.dashboard.data import NONE_LABEL, DashboardData
from netflix_elt.bi.dashboard.fmt import _age, _hours_since, _secs, _slash, _ts, esc

# The monitor's defaults for the freshness check (`--freshness-warn-hours` / `--freshness-fail-hours`).
FRESHNESS_WARN_HOURS = 24.0
FRESHNESS_FAIL_HOURS = 72.0

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


def _type_pill(t: Any) -> str:
    cls = {"Movie": "movie", "TV Show": "tv"}.get(t, "other")
    return f'<span class="pill pill-{cls}">{esc(t or NONE_LABEL)}</span>'
