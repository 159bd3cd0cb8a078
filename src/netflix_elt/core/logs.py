"""Logging, configured once by the CLI: a live console, and for commands that write the home a
size-rotated `logs/pipeline.log` (read-only commands create nothing, so they log to the console only).

Every record carries the run id and the pipeline step (from context variables the pipeline sets),
and the file lines start with an ISO-8601 UTC timestamp. A log file that cannot be written (a full
disk, a read-only folder) costs one warning line on the console, never a traceback per record.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netflix_elt.core import timing

run_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="-")
step_var: contextvars.ContextVar[str] = contextvars.ContextVar("step", default="-")

LOG_FILE = "pipeline.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A record from another thread (dbt's workers) brings its caller's context in `extra`.
        if not hasattr(record, "run_id"):
            record.run_id = run_id_var.get()
        if not hasattr(record, "step"):
            record.step = step_var.get()
        return True


class _ConsoleOnlyOnce(logging.Filter):
    """Records logged with extra={"console": False} are for the log file only: the CLI reports
    the same event itself (an error it prints as one line, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True) is not False


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # the stdlib's own idiom for UTC times

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"


class _JSONFormatter(_UTCFormatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "run_id": getattr(record, "run_id", "-"),
            "step": getattr(record, "step", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"error: {msg}"
        if record.levelno >= logging.WARNING:
            return f"warning: {msg}"
        return f"  {msg}"


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file. When a record cannot be written (no space left, an I/O error), say so once on
    the console and stop writing the file for the rest of the process: the run goes on."""

    def __init__(self, path: Path, console: logging.Handler) -> None:
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        self._console = console
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        exc = sys.exc_info()[1]
        cause = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        try:
            if self.stream is not None:
                self.stream.close()
        except OSError:
            pass
        self.stream = None  # type: ignore[assignment]
        warning = logging.LogRecord(
            __name__,
            logging.WARNING,
            __file__,
            0,
            "cannot write %s (%s): logging to the console only",
            (self.baseFilename, cause),
            None,
        )
        self._console.handle(warning)


_console: logging.Handler | None = None
_file: _LogFile | None = None
_file_settings: dict[str, bool] = {}


def configure_logging(*, quiet: bool = False, debug: bool = False, json_lines: bool = False) -> None:
    """Set up the `netflix_elt` logger tree once: the console on stderr. `log_to_file` adds the
    log file, for a command that writes the home."""
    global _console, _file
    root = logging.getLogger("netflix_elt")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    # A handler that fails (dbt's own log file on a full disk, say) must not print a traceback
    # per record into the console and cron mail: the standard library's production setting.
    logging.raiseExceptions = False

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    console.setFormatter(_ConsoleFormatter())
    console.addFilter(_ContextFilter())
    console.addFilter(_ConsoleOnlyOnce())
    root.addHandler(console)
    _console, _file = console, None
    _file_settings.update(debug=debug, json_lines=json_lines)


def log_to_file(logs_dir: Path) -> Path | None:
    """Add `logs_dir/pipeline.log` to the logger tree (once; the folder is created). A folder that
    cannot be created is one warning, and the command logs to the console only."""
    global _file
    root = logging.getLogger("netflix_elt")
    if _console is None:
        configure_logging()
    assert _console is not None
    path = logs_dir / LOG_FILE
    if _file is not None:
        if Path(_file.baseFilename) == path.absolute():
            return path
        root.removeHandler(_file)
        _file.close()
        _file = None
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        root.warning("cannot create %s (%s): logging to the console only", logs_dir, exc.strerror or exc)
        return None
    fh = _LogFile(path, _console)
    fh.setLevel(logging.DEBUG if _file_settings.get("debug") else logging.INFO)
    fh.setFormatter(
        _JSONFormatter()
        if _file_settings.get("json_lines")
        else _UTCFormatter("%(asctime)s %(levelname)s run=%(run_id)s step=%(step)s %(message)s")
    )
    fh.addFilter(_ContextFilter())
    root.addHandler(fh)
    _file = fh
    return path


@contextmanager
def step(name: str) -> Iterator[None]:
    """The pipeline step the records logged inside it carry; its time is a phase (core.timing)."""
    token = step_var.set(name)
    try:
        with timing.phase(name):
            yield
    finally:
        step_var.reset(token)


@contextmanager
def run_context(run_id: str) -> Iterator[None]:
    token = run_id_var.set(run_id)
    try:
        yield
    finally:
        run_id_var.reset(token)
