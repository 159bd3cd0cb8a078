"""`netflix-elt run --target bigquery`: the user-facing scale-out path, through the real CLI in
subprocesses against the BigQuery API emulator (tests/bq_emulator.py). Three drops: the canonical
file, one with deletes, updates and inserts, and the real trailing-empty-column copy (the canonical
titles with 5 updated); the second run is SIGKILLed between loading the raw batch into BigQuery and
dbt, then run again. The result must equal the DuckDB pipeline's on the same drops, table for
table; BigQuery's raw table must hold each batch once; the token must be nowhere in the home.
A second home takes the same drops with the second one late (replayed onto BigQuery), killed while
the replay swaps its tables in, then `rebuild`: it must converge on the same tables."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from bq_compare import bq_query, client, differing_tables, second_drop
from netflix_elt.core.faults import ENV as FAULT_ENV
from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.transform.registry import CURRENT, HISTORY
from netflix_elt.warehouse.ledger import DQ_TABLE, LEDGER_TABLE, RAW_TABLE, TRANSFORMS_TABLE

from conftest import CANONICAL, variant

DATASET = "netflix_run"
TOKEN = "ya29.secret-token-7Qz1x9-never-written"  # a secret: must never reach a file


@dataclass
class BqRun:
    home: Home
    endpoint: tuple[str, str]
    env: dict[str, str]
    outputs: list[str]
    killed: subprocess.CompletedProcess[str]


def _env(endpoint: tuple[str, str]) -> dict[str, str]:
    url, project = endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETFLIX_ELT_BQ_")}
    env.pop("NETFLIX_ELT_DBT_TARGET", None)
    env.pop(FAULT_ENV, None)
    env.update(
        {
            "NETFLIX_ELT_BQ_PROJECT": project,
            "NETFLIX_ELT_BQ_DATASET": DATASET,
            "NETFLIX_ELT_BQ_METHOD": "oauth-secrets",
            "NETFLIX_ELT_BQ_TOKEN": TOKEN,
            "NETFLIX_ELT_BQ_API_ENDPOINT": url,
            "NETFLIX_ELT_DBT_THREADS": "1",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def _cli(home: Home, env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netflix_elt", "--home", str(home.root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-6000:]}"
    assert "Traceback" not in out, out[-6000:]
    assert "UserWarning" not in out, out[-6000:]  # e.g. the client's "BigQuery Storage module not found"
    return out


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    next_drop = second_drop(tmp_path_factory.mktemp("drops") / "netflix_titles_next.csv")
    return CANONICAL, next_drop, variant("netflix_titles_trailing_empty_column.csv")


@pytest.fixture(scope="module")
def duck_home(tmp_path_factory: pytest.TempPathFactory, drops: tuple[Path, Path, Path]) -> Home:
    """The reference: the same three drops, in order, through the DuckDB path."""
    home = Home(tmp_path_factory.mktemp("duck") / "home")
    for drop in drops:
        run_pipeline(home, sources=[drop])
    return home


@pytest.fixture(scope="module")
def bq_run(bq_endpoint, tmp_path_factory: pytest.TempPathFactory, drops: tuple[Path, Path, Path]) -> BqRun:
    home = Home(tmp_path_factory.mktemp("bq") / "home")
    env = _env(bq_endpoint)
    first, second, third = drops
    outputs = [_ok(_cli(home, env, "run", "--target", "bigquery", "--source", str(first)))]
    # The second drop: killed after its raw batch and the ledger reached BigQuery, before dbt.
    killed = _cli(home, {**env, FAULT_ENV: "kill:after_bigquery_load"}, "run", "--source", str(second))
    # Run again without --target: the home remembers its engine; the batch is pending.
    outputs.append(_ok(_cli(home, env, "run", "--source", str(second))))
    outputs.append(_ok(_cli(home, env, "run", "--source", str(third))))
    return BqRun(home, bq_endpoint, env, outputs, killed)


@dataclass
class LateRun:
    home: Home
    env: dict[str, str]
    killed: subprocess.CompletedProcess[str]
    mark_after_kill: bool
    live_after_kill: set[str]
    rebuilt: str


LATE_DATASET = "netflix_late"


@pytest.fixture(scope="module")
def late_run(bq_endpoint, tmp_path_factory: pytest.TempPathFactory, drops: tuple[Path, Path, Path]) -> LateRun:
    """The same drops into another dataset, the second one late: canonical (as of January), the
    variant (March), then the second drop as of February, which replays the raw layer onto
    BigQuery; that replay is killed after it swapped its tables into the live dataset and before
    the local warehouse was swapped in. Then `rebuild`."""
    home = Home(tmp_path_factory.mktemp("late") / "home")
    env = {**_env(bq_endpoint), "NETFLIX_ELT_BQ_DATASET": LATE_DATASET}
    first, second, third = drops
    _ok(_cli(home, env, "run", "--target", "bigquery", "--source", str(first), "--as-of", "2026-01-01"))
    _ok(_cli(home, env, "run", "--source", str(third), "--as-of", "2026-03-01"))
    killed = _cli(
        home,
        {**env, FAULT_ENV: "kill:rebuild_bigquery_swapped"},
        "run",
        "--source",
        str(second),
        "--as-of",
        "2026-02-01",
    )
    mark = (home.root / "bigquery-replay.pending").is_file()
    _, project = bq_endpoint
    live = {
        t
        for (t,) in bq_query(
            bq_endpoint, f"select table_name from `{project}.{LATE_DATASET}.INFORMATION_SCHEMA.TABLES`"
        )
    }
    rebuilt = _ok(_cli(home, env, "rebuild"))
    return LateRun(home, env, killed, mark, live, rebuilt)


def _local(home: Home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _bq(run: BqRun, sql: str) -> list[tuple]:
    _, project = run.endpoint
    return bq_query(run.endpoint, sql.replace("{ds}", f"{project}.{DATASET}"))


def _home_specific(column: str) -> bool:
    return (
        column.endswith("_at")
        or column.startswith(("dbt_valid", "valid_"))
        or "as_of" in column
        or "ingested" in column
    )


def _batch_ranks(home: Home) -> dict[str, str]:
    rows = _local(
        home,
        f"select batch_id from {LEDGER_TABLE} where status = 'succeeded' "
        "order by coalesce(as_of, started_at), batch_seq",
    )
    return {b: f"batch#{i}" for i, (b,) in enumerate(rows, 1)}


def test_the_killed_run_was_killed_after_the_load(bq_run: BqRun) -> None:
    assert bq_run.killed.returncode == -signal.SIGKILL, bq_run.killed.stdout + bq_run.killed.stderr


def test_every_bigquery_table_equals_the_duckdb_pipelines(bq_run: BqRun, duck_home: Home) -> None:
    # The two homes ingested the same drops at other times, under other batch ids: each batch id
    # is relabelled by its rank, the ingestion-time columns are left out.
    assert (
        differing_tables(
            bq_run.endpoint,
            DATASET,
            duck_home,
            skip_column=_home_specific,
            bq_values=_batch_ranks(bq_run.home),
            duck_values=_batch_ranks(duck_home),
        )
        == {}
    )
    # valid_to is left out above: which versions are still open must agree all the same.
    open_sql = "select count(*) from {t} where valid_to is null"
    ((bq_open,),) = _bq(bq_run, open_sql.format(t=f"`{{ds}}.{HISTORY}`"))
    ((duck_open,),) = _local(duck_home, open_sql.format(t=HISTORY))
    assert bq_open == duck_open and 0 < bq_open < 8865
    # Not vacuous: the current table holds the titles the last drop lists, the 50 the second
    # deleted revived, the 3 it added deleted again.
    ((active,),) = _bq(bq_run, f"select count(*) from `{{ds}}.{CURRENT}` where not is_deleted")
    assert active == 8807
    # A date on BigQuery too, as the LookML's `datatype: date` says (the model's contract).
    schema = {
        f.name: f.field_type
        for f in client(bq_run.endpoint).get_table(f"{bq_run.endpoint[1]}.{DATASET}.kpi_titles_added_by_month").schema
    }
    assert schema["month_added"] == "DATE", schema


def test_raw_table_holds_each_batch_once_and_the_ledger_matches(bq_run: BqRun) -> None:
    local = dict(_local(bq_run.home, f"select _batch_id, count(*) from {RAW_TABLE} group by 1"))
    assert len(local) == 3 and sorted(local.values()) == sorted([8807, 8760, 8807])
    remote = dict(_bq(bq_run, f"select _batch_id, count(*) from `{{ds}}.{RAW_TABLE}` group by 1"))
    assert remote == local
    ((n_local,),) = _local(bq_run.home, f"select count(*) from {LEDGER_TABLE}")
    ((n_remote,),) = _bq(bq_run, f"select count(*) from `{{ds}}.{LEDGER_TABLE}`")
    assert n_remote == n_local
    # No load table left behind.
    tables = _bq(bq_run, "select table_name from `{ds}.INFORMATION_SCHEMA.TABLES`")
    assert not [t for (t,) in tables if t.startswith("_load_")]


def test_the_cdc_counts_agree_with_the_duckdb_home(bq_run: BqRun, duck_home: Home) -> None:
    sql = (
        f"select t.inserted, t.updated, t.deleted, t.revived, t.unchanged, t.staged_rows from {TRANSFORMS_TABLE} t "
        f"join {LEDGER_TABLE} b using (batch_id) where t.status = 'succeeded' order by b.started_at"
    )
    got = _local(bq_run.home, sql)
    assert got == _local(duck_home, sql)
    assert [r[:3] for r in got[:2]] == [(8807, 0, 0), (3, 5, 50)]
    # The real variant after the second drop: the 50 deleted titles revived, the 3 new ones
    # deleted, the 5 retitled ones back, and the variant's own 5 updates.
    inserted, updated, deleted, revived, _, _ = got[2]
    assert (inserted, deleted, revived) == (0, 3, 50) and updated >= 5, got[2]


def test_no_credential_in_any_file_of_the_home(bq_run: BqRun) -> None:
    files = [f for f in bq_run.home.root.rglob("*") if f.is_file()]
    assert any(f.name == "dbt.log" for f in files)  # dbt did log, under the home
    assert (bq_run.home.root / "engine.json").is_file()
    assert not [f for f in files if TOKEN.encode() in f.read_bytes()]
    assert not [o for o in bq_run.outputs if TOKEN in o]


def test_monitor_checks_against_bigquery_and_status_works(bq_run: BqRun) -> None:
    _ok(_cli(bq_run.home, bq_run.env, "monitor"))
    rows = _local(
        bq_run.home,
        f"select status, observed from {DQ_TABLE} where \"check\" = 'reconcile_current' "
        "order by checked_at desc limit 1",
    )
    assert rows and rows[0][0] == "pass", rows
    assert "(BigQuery)" in rows[0][1] and rows[0][1].startswith("8810 rows"), rows  # 8,807 and 3 deleted
    out = _cli(bq_run.home, bq_run.env, "status")
    _, project = bq_run.endpoint
    assert f"models in BigQuery {project}.{DATASET}" in _ok(out)


def test_another_target_than_the_homes_is_refused(bq_run: BqRun) -> None:
    proc = _cli(bq_run.home, bq_run.env, "run", "--target", "duckdb", "--source", str(CANONICAL))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "BigQuery" in proc.stderr or "bigquery" in proc.stderr


def test_a_missing_project_is_one_line_and_writes_nothing(tmp_path: Path, bq_endpoint) -> None:
    env = {k: v for k, v in _env(bq_endpoint).items() if k != "NETFLIX_ELT_BQ_PROJECT"}
    home = Home(tmp_path / "home")
    proc = _cli(home, env, "run", "--target", "bigquery", "--source", str(CANONICAL), timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "NETFLIX_ELT_BQ_PROJECT" in lines[0], proc.stderr
    assert not home.root.exists()


def test_the_dashboard_reads_its_figures_from_bigquery(bq_run: BqRun, duck_home: Home) -> None:
    page = (bq_run.home.root / "reports" / "dashboard.html").read_text(encoding="utf-8")
    reference = (duck_home.root / "reports" / "dashboard.html").read_text(encoding="utf-8")
    ((n,),) = _bq(bq_run, f"select count(*) from `{{ds}}.{CURRENT}` where not is_deleted")
    active = f"{n:,}"
    assert active in page and active in reference
    assert not list((bq_run.home.root / "tmp").glob("*.duckdb*"))  # the scratch file is gone


def test_a_duckdb_home_with_models_is_not_switched_to_bigquery(bq_run: BqRun, duck_home: Home) -> None:
    proc = _cli(duck_home, bq_run.env, "run", "--target", "bigquery", "--source", str(CANONICAL))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "DuckDB" in proc.stderr
    assert not (duck_home.root / "engine.json").exists()


def test_verify_reads_the_local_raw_layer(bq_run: BqRun) -> None:
    before = sorted((str(p), p.stat().st_mtime_ns) for p in bq_run.home.root.rglob("*") if p.is_file())
    out = _ok(_cli(bq_run.home, bq_run.env, "verify"))
    assert "verify: 3 batch(es) verified" in out, out
    assert sorted((str(p), p.stat().st_mtime_ns) for p in bq_run.home.root.rglob("*") if p.is_file()) == before


def test_the_run_publishes_exports_read_from_bigquery(bq_run: BqRun, duck_home: Home) -> None:
    """exports/ in a BigQuery home: the same tables, the same rows, as the DuckDB home's."""
    import json

    got = json.loads((bq_run.home.root / "exports" / "manifest.json").read_text(encoding="utf-8"))
    want = json.loads((duck_home.root / "exports" / "manifest.json").read_text(encoding="utf-8"))
    assert [(t["table"], t["rows"]) for t in got["tables"]] == [(t["table"], t["rows"]) for t in want["tables"]]
    for t in want["tables"]:
        if "csv" in t["files"]:  # the KPIs: byte for byte
            mine = (bq_run.home.root / "exports" / t["files"]["csv"]).read_bytes()
            assert mine == (duck_home.root / "exports" / t["files"]["csv"]).read_bytes(), t["table"]
    (latest,) = _local(
        bq_run.home, "select max(batch_id) from etl_batches where batch_seq = (select max(batch_seq) from etl_batches)"
    )
    assert got["batch_id"] == latest[0]


def test_a_late_drop_replays_onto_bigquery_and_a_kill_in_the_swap_converges(late_run: LateRun, duck_home: Home) -> None:
    """The late home ends as the in-order DuckDB home, table for table, though its replay was
    killed half-way through the swap; rebuild leaves no scratch dataset and no mark."""
    assert late_run.killed.returncode == -signal.SIGKILL, late_run.killed.stdout + late_run.killed.stderr
    assert late_run.mark_after_kill  # the dataset was being swapped: the next run would replay again
    assert CURRENT in late_run.live_after_kill
    assert "3 batch(es) replayed" in late_run.rebuilt, late_run.rebuilt
    endpoint = (late_run.env["NETFLIX_ELT_BQ_API_ENDPOINT"], late_run.env["NETFLIX_ELT_BQ_PROJECT"])
    assert (
        differing_tables(
            endpoint,
            LATE_DATASET,
            duck_home,
            # and the sequence: this home ingested the late drop last
            skip_column=lambda c: _home_specific(c) or c == "batch_seq",
            bq_values=_batch_ranks(late_run.home),
            duck_values=_batch_ranks(duck_home),
        )
        == {}
    )
    assert not (late_run.home.root / "bigquery-replay.pending").exists()
    datasets = {d.dataset_id for d in client(endpoint).list_datasets()}
    assert LATE_DATASET in datasets and f"{LATE_DATASET}__replay" not in datasets
    sql = (
        f"select t.inserted, t.updated, t.deleted, t.revived from {TRANSFORMS_TABLE} t "
        f"join {LEDGER_TABLE} b using (batch_id) where t.status = 'succeeded' order by coalesce(b.as_of, b.started_at)"
    )
    assert _local(late_run.home, sql) == _local(duck_home, sql)
    # Nothing left to do: a run applies nothing and replays nothing.
    out = _ok(_cli(late_run.home, late_run.env, "run"))
    assert "replay" not in out.lower(), out


def test_the_run_writes_lookml_for_the_dataset_and_it_checks_against_bigquery(bq_run: BqRun, duck_home: Home) -> None:
    """The LookML a BigQuery run publishes reads the dataset the models are in, its test blocks
    assert the figures counted there (equal to the DuckDB home's), and `lookml --check --against
    bigquery` runs every field and test on the emulator without writing to the home."""
    from netflix_elt.bi.lookml import duckdb_figures

    model = (bq_run.home.root / "lookml" / "netflix_elt.model.lkml").read_text(encoding="utf-8")
    view = (bq_run.home.root / "lookml" / f"{CURRENT}.view.lkml").read_text(encoding="utf-8")
    assert f"sql_table_name: {DATASET}.{CURRENT}" in view
    figures = duckdb_figures(duck_home)
    assert figures is not None
    for kind, n in figures.by_type.items():  # the figures counted in BigQuery, as in the DuckDB home
        assert f"= {n} ;;" in model, (kind, n)
    assert f"= {figures.total} ;;" in model
    before = sorted((str(p), p.stat().st_mtime_ns) for p in bq_run.home.root.rglob("*") if p.is_file())
    out = _ok(_cli(bq_run.home, bq_run.env, "lookml", "--check", "--against", "bigquery"))
    _, project = bq_run.endpoint
    assert f"lookml: 0 problem(s) against bigquery {project}.{DATASET}" in out, out
    tests = model.count("test: ")
    assert tests >= 4 and f"{tests}/{tests} tests passed" in out, out
    after = sorted((str(p), p.stat().st_mtime_ns) for p in bq_run.home.root.rglob("*") if p.is_file())
    assert after == before


def test_lookml_in_a_bigquery_home_defaults_to_its_dataset_and_checks_there(bq_run: BqRun, tmp_path: Path) -> None:
    """`netflix-elt lookml` with no flags in a BigQuery home: the views read the home's dataset, the
    test blocks' figures are counted there, and the check runs on BigQuery (the local warehouse
    holds no models, so a check there would fail)."""
    home = Home(tmp_path / "home")
    shutil.copytree(bq_run.home.root, home.root)
    shutil.rmtree(home.root / "lookml")
    out = _ok(_cli(home, bq_run.env, "lookml"))
    _, project = bq_run.endpoint
    assert f"lookml: 0 problem(s) against bigquery {project}.{DATASET}" in out, out
    generated = {p.name: p.read_text(encoding="utf-8") for p in (home.root / "lookml").iterdir()}
    published = {p.name: p.read_text(encoding="utf-8") for p in (bq_run.home.root / "lookml").iterdir()}
    assert generated == published  # the same as the run's own, test figures included


def test_the_dashboard_command_in_a_bigquery_home_reads_bigquery(bq_run: BqRun, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    shutil.copytree(bq_run.home.root, home.root)
    (home.root / "reports" / "dashboard.html").unlink()
    _ok(_cli(home, bq_run.env, "dashboard"))
    page = (home.root / "reports" / "dashboard.html").read_text(encoding="utf-8")
    assert "8,807" in page  # the active titles, which the local warehouse does not hold
    assert not list((home.root / "tmp").glob("*.duckdb*"))
