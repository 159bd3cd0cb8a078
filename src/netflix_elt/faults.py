"""Named fault-injection points for the crash and failure tests.

`NETFLIX_ELT_FAULT=<point>` makes `checkpoint(<point>)` raise; `NETFLIX_ELT_FAULT=kill:<point>`
makes it SIGKILL its own process there, as a power cut would. Unset (always, in normal use), a
checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

from netflix_elt.errors import PipelineError

ENV = "NETFLIX_ELT_FAULT"


class InjectedFault(PipelineError):
    """Raised at a checkpoint named by NETFLIX_ELT_FAULT."""


def checkpoint(point: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    if wanted == point:
        raise InjectedFault(f"fault injected at {point}")
    if wanted == f"kill:{point}":
        os.kill(os.getpid(), signal.SIGKILL)
