"""The clock that steps: runs under a wall clock that is ahead or behind (NTP steps, a VM restored
from a snapshot, a wrong RTC) give the state that a correct clock gives.

Every run is a real `netflix-elt` process; a stepped clock is libfaketime's (`faketime`), which
moves the wall clock of Python and of DuckDB in that process. `--exclude-monotonic` leaves
CLOCK_MONOTONIC alone, as a real step does (faking it too makes every timed wait of the process
hang: libfaketime hands the kernel deadlines on the faked monotonic clock).

1. The reported bug: a first run with the clock 30 s ahead, then a run with the correct clock: its
   5 updates reach the current table and the SCD2 history, and later runs go on.
2. Steps of seconds, hours and years, back and forward: drop 1 with the correct clock, drop 2
   under the stepped clock, drop 3 with the correct clock again give the same current table,
   history, bridges, KPIs and CDC counts as the three drops with a correct clock throughout.
   History is monotonic by construction: each version starts at its batch's as-of, and as-ofs
   increase with the batch sequence. A run after a clock step back warns that the latest
   ingestion lies in the future.
3. With explicit `--as-of` dates the state is the same, timestamps included, whatever the clock.
4. What `status` and the dashboard call the latest batch follows the batch order, not the clock.

Drop 1 is loaded once into a seed home; each scenario starts from a copy of it (the home holds
no absolute path but dbt's target/, which is left out).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import BRIDGES, CANONICAL, VARIANTS, netflix_elt_process

pytestmark = pytest.mark.slow

TRAILING = VARIANTS / "netflix_titles_trailing_empty_column.csv"
FAKETIME = Path(os.environ.get("NETFLIX_ELT_FAKETIME", "/usr/bin/faketime"))
ROWS = 8807
# Business columns of the current table: everything but the times and the batch ids.
CURRENT_BUSINESS = (
    "show_id, type, title, director, cast_members, country, date_added, release_year, rating, duration, "
    "duration_minutes, seasons, listed_in, description, row_hash, is_deleted, last_change_type"
)
FUTURE = re.compile(r"latest ingestion \S+ lies [\d.,]+h in the future")

# The third drop: the canonical file with 4 titles gone, 2 descriptions and 1 title changed.
GONE = ("s10", "s200", "s3000", "s8000")
NEW_DESCRIPTION = {"s15": " Now remastered.", "s1500": " Now in 4K."}
NEW_TITLE = {"s4000": " (Director's Cut)"}
# After the trailing-column variant (5 rows differ from canonical), the third drop reverts those 5
# and changes 3 more: 8 updates, 4 deletions.
THIRD_CDC = (0, 8, ROWS - 4 - 8, 4, 0)  # inserted, updated, unchanged, deleted, revived


# ------------------------------------------------------------------------------------------ helpers


def netflix_elt(home: Path, *args: Any, shift: str | None = None, exact_faketime: bool = False) -> str:
    """Run `netflix-elt --home HOME ARGS` (under `faketime -f SHIFT` when given); assert exit 0 and
    return stdout + stderr."""
    prefix: list[str] = []
    if shift is not None:
        if not FAKETIME.is_file():
            pytest.fail(f"faketime not found at {FAKETIME}: apt-get install -y faketime (or set NETFLIX_ELT_FAKETIME)")
        prefix = [str(FAKETIME), *([] if exact_faketime else ["--exclude-monotonic"]), "-f", shift]
    return netflix_elt_process(home, *args, prefix=prefix, timeout=600)


def rows(home: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(home / "netflix_dw.duckdb"), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def one(home: Path, sql: str, params: list[Any] | None = None) -> Any:
    return rows(home, sql, params)[0][0]


def copy_home(seed: Path, dest: Path) -> Path:
    """A home in the state of `seed` (dbt's target/ holds absolute paths: left for dbt to write)."""
    shutil.copytree(seed, dest, symlinks=True, ignore=shutil.ignore_patterns("target"))
    return dest


def write_third_drop(out: Path) -> Path:
    with CANONICAL.open(newline="", encoding="utf-8") as fh:
        header, *body = csv.reader(fh)
    kept = []
    for row in body:
        if row[0] in GONE:
            continue
        row[11] += NEW_DESCRIPTION.get(row[0], "")
        row[2] += NEW_TITLE.get(row[0], "")
        kept.append(row)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(kept)
    return out


def batches(home: Path) -> list[dict[str, Any]]:
    cols = ("batch_id", "batch_seq", "as_of", "started_at", "finished_at", "as_of_explicit", "source_path")
    return [
        dict(zip(cols, r, strict=True))
        for r in rows(home, f"select {', '.join(cols)} from etl_batches where status = 'succeeded' order by batch_seq")
    ]


def cdc(home: Path) -> list[tuple]:
    """(batch_seq, staged, duplicates, inserted, updated, unchanged, deleted, revived) per batch."""
    return rows(
        home,
        "select b.batch_seq, t.staged_rows, t.duplicates_dropped, t.inserted, t.updated, t.unchanged, t.deleted, "
        "t.revived from etl_transforms t join etl_batches b using (batch_id) where t.status = 'succeeded' "
        "qualify row_number() over (partition by t.batch_id order by t.finished_at desc) = 1 order by b.batch_seq",
    )


def kpi_tables(home: Path) -> list[str]:
    names = [
        r[0]
        for r in rows(
            home, "select table_name from information_schema.tables where starts_with(table_name, 'kpi_') order by 1"
        )
    ]
    assert len(names) >= 8, names
    return names


def business_state(home: Path) -> dict[str, Any]:
    """What a stepped clock must not change: everything but timestamps and batch ids."""
    s: dict[str, Any] = {
        "current": rows(home, f"select {CURRENT_BUSINESS} from analytics_netflix_current order by show_id"),
        "history": rows(
            home,
            "select show_id, list((row_hash, is_deleted, change_type) order by valid_from) "
            "from analytics_netflix_history group by show_id order by show_id",
        ),
        "cdc": [r[1:] for r in cdc(home)],
        "batches": [b["batch_seq"] for b in batches(home)],
    }
    for bridge in BRIDGES:
        s[bridge] = rows(home, f"select show_id, value, position from {bridge} order by all")
    for kpi in kpi_tables(home):
        s[kpi] = rows(home, f"select * from {kpi} order by all")
    return s


def full_state(home: Path) -> dict[str, Any]:
    """Every column of the models, bridges and KPIs, timestamps included; batch ids (which carry
    the wall clock) replaced by the batch's sequence number."""
    seq = "(select batch_seq from etl_batches b where b.batch_id = {})"
    s: dict[str, Any] = {
        "current": rows(
            home,
            "select * exclude (first_seen_batch_id, last_changed_batch_id), "
            f"{seq.format('c.first_seen_batch_id')}, {seq.format('c.last_changed_batch_id')} "
            "from analytics_netflix_current c order by show_id",
        ),
        "history": rows(
            home,
            f"select * exclude (batch_id), {seq.format('h.batch_id')} from analytics_netflix_history h "
            "order by show_id, valid_from",
        ),
        "cdc": cdc(home),
        "batches": rows(
            home,
            "select batch_seq, as_of, as_of_explicit, mode, rows_read, rows_loaded, rows_quarantined, source_sha256 "
            "from etl_batches order by batch_seq",
        ),
    }
    for table in (*BRIDGES, *kpi_tables(home)):
        s[table] = rows(home, f"select * from {table} order by all")
    return s


def assert_same_state(got: dict[str, Any], want: dict[str, Any], label: str) -> None:
    """Equal, table by table; a mismatch names the table and its first differing rows (not a
    diff of 8,807 rows)."""
    assert got.keys() == want.keys(), label
    for table, expected in want.items():
        actual = got[table]
        if actual == expected:
            continue
        missing = [r for r in expected if r not in actual][:3]
        extra = [r for r in actual if r not in expected][:3]
        pytest.fail(
            f"{label}: {table} differs ({len(actual)} rows vs {len(expected)} with a correct clock)\n"
            f"  only with the correct clock: {missing}\n  only here: {extra}"
        )


def assert_history_monotonic(home: Path) -> None:
    """As-ofs increase strictly with the batch sequence, every version starts at its batch's
    as-of, so valid_from increases strictly per key, each version starts after the previous
    batch's as-of, and versions chain (valid_to = the next version's valid_from)."""
    ledger = batches(home)
    as_ofs = [b["as_of"] for b in ledger]
    assert as_ofs == sorted(as_ofs) and len(set(as_ofs)) == len(as_ofs), as_ofs
    assert not rows(
        home,
        "select h.show_id, h.batch_id, h.valid_from, b.as_of from analytics_netflix_history h "
        "join etl_batches b using (batch_id) where h.valid_from <> b.as_of limit 5",
    )
    assert not rows(
        home,
        "select h.show_id, h.valid_from, p.as_of from analytics_netflix_history h join etl_batches b using (batch_id) "
        "join etl_batches p on p.batch_seq = (select max(x.batch_seq) from etl_batches x "
        "where x.status = 'succeeded' and x.batch_seq < b.batch_seq) where h.valid_from < p.as_of limit 5",
    )
    assert not rows(
        home,
        "select show_id, valid_from, valid_to, next_from from (select show_id, valid_from, valid_to, "
        "lead(valid_from) over (partition by show_id order by valid_from) as next_from, "
        "lag(valid_from) over (partition by show_id order by valid_from) as prev_from "
        "from analytics_netflix_history) where valid_from <= prev_from or valid_to is distinct from next_from limit 5",
    )
    assert one(home, "select count(*) from analytics_netflix_history where is_current") == one(
        home, "select count(*) from analytics_netflix_current"
    )


# ------------------------------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Drops:
    first: Path
    second: Path
    third: Path


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Drops:
    return Drops(CANONICAL, TRAILING, write_third_drop(tmp_path_factory.mktemp("drops") / "netflix_titles_third.csv"))


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, manifest_cache: Path, drops: Drops) -> Path:
    """Drop 1 loaded with the correct clock (the state every scenario but the first starts from)."""
    home = tmp_path_factory.mktemp("seed") / "home"
    netflix_elt(home, "run", "--source", drops.first)
    return home


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, seed: Path, drops: Drops) -> dict[str, Any]:
    """The three drops with a correct clock throughout."""
    home = copy_home(seed, tmp_path_factory.mktemp("reference") / "home")
    netflix_elt(home, "run", "--source", drops.second)
    netflix_elt(home, "run", "--source", drops.third)
    state = business_state(home)
    assert state["cdc"][1][2:] == (0, 5, ROWS - 5, 0, 0)
    assert state["cdc"][2][2:] == THIRD_CDC
    return state


# ------------------------------------------------------------------------------------------ 1. the reported bug


def test_a_run_after_the_clock_ran_ahead_applies_its_updates(tmp_path: Path, manifest_cache: Path, drops: Drops):
    """`faketime -f '+30s' netflix-elt run --source CANONICAL`, then a run with the correct clock:
    the watermarks (the newest version's valid_from) lay 30 s ahead of the second run's ingestion
    time, so its 5 updates never reached the history. Run as reported (monotonic clock faked too)."""
    home = tmp_path / "home"
    netflix_elt(home, "run", "--source", drops.first, shift="+30s", exact_faketime=True)
    versions_before = one(home, "select count(*) from analytics_netflix_history")
    assert versions_before == ROWS

    out = netflix_elt(home, "run", "--source", drops.second)
    assert "0 inserted, 5 updated, 8,802 unchanged, 0 deleted, 0 revived" in out
    first, second = batches(home)
    assert second["as_of"] > first["as_of"]  # not the clock, which was behind the first run's
    b2 = second["batch_id"]

    updated = rows(
        home,
        "select show_id, row_hash from analytics_netflix_current where last_changed_batch_id = ? "
        "and last_change_type = 'update' order by show_id",
        [b2],
    )
    assert [r[0] for r in updated] == ["s3963", "s3997", "s4523", "s5657", "s5900"]
    assert one(home, "select count(*) from analytics_netflix_history") == versions_before + 5
    assert (
        rows(
            home,
            "select show_id, row_hash from analytics_netflix_history where batch_id = ? and change_type = 'update' "
            "and is_current order by show_id",
            [b2],
        )
        == updated
    )
    assert not rows(
        home, "select show_id from analytics_netflix_history where is_current group by show_id having count(*) <> 1"
    )
    assert one(home, "select count(distinct show_id) from analytics_netflix_history where is_current") == ROWS
    assert_history_monotonic(home)

    bridge_tests = rows(
        home,
        'select "check", status from dq_results '
        "where batch_id = ? and starts_with(\"check\", 'dbt:bridge_matches_current')",
        [b2],
    )
    assert len({c for c, _ in bridge_tests}) == len(BRIDGES), bridge_tests
    assert all(status == "pass" for _, status in bridge_tests), bridge_tests

    out = netflix_elt(home, "run", "--source", drops.third)
    assert "0 inserted, 8 updated, 8,795 unchanged, 4 deleted, 0 revived" in out
    assert cdc(home)[-1][3:] == THIRD_CDC
    assert one(home, "select count(*) from analytics_netflix_current where is_deleted") == len(GONE)
    assert_history_monotonic(home)


# ------------------------------------------------------------------------------------------ 2. steps back and forward

# libfaketime's offsets: s, m, h, d, y (365 days).
SHIFTS = ["-30s", "+30s", "-3h", "+3h", "-2y", "+2y"]
TOLERATED = {"-30s", "+30s"}  # freshness takes a few minutes of disagreement for clock noise


@pytest.mark.parametrize("shift", SHIFTS)
def test_a_stepped_clock_gives_the_state_of_a_correct_clock(
    shift: str, tmp_path: Path, seed: Path, drops: Drops, reference: dict[str, Any]
) -> None:
    home = copy_home(seed, tmp_path / "home")
    if shift.startswith("-"):
        # The clock stepped back after drop 1: a run that loads nothing new says so.
        out = netflix_elt(home, "run", "--source", drops.first, shift=shift)
        assert "0 loaded, 1 skipped" in out
        assert bool(FUTURE.search(out)) is (shift not in TOLERATED), out[-3000:]
    netflix_elt(home, "run", "--source", drops.second, shift=shift)
    if shift.startswith("+"):
        # Drop 2 was loaded while the clock was ahead: with the clock right again, it lies in the future.
        out = netflix_elt(home, "run", "--source", drops.second)
        assert "0 loaded, 1 skipped" in out
        assert bool(FUTURE.search(out)) is (shift not in TOLERATED), out[-3000:]
    netflix_elt(home, "run", "--source", drops.third)

    assert_same_state(business_state(home), reference, f"clock {shift} for drop 2")
    assert_history_monotonic(home)
    first, second, third = batches(home)
    if shift not in TOLERATED:  # the clock did step: drop 2's ingestion time is out of order
        assert (second["started_at"] < first["started_at"]) is shift.startswith("-")
        assert (second["started_at"] > third["started_at"]) is shift.startswith("+")
    assert first["as_of"] < second["as_of"] < third["as_of"]


# ------------------------------------------------------------------------------------------ 3. explicit as-of


AS_OF = ("2021-06-01", "2021-07-01", "2021-08-01")


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_with_explicit_as_of_dates_the_clock_changes_nothing(tmp_path: Path, manifest_cache: Path, drops: Drops):
    """Each drop under another wrong clock (ahead by years, behind by years, behind by hours) vs
    all three with a correct clock: the same state, timestamps included."""
    sources = (drops.first, drops.second, drops.third)
    correct, stepped = tmp_path / "correct", tmp_path / "stepped"
    for source, as_of, shift in zip(sources, AS_OF, ("+2y", "-2y", "-3h"), strict=True):
        netflix_elt(correct, "run", "--source", source, "--as-of", as_of)
        netflix_elt(stepped, "run", "--source", source, "--as-of", as_of, shift=shift)
    assert [b["as_of"].date().isoformat() for b in batches(stepped)] == list(AS_OF)
    assert batches(stepped)[0]["started_at"] > batches(correct)[0]["started_at"] + timedelta(days=700)
    want = full_state(correct)
    assert_same_state(full_state(stepped), want, "explicit --as-of under stepped clocks")
    assert_history_monotonic(stepped)
    # the times are the as-ofs: drop 1's titles were first seen on its date, the 5 updates on drop 2's
    assert one(stepped, "select min(first_seen_at) from analytics_netflix_current") == at(AS_OF[0])
    assert one(stepped, "select count(*) from analytics_netflix_history where valid_from = ?", [at(AS_OF[1])]) == 5


# ------------------------------------------------------------------------------------- 4. what is called the latest


def test_status_and_dashboard_name_the_newest_batch_after_the_clock_ran_ahead(
    tmp_path: Path, seed: Path, drops: Drops
) -> None:
    """Drop 2 loaded with the clock 3 h ahead, drop 3 with the correct clock: the published state
    (reports/state.json, what `status` and `monitor` read while a run holds the warehouse) and the
    dashboard describe drop 3, the batch the current table reflects."""
    home = copy_home(seed, tmp_path / "home")
    netflix_elt(home, "run", "--source", drops.second, shift="+3h")
    netflix_elt(home, "run", "--source", drops.third)
    *_, second, third = batches(home)
    assert second["finished_at"] > third["finished_at"]  # the clock was ahead for drop 2

    newest = third["batch_id"]
    problems = []
    state = json.loads((home / "reports" / "state.json").read_text(encoding="utf-8"))
    if state["batches"][0]["batch_id"] != newest:
        problems.append(f"state.json lists {state['batches'][0]['batch_id']} as the newest batch")
    checked = {c["batch_id"] for c in state["checks"]}
    if checked != {newest}:
        problems.append(f"state.json (status, monitor) gives the checks of batch {sorted(checked)}")
    if datetime.fromisoformat(state["latest_ingestion"]) != third["finished_at"]:
        problems.append(f"state.json gives the latest ingestion as {state['latest_ingestion']} (drop 2's, ahead)")
    html = (home / "reports" / "dashboard.html").read_text(encoding="utf-8")
    shown = re.findall(r"batch <code>([^<]+)</code> from", html)
    if shown != [newest]:
        problems.append(f"the dashboard says its figures are of batch {shown}")
    shown = re.findall(r"Latest result of each check for batch <code>([^<]+)</code>", html)
    if shown != [newest]:
        problems.append(f"the dashboard shows the checks of batch {shown}")
    titles = re.findall(r'<div class="stat-value">([\d,]+)</div><div class="stat-label">titles</div>', html)
    if titles != [f"{ROWS - len(GONE):,}"]:
        problems.append(f"the dashboard counts {titles} titles, not drop 3's {ROWS - len(GONE):,}")
    assert not problems, f"the newest batch is {newest} (drop 3); drop 2 is {second['batch_id']}:\n" + "\n".join(
        problems
    )
