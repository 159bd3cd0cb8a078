"""Running out of memory, disk space or spill space is not bad input: exit 1 with the cause named,
the batch 'failed' (not 'rejected'), an inbox drop left where it is, and the same drop loads once
the resource is back. The disks are real: small tmpfs mounts over parts of the home."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import CANONICAL, Tmpfs, query, scalar

MEMORY_LIMIT_ENV = "NETFLIX_ELT_MEMORY_LIMIT"
THREADS_ENV = "NETFLIX_ELT_THREADS"


@pytest.fixture(scope="session")
def drop_20k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated drop of 20,000 rows (7.7 MB): DuckDB reads it in one buffer of that size, and
    its parsed table takes more than 32MB of memory."""
    folder = tmp_path_factory.mktemp("synth")
    out = folder / "drop_20k.csv"
    result = CliRunner().invoke(cli, ["--home", str(folder / "home"), "synth", "--rows", "20000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def invoke(runner: CliRunner, home: Home, *args: str, env: dict[str, str | None] | None = None):
    return runner.invoke(cli, ["--home", str(home.root), *args], catch_exceptions=True, env=env)


def one_error(result) -> str:
    """The single `error:` line on stderr; no traceback, no "internal error"."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in lines[0]
    assert "TransactionException" not in lines[0] and "transaction is aborted" not in lines[0].lower()
    return lines[0]


def ledger(home: Home) -> list[tuple]:
    return query(home, "select status, message from etl_batches order by batch_seq")


def raw_files(home: Home) -> list[Path]:
    return sorted(p for p in (home.root / "data").rglob("*") if p.is_file())


@pytest.mark.slow
def test_too_little_memory_fails_the_run_and_the_drop_waits_in_the_inbox(
    runner: CliRunner, home: Home, tmp_path: Path, drop_20k: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop = inbox / "drop.csv"
    shutil.copyfile(drop_20k, drop)

    failed = invoke(runner, home, "run", "--inbox", str(inbox), env={MEMORY_LIMIT_ENV: "6MB"})
    assert failed.exit_code == 1, failed.output
    line = one_error(failed)
    assert line.startswith("error: DuckDB ran out of memory (limit 6MB"), line
    assert line.endswith(f"raise ${MEMORY_LIMIT_ENV}"), line
    assert "cannot read a header line" not in line and "cannot be parsed" not in line
    [(status, message)] = ledger(home)
    # the batch's own cause (the console may name a later allocation of the same shortage)
    assert status == "failed"
    assert message.startswith("DuckDB ran out of memory (limit 6MB") and message.endswith(f"raise ${MEMORY_LIMIT_ENV}")
    assert sorted(p.name for p in inbox.iterdir()) == ["drop.csv"]  # not moved to rejected/
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0
    assert raw_files(home) == []

    again = invoke(runner, home, "run", "--inbox", str(inbox), env={MEMORY_LIMIT_ENV: None})
    assert again.exit_code == 0, again.output
    assert [s for s, _ in ledger(home)] == ["failed", "succeeded"]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 20_000
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]
    assert [p.name for p in (inbox / "processed").iterdir()] == ["drop.csv"]


def test_too_little_memory_in_ingest_is_exit_1_not_a_rejected_drop(
    runner: CliRunner, home: Home, drop_20k: Path
) -> None:
    failed = invoke(runner, home, "ingest", str(drop_20k), env={MEMORY_LIMIT_ENV: "6MB"})
    assert failed.exit_code == 1, failed.output
    assert one_error(failed).startswith("error: DuckDB ran out of memory (limit 6MB")
    assert [s for s, _ in ledger(home)] == ["failed"]


def test_a_full_spill_folder_is_named_and_the_retry_spills_elsewhere(
    runner: CliRunner, home: Home, tmpfs: Tmpfs, drop_20k: Path
) -> None:
    # 32MB holds the 7.7 MB read buffer but not the parsed table: DuckDB must spill to tmp/.
    tmpfs.mount(home.tmp_dir, "1m")
    env = {MEMORY_LIMIT_ENV: "32MB", THREADS_ENV: "2"}
    failed = invoke(runner, home, "ingest", str(drop_20k), env=env)
    assert failed.exit_code == 1, failed.output
    line = one_error(failed)
    assert line.startswith(f"error: no space left under {home.tmp_dir}"), line
    assert "spill" in line and f"${MEMORY_LIMIT_ENV} (now 32MB)" in line
    assert [s for s, _ in ledger(home)] == ["failed"]
    assert raw_files(home) == []

    tmpfs.unmount(home.tmp_dir)
    again = invoke(runner, home, "ingest", str(drop_20k), env=env)  # the same limit, room to spill
    assert again.exit_code == 0, again.output
    assert [s for s, _ in ledger(home)] == ["failed", "succeeded"]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 20_000


@pytest.mark.slow
def test_a_transcoded_copy_that_does_not_fit_leaves_the_drop_in_the_inbox(
    runner: CliRunner, home: Home, tmp_path: Path, tmpfs: Tmpfs
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop = inbox / "netflix_titles_cp1252.csv"  # not UTF-8: transcoded into tmp/ (3.4 MB)
    drop.write_bytes(CANONICAL.read_text(encoding="utf-8").encode("cp1252", errors="replace"))
    tmpfs.mount(home.tmp_dir, "1m")

    failed = invoke(runner, home, "run", "--inbox", str(inbox))
    assert failed.exit_code == 1, failed.output
    line = one_error(failed)
    assert line == f"error: no space left on device under {home.tmp_dir}: free space or move the home"
    assert ledger(home) == [("failed", line.removeprefix("error: "))]
    assert sorted(p.name for p in inbox.iterdir()) == [drop.name]
    assert list(home.tmp_dir.iterdir()) == []  # the partial copy is removed

    tmpfs.unmount(home.tmp_dir)
    again = invoke(runner, home, "run", "--inbox", str(inbox))
    assert again.exit_code == 0, again.output
    assert [s for s, _ in ledger(home)] == ["failed", "succeeded"]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807
    assert [p.name for p in (inbox / "processed").iterdir()] == [drop.name]


def test_a_full_data_folder_fails_the_raw_write_with_the_cause(runner: CliRunner, home: Home, tmpfs: Tmpfs) -> None:
    tmpfs.mount(home.root / "data", "512k")  # the raw Parquet file is 1.1 MB
    failed = invoke(runner, home, "ingest", str(CANONICAL))
    assert failed.exit_code == 1, failed.output
    line = one_error(failed)
    assert line.startswith(f"error: no space left on device under {home.raw_dir}/ingest_date="), line
    assert line.endswith(": free space or move the home")
    assert ledger(home) == [("failed", line.removeprefix("error: "))]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0
    assert raw_files(home) == []  # no partial .tmp file either

    tmpfs.unmount(home.root / "data")
    again = invoke(runner, home, "ingest", str(CANONICAL))
    assert again.exit_code == 0, again.output
    assert [s for s, _ in ledger(home)] == ["failed", "succeeded"]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807


def test_a_full_warehouse_disk_names_the_cause_not_the_aborted_transaction(
    runner: CliRunner, tmp_path: Path, tmpfs: Tmpfs
) -> None:
    root = tmpfs.mount(tmp_path / "home", "16m")
    home = Home(root).ensure()
    seed = tmp_path / "seed.csv"
    seed.write_bytes(b"".join(CANONICAL.read_bytes().splitlines(keepends=True)[:3]))
    assert invoke(runner, home, "ingest", str(seed)).exit_code == 0  # the warehouse exists
    # Room for the 1.1 MB raw file, not for the warehouse append (its WAL needs about 2.6 MB).
    filler = root / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(root).free - 1_800_000))

    failed = invoke(runner, home, "ingest", str(CANONICAL))
    assert failed.exit_code == 1, failed.output
    line = one_error(failed)
    assert line == f"error: no space left on device under {root}: free space or move the home"
    assert "TransactionException" not in failed.output and "transaction is aborted" not in failed.output.lower()
    assert ledger(home)[-1] == ("failed", line.removeprefix("error: "))
    assert scalar(home, "select count(*) from raw_netflix_titles") == 2
    assert len(list(home.raw_dir.rglob("*.parquet"))) == 1  # the seed's; the failed batch's is removed

    filler.unlink()
    again = invoke(runner, home, "ingest", str(CANONICAL))
    assert again.exit_code == 0, again.output
    assert [s for s, _ in ledger(home)] == ["succeeded", "failed", "succeeded"]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 2 + 8807


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, "no space left on device under {logs}: free space or move the home"),
        (errno.EDQUOT, "disk quota exceeded under {logs}: free space, raise the quota or move the home"),
        (errno.EIO, "I/O error under {logs}: check the disk (dmesg) and re-run"),
        (None, "the process ran out of memory (MemoryError): free memory on this machine"),
    ],
)
def test_an_uncaught_resource_error_is_one_line_exit_1(
    runner: CliRunner, home: Home, monkeypatch: pytest.MonkeyPatch, code: int | None, expected: str
) -> None:
    logs = str(home.logs_dir)
    error = MemoryError() if code is None else OSError(code, os.strerror(code), f"{logs}/pipeline.log")

    def boom(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("netflix_elt.ops.pipeline.ingest_file", boom)
    result = invoke(runner, home, "ingest", str(CANONICAL))
    assert result.exit_code == 1, result.output
    assert one_error(result).startswith("error: " + expected.format(logs=logs))

    debug = runner.invoke(cli, ["--home", str(home.root), "--debug", "ingest", str(CANONICAL)])
    assert debug.exit_code == 1  # --debug adds the traceback, never changes the exit code
    assert "Traceback (most recent call last)" in debug.stderr and "in boom" in debug.stderr
