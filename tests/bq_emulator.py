"""A real BigQuery API emulator (bqemulator, REST + gRPC, DuckDB-backed) for the BigQuery tests.

It lives in its own venv (it pins its own DuckDB): `scripts/setup_bq_emulator.sh` creates it, at
`$NETFLIX_ELT_BQEMU_VENV`, else `<repo>/.bqemu`. `bq_emulator()` starts one ephemeral (in-memory)
emulator on free 127.0.0.1 ports, waits until its REST API answers, yields `(endpoint, project)`
and stops it. Nothing is downloaded: HOME points at the venv's `home/`, where the setup script
installed DuckDB's spatial extension from its pip wheel.

Client side: `google.cloud.bigquery.Client(project=project, credentials=AnonymousCredentials(),
client_options={"api_endpoint": endpoint})`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP_SCRIPT = REPO / "scripts" / "setup_bq_emulator.sh"
DEFAULT_PROJECT = "test-project"
START_TIMEOUT = 60.0


def venv_dir() -> Path:
    return Path(os.environ.get("NETFLIX_ELT_BQEMU_VENV") or REPO / ".bqemu").absolute()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def bq_emulator(project: str = DEFAULT_PROJECT, log_dir: Path | None = None) -> Iterator[tuple[str, str]]:
    """Run one emulator for the duration of the block; yields `(endpoint_url, project)`."""
    venv = venv_dir()
    exe = venv / "bin" / "bqemulator"
    emu_home = venv / "home"
    if not exe.is_file() or not (emu_home / ".duckdb").is_dir():
        pytest.fail(
            f"BigQuery emulator not set up at {venv}: run `{SETUP_SCRIPT.relative_to(REPO)} {venv}` "
            "(or `make test`, which does)",
            pytrace=False,
        )
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="bqemu-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "bqemulator.log"
    uploads = log_dir / "uploads"
    uploads.mkdir(exist_ok=True)
    rest_port, grpc_port = _free_port(), _free_port()
    while grpc_port == rest_port:
        grpc_port = _free_port()
    env = {
        **os.environ,
        "HOME": str(emu_home),  # where DuckDB finds the spatial extension the setup installed
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",  # it would try to download the avro extension
        "BQEMU_UPLOAD_STAGING_DIR": str(uploads),
        "PYTHONUNBUFFERED": "1",
    }
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(var, None)
    cmd = [
        str(exe),
        "start",
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        str(rest_port),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--project",
        project,
        "--ephemeral",
        "--log-format",
        "console",
        "--log-level",
        "warning",
    ]
    endpoint = f"http://127.0.0.1:{rest_port}"
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=log_dir
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        probe = f"{endpoint}/bigquery/v2/projects/{project}/datasets"
        while not _answers(probe):
            if proc.poll() is not None:
                pytest.fail(
                    f"BigQuery emulator exited with code {proc.returncode} at start-up; log {log_file}:\n"
                    + _tail(log_file),
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"BigQuery emulator did not answer on {endpoint} within {START_TIMEOUT:.0f}s; "
                    f"log {log_file}:\n" + _tail(log_file),
                    pytrace=False,
                )
            time.sleep(0.2)
        yield endpoint, project
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
