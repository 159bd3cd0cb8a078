"""A new user's first day: what broke when every documented command was tried on a fresh clone,
with bad usage, faults and a real cron set-up. Each test reproduces one report of that issue."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import CANONICAL, CLI, REPO, VARIANTS, Tmpfs, query, scalar

RENUMBERED = VARIANTS / "netflix_titles_2020_7787rows.csv"  # the 2020 release: every show_id renumbered
TRAILING = VARIANTS / "netflix_titles_trailing_empty_column.csv"  # canonical + 5 edited titles


def invoke(runner: CliRunner, home: Home | Path, *args: str) -> object:
    root = home.root if isinstance(home, Home) else home
    return runner.invoke(cli, ["--home", str(root), *args])


def process(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`netflix-elt --home HOME ARGS` as a real process, whatever its exit code."""
    return subprocess.run(
        [*CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NETFLIX_ELT_DBT_THREADS": "1", **(env or {})},
    )


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime: what a read-only command must not change."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@dataclass(frozen=True)
class Built:
    root: Path
    git_status: str  # `git status --porcelain --untracked-files=all` right after the run


@pytest.fixture(scope="module")
def built_clone(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A home after one `run` on the bundled sample (real process), in a folder set up as a clone
    is for `make run` (the repo's .gitignore, `git init`: the home is the clone's root)."""
    root = tmp_path_factory.mktemp("first-day") / "home"
    root.mkdir()
    (root / ".gitignore").write_bytes((REPO / ".gitignore").read_bytes())
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    proc = process(root, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Built(root, status.stdout)


@pytest.fixture(scope="module")
def built(built_clone: Built) -> Path:
    return built_clone.root


def copy_of(built: Path, tmp_path: Path) -> Home:
    """A private copy of the built home (dbt's target/ holds absolute paths: left for dbt to write)."""
    target = tmp_path / "home"
    shutil.copytree(built, target, symlinks=True, ignore=shutil.ignore_patterns("target"))
    return Home(target)


# ------------------------------------------------------------------ 1. the printed schedule works


def test_the_printed_cron_line_and_service_run_on_a_fresh_home(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    printed = process(home, "schedule", "--every", "0 6 * * *")
    assert printed.returncode == 0, printed.stderr
    assert not home.exists()  # schedule changes nothing
    cron = [line for line in printed.stdout.splitlines() if line.startswith("0 6 * * * ")]
    assert len(cron) == 1
    command = cron[0].removeprefix("0 6 * * * ").replace("\\%", "%")
    # cron runs the line with /bin/sh: exactly that, on a home that does not exist yet
    tick = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=300)
    assert tick.returncode == 0, Path(home / "logs" / "cron.log").read_text() if home.exists() else tick.stderr
    assert (home / "inbox").is_dir() and (home / "netflix_dw.duckdb").is_file()
    # a drop put in the printed inbox is loaded by the next tick
    (home / "inbox" / "netflix_titles.csv").write_bytes(CANONICAL.read_bytes())
    tick = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=600)
    assert tick.returncode == 0, (home / "logs" / "cron.log").read_text()[-3000:]
    assert scalar(Home(home), "select count(*) from analytics_netflix_current") == 8807
    assert (home / "inbox" / "processed" / "netflix_titles.csv").is_file()

    # the systemd service's ExecStart, as systemd would run it (no shell; %% is a literal %)
    service = printed.stdout.split("netflix-elt.service ", 1)[1]
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart=").replace("%%", "%"))
    fresh = tmp_path / "fresh2"
    argv[argv.index("--home") + 1] = str(fresh)
    argv[argv.index("--inbox") + 1] = str(fresh / "inbox")
    unit = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert (fresh / "inbox").is_dir()


def test_a_missing_custom_inbox_is_flagged_when_the_schedule_is_printed(tmp_path: Path) -> None:
    printed = process(tmp_path / "h", "schedule", "--every", "@daily", "--inbox", str(tmp_path / "drops"))
    assert printed.returncode == 0
    assert f"warning: {tmp_path / 'drops'}: inbox does not exist yet" in printed.stderr


# ------------------------------------------------------------------ 2. read-only commands write nothing


def test_read_only_commands_create_nothing_in_an_empty_folder(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(runner, empty, "status").exit_code == 0
    assert invoke(runner, empty, "schedule", "--every", "0 6 * * *").exit_code == 0
    assert invoke(runner, empty, "verify").exit_code == 0
    assert invoke(runner, empty, "lookml", "--check").exit_code == 2  # no warehouse yet: says so
    assert list(empty.iterdir()) == []


def test_read_only_commands_change_no_file_of_a_built_home(runner: CliRunner, built: Path) -> None:
    before = tree(built)
    for args in (
        ["status"],
        ["status", "--json"],
        ["schedule", "--every", "@hourly"],
        ["verify"],
        ["lookml", "--check"],
    ):
        result = invoke(runner, built, *args)
        assert result.exit_code == 0, (args, result.output)
    assert tree(built) == before


def test_a_read_only_home(runner: CliRunner, built: Path, tmp_path: Path, tmpfs: Tmpfs) -> None:
    ro = tmpfs.mount(tmp_path / "ro", "64m")
    subprocess.run(["cp", "-a", f"{built}/.", str(ro)], check=True)
    tmpfs.remount_read_only(ro)
    for args in (["status"], ["verify"], ["lookml", "--check"], ["schedule", "--every", "0 6 * * *"]):
        result = invoke(runner, ro, *args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output and "OSError" not in result.output
    assert "runs (newest first)" in invoke(runner, ro, "status").stdout
    # a command that writes fails with one line naming the path, exit 2
    for args in (["run"], ["ingest", str(CANONICAL)], ["dashboard"], ["export"]):
        result = invoke(runner, ro, *args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {ro}") and "Read-only file system" in lines[0], lines


def test_a_home_below_a_regular_file(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    home = blocker / "home"
    status = invoke(runner, home, "status")
    assert status.exit_code == 0 and "no warehouse" in status.stdout
    run = invoke(runner, home, "run")
    assert run.exit_code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "is not a folder" in lines[0]


# ------------------------------------------------------------------ 3. a full log disk


def test_a_full_log_disk_costs_one_warning_line(tmp_path: Path, tmpfs: Tmpfs) -> None:
    home = tmp_path / "home"
    logs = tmpfs.mount(home / "logs", "1m")
    (logs / "filler").write_bytes(b"\0" * (1024 * 1024 - 4096))
    while True:  # fill to the last block
        try:
            with (logs / "filler").open("ab") as fh:
                fh.write(b"\0" * 512)
        except OSError:
            break
    for args in (["run"], ["--quiet", "run"]):
        proc = process(home, *args)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]
        assert "Logging error" not in output and "Traceback" not in output, output[-3000:]
        warnings = [line for line in proc.stderr.splitlines() if "cannot write" in line]
        assert len(warnings) == 1 and "pipeline.log" in warnings[0] and "No space left" in warnings[0], proc.stderr
    assert scalar(Home(home), "select count(*) from analytics_netflix_current") == 8807


# ------------------------------------------------------------------ 4-7. refusals


def test_a_run_that_refuses_a_drop_keeps_what_it_applied(runner: CliRunner, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    for drop in (CANONICAL, RENUMBERED, TRAILING):
        assert invoke(runner, home, "ingest", str(drop)).exit_code == 0
    result = invoke(runner, home, "run")
    assert result.exit_code == 2, result.output
    summary = result.stdout[result.stdout.index("summary:") :]
    assert "8,807 inserted, 5 updated" in summary and "(2 batch(es) applied, 1 refused)" in summary
    assert ": refused" in summary.splitlines()[1]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {RENUMBERED}: batch ")  # names the file
    assert f"--accept-key-changes --source {RENUMBERED}" in errors[0]

    # etl_runs knows what it did, and the outputs reflect the last batch it applied
    run_row = query(home, "select status, batches_transformed, inserted, updated from etl_runs where command = 'run'")
    assert run_row == [("refused", 2, 8807, 5)]
    applied = query(
        home,
        "select t.batch_id from etl_transforms t join etl_batches b using (batch_id) "
        "where t.status = 'succeeded' order by b.batch_seq desc limit 1",
    )[0][0]
    manifest = json.loads((home.root / "exports" / "manifest.json").read_text())
    assert manifest["batch_id"] == applied
    assert (home.root / "lookml").is_dir() and (home.root / "reports" / "dashboard.html").is_file()

    # the refusal is in the log file, and `status` says refused (with the file), not succeeded
    log_text = (home.logs_dir / "pipeline.log").read_text()
    assert "ERROR" in log_text and "refused: 7,772 of 7,772 matched show_ids" in log_text
    assert "run ended: refused, exit 2" in log_text
    status = invoke(runner, home, "status").stdout.splitlines()
    refused_rows = [i for i, line in enumerate(status) if line.split()[1:2] == ["refused"] and "7787rows" in line]
    assert len(refused_rows) == 1
    assert "changed title" in status[refused_rows[0] + 1]

    # decided once: the next run refuses nothing more and applies nothing again
    again = invoke(runner, home, "run")
    assert again.exit_code == 0, again.output
    assert "(0 batch(es) applied)" in again.stdout
    assert scalar(home, "select count(*) from etl_transforms where status = 'refused'") == 1

    # the dashboard the refusing run built shows that run as it ended, not as running
    run_id = query(home, "select run_id from etl_runs where command = 'run' order by run_seq limit 1")[0][0]
    html = (home.root / "reports" / "dashboard.html").read_text()
    row = re.search(rf'<tr class="row-\w+" data-status="(\w+)"><td><code>{run_id}</code></td>(.*?)</tr>', html)
    assert row is not None and row.group(1) == "refused", row and row.group(0)[:300]
    assert "8,807 / 5 / " in row.group(2)  # its CDC counts, not zeros


def test_monitor_after_a_refusal_agrees_with_status(runner: CliRunner, built: Path, tmp_path: Path) -> None:
    home = copy_of(built, tmp_path)  # after a `run` of the bundled sample
    refused = invoke(runner, home, "run", "--source", str(RENUMBERED))
    assert refused.exit_code == 2, refused.output
    monitor = invoke(runner, home, "monitor")
    assert monitor.exit_code == 1  # the latest drop was refused: on-call must decide
    failed = [line for line in monitor.stdout.splitlines() if line.startswith("check    FAIL")]
    assert len(failed) == 1 and "key_remap_guard" in failed[0], monitor.stdout
    assert "reconcile_raw_batch" not in monitor.stdout
    assert "threshold <= threshold" not in monitor.stdout and "threshold renumbered keys <= 20%" in failed[0]
    summary = next(line for line in monitor.stdout.splitlines() if line.startswith("checks: "))
    status = invoke(runner, home, "status").stdout
    line = next(ln for ln in status.splitlines() if ln.startswith("checks (batch"))
    counts = summary.removeprefix("checks: ").split(" (")[0]  # "86 checks: 75 passed, 0 warned, 1 failed, ..."
    assert line.endswith(f": {counts}") and " 1 failed" in counts, (summary, line)


def test_acceptance_names_one_drop(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for args in (
        ["run", "--accept-key-changes", "--inbox", str(inbox)],
        ["run", "--accept-deletes", "--source", str(CANONICAL), "--source", str(TRAILING)],
        ["ingest", "--accept-key-changes", str(CANONICAL), str(TRAILING)],
    ):
        result = invoke(runner, home, *args)
        assert result.exit_code == 2 and "applies to one drop" in result.output, (args, result.output)
    assert not home.exists()


# ------------------------------------------------------------------ 8. exit codes


def test_status_limit_must_be_positive(runner: CliRunner, built: Path) -> None:
    result = invoke(runner, built, "status", "--limit", "-1")
    assert result.exit_code == 2 and "Invalid value for '--limit'" in result.output


def test_a_closed_stdout_is_not_an_error(built: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "--home", str(built), "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line: every write is EPIPE
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


# ------------------------------------------------------------------ 9. arguments checked first


def test_bad_arguments_are_found_before_any_work(runner: CliRunner, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    result = invoke(runner, fresh, "run", "--source", str(tmp_path / "nonexistent.csv"))
    assert result.exit_code == 2 and "nonexistent.csv: no such file" in result.stderr
    assert not fresh.exists()  # no home created, nothing migrated

    home = Home(tmp_path / "home")
    assert invoke(runner, home, "ingest", str(CANONICAL)).exit_code == 0  # one batch pending
    result = invoke(runner, home, "run", "--inbox", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "inbox is not a directory" in result.stderr
    assert scalar(home, "select count(*) from etl_transforms") == 0  # the pending batch was not transformed

    result = invoke(runner, home, "export", "--bigquery", "nodot")
    assert result.exit_code == 2 and "expected PROJECT.DATASET" in result.stderr
    assert not (home.root / "exports").exists()  # nothing exported first

    assert invoke(runner, home, "lookml", "--connection", "").exit_code == 2


# ------------------------------------------------------------------ 10. a drop removed mid-run


def test_a_drop_removed_from_the_inbox_mid_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_bytes(CANONICAL.read_bytes())
    (inbox / "b.csv").write_bytes(TRAILING.read_bytes())
    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "NETFLIX_ELT_FAULT": "sleep:after_ingest",
        "NETFLIX_ELT_FAULT_SLEEP": "3",
        "NETFLIX_ELT_FAULT_READY": str(ready),
        "NETFLIX_ELT_DBT_THREADS": "1",
    }
    proc = subprocess.Popen(
        [*CLI, "--home", str(home), "run", "--inbox", str(inbox)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ready.exists(), proc.communicate()
    (inbox / "b.csv").unlink()  # while a.csv is being processed
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert "internal error" not in err and "FileNotFoundError" not in out + err
    assert "b.csv was removed from the inbox before it was read; skipped" in err
    assert "1 removed from the inbox before they were read" in out
    # the drop already loaded was checked and published
    assert scalar(Home(home), "select count(*) from dq_results") > 0
    assert (home / "exports" / "manifest.json").is_file()
    assert (inbox / "processed" / "a.csv").is_file()


# ------------------------------------------------------------------ 12. what the log tells on-call


def test_every_command_that_writes_logs_its_run_and_how_it_ended(
    runner: CliRunner, built: Path, tmp_path: Path
) -> None:
    home = copy_of(built, tmp_path)  # after a `run` of the bundled sample: its log has that run
    assert invoke(runner, home, "ingest", str(tmp_path / "nope.csv")).exit_code == 2
    binary = tmp_path / "x.csv"
    binary.write_bytes(bytes(range(256)) * 64)
    assert invoke(runner, home, "ingest", str(binary)).exit_code == 2
    assert invoke(runner, home, "run", "--inbox", str(tmp_path / "missing")).exit_code == 2
    for args in (["export"], ["lookml"], ["dashboard"]):
        assert invoke(runner, home, *args).exit_code == 0
    lines = (home.logs_dir / "pipeline.log").read_text().splitlines()
    assert not [ln for ln in lines if " run=- " in ln or " step=- " in ln]
    for command in ("ingest", "export", "lookml", "dashboard"):
        assert any(f" step={command} " in ln for ln in lines), command
    ended = [ln for ln in lines if " ended: " in ln]
    assert len(ended) == 7 and all(", exit " in ln for ln in ended)
    errors = [ln for ln in lines if " ERROR " in ln]
    assert any("nope.csv: no such file" in ln for ln in errors)
    assert any("looks like binary data" in ln for ln in errors)
    assert any("inbox is not a directory" in ln for ln in errors)


# ------------------------------------------------------------------ 14. make run leaves the clone clean


def test_what_make_run_writes_is_ignored_by_git(built_clone: Built) -> None:
    """The built home is a fresh clone (the repo's .gitignore, `git init`) after `netflix-elt run`
    there, as `make run` does; its `git status` was taken right after that run."""
    assert built_clone.git_status.splitlines() == ["?? .gitignore"], built_clone.git_status


# ------------------------------------------------------------------ friction


def test_quiet_prints_each_warning_once(runner: CliRunner, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    result = invoke(runner, home, "--quiet", "run", "--freshness-warn-hours", "0")  # freshness warns at once
    assert result.exit_code == 0, result.output
    everything = result.stdout + result.stderr
    assert result.stdout == ""  # cron mails stderr and stdout: everything it needs is on stderr, once
    assert everything.count("freshness") == 1, everything


def test_monitor_during_a_first_run_does_not_fail_freshness(runner: CliRunner, tmp_path: Path) -> None:
    from netflix_elt.core.lock import run_lock
    from netflix_elt.warehouse.connection import connect

    home = Home(tmp_path / "home").ensure()
    connect(home).close()  # the first run has created the warehouse and is loading its first drop
    with run_lock(home, "first-run", timeout=5):
        result = invoke(runner, home, "monitor")
    assert result.exit_code == 0, result.output
    assert "no checks published yet (its first run)" in result.stdout
    assert "FAIL" not in result.stdout


def test_status_numbers_read_as_numbers(runner: CliRunner, built: Path) -> None:
    lines = invoke(runner, built, "status").stdout.splitlines()  # after a `run` of the bundled sample
    run_line = lines[2]
    assert " run " in run_line and "8,807/0/0" in run_line and "UTC" not in run_line
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ ", run_line), run_line  # when it started
    assert any(line.split()[1:2] == ["applied"] and "8,807" in line for line in lines)


def test_a_long_dbt_build_reports_progress(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netflix_elt.transform.dbt import _Progress

    monkeypatch.setattr(_Progress, "PROGRESS_SECONDS", 0.0)  # every node counts as "a few seconds" later
    home = Home(tmp_path / "home")
    result = invoke(runner, home, "run")
    assert result.exit_code == 0, result.output
    progress = [ln for ln in result.stderr.splitlines() if "dbt build: " in ln and " nodes done, last " in ln]
    assert len(progress) > 20  # 19 models and snapshots, 65 tests
    logged = [ln for ln in (home.logs_dir / "pipeline.log").read_text().splitlines() if " nodes done, last " in ln]
    assert logged and all(" run=20" in ln and " step=transform " in ln for ln in logged)  # from dbt's threads
