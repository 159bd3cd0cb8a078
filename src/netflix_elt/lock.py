"""One writer per home: an advisory lock (flock) on `<home>/.run.lock`.

The kernel releases a flock when its process dies, however it dies, so a lock left by a killed
run is never stale: the next run simply gets it (and logs that it took over). The file records
the holder (pid, run id, start time) for the waiting run's message.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from netflix_elt.errors import LockTimeout
from netflix_elt.home import Home
from netflix_elt.warehouse import utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
DEFAULT_TIMEOUT = 300.0


def _read_holder(fh: IO[str]) -> dict[str, Any]:
    fh.seek(0)
    try:
        data = json.loads(fh.read() or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_lock(home: Home, run_id: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the home's write lock; wait up to `timeout` seconds for another run to finish."""
    home.root.mkdir(parents=True, exist_ok=True)
    fh = home.lock_file.open("a+", encoding="utf-8")
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fh)
                if not waited:
                    log.warning(
                        "home %s is busy: run %s (pid %s, since %s) holds the lock; waiting up to %.0fs",
                        home.root,
                        holder.get("run_id", "?"),
                        holder.get("pid", "?"),
                        holder.get("started_at", "?"),
                        timeout,
                    )
                    waited = True
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"{home.root}: another run ({holder.get('run_id', '?')}, pid {holder.get('pid', '?')}, "
                        f"started {holder.get('started_at', '?')}) still holds the lock after {timeout:.0f}s; "
                        "try again later or raise --lock-timeout"
                    ) from None
                time.sleep(POLL_SECONDS)
        previous = _read_holder(fh)
        pid = previous.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and not _alive(pid):
            log.warning("took over the lock left by run %s (pid %s, no longer running)", previous.get("run_id"), pid)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "run_id": run_id, "started_at": utcnow().isoformat()}))
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
