"""One error base class; every subclass carries the process exit code the CLI maps it to."""

from __future__ import annotations


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


class LockTimeout(NetflixEltError):
    """Another run holds the home's lock and did not release it in time. Exit code 1."""


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM, or SIGINT/Ctrl-C): raised on the main thread by the
    handler `netflix_elt.signals` installs, so `finally` blocks run (the batch, transform and run
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
