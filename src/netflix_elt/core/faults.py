"""Named fault-injection points for the crash and failure tests.

`NETFLIX_ELT_FAULT=<point>` makes `checkpoint(<point>)` raise; `NETFLIX_ELT_FAULT=kill:<point>`
makes it SIGKILL its own process there, as a power cut would; `NETFLIX_ELT_FAULT=sleep:<point>`
makes it wait there (`NETFLIX_ELT_FAULT_SLEEP` seconds, default 30, cut short by SIGTERM or
Ctrl-C), after touching the file `NETFLIX_ELT_FAULT_READY` names, if any, so a test can signal the
process at a known place. Unset (always, in normal use), a checkpoint costs one dictionary lookup.

Points inside the dbt build are `dbt_after:<node name>` (e.g. `dbt_after:analytics_netflix_current`),
reached when dbt reports that node finished (see `dbt_runner`).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from netflix_elt.core.errors import PipelineError

ENV = "NETFLIX_ELT_FAULT"
SLEEP_ENV = "NETFLIX_ELT_FAULT_SLEEP"
READY_ENV = "NETFLIX_ELT_FAULT_READY"


class InjectedFault(PipelineError):
    """Raised at a checkpoint named by NETFLIX_ELT_FAULT."""


def active() -> bool:
    """Whether a fault is configured at all (callers skip any set-up for checkpoints otherwise)."""
    return bool(os.environ.get(ENV))


def checkpoint(point: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    if wanted == point:
        raise InjectedFault(f"fault injected at {point}")
    if wanted == f"kill:{point}":
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"sleep:{point}":
        _sleep()


def _sleep() -> None:
    from netflix_elt.core import signals

    ready = os.environ.get(READY_ENV)
    if ready:
        Path(ready).touch()
    # An event, not time.sleep: dbt calls its checkpoints on a worker thread, which a signal
    # cannot interrupt; the signal handler sets the event (and raises on the main thread).
    signals.stop_requested.wait(float(os.environ.get(SLEEP_ENV, "30")))
