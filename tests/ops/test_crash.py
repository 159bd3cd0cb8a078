"""Crash safety: a `run` killed (SIGKILL, as a power cut) at any of 21 points of an incremental
batch, from the ingest to the dashboard, or stopped by SIGTERM or Ctrl-C, leaves a home that opens,
holds no half-written or orphaned raw file, and that the next plain run brings to exactly the
state of an uninterrupted run of the same drops. A `rebuild` killed while loading the raw layer,
replaying it or just before its swap leaves the old warehouse in place and whole, and the next
plain rebuild succeeds.

Each test starts from a copy of one home holding the transformed sample, always at the same path
(dbt's partial-parse state names the warehouse path, so a copy elsewhere would re-parse the whole
project in every run), kills `python -m netflix_elt run --source DROP` there, then re-runs it in
process. By default 8 of the points run (two per phase); `CRASH_POINTS=all` runs all 21,
`CRASH_POINTS=a,b,...` those named. The signal tests always run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.faults import ENV as FAULT_ENV
from netflix_elt.core.faults import READY_ENV
from netflix_elt.core.home import Home
from netflix_elt.transform.registry import BRIDGES, kpi_models

from conftest import CANONICAL

pytestmark = pytest.mark.slow

# Killed before the ingest transaction committed: the batch must not look loaded.
INGEST_POINTS = ["after_parse", "after_raw_write", "after_raw_publish", "after_raw_insert", "before_commit"]
# Loaded, not yet transformed: inside the dbt build, after the node named.
BUILD_POINTS = [
    "after_ingest",
    "transform_started",
    "dbt_after:staging_netflix_titles",
    "dbt_after:int_netflix_changes",
    "dbt_after:analytics_netflix_current",
    "dbt_after:snapshot_netflix_current",
    "dbt_after:netflix_title_countries",
    "dbt_after:kpi_titles_by_country",
]
# dbt finished: recording the transform, the checks, and publishing exports, LookML and dashboard.
AFTER_BUILD_POINTS = [
    "after_dbt_build",
    "after_transform",
    "after_checks",
    "lookml_wrote:netflix_elt.model.lkml",
    "export_wrote:analytics_netflix_current",
    "export_before_manifest",
    "dashboard_before_replace:dashboard.html",
    "after_publish",
]
ALL_POINTS = INGEST_POINTS + BUILD_POINTS + AFTER_BUILD_POINTS
TRANSFORMED_AT = ALL_POINTS.index("after_transform")  # from here on the killed run recorded the transform
PUBLISHED_AT = ALL_POINTS.index("dashboard_before_replace:dashboard.html")  # exports' manifest written

KPIS = kpi_models()
SUBPROCESS_TIMEOUT = 300


# What a default test run kills at: two points per phase. All 21 cost about 6.5 CPU-minutes (each
# kill, and each re-run, is a dbt build), over 3 minutes on two cores: CRASH_POINTS=all runs them.
DEFAULT_POINTS = [
    "after_raw_publish",
    "before_commit",
    "dbt_after:analytics_netflix_current",
    "dbt_after:snapshot_netflix_current",
    "after_dbt_build",
    "after_checks",
    "lookml_wrote:netflix_elt.model.lkml",
    "export_wrote:analytics_netflix_current",
]


def _selected(points: list[str]) -> list[str]:
    wanted = os.environ.get("CRASH_POINTS", "default")
    if wanted == "all":
        return points
    names = set(DEFAULT_POINTS) if wanted == "default" else {p.strip() for p in wanted.split(",")}
    unknown = names - set(ALL_POINTS)
    if unknown:
        raise ValueError(f"CRASH_POINTS: unknown point(s) {sorted(unknown)}; known: {ALL_POINTS}")
    return [p for p in points if p in names]


@dataclass
class Crash:
    work: Home  # the fixed path every test's home lives at
    base: Path  # a pristine copy of the home holding the transformed sample
    drop: Path  # the second drop: a few inserts, updates and deletes
    reference: dict[str, Any]  # the state of an uninterrupted run of both drops
    full: Path  # a pristine copy of the home after that run (in the reference state)

    def fresh_home(self, source: Path | None = None) -> Home:
        if self.work.root.exists():
            shutil.rmtree(self.work.root)
        shutil.copytree(source or self.base, self.work.root, symlinks=True)
        return self.work


def _second_drop(out: Path) -> Path:
    """The sample with 2 countries and a description changed, 2 titles gone and 1 new."""
    duckdb.execute(
        f"""copy (
            select * replace (
                case when show_id in ('s1', 's2') then 'Japan' else country end as country,
                case when show_id = 's3' then 'A changed description.' else description end as description)
            from read_csv($1, all_varchar = true) where show_id not in ('s7', 's8')
            union all
            select 's99999', 'Movie', 'A Brand New Title', 'Some Director', null, 'France', 'September 1, 2021',
                '2021', 'TV-MA', '90 min', 'Dramas, Comedies', 'A title that was not in the sample.'
        ) to '{out}' (header)""",
        [str(CANONICAL)],
    )
    return out


def _run_in_process(home: Home, drop: Path | None, command: str = "run") -> Any:
    """`run` (or another command) in this process (dbt's manifest is parsed once per process), with
    one dbt thread: the builds here only need the result, and two test workers share the cores."""
    args = ["--home", str(home.root), command, *(["--source", str(drop)] if drop else [])]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETFLIX_ELT_DBT_THREADS", "1")
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture(scope="session")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    root = tmp_path_factory.mktemp("crash")
    drop = _second_drop(root / "drop2.csv")
    work = Home(root / "home")
    _run_in_process(work, None)  # the sample, transformed
    base = root / "base"
    shutil.copytree(work.root, base, symlinks=True)
    _run_in_process(work, drop)  # the uninterrupted run of the second drop
    reference = _state(work)
    assert reference["cdc"] == [(1, 8807, 0, 0, 0, 0), (2, 1, 3, 8802, 2, 0)]
    full = root / "full"
    shutil.copytree(work.root, full, symlinks=True)
    return Crash(work, base, drop, reference, full)


# ------------------------------------------------------------------------------------------ state


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


ORDINALS = (
    "with b as (select batch_id, row_number() over (order by started_at) as n from etl_batches "
    "where status = 'succeeded') "
)


def _state(home: Home) -> dict[str, Any]:
    """Everything a run maintains, with batch ids as their ordinal among the loaded batches and
    without timestamps (both differ between homes); checks the invariants on the way."""
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        s: dict[str, Any] = {}
        s["batches"] = _rows(
            con,
            ORDINALS
            + "select n, rows_loaded, (select count(*) from raw_netflix_titles r where r._batch_id = b.batch_id) "
            "from b join etl_batches using (batch_id) order by n",
        )
        s["running"] = _rows(
            con,
            "select 'batches', count(*) from etl_batches where status = 'running' union all "
            "select 'transforms', count(*) from etl_transforms where status = 'running' union all "
            "select 'runs', count(*) from etl_runs where status = 'running' order by 1",
        )
        s["cdc"] = _rows(
            con,
            ORDINALS + "select n, inserted, updated, unchanged, deleted, revived from etl_transforms "
            "join b using (batch_id) where status = 'succeeded' order by all",
        )
        s["current"] = _rows(
            con,
            ORDINALS + "select c.* exclude (first_seen_batch_id, last_changed_batch_id, first_seen_at, updated_at, "
            "deleted_at), f.n, l.n, c.deleted_at is null from analytics_netflix_current c "
            "left join b f on f.batch_id = c.first_seen_batch_id left join b l on l.batch_id = c.last_changed_batch_id "
            "order by c.show_id",
        )
        s["history"] = _rows(
            con,
            ORDINALS
            + "select h.show_id, h.row_hash, h.is_deleted, h.change_type, h.is_current, b.n, h.valid_to is null "
            "from analytics_netflix_history h left join b using (batch_id) order by all",
        )
        # no duplicate versions, one current version per title
        assert _rows(con, "select count(*) - count(distinct (show_id, valid_from)) from analytics_netflix_history") == [
            (0,)
        ]
        assert _rows(
            con,
            "select count(*) from (select show_id from analytics_netflix_history group by show_id "
            "having count(*) filter (where is_current) <> 1)",
        ) == [(0,)]
        for bridge in BRIDGES:
            s[bridge] = _rows(con, f"select show_id, value, position from {bridge} order by all")
        for kpi in KPIS:
            s[kpi] = _rows(con, f"select * from {kpi} order by all")
        latest = _rows(
            con, "select batch_id from etl_batches where status = 'succeeded' order by started_at desc limit 1"
        )
    finally:
        con.close()
    s["exports"] = _exports(home, latest[0][0])
    s["lookml"] = {p.name: p.read_text(encoding="utf-8") for p in sorted((home.root / "lookml").iterdir())}
    assert (home.root / "reports" / "dashboard.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    return s


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _exports(home: Home, latest_batch: str) -> dict[str, Any]:
    """exports/ reflects the latest batch, every file matches the manifest; the KPI CSVs' digests
    (the catalog's Parquet file holds timestamps)."""
    out = home.root / "exports"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["batch_id"] == latest_batch
    tables = {}
    for t in manifest["tables"]:
        for fmt, name in t["files"].items():
            assert _sha256(out / name) == t["sha256"][fmt], f"exports/{name} does not match the manifest"
        tables[t["table"]] = (t["rows"], t["sha256"].get("csv"))
    return tables


def _assert_crash_consistent(home: Home) -> None:
    """What must hold however a run died: the warehouse opens (read-write: its WAL replays), and
    every raw Parquet file under its final name is complete and has a ledger row naming it."""
    con = duckdb.connect(str(home.warehouse))
    try:
        ledger = dict(_rows(con, "select raw_path, status from etl_batches where raw_path is not null"))
        for table in ("etl_batches", "raw_netflix_titles", "analytics_netflix_current", "snapshot_netflix_current"):
            con.execute(f"select count(*) from {table}").fetchone()
        for f in home.root.glob("data/**/*"):
            if not f.is_file():
                continue
            rel = str(f.relative_to(home.root))
            if f.name.startswith("."):  # a temporary name, never read as a batch; the next run removes it
                assert re.fullmatch(r"\.batch_.+\.(parquet|json)\.tmp", f.name), rel
                continue
            if f.suffix == ".json":  # a batch's manifest: beside its Parquet file, naming the same batch
                assert "raw" in f.parts and f.with_suffix(".parquet").is_file(), rel
                assert json.loads(f.read_text())["batch"]["raw_path"] == str(
                    f.with_suffix(".parquet").relative_to(home.root)
                )
                continue
            assert f.suffix == ".parquet", rel
            if "raw" in f.parts:
                assert rel in ledger, f"{rel} has no ledger row"
            con.execute("select count(*) from read_parquet(?)", [str(f)]).fetchone()  # complete
    finally:
        con.close()


def _batch2(home: Home) -> tuple[str | None, str | None, int]:
    """The second batch's ledger status, its transform status, and how many raw rows it has."""
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        row = con.execute(
            "select b.status, (select max(status) from etl_transforms t where t.batch_id = b.batch_id), "
            "(select count(*) from raw_netflix_titles r where r._batch_id = b.batch_id) "
            "from etl_batches b order by started_at desc limit 1 offset 0"
        ).fetchone()
        batches = con.execute("select count(*) from etl_batches").fetchone()
    finally:
        con.close()
    assert row is not None and batches == (2,)
    return row[0], row[1], row[2]


def _spawn(home: Home, drop: Path, fault: str, ready: Path | None = None) -> subprocess.Popen[str]:
    return _spawn_cli(home, ["run", "--source", str(drop)], fault, ready)


def _spawn_cli(home: Home, args: list[str], fault: str, ready: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, FAULT_ENV: fault}
    if ready is not None:
        env[READY_ENV] = str(ready)
    return subprocess.Popen(
        [sys.executable, "-m", "netflix_elt", "--home", str(home.root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ------------------------------------------------------------------------------------------ kills


def _killed_then_rerun(crash: Crash, point: str) -> None:
    home = crash.fresh_home()
    proc = _spawn(home, crash.drop, f"kill:{point}")
    out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {point}:\n{out}\n{err}"

    _assert_crash_consistent(home)
    ledger, transform, raw_rows = _batch2(home)
    at = ALL_POINTS.index(point)
    if point in INGEST_POINTS:  # before the commit: nothing of the batch is loaded
        assert (ledger, transform, raw_rows) == ("running", None, 0)
    else:
        assert (ledger, raw_rows) == ("succeeded", 8806)
        assert transform == ("succeeded" if at >= TRANSFORMED_AT else (None if point == "after_ingest" else "running"))
    manifest = json.loads((home.root / "exports" / "manifest.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        first, second = (r[0] for r in con.execute("select batch_id from etl_batches order by started_at").fetchall())
    finally:
        con.close()
    assert manifest["batch_id"] == (second if at >= PUBLISHED_AT else first)

    rerun = _run_in_process(home, crash.drop)
    assert "Traceback" not in rerun.output + rerun.stderr
    assert _state(home) == crash.reference
    leftovers = [p for d in ("data", "exports", "lookml", "tmp") for p in (home.root / d).rglob("*.tmp")]
    assert leftovers == []


# ---------------------------------------------------------------------------------------- signals


def _stopped_then_rerun(crash: Crash, point: str, signum: signal.Signals, tmp_path: Path) -> None:
    home = crash.fresh_home()
    ready = tmp_path / "ready"
    proc = _spawn(home, crash.drop, f"sleep:{point}", ready=ready)
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    assert proc.returncode == 128 + signum, f"{out}\n{err}"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: interrupted by {signum.name}; unfinished work was rolled back or is left for the next run "
        "(re-run to finish)"
    ]
    assert "Traceback" not in out + err

    # the finally blocks ran: nothing left 'running', the lock released
    _assert_crash_consistent(home)
    ledger, transform, raw_rows = _batch2(home)
    if point in INGEST_POINTS:
        assert (ledger, transform, raw_rows) == ("failed", None, 0)
        assert list(home.root.glob("data/**/*.tmp")) == []  # removed on the way out
    else:
        assert (ledger, transform, raw_rows) == ("succeeded", "failed", 8806)
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        run = con.execute("select status, message from etl_runs order by started_at desc limit 1").fetchone()
        transform_message = con.execute("select max(message) from etl_transforms where status = 'failed'").fetchone()
    finally:
        con.close()
    assert run is not None and run[0] == "failed" and run[1].startswith(f"interrupted by {signum.name}")
    if transform == "failed":  # interrupted, not taken for a failed model or test
        assert transform_message is not None and transform_message[0].startswith(f"interrupted by {signum.name}")
    assert home.lock_file.read_text(encoding="utf-8") == ""  # released: no holder recorded

    _run_in_process(home, crash.drop)
    assert _state(home) == crash.reference


SIGNAL_CASES = {
    "ingest": [("after_parse", signal.SIGTERM), ("after_parse", signal.SIGINT)],
    "dbt": [
        ("dbt_after:analytics_netflix_current", signal.SIGTERM),
        ("dbt_after:analytics_netflix_current", signal.SIGINT),
    ],
}


# Two classes, for `pytest -n 2 --dist loadscope` (one worker each), of about the same cost.
class TestKilledOrStoppedBeforeTheTransformCompletes:
    """Killed while ingesting or inside the dbt build (after the node named); stopped inside dbt."""

    @pytest.mark.parametrize("point", _selected(INGEST_POINTS + BUILD_POINTS))
    def test_killed_run_converges_on_the_next_run(self, crash: Crash, point: str) -> None:
        _killed_then_rerun(crash, point)

    @pytest.mark.parametrize(("point", "signum"), SIGNAL_CASES["dbt"], ids=["SIGTERM", "SIGINT"])
    def test_a_run_stopped_during_dbt_cleans_up_and_converges(
        self, crash: Crash, point: str, signum: signal.Signals, tmp_path: Path
    ) -> None:
        _stopped_then_rerun(crash, point, signum, tmp_path)


class TestKilledAfterTheBuildOrStoppedWhileIngesting:
    """Killed after dbt finished (recording, checks, publishing); stopped while ingesting."""

    @pytest.mark.parametrize("point", _selected(AFTER_BUILD_POINTS))
    def test_killed_run_converges_on_the_next_run(self, crash: Crash, point: str) -> None:
        _killed_then_rerun(crash, point)

    @pytest.mark.parametrize(("point", "signum"), SIGNAL_CASES["ingest"], ids=["SIGTERM", "SIGINT"])
    def test_a_run_stopped_while_ingesting_cleans_up_and_converges(
        self, crash: Crash, point: str, signum: signal.Signals, tmp_path: Path
    ) -> None:
        _stopped_then_rerun(crash, point, signum, tmp_path)


# ---------------------------------------------------------------------------------------- rebuild

# Killed after the new warehouse got the ledger and the raw batches; after replaying the first of
# the two batches; with every batch replayed, just before the swap.
REBUILD_POINTS = ["rebuild_loaded", "rebuild_replayed:1", "rebuild_before_swap"]


class TestKilledRebuild:
    """A rebuild killed at any of its points leaves the old warehouse in place, in the reference
    state; the next plain rebuild succeeds, with the same state."""

    @pytest.mark.parametrize("point", REBUILD_POINTS)
    def test_killed_rebuild_leaves_the_old_warehouse_and_a_rerun_succeeds(self, crash: Crash, point: str) -> None:
        home = crash.fresh_home(crash.full)
        backup = home.warehouse.with_name(home.warehouse.name + ".before-rebuild")
        proc = _spawn_cli(home, ["rebuild"], f"kill:{point}")
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        assert proc.returncode == -signal.SIGKILL, f"not killed at {point}:\n{out}\n{err}"

        # the old warehouse, where it was, and whole; nothing swapped in
        assert home.warehouse.is_file() and not backup.exists()
        assert home.rebuild_dir.is_dir()  # the killed rebuild's work, left for the next one
        _assert_crash_consistent(home)
        assert _state(home) == crash.reference

        rerun = _run_in_process(home, None, "rebuild")
        assert "rebuild: 2 batch(es) replayed" in rerun.output
        assert "Traceback" not in rerun.output + rerun.stderr
        assert _state(home) == crash.reference
        _assert_crash_consistent(home)
        assert backup.is_file() and not home.rebuild_dir.exists()
        leftovers = [p for d in ("data", "exports", "lookml", "tmp") for p in (home.root / d).rglob("*.tmp")]
        assert leftovers == []
