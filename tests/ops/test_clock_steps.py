"""The clock that steps, between drops (test_clock.py has the reported bug and explicit as-ofs):

2. Steps of seconds, hours and years, back and forward: drop 1 with the correct clock, drop 2
   under the stepped clock, drop 3 with the correct clock again give the same current table,
   history, bridges, KPIs and CDC counts as the three drops with a correct clock throughout.
   History is monotonic by construction: each version starts at its batch's as-of, and as-ofs
   increase with the batch sequence. A run after a clock step back warns that the latest
   ingestion lies in the future.
4. What `status` and the dashboard call the latest batch follows the batch order, not the clock
   (read in the home of the 3 h step forward).

Every run is a real `netflix-elt` process under libfaketime's `faketime` (see test_clock.py).
Drop 1 is loaded once into a seed home; each scenario starts from a copy of it (the home holds
no absolute path but dbt's target/, which is left out), and is built once: the tests of a step
read the same home.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from clock_helpers import (
    FUTURE,
    GONE,
    ROWS,
    THIRD_CDC,
    Drops,
    assert_history_monotonic,
    assert_same_state,
    batches,
    business_state,
    copy_home,
    make_drops,
    netflix_elt,
)

pytestmark = pytest.mark.slow

# libfaketime's offsets: s, m, h, d, y (365 days).
SHIFTS = ["-30s", "+30s", "-3h", "+3h", "-2y", "+2y"]
TOLERATED = {"-30s", "+30s"}  # freshness takes a few minutes of disagreement for clock noise


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Drops:
    return make_drops(tmp_path_factory.mktemp("drops"))


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, manifest_cache: Path, drops: Drops) -> Path:
    """Drop 1 loaded with the correct clock (the state every scenario starts from)."""
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


@dataclass(frozen=True)
class Stepped:
    home: Path  # drops 1..3, drop 2 under the stepped clock (read only by the tests)
    skipped: str  # the output of the run that loaded nothing new, with the clock off from drop 2's


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory, seed: Path, drops: Drops) -> Callable[[str], Stepped]:
    """The home of a step, built on first use (a copy of the seed, then):
    - a step back: the drop-1 file again under the stepped clock (nothing new to load), drop 2
      under it, drop 3 with the correct clock;
    - a step forward: drop 2 under the stepped clock, drop 2 again with the correct clock (nothing
      new: drop 2's ingestion now lies in the future), drop 3 with the correct clock."""
    built: dict[str, Stepped] = {}

    def build(shift: str) -> Stepped:
        if shift not in built:
            home = copy_home(seed, tmp_path_factory.mktemp("stepped") / "home")
            if shift.startswith("-"):
                skipped = netflix_elt(home, "run", "--source", drops.first, shift=shift)
                netflix_elt(home, "run", "--source", drops.second, shift=shift)
            else:
                netflix_elt(home, "run", "--source", drops.second, shift=shift)
                skipped = netflix_elt(home, "run", "--source", drops.second)
            netflix_elt(home, "run", "--source", drops.third)
            built[shift] = Stepped(home, skipped)
        return built[shift]

    return build


# ------------------------------------------------------------------------------------------ 2. steps back and forward


@pytest.mark.parametrize("shift", SHIFTS)
def test_a_stepped_clock_gives_the_state_of_a_correct_clock(
    shift: str, stepped: Callable[[str], Stepped], reference: dict[str, Any]
) -> None:
    home, out = stepped(shift).home, stepped(shift).skipped
    # back: the clock stepped back after drop 1, and a run that loads nothing new says so;
    # forward: drop 2 was loaded while the clock was ahead: with the clock right again, it lies in the future
    assert "0 loaded, 1 skipped" in out
    assert bool(FUTURE.search(out)) is (shift not in TOLERATED), out[-3000:]

    assert_same_state(business_state(home), reference, f"clock {shift} for drop 2")
    assert_history_monotonic(home)
    first, second, third = batches(home)
    if shift not in TOLERATED:  # the clock did step: drop 2's ingestion time is out of order
        assert (second["started_at"] < first["started_at"]) is shift.startswith("-")
        assert (second["started_at"] > third["started_at"]) is shift.startswith("+")
    assert first["as_of"] < second["as_of"] < third["as_of"]


# ------------------------------------------------------------------------------------- 4. what is called the latest


def test_status_and_dashboard_name_the_newest_batch_after_the_clock_ran_ahead(
    stepped: Callable[[str], Stepped],
) -> None:
    """Drop 2 loaded with the clock 3 h ahead, drop 3 with the correct clock (between them, the
    correct-clock run that loaded nothing): the published state (reports/state.json, what
    `status` and `monitor` read while a run holds the warehouse) and the dashboard describe
    drop 3, the batch the current table reflects."""
    home = stepped("+3h").home
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
