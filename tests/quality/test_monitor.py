"""Monitoring: every check made to fail on purpose, exit codes, logs, the lock and the inbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home
from netflix_elt.core.lock import run_lock
from netflix_elt.quality.checks import run_checks
from netflix_elt.warehouse.connection import utcnow

from conftest import CANONICAL, VARIANTS, query, scalar

pytestmark = pytest.mark.slow


def invoke(runner: CliRunner, home: Home, *args: str):
    return runner.invoke(cli, ["--home", str(home.root), *args])


def checks(home: Home, run_id: str | None = None) -> dict[str, tuple[str, str]]:
    """check name -> (status, severity) for the latest (or given) run."""
    rid = run_id or scalar(home, "select run_id from dq_results order by checked_at desc limit 1")
    return {
        c: (st, sev)
        for c, st, sev in query(home, 'select "check", status, severity from dq_results where run_id = ?', [rid])
    }


def sql(home: Home, statement: str) -> None:
    con = duckdb.connect(str(home.warehouse))
    try:
        con.execute(statement)
    finally:
        con.close()


@pytest.fixture
def loaded(runner: CliRunner, home: Home) -> Home:
    result = invoke(runner, home, "run")
    assert result.exit_code == 0, result.output
    return home


def test_healthy_run_passes_every_check(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    got = checks(home)
    assert not [c for c, (st, _) in got.items() if st in ("warn", "fail")]
    for name in (
        "freshness",
        "reconcile_current",
        "schema_drift",
        "key_remap_guard",
        "dbt:unique_analytics_netflix_current_show_id",
        "dbt:not_null_analytics_netflix_current_title",
        "dbt:accepted_values_staging_netflix_titles_type__Movie__TV_Show",
        "dbt:assert_staging_reconciles_with_ledger",
        "dbt:assert_keys_not_renumbered",
    ):
        assert got[name][0] == "pass", name
    # one home per check: dbt owns the row-level tests, none is run again in Python
    assert not {"not_null:title", "unique:show_id", "accepted_values:type", "reconcile_raw_batch"} & set(got)
    assert query(home, "select command, status, batches_loaded, inserted, checks_failed from etl_runs") == [
        ("run", "succeeded", 1, 8807, 0)
    ]
    log = (home.logs_dir / "pipeline.log").read_text(encoding="utf-8")
    assert re.search(r"step=monitor \d+ checks: \d+ passed", log), log[-2000:]
    status = invoke(runner, home, "status")
    assert status.exit_code == 0
    assert "succeeded" in status.stdout and "0 failed" in status.stdout

    again = invoke(runner, home, "monitor")  # standalone, with a fresh dbt test
    assert again.exit_code == 0, again.output
    assert "0 failed" in again.stdout


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        (
            "update analytics_netflix_current set title = null where show_id = 's1'",
            "dbt:not_null_analytics_netflix_current_title",
        ),
        (
            "update analytics_netflix_current set show_id = 's1' where show_id = 's2'",
            "dbt:unique_analytics_netflix_current_show_id",
        ),
        ("update analytics_netflix_current set is_deleted = true where show_id = 's3'", None),
    ],
    ids=["null-title", "duplicated-key", "deleted-without-batch"],
)
def test_fail_level_checks_exit_1(runner: CliRunner, loaded: Home, damage: str, check: str | None) -> None:
    home = loaded
    sql(home, damage)
    # dbt's tests find row-level damage; the reconciliation is netflix-elt's own check
    result = invoke(runner, home, "monitor", *(["--no-dbt"] if check is None else []))
    if check is None:  # a soft delete no batch made still reconciles (active + deleted = seen): exit 0
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1, result.output
    assert checks(home)[check] == ("fail", "fail")
    assert f"check    FAIL {check}" in result.stdout
    log = (home.logs_dir / "pipeline.log").read_text(encoding="utf-8")
    assert f"ERROR run={scalar(home, 'select run_id from dq_results order by checked_at desc limit 1')}" in log
    assert f"check {check} FAIL" in log


def test_dbt_failures_stay_reported_by_checks_that_do_not_run_dbt(runner: CliRunner, loaded: Home) -> None:
    """dbt owns the row-level tests: `monitor --no-dbt` does not run them again, but reports their
    last result on the batch, so a failure dbt found keeps failing until dbt passes again."""
    home = loaded
    sql(home, "update analytics_netflix_current set title = null where show_id = 's1'")
    assert invoke(runner, home, "monitor").exit_code == 1
    assert checks(home)["dbt:not_null_analytics_netflix_current_title"] == ("fail", "fail")
    cheap = invoke(runner, home, "monitor", "--no-dbt")
    assert cheap.exit_code == 1, cheap.output
    assert "check    FAIL dbt:not_null_analytics_netflix_current_title" in cheap.stdout
    assert "dbt:not_null_analytics_netflix_current_title" not in checks(home)  # carried, not stored again
    sql(home, "update analytics_netflix_current set title = 'Dick Johnson Is Dead' where show_id = 's1'")
    assert invoke(runner, home, "monitor").exit_code == 0


def test_stale_ingestion_warns_then_fails(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    sql(home, "update etl_batches set finished_at = finished_at - interval 30 hour")
    warn = invoke(runner, home, "monitor", "--no-dbt")
    assert warn.exit_code == 0
    assert checks(home)["freshness"] == ("warn", "warn")
    assert invoke(runner, home, "monitor", "--no-dbt", "--strict").exit_code == 1

    sql(home, "update etl_batches set finished_at = finished_at - interval 50 hour")
    fail = invoke(runner, home, "monitor", "--no-dbt")
    assert fail.exit_code == 1
    assert checks(home)["freshness"] == ("fail", "fail")
    # the clock can move instead of the data
    assert invoke(runner, home, "monitor", "--no-dbt", "--freshness-fail-hours", "100").exit_code == 0
    report = run_checks(home, "clock", now=utcnow() + timedelta(hours=200))
    assert [r.status for r in report.results if r.check == "freshness"] == ["fail"]


def test_volume_drop_null_jump_and_renamed_column_warn(runner: CliRunner, loaded: Home, tmp_path: Path) -> None:
    home = loaded
    drop = tmp_path / "half.csv"
    duckdb.execute(
        "copy (select * exclude (description) replace (null as director), description as blurb "
        "from read_csv(?, all_varchar=true) where cast(substr(show_id, 2) as integer) % 2 = 0) "
        f"to '{drop}' (header)",
        [str(CANONICAL)],
    )
    # half the catalog: the mass-deletion guard would refuse it, so accept the deletions
    result = invoke(runner, home, "run", "--source", str(drop), "--accept-deletes")
    assert result.exit_code == 0, result.output
    got = checks(home)
    assert got["volume"] == ("warn", "warn")
    assert got["null_rate:director"] == ("warn", "warn")
    assert got["null_rate:description"] == ("warn", "warn")
    assert got["schema_drift"] == ("warn", "warn")
    assert "missing: description; added: blurb" in scalar(
        home, "select observed from dq_results where \"check\" = 'schema_drift' order by checked_at desc limit 1"
    )
    assert not [c for c, (st, _) in got.items() if st == "fail"]
    assert "check    WARN volume" in result.stdout
    log = (home.logs_dir / "pipeline.log").read_text(encoding="utf-8")
    assert " WARNING run=" in log and "check volume WARN on raw_netflix_titles" in log
    assert invoke(runner, home, "monitor", "--no-dbt", "--strict").exit_code == 1


def test_refused_drop_fails_the_key_remap_check(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    refused = invoke(runner, home, "run", "--source", str(VARIANTS / "netflix_titles_2020_7787rows.csv"))
    assert refused.exit_code == 2
    assert "looks renumbered" in refused.stderr
    assert query(home, "select status from etl_runs order by started_at desc limit 1") == [("refused",)]
    monitor = invoke(runner, home, "monitor", "--no-dbt")
    assert monitor.exit_code == 1
    assert checks(home)["key_remap_guard"] == ("fail", "fail")


def test_second_run_waits_for_the_lock_then_gives_up(runner: CliRunner, home: Home) -> None:
    home.ensure()
    with run_lock(home, "holder"):
        started = time.monotonic()
        result = invoke(runner, home, "run", "--lock-timeout", "1")
        waited = time.monotonic() - started
    assert result.exit_code == 1
    assert "still holds the lock after 1s" in result.stderr
    assert "another run (holder, pid" in result.stderr
    assert waited >= 1
    assert not home.warehouse.exists() or scalar(home, "select count(*) from etl_batches") == 0


def test_two_runs_started_together_write_once(home: Home) -> None:
    cmd = [sys.executable, "-m", "netflix_elt", "--home", str(home.root), "run", "--lock-timeout", "120"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("is busy" in err for _, err in outs) == 1  # exactly one waited
    assert query(home, "select status, count(*) from etl_batches group by 1") == [("succeeded", 1)]
    assert scalar(home, "select count(*) from analytics_netflix_current") == 8807
    assert query(home, "select batches_loaded + batches_skipped from etl_runs") == [(1,), (1,)]


def test_lock_left_by_a_killed_run_is_taken_over(runner: CliRunner, home: Home) -> None:
    env = {**os.environ, "NETFLIX_ELT_FAULT": "kill:after_raw_publish"}
    killed = subprocess.run(
        [sys.executable, "-m", "netflix_elt", "--home", str(home.root), "run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -9
    assert json.loads(home.lock_file.read_text())["pid"] > 0  # the dead run's lock record is still there
    result = invoke(runner, home, "run", "--lock-timeout", "1")
    assert result.exit_code == 0, result.output
    assert "took over the lock left by run" in result.stderr
    assert query(home, "select status from etl_batches order by started_at") == [("failed",), ("succeeded",)]


def test_inbox_moves_good_bad_and_duplicate_drops(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_good.csv").write_bytes(CANONICAL.read_bytes())
    (inbox / "b_bad.csv").write_text("show_id,type\ns1,Movie\n", encoding="utf-8")
    (inbox / "c_duplicate.csv").write_bytes(CANONICAL.read_bytes())
    (inbox / ".hidden.csv").write_text("x", encoding="utf-8")
    (inbox / "d_upload.csv.part").write_text("x", encoding="utf-8")
    result = invoke(runner, home, "run", "--inbox", str(inbox))
    assert result.exit_code == 2, result.output  # a rejected drop is bad input
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a_good.csv", "c_duplicate.csv"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == ["b_bad.csv", "b_bad.csv.reason.txt"]
    reason = (inbox / "rejected" / "b_bad.csv.reason.txt").read_text(encoding="utf-8")
    assert "no column for title" in reason
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.csv", "d_upload.csv.part", "processed", "rejected"]
    assert query(home, "select status, count(*) from etl_batches group by 1 order by 1") == [
        ("rejected", 1),
        ("succeeded", 1),
    ]
    assert "skipped  c_duplicate.csv" in result.stdout
    assert "b_bad.csv: no column for title" in result.stderr

    # the same name arriving again does not overwrite what was processed
    (inbox / "a_good.csv").write_bytes(CANONICAL.read_bytes())
    assert invoke(runner, home, "run", "--inbox", str(inbox)).exit_code == 0
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a_good.1.csv", "a_good.csv", "c_duplicate.csv"]


def test_json_log_lines(runner: CliRunner, home: Home) -> None:
    assert runner.invoke(cli, ["--home", str(home.root), "--log-format", "json", "run"]).exit_code == 0
    lines = [json.loads(line) for line in (home.logs_dir / "pipeline.log").read_text(encoding="utf-8").splitlines()]
    assert lines and all({"ts", "level", "run_id", "step", "message"} <= set(doc) for doc in lines)
    assert {doc["step"] for doc in lines} >= {"ingest", "transform", "monitor"}
    assert all(doc["ts"].endswith("Z") for doc in lines)


def test_quiet_run_prints_nothing_when_healthy(runner: CliRunner, home: Home) -> None:
    result = runner.invoke(cli, ["--home", str(home.root), "--quiet", "run"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_status_works_while_the_lock_is_held(runner: CliRunner, loaded: Home) -> None:
    home = loaded
    with run_lock(home, "busy"):
        result = invoke(runner, home, "status")
    assert result.exit_code == 0
    assert "runs (newest first)" in result.stdout
