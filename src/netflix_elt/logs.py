"""Logging, configured once by the CLI: a live console and a size-rotated `logs/pipeline.log`.

Every record carries the run id and the pipeline step (from context variables the pipeline sets),
and the file lines start with an ISO-8601 UTC timestamp.
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

run_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="-")
step_var: contextvars.ContextVar[str] = contextvars.ContextVar("step", default="-")

LOG_FILE = "pipeline.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = run_id_var.get()
        record.step = step_var.get()
        return True


class _ConsoleOnlyOnce(logging.Filter):
    """Records logged with extra={"console": False} are for the log file only: the CLI reports
    the same event itself (an error it prints as one line, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True) is not False


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime

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


def configure_logging(
    logs_dir: Path | None, *, quiet: bool = False, debug: bool = False, json_lines: bool = False
) -> None:
    """Set up the `netflix_elt` logger tree once: console on stderr, file under logs_dir."""
    root = logging.getLogger("netflix_elt")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    ctx = _ContextFilter()

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    console.setFormatter(_ConsoleFormatter())
    console.addFilter(ctx)
    console.addFilter(_ConsoleOnlyOnce())
    root.addHandler(console)

    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            logs_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        fh.setLevel(logging.DEBUG if debug else logging.INFO)
        fh.setFormatter(
            _JSONFormatter()
            if json_lines
            else _UTCFormatter("%(asctime)s %(levelname)s run=%(run_id)s step=%(step)s %(message)s")
        )
        fh.addFilter(ctx)
        root.addHandler(fh)


@contextmanager
def step(name: str) -> Iterator[None]:
    token = step_var.set(name)
    try:
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
