"""The command line: exit codes, one-line errors, progress and summary, the working home."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import CANONICAL, VARIANTS, scalar


def invoke(runner: CliRunner, home: Home, *args: str):
    return runner.invoke(cli, ["--home", str(home.root), *args], catch_exceptions=True)


def assert_one_line_error(result, *fragments: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for f in fragments:
        assert f in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_run_loads_the_bundled_sample_then_skips_it(runner: CliRunner, home: Home) -> None:
    first = invoke(runner, home, "run")
    assert first.exit_code == 0, first.output
    assert "loaded   netflix_titles.csv" in first.stdout
    assert "8,807 rows" in first.stdout
    tail = first.stdout.strip().splitlines()[-7:]
    assert tail[0] == "summary:"
    assert tail[1].endswith(": succeeded")
    assert tail[2] == "  batches   1 loaded, 0 skipped, 0 rejected, 8,807 rows"
    assert tail[3] == "  cdc       8,807 inserted, 0 updated, 0 unchanged, 0 deleted, 0 revived (1 batch(es) applied)"
    assert tail[4].startswith("  checks    ") and " passed, 0 warned, 0 failed" in tail[4]
    assert tail[5] == "  outputs   netflix_dw.duckdb, exports/, lookml/, reports/dashboard.html"
    assert "netflix_titles.csv: batch" in first.stderr  # live progress

    second = invoke(runner, home, "run")
    assert second.exit_code == 0
    assert "skipped  netflix_titles.csv: already loaded as batch" in second.stdout
    assert "  batches   0 loaded, 1 skipped, 0 rejected, 0 rows" in second.stdout
    assert scalar(home, "select count(*) from etl_batches") == 1
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807
    assert len(list(home.raw_dir.rglob("*.parquet"))) == 1


def test_run_with_source(runner: CliRunner, home: Home) -> None:
    result = invoke(runner, home, "run", "--source", str(VARIANTS / "netflix_titles_semicolon.csv"))
    assert result.exit_code == 0, result.output
    assert "delimiter ';'" in result.stdout
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807
    assert "cdc      batch" in result.stdout and "8,807 inserted" in result.stdout


def test_status_lists_batches(runner: CliRunner, home: Home) -> None:
    assert "no warehouse" in invoke(runner, home, "status").stdout
    invoke(runner, home, "ingest", str(CANONICAL))
    bad = home.root.parent / "notitle.csv"
    bad.write_text("show_id,type\ns1,Movie\n", encoding="utf-8")
    invoke(runner, home, "ingest", str(bad))
    out = invoke(runner, home, "status")
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("batches (newest first"))
    assert lines[start + 1].split()[:2] == ["batch_id", "status"]
    assert "rejected" in lines[start + 2] and "notitle.csv" in lines[start + 2]
    assert "no column for title" in lines[start + 3]
    # loaded, not yet transformed: marked pending until a run applies it
    assert lines[start + 4].split()[1] == "pending" and "8,807" in lines[start + 4]
    assert lines[-1] == "checks: none yet"  # `ingest` alone runs no checks
    # both ingests are recorded as runs, with when they started
    runs = lines[2:start]
    assert [line.split()[1] for line in runs if line.split()[1] == "ingest"] == ["ingest", "ingest"]
    assert "started (UTC)" in lines[1]


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda d: d / "missing.csv", ["missing.csv: no such file; check the path"]),
        (lambda d: d, ["is a directory, not a CSV file"]),
        (lambda d: _write(d / "empty.csv", b""), ["empty.csv: is empty (0 bytes)"]),
        (lambda d: _write(d / "garbage.bin", bytes(range(256)) * 64), ["garbage.bin: looks like binary data"]),
        (lambda d: _write(d / "cut.csv.gz", gzip.compress(CANONICAL.read_bytes())[:4096]), ["cut.csv.gz: gzip data"]),
        (lambda d: _write(d / "nokey.csv", b"a,b,c\n1,2,3\n"), ["nokey.csv: no column for show_id, title, type"]),
    ],
    ids=["missing", "directory", "empty", "binary", "truncated-gzip", "no-key-columns"],
)
def test_bad_input_exits_2_with_one_line(runner: CliRunner, home: Home, tmp_path: Path, make, fragments) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    target = make(drops)
    result = invoke(runner, home, "ingest", str(target))
    assert result.exit_code == 2
    assert_one_line_error(result, *fragments)
    if home.warehouse.exists():
        assert scalar(home, "select count(*) from raw_netflix_titles") == 0


def test_one_bad_file_does_not_stop_the_others(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    result = invoke(runner, home, "ingest", str(tmp_path / "nope.csv"), str(CANONICAL))
    assert result.exit_code == 2
    assert_one_line_error(result, "nope.csv: no such file")
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807


def test_debug_shows_the_traceback_and_keeps_the_exit_code(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--home", str(home.root), "--debug", "ingest", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2, result.output  # bad input is still bad input with --debug
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "nope.csv: no such file" in result.stderr


def test_internal_error_exits_1_and_points_at_debug(runner: CliRunner, home: Home, monkeypatch) -> None:
    monkeypatch.setenv("NETFLIX_ELT_FAULT", "after_raw_insert")
    result = invoke(runner, home, "run")
    assert result.exit_code == 1
    assert_one_line_error(result, "fault injected at after_raw_insert")
    assert scalar(home, "select status from etl_batches") == "failed"


def test_bad_mapping_file_is_a_usage_error(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nfoo = "not_a_column"\n', encoding="utf-8")
    result = invoke(runner, home, "ingest", "--mapping", str(mapping), str(CANONICAL))
    assert result.exit_code == 2
    assert_one_line_error(result, "m.toml: header 'foo' maps to 'not_a_column'")


def test_usage_errors_exit_2(runner: CliRunner, home: Home) -> None:
    assert invoke(runner, home, "ingest").exit_code == 2
    assert invoke(runner, home, "run", "--max-reject-ratio", "7").exit_code == 2
    assert invoke(runner, home, "no-such-command").exit_code == 2


def test_home_from_environment_then_cwd(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    env_home = tmp_path / "envhome"
    monkeypatch.setenv("NETFLIX_ELT_HOME", str(env_home))
    assert runner.invoke(cli, ["ingest", str(CANONICAL)]).exit_code == 0
    assert (env_home / "netflix_dw.duckdb").is_file()
    assert (env_home / "logs" / "pipeline.log").is_file()

    monkeypatch.delenv("NETFLIX_ELT_HOME")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert runner.invoke(cli, ["ingest", str(CANONICAL)]).exit_code == 0
    assert sorted(p.name for p in cwd.iterdir()) == [
        ".run.lock",
        "data",
        "inbox",
        "logs",
        "netflix_dw.duckdb",
        "reports",
        "tmp",
    ]


def test_log_file_lines_are_timestamped(runner: CliRunner, home: Home) -> None:
    invoke(runner, home, "run")
    lines = (home.logs_dir / "pipeline.log").read_text(encoding="utf-8").splitlines()
    assert lines
    import re

    assert all(
        re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR) run=\S+ step=\S+ ", ln) for ln in lines
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
