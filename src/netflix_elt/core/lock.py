"""One writer per home: an advisory lock (flock) on `<home>/.run.lock`.

The kernel releases a flock when its process dies, however it dies, so a lock left by a killed
run is never stale: the next run simply gets it (and logs that it took over). The file records
the holder (pid, run id, start time) for the waiting run's message.

Readers (status, monitor's snapshot, export, lookml, dashboard) take the same lock shared, so a
run never finds the warehouse file held open by a reader (DuckDB would refuse the writer), and a
reader never opens it under a writer: `peek` tells a reader a run is in progress (it then answers
from the state the last run published), `shared_lock` waits for the run to finish.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from netflix_elt.core.clock import utcnow
from netflix_elt.core.errors import LockTimeout
from netflix_elt.core.home import Home

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


def _holder_or_unknown(fh: IO[str]) -> dict[str, Any]:
    return {"run_id": "?", "pid": "?", "started_at": "?", **_read_holder(fh)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire(
    fh: IO[str],
    mode: int,
    timeout: float,
    busy: Callable[[dict[str, Any]], None],
    gave_up: Callable[[dict[str, Any]], LockTimeout],
) -> None:
    """flock `fh` in `mode`, polling; `busy(holder)` once when it has to wait, `gave_up(holder)`
    raised after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fh.fileno(), mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder_or_unknown(fh)
            if not waited:
                busy(holder)
                waited = True
            if time.monotonic() >= deadline:
                raise gave_up(holder) from None
            time.sleep(POLL_SECONDS)


@contextmanager
def run_lock(home: Home, run_id: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the home's write lock; wait up to `timeout` seconds for another run to finish."""
    home.root.mkdir(parents=True, exist_ok=True)
    fh = home.lock_file.open("a+", encoding="utf-8")
    try:

        def busy(holder: dict[str, Any]) -> None:
            log.warning(
                "home %s is busy: run %s (pid %s, since %s) holds the lock; waiting up to %.0fs",
                home.root,
                holder["run_id"],
                holder["pid"],
                holder["started_at"],
                timeout,
            )

        def gave_up(holder: dict[str, Any]) -> LockTimeout:
            return LockTimeout(
                f"{home.root}: another run ({holder['run_id']}, pid {holder['pid']}, "
                f"started {holder['started_at']}) still holds the lock after {timeout:.0f}s; "
                "try again later or raise --lock-timeout"
            )

        _acquire(fh, fcntl.LOCK_EX, timeout, busy, gave_up)
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


def _open_for_reading(home: Home) -> IO[str] | None:
    """The lock file, for a reader: opened read-only when it exists (a reader writes nothing); made
    when missing (a home copied without it) so a run that starts meanwhile waits for the reader;
    None when it cannot be made (a read-only home, which no run can write either)."""
    try:
        return home.lock_file.open("r", encoding="utf-8")
    except FileNotFoundError:
        pass
    try:
        return home.lock_file.open("a+", encoding="utf-8")
    except OSError:
        return None


@contextmanager
def peek(home: Home) -> Iterator[dict[str, Any] | None]:
    """For a read-only command that must not wait: yields None while holding the lock shared (no
    run can start until the block ends), or the holder (pid, run_id, started_at) when a run holds it."""
    fh = _open_for_reading(home)
    if fh is None:  # a read-only home: no run can write it
        yield None
        return
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield _holder_or_unknown(fh)
            return
        try:
            yield None
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


@contextmanager
def shared_lock(home: Home, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """For a read-only command that needs the warehouse itself: wait up to `timeout` seconds for a
    run to finish, then hold the lock shared (other readers may share it; a new run waits)."""
    fh = _open_for_reading(home)
    if fh is None:  # a read-only home: no run can write it
        yield
        return
    try:

        def busy(holder: dict[str, Any]) -> None:
            log.info("waiting for run %s (pid %s) to finish writing the warehouse", holder["run_id"], holder["pid"])

        def gave_up(holder: dict[str, Any]) -> LockTimeout:
            return LockTimeout(
                f"{home.root}: run {holder['run_id']} (pid {holder['pid']}, started {holder['started_at']}) "
                f"is still writing the warehouse after {timeout:.0f}s; try again later or raise --lock-timeout"
            )

        _acquire(fh, fcntl.LOCK_SH, timeout, busy, gave_up)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
