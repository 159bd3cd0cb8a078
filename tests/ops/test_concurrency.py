"""Concurrency: read-only commands while a run writes the warehouse, and never the other way round.

DuckDB lets one process hold a database file open for writing and no other process open it at
all meanwhile. These tests use real processes: a run (or a stand-in that holds the lock and the
warehouse open for writing) in one, status/monitor/export/dashboard in others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import CANONICAL, query, scalar

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "netflix_elt"]


def invoke(runner: CliRunner, home: Home, *args: str):
    return runner.invoke(cli, ["--home", str(home.root), *args])


@pytest.fixture()
def loaded(runner: CliRunner, home: Home) -> Home:
    result = invoke(runner, home, "run")
    assert result.exit_code == 0, result.output
    return home


class Writer:
    """A process that holds the home's run lock and the warehouse open read-write, like a run in
    the middle of its dbt build, until released."""

    def __init__(self, home: Home) -> None:
        code = textwrap.dedent(
            f"""
            import sys, duckdb
            from pathlib import Path
            from netflix_elt.core.home import Home
            from netflix_elt.core.lock import run_lock
            home = Home(Path({str(home.root)!r}))
            with run_lock(home, "writer-run"):
                con = duckdb.connect(str(home.warehouse))
                con.execute("insert into etl_runs (run_id, command, status, started_at) "
                            "values ('writer-run', 'run', 'running', now())")
                print("ready", flush=True)
                sys.stdin.readline()
                con.close()
            """
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0


def _cannot_open(home: Home) -> bool:
    import duckdb

    try:
        duckdb.connect(str(home.warehouse), read_only=True).close()
    except duckdb.IOException:
        return True
    return False


def test_status_and_monitor_answer_while_a_run_writes(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    runs_before = query(home, "select run_id, status from etl_runs order by started_at")
    writer = Writer(home)
    try:
        assert _cannot_open(home)  # what a read-only command would otherwise hit

        status = invoke(runner, home, "status")
        assert status.exit_code == 0, status.output
        assert "in progress: run writer-run (pid" in status.stdout
        assert runs_before[-1][0] in status.stdout  # the published state of the last run
        assert "8,807" in status.stdout
        as_json = json.loads(invoke(runner, home, "status", "--json").stdout)
        assert as_json["source"] == "published state"
        assert as_json["in_progress"]["run_id"] == "writer-run"
        assert {c["check"] for c in as_json["checks"]} >= {
            "freshness",
            "reconcile_current",
            "dbt:unique_analytics_netflix_current_show_id",
        }

        monitor = invoke(runner, home, "monitor")
        assert monitor.exit_code == 0, monitor.output
        assert "run writer-run" in monitor.stdout and "nothing stored" in monitor.stdout
        assert "checks:" in monitor.stdout and "0 failed" in monitor.stdout
        # freshness is re-evaluated against the clock, not read from the published state
        stale = invoke(runner, home, "monitor", "--freshness-warn-hours", "0", "--freshness-fail-hours", "0")
        assert stale.exit_code == 1
        assert "check    FAIL freshness" in stale.stdout
    finally:
        writer.release()
    # nothing was stored while the writer held the warehouse (the monitor calls above were answers only)
    assert query(home, "select run_id from etl_runs where command = 'monitor'") == []
    status = invoke(runner, home, "status")
    assert status.exit_code == 0 and "in progress" not in status.stdout


def test_a_failed_check_is_still_reported_while_a_run_writes(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    import duckdb

    con = duckdb.connect(str(home.warehouse))
    con.execute("update analytics_netflix_current set title = null where show_id = 's1'")
    con.close()
    assert invoke(runner, home, "monitor").exit_code == 1  # dbt finds it; stores and publishes the failure
    writer = Writer(home)
    try:
        monitor = invoke(runner, home, "monitor")
        assert monitor.exit_code == 1
        assert "check    FAIL dbt:not_null_analytics_netflix_current_title" in monitor.stdout
    finally:
        writer.release()


def test_readers_that_need_the_warehouse_wait_for_the_run(loaded: Home) -> None:
    home = loaded
    writer = Writer(home)
    started = time.monotonic()
    reader = subprocess.Popen(
        [*CLI, "--home", str(home.root), "dashboard"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2.0)
    assert reader.poll() is None  # waiting, not failing on the locked file
    writer.release()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert time.monotonic() - started >= 2.0
    assert "wrote    reports/dashboard.html" in out


def test_status_polled_during_a_real_run_never_breaks_it(loaded: Home, tmp_path: Path) -> None:
    """A run of a second drop while status and monitor are called over and over from other
    processes: every call answers, and the run is unaffected (a reader holding the file open
    when the run opens it would make DuckDB refuse the run)."""
    home = loaded
    drop = tmp_path / "drop.csv"
    lines = CANONICAL.read_text(encoding="utf-8").splitlines(keepends=True)
    drop.write_text("".join(lines[:-40]), encoding="utf-8")  # the last titles deleted
    run = subprocess.Popen(
        [*CLI, "--home", str(home.root), "-q", "run", "--source", str(drop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    answers, in_progress = 0, 0
    while run.poll() is None:
        for cmd in (["status"], ["monitor", "--no-dbt"]):
            r = subprocess.run([*CLI, "--home", str(home.root), *cmd], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "Traceback" not in r.stderr
            answers += 1
            in_progress += "in progress: run" in r.stdout or "is writing the" in r.stdout
    _, err = run.communicate()
    assert run.returncode == 0, err
    assert answers >= 2 and in_progress >= 1
    assert query(home, "select status, count(*) from etl_batches group by 1") == [("succeeded", 2)]
    assert scalar(home, "select count(*) from analytics_netflix_current where is_deleted") > 0
