"""The dbt transformation: KPI values, CDC scenarios with exact counts, SCD2 history, the guard."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from netflix_elt.core.home import Home
from netflix_elt.ingest.load import IngestOptions
from netflix_elt.ops.pipeline import RunResult, run_pipeline
from netflix_elt.transform.batches import (
    DeletesRefused,
    KeyRemapRefused,
    PendingBatch,
    TransformOptions,
    transform_batch,
)
from netflix_elt.transform.dbt import Dbt, project_dir
from netflix_elt.transform.registry import kpi_models

from conftest import CANONICAL, VARIANTS, query, scalar

pytestmark = pytest.mark.slow


def run(
    home: Home,
    *sources: Path,
    force: bool = False,
    mode: str = "snapshot",
    accept_key_changes: bool = False,
    accept_deletes: bool = False,
    **topts,
) -> RunResult:
    options = IngestOptions(
        force=force, mode=mode, accept_key_changes=accept_key_changes, accept_deletes=accept_deletes
    )
    return run_pipeline(home, list(sources) or None, options, TransformOptions(**topts))


def counts(result: RunResult) -> tuple[int, int, int, int, int]:
    (t,) = result.transforms
    c = t.counts
    return (c.inserted, c.updated, c.unchanged, c.deleted, c.revived)


def derive(src: Path, out: Path, select: str) -> Path:
    """A drop made from another with SQL over its rows (all VARCHAR)."""
    duckdb.execute(
        f"copy (select * from ({select.format(src='read_csv($1, all_varchar=true)')})) to '{out}' (header)",
        [str(src)],
    )
    return out


def test_sample_builds_the_kpis_the_business_expects(home: Home) -> None:
    result = run(home)
    assert counts(result) == (8807, 0, 0, 0, 0)
    assert result.transforms[0].tests_failed == 0
    assert query(home, "select * from kpi_movies_vs_tv order by type") == [("Movie", 6131), ("TV Show", 2676)]
    assert query(home, "select * from kpi_titles_by_country limit 3") == [
        ("United States", 3690),
        ("India", 1046),
        ("United Kingdom", 806),
    ]
    assert scalar(home, "select count(*) from kpi_titles_by_country") == 10
    assert scalar(home, "select count(date_added) from staging_netflix_titles") == 8797
    assert scalar(home, "select count(distinct value) from netflix_title_countries") == 122
    assert scalar(home, "select count(distinct value) from netflix_title_genres") == 42
    # the three misplaced durations moved out of rating
    assert query(
        home,
        "select show_id, rating, duration_minutes from analytics_netflix_current where show_id in "
        "('s5542', 's5795', 's5814') order by show_id",
    ) == [("s5542", None, 74), ("s5795", None, 84), ("s5814", None, 66)]
    # multi-country titles count for each country (the original pipeline counted the string)
    multi = scalar(home, "select count(*) from analytics_netflix_current where country like '%,%'")
    assert multi == 1320
    assert scalar(home, "select count(*) from kpi_titles_by_country where country like '%,%'") == 0
    # every KPI view answers
    for view in kpi_models():
        assert scalar(home, f"select count(*) from {view}") > 0, view
    assert scalar(home, "select sum(total_titles) from kpi_titles_added_by_month") == 8797
    assert query(home, "select * from kpi_country_recent_growth limit 1") == [("United States", 2232)]
    # history: one current version per title
    assert query(home, "select count(*), count(*) filter (where is_current) from analytics_netflix_history") == [
        (8807, 8807)
    ]
    row = query(home, "select status, inserted, staged_rows from etl_transforms")
    assert row == [("succeeded", 8807, 8807)]


def test_same_content_again_changes_nothing(home: Home) -> None:
    first = run(home)
    before = query(home, "select show_id, row_hash, updated_at, last_changed_batch_id from analytics_netflix_current")
    again = run(home, force=True)
    assert counts(again) == (0, 0, 8807, 0, 0)
    assert (
        query(home, "select show_id, row_hash, updated_at, last_changed_batch_id from analytics_netflix_current")
        == before
    )
    assert scalar(home, "select count(*) from analytics_netflix_history") == 8807

    # re-running the very same batch (as after a crash) changes nothing either
    batch_id = first.batches[0].batch_id
    redo = transform_batch(
        home, Dbt(home), "rerun", PendingBatch(batch_id, "snapshot", str(CANONICAL)), TransformOptions()
    )
    assert (redo.counts.inserted, redo.counts.updated, redo.counts.deleted) == (0, 0, 0)
    assert scalar(home, "select count(*) from analytics_netflix_history") == 8807


def test_trailing_column_variant_updates_five_then_back(home: Home) -> None:
    run(home)
    first_batch = scalar(home, "select min(batch_id) from etl_batches")
    trailing = run(home, VARIANTS / "netflix_titles_trailing_empty_column.csv")
    assert counts(trailing) == (0, 5, 8802, 0, 0)
    changed = [r[0] for r in query(home, "select show_id from int_netflix_changes order by show_id")]
    assert len(changed) == 5
    # unchanged rows were not rewritten: they still carry the first batch
    assert (
        scalar(home, "select count(*) from analytics_netflix_current where last_changed_batch_id = ?", [first_batch])
        == 8802
    )

    back = run(home, force=True)
    assert counts(back) == (0, 5, 8802, 0, 0)
    versions = query(
        home,
        "select show_id, count(*), count(*) filter (where is_current), count(distinct row_hash) "
        "from analytics_netflix_history where show_id in (select unnest(?)) group by 1",
        [changed],
    )
    assert sorted(versions) == [(sid, 3, 1, 2) for sid in changed]
    # the current version equals the first one again
    assert (
        scalar(
            home,
            "select count(*) from analytics_netflix_history h join analytics_netflix_current c "
            "using (show_id) where h.is_current and h.row_hash <> c.row_hash",
        )
        == 0
    )


def test_removed_rows_are_soft_deleted_then_revived(home: Home, tmp_path: Path) -> None:
    run(home)
    fewer = derive(
        CANONICAL,
        tmp_path / "fewer.csv",
        "select * from {src} where show_id not in ('s1', 's2', 's3', 's4', 's5', 's6', 's7')",
    )
    gone = run(home, fewer)
    assert counts(gone) == (0, 0, 8800, 7, 0)
    assert query(
        home, "select count(*), min(deleted_at) is not null from analytics_netflix_current where is_deleted"
    ) == [(7, True)]
    assert query(home, "select * from kpi_movies_vs_tv order by 1") != [("Movie", 6131), ("TV Show", 2676)]
    assert scalar(home, "select sum(total_titles) from kpi_movies_vs_tv") == 8800
    assert scalar(home, "select count(*) from netflix_title_countries where show_id = 's1'") == 0

    back = run(home, force=True)
    assert counts(back) == (0, 0, 8800, 0, 7)
    assert scalar(home, "select count(*) from analytics_netflix_current where is_deleted") == 0
    assert query(home, "select * from kpi_movies_vs_tv order by 1") == [("Movie", 6131), ("TV Show", 2676)]
    assert query(
        home, "select is_deleted, is_current from analytics_netflix_history where show_id = 's1' order by valid_from"
    ) == [(False, False), (True, False), (False, True)]


def test_delta_drop_only_upserts(home: Home, tmp_path: Path) -> None:
    run(home)
    delta = derive(
        CANONICAL,
        tmp_path / "delta.csv",
        "select * replace (case when show_id = 's1' then 'New description' else description end as description) "
        "from {src} where show_id in ('s1', 's2') union all "
        "select * replace ('s99999' as show_id, 'Brand New' as title) from {src} where show_id = 's3'",
    )
    result = run(home, delta, mode="delta")
    assert counts(result) == (1, 1, 1, 0, 0)
    assert scalar(home, "select count(*) from analytics_netflix_current where not is_deleted") == 8808


def test_a_change_in_any_single_column_is_detected(home: Home, tmp_path: Path) -> None:
    run(home)
    # one title per column, each with only that column changed
    edits = {
        "type": ("s10", "'TV Show'"),
        "title": ("s11", "'Other title'"),
        "director": ("s12", "'Someone Else'"),
        "cast": ("s13", "'Only One Actor'"),
        "country": ("s14", "'Narnia'"),
        "date_added": ("s15", "'January 1, 2020'"),
        "release_year": ("s16", "'1900'"),
        "rating": ("s17", "'NC-17'"),
        "duration": ("s18", "'999 min'"),
        "listed_in": ("s19", "'Dramas'"),
        "description": ("s21", "description || '!'"),
    }
    replaces = ", ".join(
        f'case when show_id = \'{sid}\' then {value} else "{col}" end as "{col}"' for col, (sid, value) in edits.items()
    )
    edited = derive(CANONICAL, tmp_path / "edits.csv", f"select * replace ({replaces}) from {{src}}")
    # and s1's director moved, unchanged, into its empty cast: no bare concatenation may hide that
    drop = derive(
        edited,
        tmp_path / "shifted.csv",
        "select * replace (case when show_id = 's1' then null else director end as director, "
        'case when show_id = \'s1\' then director else "cast" end as "cast") from {src}',
    )
    assert query(
        home, "select director is not null, \"cast\" is null from raw_netflix_titles where show_id = 's1'"
    ) == [(True, True)]
    result = run(home, drop)
    assert counts(result) == (0, 12, 8795, 0, 0)
    expected = sorted([sid for sid, _ in edits.values()] + ["s1"])
    assert sorted(r[0] for r in query(home, "select show_id from int_netflix_changes")) == expected


def test_renumbered_release_is_refused_by_the_key_remap_guard(home: Home) -> None:
    run(home)
    before = query(home, "select show_id, row_hash from analytics_netflix_current order by show_id")
    refused = run(home, VARIANTS / "netflix_titles_2020_7787rows.csv")
    assert_refused(
        refused,
        KeyRemapRefused,
        r"7,772 of 7,772 matched show_ids \(100%\) changed title.*s1: 'Dick Johnson Is Dead' -> '3%'",
    )
    assert query(home, "select show_id, row_hash from analytics_netflix_current order by show_id") == before
    assert scalar(home, "select count(*) from analytics_netflix_history") == 8807
    assert query(home, "select status from etl_transforms order by started_at") == [("succeeded",), ("refused",)]

    # a refused batch is final: the next run does not retry it
    assert run(home).transforms == []
    # accepted as renumbered, it still deletes 1,035 of 8,807 titles: the mass-deletion guard's turn
    assert_refused(
        run(home, VARIANTS / "netflix_titles_2020_7787rows.csv", force=True, accept_key_changes=True),
        DeletesRefused,
        r"^\S*/netflix_titles_2020_7787rows.csv: batch \S+ refused: it would delete 1,035 of 8,807 active titles",
    )
    assert query(home, "select show_id, row_hash from analytics_netflix_current order by show_id") == before
    accepted = run(
        home, VARIANTS / "netflix_titles_2020_7787rows.csv", force=True, accept_key_changes=True, accept_deletes=True
    )
    assert counts(accepted)[1] == 7772
    assert scalar(home, "select count(*) from analytics_netflix_current where is_deleted") == 8807 - 7772


def assert_refused(result: RunResult, kind: type, pattern: str) -> None:
    """The run refused exactly one drop, with this kind and message; it exits 2 and says so."""
    import re

    assert [type(e) for e in result.refused] == [kind], result.refused
    assert re.search(pattern, str(result.refused[0])), str(result.refused[0])
    assert result.exit_code() == 2 and result.status == "refused"


def _first_lines(src: Path, out: Path, keep: int) -> Path:
    """The header and the first `keep` records of a drop, cut at a record boundary (a truncated
    upload that ends cleanly, so only the row count gives it away)."""
    import csv

    with src.open(newline="", encoding="utf-8") as fh, out.open("w", newline="", encoding="utf-8") as w:
        reader, writer = csv.reader(fh), csv.writer(w)
        for i, row in enumerate(reader):
            if i > keep:
                break
            writer.writerow(row)
    return out


def test_a_truncated_snapshot_is_refused_by_the_mass_deletion_guard(home: Home, tmp_path: Path) -> None:
    run(home)
    before = query(home, "select show_id, row_hash, is_deleted from analytics_netflix_current order by show_id")
    history = scalar(home, "select count(*) from analytics_netflix_history")
    cut = _first_lines(CANONICAL, tmp_path / "netflix_titles_cut.csv", 4466)
    assert_refused(
        run(home, cut), DeletesRefused, r"^\S*/netflix_titles_cut.csv: .*delete 4,341 of 8,807 active titles \(49%\)"
    )
    assert query(home, "select show_id, row_hash, is_deleted from analytics_netflix_current order by show_id") == before
    assert scalar(home, "select count(*) from analytics_netflix_history") == history
    assert query(home, "select status from etl_transforms order by started_at") == [("succeeded",), ("refused",)]
    # a delta drop deletes nothing, so the guard lets it through
    assert counts(run(home, cut, force=True, mode="delta")) == (0, 0, 4466, 0, 0)
    # a threshold that allows it, or --accept-deletes, applies it
    assert counts(run(home, cut, force=True, accept_deletes=True))[3] == 4341
    # through an inbox, a refused drop goes to rejected/ with its reason, exit 2 (see test_cli)


def test_dbt_unit_tests_pass(home: Home) -> None:
    run(home)
    outcome = Dbt(home).test(["test_type:unit"])
    assert outcome.success
    assert (outcome.passed, outcome.failed) == (8, 0)  # CDC (3), the guards' figures (2), cleaning rules (3)


def test_the_packaged_project_is_never_written_to(home: Home) -> None:
    before = sorted(p.relative_to(project_dir()) for p in project_dir().rglob("*"))
    run(home)
    assert sorted(p.relative_to(project_dir()) for p in project_dir().rglob("*")) == before
    assert (home.root / "dbt" / "target" / "manifest.json").is_file()
    assert (home.logs_dir / "dbt" / "dbt.log").is_file()


BRIDGES = {
    "netflix_title_cast": "cast_members",
    "netflix_title_countries": "country",
    "netflix_title_directors": "director",
    "netflix_title_genres": "listed_in",
}


def _bridge_from_scratch(column: str) -> str:
    """What a bridge holds when rebuilt in full from the current table."""
    return (
        "select show_id, trim(p.value), row_number() over (partition by show_id order by p.ordinal) "
        "from analytics_netflix_current "
        f"cross join unnest(string_split({column}, ',')) with ordinality as p(value, ordinal) "
        f"where not is_deleted and {column} is not null and trim(p.value) <> ''"
    )


def _marts(home: Home) -> dict[str, list[tuple]]:
    """Everything the incremental build maintains, without batch ids and timestamps (which differ
    between homes)."""
    out = {b: query(home, f"select show_id, value, position from {b} order by all") for b in BRIDGES}
    history = "select show_id, row_hash, is_deleted, change_type, is_current from analytics_netflix_history"
    out["history"] = query(home, f"{history} order by all")
    for kpi in ("kpi_titles_by_country", "kpi_top_genres", "kpi_genres_over_time", "kpi_movies_vs_tv"):
        out[kpi] = query(home, f"select * from {kpi} order by all")
    return out


def test_incremental_bridges_and_history_equal_a_full_rebuild(home: Home, tmp_path: Path) -> None:
    run(home)
    changed = derive(
        CANONICAL,
        tmp_path / "changed.csv",
        "select * replace (case when show_id in ('s1', 's2', 's3') then 'France, Spain' else country end as country, "
        'case when show_id = \'s9\' then null else "cast" end as "cast") '
        "from {src} where show_id not in ('s5', 's6')",
    )
    assert counts(run(home, changed)) == (0, 4, 8801, 2, 0)
    for bridge, column in BRIDGES.items():
        stored = query(home, f"select show_id, value, position from {bridge} order by all")
        assert stored == query(home, f"{_bridge_from_scratch(column)} order by all"), bridge
    assert query(home, "select value from netflix_title_countries where show_id = 's2' order by position") == [
        ("France",),
        ("Spain",),
    ]
    assert scalar(home, "select count(*) from netflix_title_cast where show_id in ('s9', 's5', 's6')") == 0
    # history: 8,807 first versions, 4 updates and 2 deletes, one open version per title
    assert query(home, "select change_type, count(*) from analytics_netflix_history group by 1 order by 1") == [
        ("delete", 2),
        ("insert", 8807),
        ("update", 4),
    ]
    assert scalar(home, "select count(*) from analytics_netflix_history where is_current") == 8807


def test_a_build_stopped_after_the_current_table_converges_on_the_next_run(tmp_path: Path) -> None:
    """A run killed after analytics_netflix_current was rebuilt, before the snapshot, bridges and
    KPIs: the next run must bring them to exactly the state of an uninterrupted run."""
    changed = derive(
        CANONICAL,
        tmp_path / "changed.csv",
        "select * replace (case when show_id in ('s1', 's2') then 'Japan' else country end as country) "
        "from {src} where show_id <> 's7'",
    )
    straight = Home(tmp_path / "straight").ensure()
    run(straight)
    run(straight, changed)

    stopped = Home(tmp_path / "stopped").ensure()
    run(stopped)
    ingested = run_pipeline(stopped, [changed], IngestOptions(), TransformOptions(), lock_timeout=0)
    assert ingested.transforms  # transformed in full here; now undo the marts to emulate the kill
    batch = ingested.transforms[0].batch_id
    changed_rows = "select count(*) from analytics_netflix_current where last_changed_batch_id = ?"
    assert scalar(stopped, changed_rows, [batch]) == 3
    con = duckdb.connect(str(stopped.warehouse))
    try:  # the marts as they were before this batch, and the batch not done
        for bridge in BRIDGES:
            con.execute(f"delete from {bridge} where show_id in ('s1', 's2', 's7')")
        con.execute("delete from snapshot_netflix_current where last_changed_batch_id = ?", [batch])
        con.execute("update snapshot_netflix_current set valid_to = null where show_id in ('s1', 's2', 's7')")
        con.execute("delete from etl_transforms where batch_id = ?", [batch])
    finally:
        con.close()
    again = run(stopped)
    assert [t.batch_id for t in again.transforms] == [batch]
    assert _marts(stopped) == _marts(straight)
