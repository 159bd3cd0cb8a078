"""Trust in what was loaded: a drop is skipped only on its content, `verify` finds every kind of
damage to the raw layer, and `rebuild` restores the warehouse from the raw layer alone.

1. A same-size edit put where a loaded drop was, with its mtime preserved (`cp -p`, `rsync -a`, a
   write followed by restoring the mtime, `tar -xpf`, an inbox drop under a processed one's name),
   is loaded as a new batch; the unchanged file, or a `cp -p` copy of it, is skipped.
2. `verify` passes a good home and names the file of each damage (raw file deleted, truncated,
   altered, manifest deleted or edited, an unreferenced raw file); a run refuses to transform a
   pending batch whose raw file is damaged.
3. `rebuild` over a deleted, garbage or truncated warehouse (and over a healthy one) gives the same
   models, KPIs, ledger and CDC counts as the original; `verify` passes afterwards.
4. The ledger travels with the raw layer: rebuilt from the manifests, `batch_seq` and `as_of` are
   those of the original, even when the arrival order differs from the as-of order.

The damage tests share one home (the canonical drop, then the trailing-empty-column variant),
copied per test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home

from conftest import BRIDGES, CANONICAL, VARIANTS

TRAILING = VARIANTS / "netflix_titles_trailing_empty_column.csv"
SEMICOLON = VARIANTS / "netflix_titles_semicolon.csv"
BOM_CRLF = VARIANTS / "netflix_titles_bom_crlf_repeated_header.csv"
STAT_COLUMNS = ("source_realpath", "source_mtime_ns", "source_ctime_ns", "source_inode")
ROWS = 8807
ONE_UPDATE = (0, 1, ROWS - 1, 0, 0)  # inserted, updated, unchanged, deleted, revived


# ------------------------------------------------------------------------------------------ helpers


def _cli(root: Path, *args: str) -> Result:
    """The CLI in this process (dbt's manifest is parsed once per process), one dbt thread: two
    test workers share the cores."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETFLIX_ELT_DBT_THREADS", "1")
        return CliRunner().invoke(cli, ["--home", str(root), *args], catch_exceptions=False)


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def _rows(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = _connect(path)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state(warehouse: Path) -> dict[str, Any]:
    """What a rebuild must reproduce: the models, bridges and KPIs (all columns, sorted rows), the
    ledger (but where its source files were last seen), and the latest CDC counts per batch."""
    con = _connect(warehouse)
    try:
        kpis = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where starts_with(table_name, 'kpi_') order by 1"
            ).fetchall()
        ]
        s: dict[str, Any] = {"kpi tables": kpis}
        for table in ("analytics_netflix_current", "analytics_netflix_history", *BRIDGES, *kpis):
            s[table] = con.execute(f"select * from {table} order by all").fetchall()
        s["etl_batches"] = con.execute(
            f"select * exclude ({', '.join(STAT_COLUMNS)}) from etl_batches order by batch_seq"
        ).fetchall()
        s["cdc"] = con.execute(
            "select batch_id, inserted, updated, unchanged, deleted, revived from etl_transforms "
            "where status = 'succeeded' "
            "qualify row_number() over (partition by batch_id order by finished_at desc) = 1 order by batch_id"
        ).fetchall()
    finally:
        con.close()
    assert len(kpis) >= 8 and all(s[t] for t in BRIDGES)
    return s


def _batches(home: Home) -> list[dict[str, Any]]:
    con = _connect(home.warehouse)
    try:
        cur = con.execute("select batch_id, status, raw_path, batch_seq, as_of from etl_batches order by batch_seq")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _cdc(home: Home, batch_id: str) -> tuple:
    rows = _rows(
        home.warehouse,
        "select inserted, updated, unchanged, deleted, revived from etl_transforms "
        "where batch_id = ? and status = 'succeeded'",
        [batch_id],
    )
    assert len(rows) == 1, rows
    return rows[0]


def _problems(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("problem: ")]


@dataclass(frozen=True)
class Base:
    root: Path  # a home holding the canonical drop, then the trailing-empty-column variant
    state: dict[str, Any]
    batches: list[dict[str, Any]]

    def copy(self, tmp_path: Path) -> Home:
        target = tmp_path / "home"
        shutil.copytree(self.root, target, symlinks=True)
        return Home(target)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("trust") / "home"
    for drop in (CANONICAL, TRAILING):
        _ok(_cli(root, "run", "--source", str(drop)))
    home = Home(root)
    batches = _batches(home)
    assert [b["status"] for b in batches] == ["succeeded", "succeeded"]
    assert _cdc(home, batches[0]["batch_id"]) == (ROWS, 0, 0, 0, 0)
    return Base(root, _state(home.warehouse), batches)


# --------------------------------------------------------------------- 1. skip only on content

# s1's line up to its rating: its release_year (2020) is edited, keeping the file's size.
S1 = b's1,Movie,Dick Johnson Is Dead,Kirsten Johnson,,United States,"September 25, 2021",2020,PG-13,'


def _edition(year: int, mtime_ns: int, out: Path) -> Path:
    """The canonical file with s1's release_year set to `year`: same size, same mtime."""
    data = CANONICAL.read_bytes()
    assert data.count(S1) == 1
    edited = data.replace(S1, S1.replace(b",2020,", b",%d," % year))
    assert len(edited) == len(data) and edited != data
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(edited)
    os.utime(out, ns=(mtime_ns, mtime_ns))
    return out


def _sh(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True)


def _assert_only_ctime_or_inode_tell(home: Home, drop: Path, previous: str) -> None:
    """The drop now at `drop` has the path, size and mtime the ledger recorded for the batch loaded
    from there: only the inode and its change time can tell the edit (and the sha256)."""
    st = drop.stat()
    recorded = _rows(
        home.warehouse,
        "select source_realpath, source_bytes, source_mtime_ns from etl_batches where batch_id = ?",
        [previous],
    )
    assert recorded == [(str(drop.resolve()), st.st_size, st.st_mtime_ns)], "the stat shortcut is not in play"


def _loaded(home: Home, result: Result, name: str, previous: str) -> str:
    """The run loaded `name` as a new batch, transformed as exactly one update."""
    _ok(result)
    assert f"loaded   {name}: batch " in result.output, result.output
    assert _skipped(result) == [], result.output
    batches = _batches(home)
    latest = batches[-1]["batch_id"]
    assert latest != previous and batches[-1]["status"] == "succeeded"
    assert _cdc(home, latest) == ONE_UPDATE
    return latest


def _skipped(result: Result) -> list[str]:
    """The CLI's `skipped` lines."""
    return [line for line in result.output.splitlines() if line.startswith("skipped ")]


def _first_load(tmp_path: Path) -> tuple[Home, Path, int, str]:
    """A home with the canonical file, `cp -p`'d into a drop folder, loaded from there; and the
    file's mtime, which every edition keeps."""
    home = Home(tmp_path / "home")
    drop = tmp_path / "drops" / "netflix_titles.csv"
    drop.parent.mkdir()
    _sh("cp", "-p", CANONICAL, drop)
    drop.chmod(0o644)
    # whole seconds: what rsync and tar's default format keep of an mtime
    mtime = CANONICAL.stat().st_mtime_ns // 10**9 * 10**9
    os.utime(drop, ns=(mtime, mtime))
    _ok(_cli(home.root, "run", "--source", str(drop)))
    batch = _batches(home)[-1]["batch_id"]
    assert _cdc(home, batch) == (ROWS, 0, 0, 0, 0)
    return home, drop, mtime, batch


@pytest.mark.slow
def test_same_size_edits_with_the_mtime_preserved_are_loaded(tmp_path: Path) -> None:
    home, drop, mtime, batch = _first_load(tmp_path)
    stage = tmp_path / "stage"

    def check(name: str, year: int, put: Any) -> None:
        nonlocal batch
        edited = _edition(year, mtime, stage / name / drop.name)
        put(edited)
        assert drop.read_bytes() == edited.read_bytes(), f"{name} did not put the edit in place"
        _assert_only_ctime_or_inode_tell(home, drop, batch)
        batch = _loaded(home, _cli(home.root, "run", "--source", str(drop)), drop.name, batch)

    # cp -p over the existing file: the same inode, rewritten; mtime copied
    check("cp", 2001, lambda src: _sh("cp", "-p", src, drop))
    # rsync -a: a temporary file renamed over the drop; --checksum because rsync's own quick check
    # (size and mtime) would otherwise not transfer the edit at all
    check("rsync", 2002, lambda src: _sh("rsync", "-a", "--checksum", src, drop))

    # written in place, then the mtime put back (what `touch -r` does): the same inode
    def write_then_restore_mtime(src: Path) -> None:
        data = src.read_bytes()
        at = data.index(b"s1,Movie,")
        with drop.open("r+b") as fh:
            fh.seek(at)
            fh.write(data[at : at + len(S1)])
        os.utime(drop, ns=(mtime, mtime))

    check("write", 2003, write_then_restore_mtime)

    # tar -xpf: the existing file unlinked, a new one written, the archived mtime restored
    def untar(src: Path) -> None:
        archive = src.parent / "drop.tar"
        _sh("tar", "-cf", archive, "-C", src.parent, drop.name)
        _sh("tar", "-xpf", archive, "-C", drop.parent)

    check("tar", 2004, untar)


@pytest.mark.slow
def test_the_unchanged_drop_is_skipped_and_an_inbox_edit_is_loaded(tmp_path: Path) -> None:
    home, drop, mtime, batch = _first_load(tmp_path)

    # the same file again: recognised by its stat, not even hashed
    [line] = _skipped(_ok(_cli(home.root, "run", "--source", str(drop))))
    assert line.startswith(f"skipped  {drop.name}: already loaded as batch {batch} (") and "sha256" not in line
    # a cp -p copy under another name: the same content, recognised by its sha256
    copy = drop.with_name("netflix_titles_copy.csv")
    _sh("cp", "-p", drop, copy)
    [line] = _skipped(_ok(_cli(home.root, "run", "--source", str(copy))))
    assert line.startswith(f"skipped  {copy.name}: already loaded as batch {batch} (same sha256)")
    assert [b["batch_id"] for b in _batches(home)] == [batch]

    # the inbox: an edit, then another edit under the same name as the processed drop
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, year in enumerate((2011, 2012)):
        edited = _edition(year, mtime, tmp_path / "stage" / str(year) / drop.name)
        _sh("cp", "-p", edited, inbox / drop.name)
        if n:  # where the processed drop was loaded from, with its size and mtime
            _assert_only_ctime_or_inode_tell(home, inbox / drop.name, batch)
        result = _cli(home.root, "run", "--inbox", str(inbox))
        batch = _loaded(home, result, drop.name, batch)
        processed = inbox / "processed" / (drop.name if n == 0 else "netflix_titles.1.csv")
        assert processed.read_bytes() == edited.read_bytes()
        assert not (inbox / drop.name).exists()
    assert len(_batches(home)) == 3


# ------------------------------------------------------------------------------------ 2. verify


def test_verify_passes_a_good_home(base: Base) -> None:
    result = _cli(base.root, "verify")
    assert result.exit_code == 0, result.output
    assert _problems(result) == []
    assert "verify: 2 batch(es) verified" in result.output


def test_verify_passes_a_good_home_outside_utc(base: Base) -> None:
    """The manifests hold UTC times; a user whose local time zone is not UTC has the same home."""
    result = subprocess.run(
        [sys.executable, "-m", "netflix_elt", "--home", str(base.root), "verify"],
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _flip(path: Path) -> None:
    """Alter bytes in the middle of the file, keeping its size."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _edit_manifest(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    body["batch"]["rows_loaded"] += 1
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _extra_raw(path: Path) -> Path:
    extra = path.with_name("batch_20200101T000000000000Z_0badf00d.parquet")
    shutil.copyfile(path, extra)
    return extra


RAW_DAMAGE = {
    "raw deleted": lambda p: p.unlink(),
    "raw truncated": _truncate,
    "raw altered": _flip,
    "manifest deleted": lambda p: p.with_suffix(".json").unlink(),
    "manifest edited": lambda p: _edit_manifest(p.with_suffix(".json")),
    "unreferenced raw file": _extra_raw,
}


@pytest.mark.parametrize("damage", list(RAW_DAMAGE))
@pytest.mark.parametrize("which", [0, 1], ids=["first batch", "latest batch"])
def test_verify_names_the_damaged_file(base: Base, tmp_path: Path, damage: str, which: int) -> None:
    home = base.copy(tmp_path)
    raw = home.root / base.batches[which]["raw_path"]
    named = RAW_DAMAGE[damage](raw) or (raw.with_suffix(".json") if damage.startswith("manifest") else raw)
    rel = str(named.relative_to(home.root))

    result = _cli(home.root, "verify")
    assert result.exit_code == 1, result.output
    problems = _problems(result)
    assert problems, result.output
    assert all(rel in line for line in problems), problems  # the damaged file, and nothing else
    assert "Traceback" not in result.output


def test_verify_finds_raw_rows_missing_from_the_warehouse(base: Base, tmp_path: Path) -> None:
    home = base.copy(tmp_path)
    first = base.batches[0]["batch_id"]
    con = duckdb.connect(str(home.warehouse))
    try:
        con.execute("delete from raw_netflix_titles where _batch_id = ? and _source_row_number <= 10", [first])
    finally:
        con.close()
    result = _cli(home.root, "verify")
    assert result.exit_code == 1, result.output
    assert _problems(result) == [
        f"problem: batch {first}: {home.warehouse.name}: raw_netflix_titles holds {ROWS - 10:,} rows of the batch, "
        f"the ledger says {ROWS:,}; run `netflix-elt rebuild`"
    ]


@pytest.mark.parametrize("damage", ["raw deleted", "raw truncated", "raw altered"])
def test_a_run_refuses_a_pending_batch_with_a_damaged_raw_file(base: Base, tmp_path: Path, damage: str) -> None:
    home = base.copy(tmp_path)
    loaded = _ok(_cli(home.root, "ingest", str(SEMICOLON)))
    assert "loaded   " in loaded.output
    pending = _batches(home)[-1]
    RAW_DAMAGE[damage](home.root / pending["raw_path"])

    result = _cli(home.root, "run", "--source", str(BOM_CRLF))
    assert result.exit_code == 1, result.output
    assert pending["raw_path"] in result.output
    assert "nothing was transformed" in result.output
    assert "Traceback" not in result.output
    # nothing transformed over it, and the run's own drop never ingested
    assert len(_batches(home)) == 3
    assert _rows(home.warehouse, "select count(*) from etl_transforms where batch_id = ?", [pending["batch_id"]]) == [
        (0,)
    ]
    assert _state(home.warehouse) | {"etl_batches": None} == base.state | {"etl_batches": None}


# ----------------------------------------------------------------------------------- 3. rebuild


def _garbage(path: Path) -> None:
    size = path.stat().st_size
    path.write_bytes(hashlib.sha256(b"garbage").digest() * (size // 32))


WAREHOUSE_DAMAGE = {"deleted": lambda p: p.unlink(), "garbage": _garbage, "truncated": _truncate}


def _assert_rebuilt(home: Home, base: Base, result: Result) -> None:
    _ok(result)
    assert "rebuild: 2 batch(es) replayed" in result.output
    assert _state(home.warehouse) == base.state
    verified = _cli(home.root, "verify")
    assert verified.exit_code == 0, verified.output
    assert not home.rebuild_dir.exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(WAREHOUSE_DAMAGE))
def test_rebuild_restores_a_lost_or_corrupt_warehouse(base: Base, tmp_path: Path, damage: str) -> None:
    home = base.copy(tmp_path)
    WAREHOUSE_DAMAGE[damage](home.warehouse)
    damaged = _sha256(home.warehouse) if home.warehouse.exists() else None

    # a run never starts history afresh (nor does an ingest), nor touches the damaged file
    for args in (["run", "--source", str(SEMICOLON)], ["ingest", str(SEMICOLON)])[: 2 if damaged is None else 1]:
        refused = _cli(home.root, *args)
        assert refused.exit_code == 1, refused.output
        assert "Traceback" not in refused.output
        # whether missing, garbage or truncated, the message says what to do
        assert "netflix-elt rebuild" in refused.output, refused.output
        assert "internal error" not in refused.output, refused.output
        if damaged is None:
            assert not home.warehouse.exists()
        else:
            assert _sha256(home.warehouse) == damaged
    assert len(list(home.raw_dir.glob("*/*.parquet"))) == 2  # nothing of the refused drop in the raw layer
    # verify sees the damage too (a truncated file opens and its ledger reads: every table is read back)
    checked = _cli(home.root, "verify")
    assert checked.exit_code == 1, checked.output
    assert f"problem: {home.warehouse}" in checked.output and "netflix-elt rebuild" in checked.output

    _assert_rebuilt(home, base, _cli(home.root, "rebuild"))
    backup = home.warehouse.with_name(home.warehouse.name + ".before-rebuild")
    if damaged is None:
        assert not backup.exists()
    else:
        assert _sha256(backup) == damaged  # the damaged file is kept, not deleted


@pytest.mark.slow
def test_rebuild_of_a_healthy_home_changes_nothing_and_keeps_the_old_warehouse(base: Base, tmp_path: Path) -> None:
    home = base.copy(tmp_path)
    result = _cli(home.root, "rebuild")
    assert "ledger from the warehouse" in result.output
    _assert_rebuilt(home, base, result)
    backup = home.warehouse.with_name(home.warehouse.name + ".before-rebuild")
    assert "netflix_dw.duckdb.before-rebuild" in result.output
    assert _state(backup) == base.state  # the previous warehouse, whole


# --------------------------------------------------------------------- 4. the ledger travels


@pytest.mark.slow
def test_the_ledger_rebuilt_from_the_manifests_keeps_sequence_and_as_of(tmp_path: Path) -> None:
    """Arrival order (batch_seq) and catalog order (as_of) differ: the later catalog arrived first.
    Rebuilt from the manifests alone, both are those of the original, and so is everything else."""
    home = Home(tmp_path / "home")
    _ok(_cli(home.root, "ingest", "--as-of", "2021-06-01", str(TRAILING)))
    _ok(_cli(home.root, "ingest", "--as-of", "2021-01-01", str(CANONICAL)))
    _ok(_cli(home.root, "run", "--source", str(CANONICAL)))  # skipped: transforms both, in as-of order
    batches = _batches(home)
    assert [b["batch_seq"] for b in batches] == [1, 2]
    assert [b["as_of"].date().isoformat() for b in batches] == ["2021-06-01", "2021-01-01"]
    assert _cdc(home, batches[1]["batch_id"]) == (ROWS, 0, 0, 0, 0)  # the earlier catalog, applied first
    original = _state(home.warehouse)

    home.warehouse.unlink()
    result = _ok(_cli(home.root, "rebuild"))
    assert "ledger from the manifests" in result.output
    assert _batches(home) == batches  # batch_id, status, raw_path, batch_seq, as_of
    assert _state(home.warehouse) == original  # every ledger column (as_of_explicit, accept_*, ...)
    assert _cli(home.root, "verify").exit_code == 0
    # and the next run recognises what was loaded before the warehouse was lost
    again = _ok(_cli(home.root, "run", "--source", str(TRAILING)))
    assert f"already loaded as batch {batches[0]['batch_id']}" in again.output
