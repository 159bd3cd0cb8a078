"""Clean stops: SIGTERM (systemd, `kill`, a container stop) and SIGINT (Ctrl-C) raise `Interrupted`
on the main thread instead of ending the process where it stands, so every `finally` block runs:
the ledger row of a batch being loaded is marked failed, a transform row failed, the run row
finished, the lock released. The CLI prints one line and exits 143 (SIGTERM) or 130 (SIGINT).

A second signal while the first is being handled stops the process at once (the pipeline is
crash-safe: the next run recovers whatever was left).

dbt runs in-process and catches every exception its invocation raises; `raise_if_requested()`
re-raises the interruption after it returns.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from netflix_elt.core.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Set by the first signal; worker threads (dbt's) can wait on it or poll it.
stop_requested = threading.Event()
_received: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    if stop_requested.is_set():  # a second signal: stop now, as the default action would
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _received.append(signum)
    stop_requested.set()
    raise Interrupted(signum)


@contextmanager
def handling() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into `Interrupted` while open; restores the previous handlers.
    A no-op off the main thread (Python delivers signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        stop_requested.clear()
        _received.clear()


def raise_if_requested() -> None:
    """Raise `Interrupted` again when a signal arrived (for callers of code that swallows it)."""
    if stop_requested.is_set():
        raise Interrupted(_received[0] if _received else signal.SIGINT)
