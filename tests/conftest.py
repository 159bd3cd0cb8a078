from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from bq_emulator import bq_emulator
from netflix_elt.home import Home

REPO = Path(__file__).resolve().parents[1]
# The project's shared data sits beside the repo (../shared/data/netflix); override for other layouts.
DATA = Path(os.environ.get("NETFLIX_ELT_TEST_DATA", REPO.parent / "shared" / "data" / "netflix"))
CANONICAL = DATA / "netflix_titles.csv"
VARIANTS = DATA / "variants"

if not CANONICAL.is_file():  # fail loudly: a missing data set must never look like a green run
    raise RuntimeError(f"test data not found at {DATA}; set NETFLIX_ELT_TEST_DATA")


def variant(name: str) -> Path:
    return VARIANTS / name


@pytest.fixture(scope="session", autouse=True)
def manifest_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parsed dbt manifest is cached per user; the tests keep theirs out of ~/.cache (one per
    worker, shared by its tests and the CLI processes they start)."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["NETFLIX_ELT_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(home: Home, sql: str, params: list | None = None):
    return query(home, sql, params)[0][0]


@pytest.fixture(scope="session")
def bq_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """One BigQuery API emulator (bqemulator on 127.0.0.1) for the session: (endpoint URL, project)."""
    with bq_emulator(log_dir=tmp_path_factory.mktemp("bqemu")) as endpoint:
        yield endpoint


_SCRIPT = Path(sys.executable).with_name("netflix-elt")
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "netflix_elt"]
BRIDGES = ("netflix_title_cast", "netflix_title_countries", "netflix_title_directors", "netflix_title_genres")


def netflix_elt_process(home: Path, *args: Any, prefix: list[str] | None = None, timeout: float = 900) -> str:
    """Run `netflix-elt --home HOME ARGS` as a real process (behind `prefix`, e.g. faketime); assert
    exit 0 and no traceback; return stdout + stderr. One dbt thread: two test workers share the cores."""
    cmd = [*(prefix or []), *CLI, "--home", str(home), *map(str, args)]
    env = {**os.environ, "NETFLIX_ELT_DBT_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)}: exit {proc.returncode}\n{output[-6000:]}"
    assert "Traceback" not in output, output[-6000:]
    return output
