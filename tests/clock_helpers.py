"""What test_clock.py and test_clock_steps.py share: running `netflix-elt` as a real process under
libfaketime's `faketime`, the three drops, and reading the state a stepped clock must not change.
(Two modules, so that `pytest -n 2 --dist loadscope` runs them on both workers at once.)"""

from __future__ import annotations

import csv
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import BRIDGES, CANONICAL, VARIANTS, netflix_elt_process

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


@dataclass(frozen=True)
class Drops:
    first: Path
    second: Path
    third: Path


def make_drops(folder: Path) -> Drops:
    return Drops(CANONICAL, TRAILING, write_third_drop(folder / "netflix_titles_third.csv"))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)
