"""One error base class; every subclass carries the process exit code the CLI maps it to."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any


class NetflixEltError(Exception):
    """Base of every error the library raises on purpose. The message is one line for a user."""

    exit_code = 1


class InputError(NetflixEltError):
    """Bad input or usage: a missing, empty or malformed file, a bad option. Exit code 2."""

    exit_code = 2


class BatchRejected(InputError):
    """A drop was read but refused as a whole (missing key columns, too many bad lines)."""


class PipelineError(NetflixEltError):
    """A step failed for a reason that is not the input's fault. Exit code 1."""


class ResourceError(PipelineError):
    """The machine ran short of something a step needs: disk space (or quota) under the home,
    memory, DuckDB's spill budget, or the disk itself failed (EIO). Not the input's fault: the
    batch is 'failed', not 'rejected', an inbox drop stays in the inbox, and the same drop loads
    once the resource is back. Exit code 1. Made by `resource_error`."""


class LockTimeout(NetflixEltError):
    """Another run holds the home's lock and did not release it in time. Exit code 1."""


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM, or SIGINT/Ctrl-C): raised on the main thread by the
    handler `netflix_elt.core.signals` installs, so `finally` blocks run (the batch, transform and run
    rows are marked failed, the lock is released). A KeyboardInterrupt, not a NetflixEltError: no
    `except Exception` swallows it, and dbt cancels its queries for it. Exit code 128 + signal."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {name}; unfinished work was rolled back or is left for the next run (re-run to finish)"
        )


# errno -> what to say, and what to do about it
_OS_CAUSES = {
    errno.ENOSPC: ("no space left on device", "free space or move the home"),
    errno.EDQUOT: ("disk quota exceeded", "free space, raise the quota or move the home"),
    errno.EIO: ("I/O error", "check the disk (dmesg) and re-run"),
}
# The same causes as DuckDB words them (it reports the OS error as text, sometimes with its errno).
_TEXT_CAUSES = [
    (errno.ENOSPC, re.compile(r"no space left on device|\bENOSPC\b|\"errno\"\s*:\s*\"?28\b", re.I)),
    (errno.EDQUOT, re.compile(r"disk quota exceeded|\bEDQUOT\b|\"errno\"\s*:\s*\"?122\b", re.I)),
    (errno.EIO, re.compile(r"input/output error|\bEIO\b|\"errno\"\s*:\s*\"?5\b", re.I)),
]
_SPILL = re.compile(r"max_temp_directory_size|failed to offload", re.I)
_OUT_OF_MEMORY = re.compile(r"out of memory|could not allocate", re.I)
_ALLOCATE = re.compile(r"could not allocate (?:block of )?(?:size )?([\d.]+ ?[KMGT]?i?B)", re.I)
_SPILL_USED = re.compile(r"\(([\d.]+ ?[KMGT]?i?B)/([\d.]+ ?[KMGT]?i?B) used\)", re.I)
# A path DuckDB names in an I/O error: `file "/x/y"`, possibly with its quotes escaped (JSON).
_QUOTED_PATH = re.compile(r'(?:file|directory)\s+\\?"((?:[^"\\]|\\(?!"))+)\\?"', re.I)


def resource_error(
    exc: BaseException, where: str | os.PathLike[str] | None = None, *, con: Any = None
) -> ResourceError | None:
    """A one-line ResourceError naming the cause when `exc` (or an exception it was raised from or
    while handling: a later "transaction is aborted" must not mask the cause) says a resource ran
    out, else None: an OSError with errno ENOSPC, EDQUOT or EIO; a MemoryError; a DuckDB error
    saying the same, or that it ran out of memory or of spill space. `where` is the folder the
    failed step writes under, for a cause that names no path; `con` the DuckDB connection that
    failed, to name its spill folder."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen or len(seen) > 20:
            continue
        seen.add(id(e))
        found = _classify(e, where, con)
        if found is not None:
            return found
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
    return None


def _classify(exc: BaseException, where: str | os.PathLike[str] | None, con: Any) -> ResourceError | None:
    from netflix_elt.core.settings import MEMORY_LIMIT_ENV, resource_settings

    if isinstance(exc, ResourceError):
        return exc
    memory_limit = resource_settings()["memory_limit"]
    if isinstance(exc, MemoryError):
        return _make(
            f"the process ran out of memory (MemoryError): free memory on this machine, "
            f"or lower ${MEMORY_LIMIT_ENV} (now {memory_limit}) so DuckDB spills sooner"
        )
    if isinstance(exc, OSError) and exc.errno in _OS_CAUSES:
        cause, todo = _OS_CAUSES[exc.errno]
        place = _folder(exc.filename) if exc.filename else _where(where)
        return _make(f"{cause} under {place}: {todo}")
    if not _is_duckdb_error(exc):
        return None
    text = str(exc)
    for code, pattern in _TEXT_CAUSES:
        if pattern.search(text):
            cause, todo = _OS_CAUSES[code]
            named = _QUOTED_PATH.search(text)
            place = _folder(named.group(1)) if named else _where(where or _spill_dir(con))
            return _make(f"{cause} under {place}: {todo}")
    if _SPILL.search(text):
        used = _SPILL_USED.search(text)
        budget = f" {used.group(2)}" if used else ""
        return _make(
            f"no space left under {_where(_spill_dir(con) or where)} for DuckDB's spill files (spill limit{budget} "
            "reached; by default 90% of the free disk space there): free space or move the home, "
            f"or raise ${MEMORY_LIMIT_ENV} (now {memory_limit}) so less spills"
        )
    if isinstance(exc, _duckdb_oom()) or _OUT_OF_MEMORY.search(text):
        size = _ALLOCATE.search(text)
        needed = f"; could not allocate {size.group(1)} more" if size else ""
        return _make(f"DuckDB ran out of memory (limit {memory_limit}{needed}): raise ${MEMORY_LIMIT_ENV}")
    return None


def _make(message: str) -> ResourceError:
    from netflix_elt.core.text import one_line

    return ResourceError(one_line(message))


def _is_duckdb_error(exc: BaseException) -> bool:
    import duckdb

    return isinstance(exc, duckdb.Error)


def _duckdb_oom() -> type[BaseException]:
    import duckdb

    return duckdb.OutOfMemoryException


def _spill_dir(con: Any) -> str | None:
    """The connection's spill folder (its temp_directory), when it can still be asked."""
    if con is None:
        return None
    try:
        row = con.execute("select current_setting('temp_directory')").fetchone()
    except Exception:  # a connection in a failed state: the caller has a fallback
        return None
    return str(row[0]) if row and row[0] else None


def _folder(path: str | os.PathLike[str] | bytes) -> str:
    """The folder a failed write named in its error was under (the path itself when it is one)."""
    p = Path(os.fsdecode(path))
    return str(p if p.is_dir() else p.parent)


def _where(folder: str | os.PathLike[str] | None) -> str:
    return str(folder) if folder is not None else "the home"
