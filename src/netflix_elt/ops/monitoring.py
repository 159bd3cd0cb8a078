"""`monitor` while a run writes the warehouse: DuckDB lets no other process open it, so the answer
comes from the checks that run last published, with freshness re-evaluated, and nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netflix_elt.core.home import Home
from netflix_elt.core.lock import peek
from netflix_elt.quality.checks import MonitorOptions, MonitorReport, report_from_state
from netflix_elt.quality.state import read_state


@dataclass(frozen=True)
class PublishedAnswer:
    writer: dict[str, Any]  # the run holding the warehouse: pid, run_id, started_at
    published_at: Any  # when the checks answered from were published; empty before the first run's
    report: MonitorReport


def published_answer(home: Home, run_id: str, options: MonitorOptions, *, wait: bool) -> PublishedAnswer | None:
    """The checks as last published when a run holds the warehouse now and the caller does not
    `wait` for it; None when the checks can (or, with `wait`, must) run afresh."""
    with peek(home) as writer:
        pass
    if writer is None or wait:
        return None
    published = read_state(home)
    report = report_from_state(published, run_id, options, in_progress=True)
    return PublishedAnswer(writer=writer, published_at=published["published_at"], report=report)
