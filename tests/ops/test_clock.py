"""The clock that steps: runs under a wall clock that is ahead or behind (NTP steps, a VM restored
from a snapshot, a wrong RTC) give the state that a correct clock gives.

Every run is a real `netflix-elt` process; a stepped clock is libfaketime's (`faketime`), which
moves the wall clock of Python and of DuckDB in that process. `--exclude-monotonic` leaves
CLOCK_MONOTONIC alone, as a real step does (faking it too makes every timed wait of the process
hang: libfaketime hands the kernel deadlines on the faked monotonic clock).

1. The reported bug: a first run with the clock 30 s ahead, then a run with the correct clock: its
   5 updates reach the current table and the SCD2 history, and later runs go on.
2. (test_clock_steps.py) Steps of seconds, hours and years, back and forward, between drops; and
   what `status` and the dashboard call the latest batch after a step.
3. With explicit `--as-of` dates the state is the same, timestamps included, whatever the clock.

The helpers (the three drops, the state read back) are in clock_helpers.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from clock_helpers import (
    GONE,
    ROWS,
    THIRD_CDC,
    Drops,
    assert_history_monotonic,
    assert_same_state,
    at,
    batches,
    cdc,
    full_state,
    make_drops,
    netflix_elt,
    one,
    rows,
)

from conftest import BRIDGES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Drops:
    return make_drops(tmp_path_factory.mktemp("drops"))


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


# ------------------------------------------------------------------------------------------ 3. explicit as-of


AS_OF = ("2021-06-01", "2021-07-01", "2021-08-01")


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
