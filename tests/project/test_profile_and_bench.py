"""The measurements `make bench` rests on: the run's profile (logs/profile.json) and the
re-created original scripts (benchmarks/original/), which must do the work they stand for."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from netflix_elt.core.home import Home
from netflix_elt.ops.pipeline import run_pipeline

from conftest import CANONICAL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, dict]:
    home = Home(tmp_path_factory.mktemp("profile") / "home")
    run_pipeline(home, sources=[CANONICAL])
    return home, json.loads((home.logs_dir / "profile.json").read_text(encoding="utf-8"))


def test_a_run_writes_where_its_time_went(profiled: tuple[Home, dict]) -> None:
    _, prof = profiled
    phases = prof["phases"]
    assert prof["command"] == "run" and prof["status"] == "succeeded"
    for step in ("ingest", "transform", "monitor", "publish"):
        assert 0 < phases[step] <= prof["seconds"], step
    # Phases nest: the parts never add up to more than their step.
    ingest_parts = [v for k, v in phases.items() if k.startswith("ingest.")]
    assert len(ingest_parts) == 5 and sum(ingest_parts) <= phases["ingest"]
    assert phases["transform.dbt_build"] <= phases["transform"]
    assert sum(v for k, v in phases.items() if k.startswith("publish.")) <= phases["publish"]
    # Every node dbt built or tested, by name, with its own time.
    nodes = {k.removeprefix("dbt.build."): v for k, v in phases.items() if k.startswith("dbt.build.")}
    assert {"staging_netflix_titles", "analytics_netflix_current", "snapshot_netflix_current"} <= set(nodes)
    assert len(nodes) > 50 and all(v >= 0 for v in nodes.values())


def test_the_next_run_replaces_the_profile(profiled: tuple[Home, dict], tmp_path: Path) -> None:
    original, first = profiled
    home = Home(tmp_path / "home")
    shutil.copytree(original.root, home.root)
    run_pipeline(home, sources=[CANONICAL])  # the same drop: skipped, nothing transformed
    again = json.loads((home.logs_dir / "profile.json").read_text(encoding="utf-8"))
    assert again["run_id"] != first["run_id"]
    assert "transform.dbt_build" not in again["phases"]  # this run's phases only


def test_the_bench_breakdown_reads_a_real_profile(profiled: tuple[Home, dict]) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    home, prof = profiled
    assert bench.profile(home.root) == prof
    lines = bench.breakdown("full_run", prof)
    text = "\n".join(lines)
    assert lines[0].startswith(f"full_run: {prof['seconds']:.2f}s")
    assert "transform.dbt_build" in text and "staging_netflix_titles" in text and "publish.exports" in text


def test_the_original_scripts_baseline_does_the_work_it_stands_for(tmp_path: Path) -> None:
    """Run as `make bench` runs it, on the canonical file: its KPI CSVs hold the catalog's counts,
    counted here in plain Python."""
    work = tmp_path / "original"
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "original" / "run_all.py"),
            "--csv",
            str(CANONICAL),
            "--work",
            str(work),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert [line.split()[0] for line in out.splitlines()][:8] == [
        "01_extract",
        "02_load_raw",
        "03_staging",
        "04_cdc_setup",
        "05_analytics_setup",
        "06_initial_load",
        "07_kpi_views",
        "08_export_kpis",
    ]
    with CANONICAL.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (work / "exports" / "kpi_movies_vs_tv.csv").open(encoding="utf-8", newline="") as fh:
        got = {r["type"]: int(r["total_titles"]) for r in csv.DictReader(fh)}
    assert got == dict(Counter(r["type"] for r in rows)) == {"Movie": 6131, "TV Show": 2676}
    with (work / "exports" / "kpi_titles_by_year.csv").open(encoding="utf-8", newline="") as fh:
        years = {int(r["release_year"]): int(r["total_titles"]) for r in csv.DictReader(fh)}
    assert years == dict(Counter(int(r["release_year"]) for r in rows))
    assert (work / "data" / "raw" / "netflix_titles.parquet").is_file()
