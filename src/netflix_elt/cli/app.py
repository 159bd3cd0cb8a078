"""The command group and what every command shares: the context object, output that survives a
closed pipe, logging to the home's file, and the one place errors map to exit codes:
0 ok (warnings allowed unless --strict), 1 a fail-level check failed or an internal error,
2 bad input or usage."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from netflix_elt import __version__
from netflix_elt.core.errors import InputError, NetflixEltError
from netflix_elt.core.home import HOME_ENV, Home

# The logger keeps the name it had when the CLI was one module: log lines stay the same.
log = logging.getLogger("netflix_elt.cli.main")

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class Ctx:
    def __init__(self, home: Home, debug: bool, quiet: bool) -> None:
        self.home = home
        self.debug = debug
        self.quiet = quiet
        self.run_id = ""
        self.status = ""  # how a writing command's run ended, for the log's last line
        self.logging_to_file = False


_stdout_gone = False


def echo(message: str = "", *, err: bool = False) -> None:
    """click.echo that survives a reader that stopped reading (`status | head -4`): the rest of
    the output is dropped and the command finishes with its own exit code."""
    global _stdout_gone
    if _stdout_gone and not err:
        return
    try:
        click.echo(message, err=err)
    except BrokenPipeError:
        if err:
            return
        _stdout_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush finds nothing to say


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    for line in lines:
        echo(line, err=err)


def writing(state: Ctx, *, create: bool = False) -> Home:
    """For a command that writes the home: log to its logs/pipeline.log. Without `create`, only
    when the home exists already (so a bad argument, checked next, creates nothing); with it, the
    home is created first (a home that cannot be written is a one-line error naming the path)."""
    from netflix_elt.core.logs import log_to_file

    if create:
        state.home.ensure()
    logs_dir = state.home.logs_dir
    if logs_dir.is_dir() and os.access(logs_dir, os.W_OK) and not state.logging_to_file:
        state.logging_to_file = log_to_file(state.home.logs_dir) is not None
    return state.home


def need_warehouse(state: Ctx) -> None:
    if not state.home.warehouse.exists():
        raise InputError(f"{state.home.warehouse}: no warehouse yet; run `netflix-elt run` first")


def guard(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body; turn library errors into one line on stderr and an exit code. With
    --debug the traceback is printed too, and the exit code stays the same."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        from netflix_elt.core import logs
        from netflix_elt.ops.pipeline import new_run_id

        ctx = click.get_current_context()
        state: Ctx = ctx.obj
        command = ctx.info_name or fn.__name__
        state.run_id = new_run_id()
        started = time.monotonic()
        with logs.run_context(state.run_id), logs.step(command):
            code = _call(fn, state, args, kwargs)
            if state.logging_to_file:
                log.info(
                    "%s ended: %s, exit %d, %.1fs",
                    command,
                    state.status or ("succeeded" if code == EXIT_OK else "failed"),
                    code,
                    time.monotonic() - started,
                    extra={"console": False},
                )
        ctx.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _call(fn: Callable[..., int | None], state: Ctx, args: Any, kwargs: Any) -> int:
    try:
        return fn(*args, **kwargs) or EXIT_OK
    except (click.ClickException, click.exceptions.Exit):
        raise  # usage errors: click prints them and exits 2
    except NetflixEltError as exc:
        return _fail(state, str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (errors.Interrupted, from signals.handling)
        return _fail(state, str(exc) or "interrupted; re-run to finish", getattr(exc, "exit_code", 130))
    except BrokenPipeError:
        echo("")  # marks stdout gone
        return EXIT_OK
    except Exception as exc:
        from netflix_elt.core.errors import resource_error

        # A full disk, exceeded quota, I/O error or exhausted memory is not a bug: say which.
        resource = resource_error(exc, state.home.root)
        if resource is not None:
            return _fail(state, str(resource), resource.exit_code)
        if _is_damaged_database(exc):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return _fail(
                state,
                f"{state.home.warehouse}: the warehouse cannot be read ({first}); `netflix-elt verify` "
                "checks it, `netflix-elt rebuild` restores it from the raw layer",
                EXIT_FAIL,
            )
        return _fail(
            state,
            f"internal error: {type(exc).__name__}: {exc}"
            + ("" if state.debug else " (re-run with --debug for the traceback)"),
            EXIT_FAIL,
        )


def _fail(state: Ctx, message: str, code: int) -> int:
    """One line on stderr (and in the log, when the command logs to a file); the traceback too
    with --debug. The exit code is the error's, with or without --debug."""
    import traceback

    from netflix_elt.core.text import one_line

    if state.debug:
        traceback.print_exc()
    log.error("%s", one_line(message), extra={"console": False}, exc_info=state.debug)
    echo(f"error: {one_line(message)}", err=True)
    state.status = state.status or "failed"
    return code


def _is_damaged_database(exc: BaseException) -> bool:
    """DuckDB's errors for a database file it cannot read (truncated, overwritten): an I/O or
    deserialization error that is not a machine fault (those are resource errors, handled first)."""
    import duckdb

    return isinstance(exc, duckdb.IOException | duckdb.SerializationException)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Exit codes: 0 ok (warn-level checks allowed unless --strict); 1 a fail-level check failed, "
        "another run held the lock too long, a fault of the machine (disk full, out of memory), a damaged "
        "raw layer or warehouse, or an internal error; 2 bad input or usage (a rejected or refused drop)."
    ),
)
@click.version_option(__version__, prog_name="netflix-elt")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Working home for the warehouse, data/ and logs/ (default: ${HOME_ENV}, else the current directory).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("--quiet", "-q", is_flag=True, help="Print only warnings and errors (for cron).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of logs/pipeline.log lines.",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None, debug: bool, quiet: bool, log_format: str) -> None:
    """netflix-elt: local-first ELT for the Netflix titles catalog."""
    from netflix_elt.core.logs import configure_logging
    from netflix_elt.core.signals import handling

    ctx.with_resource(handling())  # SIGTERM and Ctrl-C stop the command cleanly (exit 143, 130)
    resolved = Home.resolve(home)
    ctx.obj = Ctx(resolved, debug, quiet)
    # The console only: a command that writes the home adds logs/pipeline.log (see writing), so
    # read-only commands create nothing and work on a read-only home.
    configure_logging(quiet=quiet, debug=debug, json_lines=log_format == "json")
