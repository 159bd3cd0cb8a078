"""Late and shuffled drops: a drop's as-of places it in history, whatever order drops arrive in.

Four synthetic snapshot drops, each the next of the one before (`netflix-elt synth --next-of`),
the last one also bringing back a title the third deleted, stand for the catalog on 2021-01-01..04.

1. Delivered in order (home A) and shuffled (home B: 3, 1, 4, 2; some with `--as-of`, some through
   an inbox with the date in the file name, each late one replayed): the same current table,
   history, bridges, KPIs (every column, timestamps included) and CDC counts per batch, which are
   the counts synth predicts.
2. `rebuild` of B gives the same state again, and `verify` passes.
3. A's history equals an SCD2 history computed here, in plain Python, from the CSV files.
4. A late snapshot (drops 1, 3, then 2 dated between them): the current table reflects drop 3,
   drop 2's versions sit between drop 1's and drop 3's, as if they had come in order.
5. An inbox drop named `netflix_titles_2021-09-25.csv` gets that date as its as-of.

Every run is a real `netflix-elt` process.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from netflix_elt.ingest.mapping import CANONICAL_COLUMNS

from conftest import BRIDGES, netflix_elt_process

pytestmark = pytest.mark.slow

COLUMNS = CANONICAL_COLUMNS  # synth writes the canonical header
AS_OF = ("2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04")
ROWS = 3000
CDC_FIELDS = ("inserted", "updated", "unchanged", "deleted", "revived")


# ------------------------------------------------------------------------------------------ helpers


def netflix_elt(home: Path, *args: Any) -> str:
    return netflix_elt_process(home, *args)


def rows(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def at(day: str | date) -> datetime:
    return datetime.fromisoformat(str(day)).replace(tzinfo=UTC)


def read_drop(path: Path) -> dict[str, dict[str, str | None]]:
    """show_id -> the row's values as staging trims them (DuckDB's trim: spaces only; empty ->
    None); a repeated show_id: the last occurrence wins."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS, reader.fieldnames
        out: dict[str, dict[str, str | None]] = {}
        for raw in reader:
            row = {c: (raw[c] or "").strip(" ") or None for c in COLUMNS}
            if row["show_id"] is not None:
                out[row["show_id"]] = row
    return out


@dataclass
class Version:
    valid_from: date
    is_deleted: bool
    row: dict[str, str | None]
    valid_to: date | None = None


@dataclass
class Model:
    """SCD2 history and per-batch CDC counts computed from the drops alone."""

    versions: dict[str, list[Version]] = field(default_factory=dict)
    cdc: dict[date, dict[str, int]] = field(default_factory=dict)


def scd2(snapshots: list[tuple[date, Path]]) -> Model:
    """Apply full-snapshot drops in as-of order: a key's first row is an insert; a row that differs
    from its open version, an update; an open key the drop does not list, a deletion version
    (is_deleted, its last values kept); a deleted key listed again, a revival. Each version is
    valid from its drop's as-of to the next version's."""
    model = Model()
    for as_of, path in sorted(snapshots):
        listed = read_drop(path)
        counts = dict.fromkeys(CDC_FIELDS, 0)
        for sid, row in listed.items():
            history = model.versions.setdefault(sid, [])
            if not history:
                kind = "inserted"
            elif history[-1].is_deleted:
                kind = "revived"
            elif history[-1].row != row:
                kind = "updated"
            else:
                counts["unchanged"] += 1
                continue
            counts[kind] += 1
            history.append(Version(as_of, False, row))
        for sid, history in model.versions.items():
            if sid not in listed and not history[-1].is_deleted:
                counts["deleted"] += 1
                history.append(Version(as_of, True, history[-1].row))
        model.cdc[as_of] = counts
    for history in model.versions.values():
        for v, nxt in itertools.pairwise(history):
            v.valid_to = nxt.valid_from
    return model


def kpi_tables(warehouse: Path) -> list[str]:
    names = [
        r[0]
        for r in rows(
            warehouse,
            "select table_name from information_schema.tables where starts_with(table_name, 'kpi_') order by 1",
        )
    ]
    assert len(names) >= 8, names
    return names


def cdc(warehouse: Path) -> dict[date, dict[str, int]]:
    """The latest succeeded transform's counts per batch, by the batch's as-of date."""
    return {
        as_of.date(): dict(zip(CDC_FIELDS, counts, strict=True))
        for as_of, *counts in rows(
            warehouse,
            f"select b.as_of, {', '.join('t.' + c for c in CDC_FIELDS)} from etl_transforms t "
            "join etl_batches b using (batch_id) where t.status = 'succeeded' "
            "qualify row_number() over (partition by t.batch_id order by t.finished_at desc) = 1 order by b.as_of",
        )
    }


def state(warehouse: Path) -> dict[str, Any]:
    """Every column of the current table, the history, the bridges and the KPIs, and the ledger and
    CDC counts per batch; batch ids (which carry the ingestion time and differ between homes)
    replaced by their batch's as-of, which is the drop's date wherever and whenever it arrived."""
    as_of = "(select as_of from etl_batches b where b.batch_id = {})"
    s: dict[str, Any] = {
        "current": rows(
            warehouse,
            "select * exclude (first_seen_batch_id, last_changed_batch_id), "
            f"{as_of.format('c.first_seen_batch_id')}, {as_of.format('c.last_changed_batch_id')} "
            "from analytics_netflix_current c order by show_id",
        ),
        "history": rows(
            warehouse,
            f"select * exclude (batch_id), {as_of.format('h.batch_id')} from analytics_netflix_history h "
            "order by show_id, valid_from",
        ),
        "ledger": rows(
            warehouse,
            "select as_of, as_of_explicit, mode, source_sha256, rows_read, rows_loaded, rows_quarantined "
            "from etl_batches where status = 'succeeded' order by as_of",
        ),
        "cdc": cdc(warehouse),
    }
    for table in (*BRIDGES, *kpi_tables(warehouse)):
        s[table] = rows(warehouse, f"select * from {table} order by all")
    return s


def assert_same_state(got: dict[str, Any], want: dict[str, Any], label: str) -> None:
    """Equal, table by table; a mismatch names the table and its first differing rows."""
    assert got.keys() == want.keys(), label
    for table, expected in want.items():
        actual = got[table]
        if actual == expected:
            continue
        if isinstance(expected, dict):
            pytest.fail(f"{label}: {table} differs:\n  got  {actual}\n  want {expected}")
        missing = [r for r in expected if r not in actual][:3]
        extra = [r for r in actual if r not in expected][:3]
        pytest.fail(
            f"{label}: {table} differs ({len(actual)} rows vs {len(expected)})\n"
            f"  only in the reference: {missing}\n  only here: {extra}"
        )


def history_by_key(warehouse: Path) -> dict[str, list[tuple]]:
    """show_id -> [(valid_from date, valid_to date or None, is_deleted, title)] in order."""
    out: dict[str, list[tuple]] = {}
    for sid, valid_from, valid_to, is_deleted, title in rows(
        warehouse,
        "select show_id, valid_from, valid_to, is_deleted, title from analytics_netflix_history "
        "order by show_id, valid_from",
    ):
        out.setdefault(sid, []).append((valid_from.date(), valid_to.date() if valid_to else None, is_deleted, title))
    return out


def model_by_key(model: Model) -> dict[str, list[tuple]]:
    return {
        sid: [(v.valid_from, v.valid_to, v.is_deleted, v.row["title"]) for v in history]
        for sid, history in model.versions.items()
    }


def assert_history_is(warehouse: Path, model: Model, label: str) -> None:
    got, want = history_by_key(warehouse), model_by_key(model)
    assert got.keys() == want.keys(), f"{label}: keys {sorted(got.keys() ^ want.keys())[:5]} differ"
    wrong = [(sid, got[sid], want[sid]) for sid in sorted(want) if got[sid] != want[sid]]
    assert not wrong, f"{label}: {len(wrong)} key(s) with another history, e.g. (key, warehouse, model): {wrong[:3]}"


def inbox_drop(inbox: Path, source: Path, day: str) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / f"netflix_titles_{day}.csv"
    shutil.copyfile(source, target)
    return target


# ------------------------------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Drop:
    path: Path
    as_of: str
    expected: dict[str, int]  # synth's CDC counts for it after the drop before, + the revival

    @property
    def day(self) -> date:
        return date.fromisoformat(self.as_of)


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory, manifest_cache: Path) -> list[Drop]:
    """d1 (3,000 rows), d2..d4 each `synth --next-of` the one before (another seed each); d4 also
    lists again a title d3 deleted (appended with the csv module), so one revival."""
    d = tmp_path_factory.mktemp("drops")
    scratch = d / "home"  # synth writes only --out and its .expected.json
    paths = [d / f"d{k}.csv" for k in range(1, 5)]
    netflix_elt(scratch, "synth", "--rows", ROWS, "--seed", 1, "--out", paths[0])
    expected = [{"inserted": ROWS, "updated": 0, "unchanged": 0, "deleted": 0, "revived": 0}]
    for k in range(1, 4):
        netflix_elt(scratch, "synth", "--next-of", paths[k - 1], "--seed", k + 1, "--out", paths[k])
        counts = json.loads(paths[k].with_name(f"{paths[k].stem}.expected.json").read_text(encoding="utf-8"))
        expected.append({f: counts[f] for f in CDC_FIELDS})

    d2, d3, d4 = (read_drop(p) for p in paths[1:])
    gone_in_d3 = sorted(set(d2) - set(d3))
    assert gone_in_d3 and not set(gone_in_d3) & set(d4), "synth's next drop should not reuse deleted ids"
    revived = gone_in_d3[0]
    with paths[1].open(newline="", encoding="utf-8") as fh:
        row = next(r for r in csv.reader(fh) if r[0] == revived)
    assert paths[3].read_bytes().endswith(b"\n")
    with paths[3].open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(row)
    expected[3]["revived"] += 1
    return [Drop(p, day, e) for p, day, e in zip(paths, AS_OF, expected, strict=True)]


@dataclass(frozen=True)
class InOrder:
    home: Path
    warehouse: Path
    after_one: Path  # a copy of the home after d1 (the late scenario starts there)
    after_three: Path  # a copy of the warehouse after d1..d3


@pytest.fixture(scope="module")
def in_order(tmp_path_factory: pytest.TempPathFactory, drops: list[Drop]) -> InOrder:
    root = tmp_path_factory.mktemp("in_order")
    home = root / "home"
    after_one = root / "after_one"
    after_three = root / "after_three.duckdb"
    for k, drop in enumerate(drops, 1):
        out = netflix_elt(home, "run", "--source", drop.path, "--as-of", drop.as_of)
        assert "late batch" not in out
        if k == 1:  # the home holds no absolute path but dbt's target/, left for dbt to write
            shutil.copytree(home, after_one, symlinks=True, ignore=shutil.ignore_patterns("target"))
        if k == 3:
            assert not (home / "netflix_dw.duckdb.wal").exists()
            shutil.copyfile(home / "netflix_dw.duckdb", after_three)
    return InOrder(home, home / "netflix_dw.duckdb", after_one, after_three)


@dataclass(frozen=True)
class Shuffled:
    home: Path
    warehouse: Path
    outputs: list[str]


SHUFFLED = (3, 1, 4, 2)
THROUGH_INBOX = {1, 2}  # the others with --as-of


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory: pytest.TempPathFactory, drops: list[Drop]) -> Shuffled:
    root = tmp_path_factory.mktemp("shuffled")
    home, inbox = root / "home", root / "inbox"
    outputs = []
    for k in SHUFFLED:
        drop = drops[k - 1]
        if k in THROUGH_INBOX:
            inbox_drop(inbox, drop.path, drop.as_of)
            outputs.append(netflix_elt(home, "run", "--inbox", inbox))
        else:
            outputs.append(netflix_elt(home, "run", "--source", drop.path, "--as-of", drop.as_of))
    return Shuffled(home, home / "netflix_dw.duckdb", outputs)


# ------------------------------------------------------------------------------------------ 1. shuffled = in order


def test_drops_in_order_give_the_counts_synth_predicts(in_order: InOrder, drops: list[Drop]) -> None:
    assert cdc(in_order.warehouse) == {d.day: d.expected for d in drops}
    ledger = rows(in_order.warehouse, "select as_of, as_of_explicit from etl_batches order by batch_seq")
    assert ledger == [(at(d.as_of), True) for d in drops]


def test_shuffled_drops_give_the_in_order_state(in_order: InOrder, shuffled: Shuffled, drops: list[Drop]) -> None:
    # the drops dated before one already applied were replayed in as-of order
    late = [k for k, out in zip(SHUFFLED, shuffled.outputs, strict=True) if "late batch" in out]
    assert late == [1, 2], [out[-2000:] for out in shuffled.outputs]
    arrivals = rows(shuffled.warehouse, "select as_of from etl_batches order by batch_seq")
    assert [a.date() for (a,) in arrivals] == [drops[k - 1].day for k in SHUFFLED]
    assert sorted((shuffled.home.parent / "inbox" / "processed").iterdir()) != []

    want = state(in_order.warehouse)
    assert want["cdc"] == {d.day: d.expected for d in drops}
    assert_same_state(state(shuffled.warehouse), want, "shuffled 3,1,4,2")


# ------------------------------------------------------------------------------------------ 2. rebuild


def test_rebuild_of_the_shuffled_home_gives_the_same_state(in_order: InOrder, shuffled: Shuffled) -> None:
    netflix_elt(shuffled.home, "rebuild")
    assert (shuffled.home / "netflix_dw.duckdb.before-rebuild").is_file()
    assert_same_state(state(shuffled.warehouse), state(in_order.warehouse), "shuffled, then rebuilt")
    netflix_elt(shuffled.home, "verify")
    netflix_elt(in_order.home, "verify")


# ------------------------------------------------------------------------------------------ 3. independent SCD2


def test_history_equals_an_scd2_computed_from_the_csv_files(in_order: InOrder, drops: list[Drop]) -> None:
    """Staging trims, empties to NULL, normalises `type`, parses dates and moves a misplaced
    duration; synth changes only `rating` (to another accepted one) and `description`, so a row
    changes in the warehouse exactly when its trimmed text does, and `title` passes unchanged."""
    model = scd2([(d.day, d.path) for d in drops])
    assert model.cdc == {d.day: d.expected for d in drops}  # the model agrees with synth
    assert sum(c["revived"] for c in model.cdc.values()) == 1
    assert_history_is(in_order.warehouse, model, "in order")

    # the open version of every key is the current table's row
    current = dict(rows(in_order.warehouse, "select show_id, is_deleted from analytics_netflix_current"))
    assert current == {sid: h[-1].is_deleted for sid, h in model.versions.items()}
    assert rows(
        in_order.warehouse,
        "select count(*) filter (where is_current), count(*) filter (where valid_to is null), "
        "count(distinct show_id) from analytics_netflix_history",
    ) == [(len(model.versions),) * 3]


# ------------------------------------------------------------------------------------------ 4. a late snapshot


@dataclass(frozen=True)
class Late:
    home: Path
    warehouse: Path
    output: str  # the run of the late drop


@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory, in_order: InOrder, drops: list[Drop]) -> Late:
    """d1 (2021-01-01), d3 (2021-01-03), then d2 (2021-01-02) arrives last. The d1 run is the
    in-order home's first (the same command on an empty home): this home starts from its copy."""
    _, d2, d3, _ = drops
    home = tmp_path_factory.mktemp("late") / "home"
    shutil.copytree(in_order.after_one, home, symlinks=True)
    netflix_elt(home, "run", "--source", d3.path, "--as-of", d3.as_of)
    out = netflix_elt(home, "run", "--source", d2.path, "--as-of", d2.as_of)
    return Late(home, home / "netflix_dw.duckdb", out)


def test_a_late_snapshot_takes_its_place_between_its_neighbours(
    late: Late, in_order: InOrder, drops: list[Drop]
) -> None:
    d1, d2, d3, _ = drops
    assert "1 late batch" in late.output, late.output[-3000:]
    warehouse = late.warehouse

    # the current table is d3's catalog
    listed = read_drop(d3.path)
    current = {
        sid: (title, description)
        for sid, title, description in rows(
            warehouse, "select show_id, title, description from analytics_netflix_current where not is_deleted"
        )
    }
    assert current == {sid: (r["title"], r["description"]) for sid, r in listed.items()}
    ever = set(read_drop(d1.path)) | set(read_drop(d2.path)) | set(listed)
    deleted = {r[0] for r in rows(warehouse, "select show_id from analytics_netflix_current where is_deleted")}
    assert deleted == ever - set(listed)

    # d2's versions sit between d1's and d3's
    model = scd2([(d.day, d.path) for d in (d1, d2, d3)])
    assert_history_is(warehouse, model, "d1, d3, then d2 late")
    # d1's versions that d2 changed or deleted end at d2; d2's changes begin there
    closed, opened = rows(
        warehouse,
        "select count(*) filter (where valid_from = $1 and valid_to = $2), count(*) filter (where valid_from = $2) "
        "from analytics_netflix_history",
        [at(d1.as_of), at(d2.as_of)],
    )[0]
    assert closed == d2.expected["updated"] + d2.expected["deleted"] > 0
    assert opened == d2.expected["updated"] + d2.expected["deleted"] + d2.expected["inserted"]
    assert cdc(warehouse) == {d.day: d.expected for d in (d1, d2, d3)}

    assert_same_state(state(warehouse), state(in_order.after_three), "d1, d3, then d2 late")
    netflix_elt(late.home, "verify")


def test_after_a_late_drop_the_exports_are_those_of_the_replayed_warehouse(late: Late, drops: list[Drop]) -> None:
    """The replay changed the current table (the titles d2 added were first seen on d2's date now,
    not d3's) while the newest batch stayed d3: exports/ must be written again all the same."""
    d2 = drops[1]
    first_seen_d2 = rows(
        late.warehouse, "select count(*) from analytics_netflix_current where first_seen_at = ?", [at(d2.as_of)]
    )[0][0]
    assert first_seen_d2 == d2.expected["inserted"] > 0
    exported = late.home / "exports" / "analytics_netflix_current.parquet"
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{late.warehouse}' as w (read_only)")
        stale = con.execute(
            f"select count(*) from ((select * from read_parquet('{exported}') except all "
            "select * from w.analytics_netflix_current) union all (select * from w.analytics_netflix_current "
            f"except all select * from read_parquet('{exported}')))"
        ).fetchone()[0]
    finally:
        con.close()
    assert stale == 0, f"exports/{exported.name}: {stale} row(s) differ from analytics_netflix_current"


# ------------------------------------------------------------------------------------------ 5. a date in the name


def test_an_inbox_drop_takes_the_date_in_its_name_as_its_as_of(tmp_path: Path, drops: list[Drop]) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox_drop(inbox, drops[0].path, "2021-09-25")
    netflix_elt(home, "run", "--inbox", inbox)
    warehouse = home / "netflix_dw.duckdb"
    assert rows(warehouse, "select source_path, as_of, as_of_explicit from etl_batches") == [
        (str(inbox / "netflix_titles_2021-09-25.csv"), at("2021-09-25"), True)
    ]
    assert (inbox / "processed" / "netflix_titles_2021-09-25.csv").is_file()
    assert rows(warehouse, "select min(valid_from), max(valid_from), count(*) from analytics_netflix_history") == [
        (at("2021-09-25"), at("2021-09-25"), ROWS)
    ]
    assert rows(warehouse, "select min(first_seen_at), max(updated_at) from analytics_netflix_current") == [
        (at("2021-09-25"), at("2021-09-25"))
    ]
