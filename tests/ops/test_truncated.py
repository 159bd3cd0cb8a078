"""A drop cut short (an upload that stopped mid-file) is rejected as a whole, not loaded as a
smaller catalog with its last line quarantined; a complete file without a final newline loads."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import CANONICAL, query, scalar

ENDS_MID_LINE = "ends mid-line (the last line is incomplete: a truncated upload?); copy the whole file again"
DATA = CANONICAL.read_bytes()
LAST_LINE_START = DATA.rindex(b"\n", 0, len(DATA) - 1) + 1  # s8807,Movie,Zubaan,Mozez Singh,"Vicky ...


def ingest(runner: CliRunner, home: Home, path: Path):
    """`netflix-elt --quiet ingest FILE`: stderr holds only warnings and errors."""
    return runner.invoke(cli, ["--home", str(home.root), "--quiet", "ingest", str(path)], catch_exceptions=True)


def stderr_lines(result) -> list[str]:
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr.splitlines()


def raw_files(home: Home) -> list[Path]:
    return sorted(p for p in (home.root / "data" / "raw").rglob("*") if p.is_file())


def _cut_in_quoted_field(data: bytes) -> bytes:
    quote = data.index(b'"', LAST_LINE_START)  # the cast list of the last title
    return data[: quote + 10]


def _cut_at_field_boundary(data: bytes) -> bytes:
    return data[: data.index(b",Zubaan,", LAST_LINE_START) + 1]  # "s8807,Movie,"


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda d: d[:1_700_000], id="first-1.7MB"),
        pytest.param(_cut_in_quoted_field, id="inside-a-quoted-field"),
        pytest.param(_cut_at_field_boundary, id="at-a-field-boundary"),
        pytest.param(lambda d: d[: LAST_LINE_START + len("s8807")], id="after-the-first-field"),
    ],
)
def test_a_plain_file_cut_mid_line_is_rejected(runner: CliRunner, home: Home, tmp_path: Path, cut) -> None:
    drop = tmp_path / "netflix_titles.csv"
    drop.write_bytes(cut(DATA))
    assert not drop.read_bytes().endswith(b"\n")
    result = ingest(runner, home, drop)
    assert result.exit_code == 2, result.output
    assert stderr_lines(result) == [f"error: {drop}: {ENDS_MID_LINE}"]
    assert raw_files(home) == []
    assert query(home, "select status, rows_loaded, message from etl_batches") == [
        ("rejected", 0, f"{drop}: {ENDS_MID_LINE}")
    ]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0


def test_a_cut_not_utf8_file_is_rejected_after_transcoding(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    drop = tmp_path / "latin1.csv"
    text = DATA.decode("utf-8").encode("cp1252", errors="replace")
    drop.write_bytes(text[: text.index(b'"', text.rindex(b"\n", 0, len(text) - 1)) + 10])
    result = ingest(runner, home, drop)
    assert result.exit_code == 2, result.output
    warning, error = stderr_lines(result)
    assert warning.startswith("warning: latin1.csv: file is not valid UTF-8")
    assert error == f"error: {drop}: {ENDS_MID_LINE}"
    assert raw_files(home) == []
    assert list(home.tmp_dir.glob("*.csv")) == []


def test_a_gzip_cut_in_half_is_rejected(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    whole = gzip.compress(DATA, mtime=0)
    drop = tmp_path / "netflix_titles.csv.gz"
    drop.write_bytes(whole[: len(whole) // 2])
    result = ingest(runner, home, drop)
    assert result.exit_code == 2, result.output
    [line] = stderr_lines(result)
    assert line.startswith(f"error: {drop}: gzip data is truncated or corrupt")
    assert raw_files(home) == []


def test_a_complete_file_without_a_final_newline_loads(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    drop = tmp_path / "netflix_titles.csv"
    drop.write_bytes(DATA.rstrip(b"\n"))
    result = ingest(runner, home, drop)
    assert result.exit_code == 0, result.output
    assert stderr_lines(result) == []
    assert query(home, "select status, rows_loaded, rows_quarantined from etl_batches") == [("succeeded", 8807, 0)]
    assert scalar(home, "select description from raw_netflix_titles where show_id = 's8807'").endswith(
        "the truth about his past."
    )


def test_a_bad_line_in_the_middle_of_a_file_without_a_final_newline_is_only_quarantined(
    runner: CliRunner, home: Home, tmp_path: Path
) -> None:
    lines = DATA.rstrip(b"\n").split(b"\n")
    lines.insert(100, b"s9999,Movie,Broken,only four fields")
    drop = tmp_path / "netflix_titles.csv"
    drop.write_bytes(b"\n".join(lines))
    result = ingest(runner, home, drop)
    assert result.exit_code == 0, result.output
    assert query(home, "select status, rows_loaded, rows_quarantined from etl_batches") == [("succeeded", 8807, 1)]


def test_trailing_blank_space_after_the_last_line_break_is_not_a_cut(
    runner: CliRunner, home: Home, tmp_path: Path
) -> None:
    drop = tmp_path / "netflix_titles.csv"
    drop.write_bytes(DATA + b"   ")
    result = ingest(runner, home, drop)
    assert result.exit_code == 0, result.output
    assert scalar(home, "select rows_loaded from etl_batches") == 8807
