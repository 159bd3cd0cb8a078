"""Fast paths: an unchanged drop is skipped without being read, a run with no new batch re-runs
only the cheap checks, the dashboard reuses its catalog figures, and a late non-UTF-8 byte found
by DuckDB's reader still falls back to cp1252."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.bi.dashboard import KPI_FIELDS, DashboardData, _cache_key, _collect, _load_kpis, build_dashboard
from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home
from netflix_elt.ingest import load as ingest_mod
from netflix_elt.ingest.load import BatchResult, IngestOptions, ingest_file
from netflix_elt.ops.pipeline import run_pipeline
from netflix_elt.warehouse.connection import connect
from netflix_elt.warehouse.ledger import latest_results

from conftest import CANONICAL, query, scalar

CHEAP_CHECKS = {"freshness", "volume", "schema_drift", "key_remap_guard"}
HOUR_NS = 3600 * 10**9


def ingest(home: Home, path: Path, **options: object) -> BatchResult:
    con = connect(home)
    try:
        return ingest_file(home, con, path, IngestOptions(**options))  # type: ignore[arg-type]
    finally:
        con.close()


def age(path: Path, hours: float) -> int:
    """Set the file's mtime `hours` in the past (a fresh file's mtime is not trusted)."""
    mtime = time.time_ns() - int(hours * HOUR_NS)
    os.utime(path, ns=(mtime, mtime))
    return mtime


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    path = tmp_path / "drops" / "netflix_titles.csv"
    path.parent.mkdir()
    shutil.copyfile(CANONICAL, path)
    age(path, 2)
    return path


@pytest.fixture
def no_reading(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every drop ingest reads (inspect_source is where a drop is first read)."""
    seen: list[Path] = []
    real = ingest_mod.inspect_source

    def spy(path: Path, **kwargs: object) -> object:
        seen.append(path)
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_mod, "inspect_source", spy)
    return seen


def test_unchanged_drop_is_skipped_by_stat_without_reading_it(
    home: Home, drop: Path, no_reading: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    first = ingest(home, drop)
    assert first.status == "succeeded"
    st = drop.stat()
    assert query(home, "select source_realpath, source_bytes, source_mtime_ns from etl_batches") == [
        (str(drop.resolve()), st.st_size, st.st_mtime_ns)
    ]
    no_reading.clear()
    with caplog.at_level(logging.INFO, logger="netflix_elt.ingest.load"):
        again = ingest(home, drop)
    assert again.status == "skipped" and again.batch_id == first.batch_id
    assert again.sha256 == first.sha256
    assert "same path, size, mtime, inode and ctime" in again.message
    assert "matched by path, size, mtime, inode and ctime" in caplog.text
    assert no_reading == []  # never opened
    # a symlink to the same file resolves to the same path
    link = drop.with_name("link.csv")
    link.symlink_to(drop)
    assert ingest(home, link).status == "skipped" and no_reading == []
    assert scalar(home, "select count(*) from etl_batches") == 1
    # --force still loads it again
    assert ingest(home, drop, force=True).status == "succeeded"


def test_touched_drop_is_deduped_by_sha256_then_recognised_by_stat(
    home: Home, drop: Path, no_reading: list[Path]
) -> None:
    first = ingest(home, drop)
    mtime = age(drop, 1)  # same bytes, new mtime
    no_reading.clear()
    touched = ingest(home, drop)
    assert touched.status == "skipped" and touched.batch_id == first.batch_id
    assert "same sha256" in touched.message
    assert no_reading == [drop]  # hashed once ...
    assert scalar(home, "select source_mtime_ns from etl_batches") == mtime
    no_reading.clear()
    assert "same path, size, mtime, inode and ctime" in ingest(home, drop).message
    assert no_reading == []  # ... and recognised by its stat from then on


def test_copy_under_another_name_is_deduped_by_content(home: Home, drop: Path, no_reading: list[Path]) -> None:
    first = ingest(home, drop)
    copy = drop.with_name("copy.csv")
    shutil.copyfile(drop, copy)
    age(copy, 1)
    again = ingest(home, copy)
    assert again.status == "skipped" and again.batch_id == first.batch_id and "same sha256" in again.message
    # the ledger still describes the file the batch was loaded from
    assert query(home, "select source_realpath from etl_batches") == [(str(drop.resolve()),)]


def test_same_size_edit_with_new_mtime_is_hashed_and_loaded(home: Home, drop: Path, no_reading: list[Path]) -> None:
    first = ingest(home, drop)
    data = drop.read_bytes()
    i = data.index(b"Dick Johnson Is Dead")
    drop.write_bytes(data[:i] + b"Dick Johnson Is Deaf" + data[i + 20 :])  # same size
    age(drop, 1)
    no_reading.clear()
    second = ingest(home, drop)
    assert no_reading == [drop]
    assert second.status == "succeeded" and second.sha256 != first.sha256
    assert scalar(home, "select count(*) from raw_netflix_titles where title = 'Dick Johnson Is Deaf'") == 1


def test_a_file_modified_just_now_is_not_recognised_by_its_mtime(home: Home, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.csv"
    shutil.copyfile(CANONICAL, fresh)  # mtime: now (could still be changing within one clock tick)
    assert ingest(home, fresh).status == "succeeded"
    assert scalar(home, "select source_mtime_ns from etl_batches") is None
    assert "same sha256" in ingest(home, fresh).message


def test_late_invalid_byte_found_by_duckdb_falls_back_to_cp1252(home: Home, tmp_path: Path) -> None:
    """Only the first block is checked in Python; the reader finds the bad byte 2 MB in."""
    header = b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description\n"
    rows = [f"s{i},Movie,Title {i},,,,,2020,PG,90 min,Dramas,{'x' * 60}\n".encode() for i in range(1, 25001)]
    path = tmp_path / "legacy.csv"
    head = header + b"".join(rows)
    path.write_bytes(head + b"s25001,Movie,Caf\xe9 Society,,,,,2016,PG,96 min,Dramas,late\n")
    bad_offset = len(head) + len(b"s25001,Movie,Caf")
    assert bad_offset > 2 * 1024 * 1024
    result = ingest(home, path)
    assert result.status == "succeeded" and result.encoding == "cp1252"
    assert result.rows_loaded == 25001 and result.rows_quarantined == 0
    assert any("not valid UTF-8" in w and f"offset {bad_offset}" in w for w in result.warnings)
    assert query(home, "select encoding from etl_batches") == [("cp1252",)]
    assert scalar(home, "select title from raw_netflix_titles where show_id = 's25001'") == "Café Society"


def test_run_without_a_new_batch_stores_only_the_cheap_checks(runner: CliRunner, home: Home) -> None:
    first = run_pipeline(home)
    assert first.report is not None and first.report.full
    full_checks = {r.check for r in first.report.results}
    assert full_checks > CHEAP_CHECKS and "reconcile_current" in full_checks

    noop = run_pipeline(home)  # the bundled sample again: skipped
    assert noop.loaded == [] and noop.report is not None and not noop.report.full
    stored = {c for (c,) in query(home, 'select "check" from dq_results where run_id = ?', [noop.run_id])}
    assert stored == CHEAP_CHECKS
    # the report still answers for every check (carried forward), so the exit code and counts agree
    assert {r.check for r in noop.report.results} == full_checks
    assert noop.report.carried == len(full_checks) - len(CHEAP_CHECKS)
    assert query(home, "select checks_passed, checks_failed from etl_runs where run_id = ?", [noop.run_id]) == [
        (first.report.passed, 0)
    ]
    # status and the dashboard show the latest result of every check, not only the cheap ones
    con = connect(home, read_only=True)
    try:
        current = latest_results(con)
    finally:
        con.close()
    assert {c["check"] for c in current} == full_checks
    assert {c["run_id"] for c in current if c["check"] == "freshness"} == {noop.run_id}
    status = runner.invoke(cli, ["--home", str(home.root), "status"])
    assert status.exit_code == 0 and f"latest run {noop.run_id}" in status.output
    assert f"{first.report.passed} passed, 0 warned, 0 failed" in status.output

    # the explicit monitor command runs the full set again
    monitor = runner.invoke(cli, ["--home", str(home.root), "monitor", "--no-dbt"])
    assert monitor.exit_code == 0, monitor.output
    run_id = scalar(home, "select run_id from dq_results order by checked_at desc limit 1")
    stored = {c for (c,) in query(home, 'select "check" from dq_results where run_id = ?', [run_id])}
    assert "reconcile_current" in stored and "null_rate:director" in stored and stored > CHEAP_CHECKS


def test_damage_is_still_reported_by_a_run_without_a_new_batch(home: Home) -> None:
    """A failure found by the last full check keeps failing the runs that only re-run cheap ones."""
    run_pipeline(home)
    con = connect(home)
    try:
        con.execute(
            "update dq_results set status = 'fail' where \"check\" = 'dbt:not_null_analytics_netflix_current_title'"
        )
    finally:
        con.close()
    noop = run_pipeline(home)
    assert noop.report is not None and not noop.report.full
    assert noop.report.failed == 1 and noop.exit_code() == 1


def test_dashboard_reuses_the_catalog_figures_of_the_same_transform(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    run_pipeline(home)
    cache = home.root / "reports" / ".dashboard-kpi.json"
    assert cache.is_file()
    con = connect(home, read_only=True)
    try:
        fresh = _collect(con)
    finally:
        con.close()
    cached = DashboardData()
    key = _cache_key(fresh.batch)
    assert key is not None and _load_kpis(cache, key, cached)
    for name in KPI_FIELDS:
        assert getattr(cached, name) == getattr(fresh, name), name
    with caplog.at_level(logging.INFO, logger="netflix_elt.bi.dashboard"):
        build_dashboard(home)
    assert "catalog figures from the cache" in caplog.text
    # a cache written for another transform is not used
    assert not _load_kpis(cache, {**key, "batch_id": "other"}, DashboardData())


def _cached_manifests(cache: Path) -> list[Path]:
    return sorted(cache.glob("dbt-manifest-*.msgpack"))


def test_a_fresh_home_loads_the_parsed_manifest_from_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netflix_elt.transform import dbt as dbt_runner

    cache = tmp_path / "cache"
    monkeypatch.setenv("NETFLIX_ELT_CACHE_DIR", str(cache))
    monkeypatch.setattr(dbt_runner, "_MANIFESTS", {})  # a new process: nothing parsed in memory
    first = Home(tmp_path / "first").ensure()
    run_pipeline(first)
    assert len(_cached_manifests(cache)) == 1
    assert (first.root / "dbt" / "target" / "partial_parse.msgpack").is_file()  # dbt parsed here

    monkeypatch.setattr(dbt_runner, "_MANIFESTS", {})
    second = Home(tmp_path / "second").ensure()
    result = run_pipeline(second)
    # dbt never parsed in the second home (a parse writes partial_parse.msgpack), yet built the same.
    assert not (second.root / "dbt" / "target" / "partial_parse.msgpack").exists()
    assert result.exit_code() == 0
    catalog = "select count(*), sum(hash(row_hash)) from analytics_netflix_current"
    assert query(second, catalog) == query(first, catalog)
    assert scalar(second, "select count(*) from kpi_titles_by_country") == scalar(
        first, "select count(*) from kpi_titles_by_country"
    )


def test_a_damaged_manifest_cache_is_ignored_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from netflix_elt.transform import dbt as dbt_runner

    cache = tmp_path / "cache"
    monkeypatch.setenv("NETFLIX_ELT_CACHE_DIR", str(cache))
    monkeypatch.setattr(dbt_runner, "_MANIFESTS", {})
    home = Home(tmp_path / "home").ensure()
    dbt = dbt_runner.Dbt(home)
    target = dbt._cache_file
    assert target is not None and target.parent == cache
    cache.mkdir()
    target.write_bytes(b"\x93not a manifest")
    with caplog.at_level(logging.WARNING, logger="netflix_elt.transform.dbt"):
        assert run_pipeline(home).exit_code() == 0
    assert "ignoring the cached dbt manifest" in caplog.text
    assert dbt_runner._load_manifest(target) is not None  # replaced by a good one
    # The bigquery target's profile carries credentials: never cached on disk.
    assert dbt_runner.Dbt(home, target="bigquery", extra_env={"NETFLIX_ELT_BQ_TOKEN": "t"})._cache_file is None
