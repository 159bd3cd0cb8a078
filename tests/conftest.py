from __future__ import annotations

import ctypes
import errno
import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from bq_emulator import bq_emulator
from netflix_elt.core.home import Home
from netflix_elt.transform import registry

REPO = Path(__file__).resolve().parents[1]
CARRIED = Path(__file__).resolve().parent / "data"  # the real files, carried by the repo (README there)


def _unpacked_test_data() -> Path:
    """The real copies the repo carries, unpacked into .test-data/ (once; each file written to a
    temporary name and renamed, so parallel test workers never see half a file) and checked
    against SHA256SUMS: the canonical file is the bundled sample, the variants are gzipped."""
    target = REPO / ".test-data" / "netflix"
    sources = {"netflix_titles.csv": REPO / "src" / "netflix_elt" / "sample" / "netflix_titles.csv"}
    sources |= {f"variants/{gz.stem}": gz for gz in sorted((CARRIED / "variants").glob("*.csv.gz"))}
    for line in (CARRIED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        out = target / name
        if out.is_file() and hashlib.sha256(out.read_bytes()).hexdigest() == digest:
            continue
        src = sources[name]
        data = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:  # fail loudly: never test on damaged data
            raise RuntimeError(f"{src}: does not match tests/data/SHA256SUMS for {name}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
    return target


# NETFLIX_ELT_TEST_DATA points at another copy laid out the same way; by default, the repo's own.
DATA = Path(os.environ["NETFLIX_ELT_TEST_DATA"]) if os.environ.get("NETFLIX_ELT_TEST_DATA") else _unpacked_test_data()
CANONICAL = DATA / "netflix_titles.csv"
VARIANTS = DATA / "variants"

if not CANONICAL.is_file():  # fail loudly: a missing data set must never look like a green run
    raise RuntimeError(f"test data not found at {DATA}; unset NETFLIX_ELT_TEST_DATA to use the repo's copy")


def variant(name: str) -> Path:
    return VARIANTS / name


# `make test` hands whole modules (classes, for test_crash.py) to its two workers, each as soon as a
# worker is nearly free, in collection order (`--dist loadscope --no-loadscope-reorder`): these,
# the longest (each several minutes of real `netflix-elt` processes), go first, so that none is
# left to start when the other worker has nothing more to do. xdist's own order (by number of
# tests) handed out the clock and as-of modules, with 9 and 7 tests, after some 20 quicker ones.
LONGEST_FIRST = (
    "test_bigquery_run.py",
    "test_asof.py",
    "test_trust.py",
    "test_clock_steps.py",
    "test_first_day.py",
    "test_crash.py",
    "test_clock.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest as collected


@pytest.fixture(scope="session", autouse=True)
def manifest_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parsed dbt manifest is cached per user; the tests keep theirs out of ~/.cache (one per
    worker, shared by its tests and the CLI processes they start)."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["NETFLIX_ELT_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(home: Home, sql: str, params: list | None = None):
    return query(home, sql, params)[0][0]


@pytest.fixture(scope="session")
def bq_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """One BigQuery API emulator (bqemulator on 127.0.0.1) for the session: (endpoint URL, project)."""
    with bq_emulator(log_dir=tmp_path_factory.mktemp("bqemu")) as endpoint:
        yield endpoint


_SCRIPT = Path(sys.executable).with_name("netflix-elt")
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "netflix_elt"]
MNT_DETACH, MS_RDONLY, MS_REMOUNT = 2, 1, 32


class Tmpfs:
    """Mounts small tmpfs file systems (we run as root) and unmounts whatever is left at teardown."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.mounted: list[Path] = []

    def mount(self, path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        rc = self.libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, f"size={size}".encode())
        if rc != 0:
            err = ctypes.get_errno()
            if err == errno.EPERM:
                pytest.skip(f"cannot mount a tmpfs here (EPERM: needs root or CAP_SYS_ADMIN): {path}")
            raise OSError(err, f"mount -t tmpfs -o size={size} tmpfs {path}: {os.strerror(err)}")
        self.mounted.append(path)
        return path

    def remount_read_only(self, path: Path) -> None:
        """Make a mounted tmpfs read-only (MS_REMOUNT | MS_RDONLY), as `mount -o remount,ro` does."""
        if self.libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_REMOUNT | MS_RDONLY, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount -o remount,ro {path}: {os.strerror(err)}")

    def unmount(self, path: Path) -> None:
        if self.libc.umount2(os.fsencode(path), 0) != 0:
            err = ctypes.get_errno()
            if err != errno.EBUSY or self.libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
                raise OSError(err, f"umount {path}: {os.strerror(err)}")
        self.mounted.remove(path)


@pytest.fixture
def tmpfs() -> Iterator[Tmpfs]:
    mounts = Tmpfs()
    try:
        yield mounts
    finally:
        for path in reversed(mounts.mounted):
            mounts.unmount(path)


BRIDGES = registry.BRIDGES  # by name: cast, countries, directors, genres


def dbt_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path | None = None) -> dict[str, Any]:
    """manifest.json of a real, fresh `dbt parse` (in-process) of `project` (default: the packaged
    one), with target and logs under tmp_path."""
    from dbt.cli.main import dbtRunner

    from netflix_elt.transform.dbt import project_dir

    monkeypatch.setenv("NETFLIX_ELT_WAREHOUSE", str(tmp_path / "netflix_dw.duckdb"))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    folder = str(project or project_dir())
    res = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            folder,
            "--profiles-dir",
            folder,
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--no-partial-parse",
            "--log-level",
            "none",
        ]
    )
    assert res.success, res.exception
    return json.loads((tmp_path / "target" / "manifest.json").read_text(encoding="utf-8"))


def drop_models_except(warehouse: Path, keep: tuple[str, ...]) -> list[str]:
    """Drop every model of the dbt project from `warehouse` but `keep` (the sources, the ledger and
    the snapshot stay): what a BI output must still produce from, if its exposure is right."""
    con = duckdb.connect(str(warehouse))
    try:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
        dropped = [m for m in registry.project().models if m in kinds and m not in keep]
        for name in sorted(dropped, key=lambda m: kinds[m] != "VIEW"):  # views first
            con.execute(f"drop {'view' if kinds[name] == 'VIEW' else 'table'} {name}")
    finally:
        con.close()
    return dropped


def netflix_elt_process(home: Path, *args: Any, prefix: list[str] | None = None, timeout: float = 900) -> str:
    """Run `netflix-elt --home HOME ARGS` as a real process (behind `prefix`, e.g. faketime); assert
    exit 0 and no traceback; return stdout + stderr. One dbt thread: two test workers share the cores."""
    cmd = [*(prefix or []), *CLI, "--home", str(home), *map(str, args)]
    env = {**os.environ, "NETFLIX_ELT_DBT_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)}: exit {proc.returncode}\n{output[-6000:]}"
    assert "Traceback" not in output, output[-6000:]
    return output


# --- headless Chromium (Debian's `chromium`, driven by Playwright's Python package; no `playwright install`)

try:
    from playwright.sync_api import BrowserContext, sync_playwright
except ImportError:  # reported as a failure by the `browser` fixture, never as a skip
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = Path(os.environ.get("NETFLIX_ELT_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries to reach Google and this sandbox refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a new, empty profile under the test's tmp dir."""
    if sync_playwright is None:
        pytest.fail("the playwright Python package is missing: pip install playwright (no `playwright install`)")
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set NETFLIX_ELT_CHROMIUM)")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            device_scale_factor=1,
        )
        try:
            yield ctx
        finally:
            ctx.close()
