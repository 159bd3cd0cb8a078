"""Synthetic catalog drops (netflix_elt.tools.synth): realism, determinism, exact next-drop changes, and the
pipeline reporting exactly the expected CDC counts for them."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.sample import SAMPLE_ROWS, sample_path
from netflix_elt.tools.synth import (
    COLUMNS,
    KNOWN_RATINGS,
    NextDropSpec,
    expected_path,
    synth_catalog,
    synth_next,
)

SPEC = NextDropSpec(changed=0.01, new=0.005, deleted=0.002)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows, parsed by the csv module (an independent RFC-4180 reader)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:  # type: ignore[operator]
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, r, strict=True)) for r in reader]
    return header, rows


def parses(date_added: str) -> bool:
    for fmt in ("%B %d, %Y", "%d-%b-%y", "%Y-%m-%d"):
        try:
            datetime.strptime(date_added.strip(), fmt)
            return True
        except ValueError:
            pass
    return False


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "catalog.csv"
    assert synth_catalog(out, 5000, seed=11) == 5000
    return out


@pytest.fixture(scope="module")
def sample_rows() -> list[dict[str, str]]:
    return read_rows(sample_path())[1]


# --- synth_catalog ---------------------------------------------------------------------------------


def test_catalog_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth_catalog(a, 1500, seed=3)
    synth_catalog(b, 1500, seed=3, scratch_dir=tmp_path / "scratch")
    synth_catalog(c, 1500, seed=4)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)
    assert list((tmp_path / "scratch").iterdir()) == []  # scratch cleaned up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "c.csv", "scratch"]  # no temp files


def test_catalog_shape(catalog: Path) -> None:
    header, rows = read_rows(catalog)
    assert header == list(COLUMNS)
    assert len(rows) == 5000
    assert [r["show_id"] for r in rows] == [f"s{i}" for i in range(1, 5001)]
    assert all(r["title"].strip() and r["type"] in ("Movie", "TV Show") for r in rows)
    titles = Counter(r["title"] for r in rows)
    assert len(titles) > 0.95 * len(rows)  # unique-ish


def test_catalog_follows_the_sample(catalog: Path, sample_rows: list[dict[str, str]]) -> None:
    _, rows = read_rows(catalog)
    n = len(rows)
    movies = sum(r["type"] == "Movie" for r in rows)
    assert abs(movies / n - 6131 / SAMPLE_ROWS) < 0.03

    multi_country = sum("," in r["country"] for r in rows)
    assert multi_country / n > 0.05
    sample_countries = {r["country"] for r in sample_rows}
    assert any(r["country"] and "," in r["country"] and r["country"] not in sample_countries for r in rows)
    sample_genres = {r["listed_in"] for r in sample_rows}
    assert any(r["listed_in"] not in sample_genres for r in rows)  # recombined lists
    assert sum("," in r["listed_in"] for r in rows) / n > 0.5
    assert len({r["listed_in"] for r in rows}) > 300

    sample_ratings = {r["rating"] for r in sample_rows}
    assert {r["rating"] for r in rows} <= sample_ratings
    assert {r["rating"] for r in rows if r["rating"]} <= set(KNOWN_RATINGS)

    for r in rows:
        if r["type"] == "Movie":
            assert r["duration"].endswith(" min"), r
        else:
            assert r["duration"].endswith((" Season", " Seasons")), r

    dates = [r["date_added"] for r in rows if r["date_added"]]
    assert all(parses(d) for d in dates)
    long_form = sum(parses(d) and d[:1].isalpha() for d in dates)
    assert long_form / len(dates) > 0.9
    assert any(d.startswith(" ") for d in dates)
    assert any(d[:1].isdigit() and "-" in d and d[-3] == "-" and not d[:4].isdigit() for d in dates)  # 25-Sep-21
    assert any(d[:4].isdigit() and d[4] == "-" for d in dates)  # 2021-09-25

    descriptions = [r["description"] for r in rows]
    assert any('"' in d for d in descriptions) and any("," in d for d in descriptions)
    assert sum(bool(r["director"]) for r in rows) / n > 0.5
    assert sum(bool(r["cast"]) for r in rows) / n > 0.8
    assert all(r["release_year"].isdigit() and 1900 < int(r["release_year"]) <= 2021 for r in rows)


def test_catalog_gzip_is_the_same_csv(tmp_path: Path, catalog: Path) -> None:
    gz = tmp_path / "catalog.csv.gz"
    assert synth_catalog(gz, 5000, seed=11) == 5000
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz.read_bytes()) == catalog.read_bytes()
    con = duckdb.connect()
    try:
        count, keys = con.execute(
            "select count(*), count(distinct show_id) from read_csv(?, all_varchar = true, header = true)", [str(gz)]
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert count == keys == 5000
    again = tmp_path / "again.csv.gz"
    synth_catalog(again, 5000, seed=11)
    assert sha256(again) == sha256(gz)


def test_catalog_from_another_source(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "from_synthetic.csv"
    synth_catalog(out, 300, seed=1, source=catalog)
    _, rows = read_rows(out)
    assert len(rows) == 300


@pytest.mark.parametrize("rows", [0, -5, 2.5, True])
def test_catalog_rejects_bad_row_counts(tmp_path: Path, rows) -> None:
    with pytest.raises(InputError, match="rows"):
        synth_catalog(tmp_path / "x.csv", rows, seed=1)


@pytest.mark.parametrize("seed", [2**63, "1", 1.0])
def test_rejects_bad_seeds(tmp_path: Path, catalog: Path, seed) -> None:
    with pytest.raises(InputError, match="seed"):
        synth_catalog(tmp_path / "x.csv", 10, seed=seed)
    with pytest.raises(InputError, match="seed"):
        synth_next(catalog, tmp_path / "y.csv", SPEC, seed=seed)


def test_catalog_rejects_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="cannot create its directory"):
        synth_catalog(blocker / "x.csv", 10, seed=1)
    with pytest.raises(InputError, match="is a directory"):
        synth_catalog(tmp_path, 10, seed=1)


@pytest.mark.parametrize("name", ["x.xlsx", "x.gz", "x", "x.csv.zip", "x.tsv", "x.csv.", ".csv"])
def test_an_output_not_named_csv_is_refused_before_writing(tmp_path: Path, catalog: Path, name: str) -> None:
    out = tmp_path / "out" / name
    with pytest.raises(InputError, match=r"use \.csv or \.csv\.gz") as info:
        synth_catalog(out, 10, seed=1)
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"use \.csv or \.csv\.gz"):
        synth_next(catalog, out, SPEC, seed=1)
    assert list(tmp_path.rglob("*")) == []  # not even its folder


def test_csv_names_in_any_case_are_accepted(tmp_path: Path) -> None:
    assert synth_catalog(tmp_path / "UPPER.CSV", 10, seed=1) == 10
    assert len(read_rows(tmp_path / "UPPER.CSV")[1]) == 10
    assert synth_catalog(tmp_path / "Mixed.Csv.Gz", 10, seed=1) == 10
    with gzip.open(tmp_path / "Mixed.Csv.Gz", "rt", encoding="utf-8") as f:  # gzipped, as .csv.gz is
        assert f.readline().startswith("show_id,")


def test_cli_synth_to_a_non_csv_name_exits_2_with_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netflix_elt.cli.main import cli

    out = tmp_path / "x.xlsx"
    for args in (["--rows", "10"], ["--next-of", str(sample_path())]):
        result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "synth", *args, "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0] and ".csv.gz" in lines[0], result.stderr
        assert not out.exists() and not expected_path(out).exists()
        assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == []


def test_catalog_rejects_a_source_without_the_canonical_columns(tmp_path: Path) -> None:
    src = tmp_path / "src.csv"
    src.write_text("id,name\n1,a\n")
    with pytest.raises(InputError, match="canonical columns"):
        synth_catalog(tmp_path / "x.csv", 10, seed=1, source=src)


def test_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        synth_next(tmp_path / "missing.csv", tmp_path / "next.csv", SPEC, seed=1)
    assert "\n" not in str(info.value) and "not found" in str(info.value)


# --- synth_next ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shares",
    [(-0.1, 0, 0), (0, 1.5, 0), (0, 0, 2), (0.6, 0.3, 0.2), (float("nan"), 0, 0), ("0.1", 0, 0)],
)
def test_spec_rejects_bad_shares(shares) -> None:
    with pytest.raises(InputError, match="share"):
        NextDropSpec(*shares)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("next.csv", "next.expected.json"),
        ("next.csv.gz", "next.expected.json"),
        ("NEXT.CSV.GZ", "NEXT.expected.json"),
        ("drop_2", "drop_2.expected.json"),
    ],
)
def test_expected_path(tmp_path: Path, name: str, expected: str) -> None:
    assert expected_path(tmp_path / name) == tmp_path / expected


def test_next_changes_exactly_what_it_says(tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "next.csv"
    expected = synth_next(catalog, out, SPEC, seed=5)
    assert expected == {
        "inserted": 25,
        "updated": 50,
        "deleted": 10,
        "unchanged": 4940,
        "revived": 0,
        "rows": 5015,
    }
    assert json.loads(expected_path(out).read_text()) == expected

    header, after_rows = read_rows(out)
    assert header == list(COLUMNS)
    _, before_rows = read_rows(catalog)
    before = {r["show_id"]: r for r in before_rows}
    after = {r["show_id"]: r for r in after_rows}
    assert len(after) == len(after_rows) == expected["rows"]

    deleted = before.keys() - after.keys()
    new = after.keys() - before.keys()
    kept = before.keys() & after.keys()
    changed = {k for k in kept if before[k] != after[k]}
    assert len(deleted) == 10 and len(new) == 25 and len(changed) == 50
    assert len(kept) - len(changed) == expected["unchanged"]
    assert all(int(k[1:]) > 5000 for k in new)

    kinds = Counter()
    for k in changed:
        b, a = before[k], after[k]
        diff = {c for c in COLUMNS if b[c] != a[c]}
        assert diff in ({"rating"}, {"description"}), (k, diff)
        if diff == {"rating"}:
            assert a["rating"] in KNOWN_RATINGS and a["rating"] != b["rating"].strip()
        else:
            assert a["description"].startswith(b["description"]) and a["description"].strip() != b["description"]
        kinds.update(diff)
    assert kinds["rating"] > 5 and kinds["description"] > 5
    for k in new:
        assert after[k]["title"] and after[k]["type"] in ("Movie", "TV Show")
    # The kept rows keep the base's order, the new ones follow.
    kept_in_order = [r["show_id"] for r in before_rows if r["show_id"] in kept]
    assert [r["show_id"] for r in after_rows[: len(kept)]] == kept_in_order


def test_next_is_deterministic_per_seed(tmp_path: Path, catalog: Path) -> None:
    a, b, c = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz", tmp_path / "c.csv.gz"
    synth_next(catalog, a, SPEC, seed=9)
    synth_next(catalog, b, SPEC, seed=9)
    synth_next(catalog, c, SPEC, seed=10)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)
    ids = {p: {r["show_id"] for r in read_rows(p)[1]} for p in (a, c)}
    assert ids[a] != ids[c]  # different rows deleted


def test_next_of_a_gzip_base_and_of_the_real_sample(tmp_path: Path) -> None:
    gz_base = tmp_path / "base.csv.gz"
    synth_catalog(gz_base, 1000, seed=2)
    counts = synth_next(gz_base, tmp_path / "next.csv", NextDropSpec(0.1, 0.05, 0.02), seed=2)
    assert counts == {"inserted": 50, "updated": 100, "deleted": 20, "unchanged": 880, "revived": 0, "rows": 1030}

    counts = synth_next(sample_path(), tmp_path / "sample_next.csv", SPEC, seed=1)
    n = SAMPLE_ROWS
    assert counts["rows"] == n - round(0.002 * n) + round(0.005 * n)
    _, rows = read_rows(tmp_path / "sample_next.csv")
    assert len(rows) == counts["rows"] == len({r["show_id"] for r in rows})


def test_next_edge_shares(tmp_path: Path, catalog: Path) -> None:
    same = tmp_path / "same.csv"
    assert synth_next(catalog, same, NextDropSpec(0, 0, 0), seed=1)["unchanged"] == 5000
    assert read_rows(same) == read_rows(catalog)
    gone = tmp_path / "gone.csv"
    counts = synth_next(catalog, gone, NextDropSpec(0, 0, 1), seed=1)
    assert counts["deleted"] == 5000 and counts["rows"] == 0
    assert read_rows(gone) == (list(COLUMNS), [])


def test_next_rejects_bad_bases(tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    row = "s1,Movie,{},,,,,2020,PG,90 min,Dramas,x\n"
    dup.write_text(",".join(COLUMNS) + "\n" + row.format("A") + row.format("B"))
    with pytest.raises(InputError, match="clean snapshot"):
        synth_next(dup, tmp_path / "next.csv", SPEC, seed=1)
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(InputError, match="no rows"):
        synth_next(empty, tmp_path / "next.csv", SPEC, seed=1)
    with pytest.raises(InputError, match="also the input"):
        synth_next(dup, dup, SPEC, seed=1)
    assert not (tmp_path / "next.csv").exists() and not expected_path(tmp_path / "next.csv").exists()


# --- through the real pipeline ---------------------------------------------------------------------


@pytest.mark.slow
def test_pipeline_reports_exactly_the_expected_counts(tmp_path: Path) -> None:
    from netflix_elt.core.home import Home
    from netflix_elt.ops.pipeline import run_pipeline

    base = tmp_path / "drops" / "base.csv"
    nxt = tmp_path / "drops" / "next.csv.gz"
    synth_catalog(base, 20_000, seed=2024)
    expected = synth_next(base, nxt, SPEC, seed=2025)

    home = Home(tmp_path / "home")
    r = run_pipeline(home, [base])
    (batch,) = r.batches
    assert batch.status == "succeeded" and batch.rows_loaded == 20_000 and batch.rows_quarantined == 0
    assert r.report is not None and r.report.failed == 0
    assert r.transforms[0].counts.inserted == 20_000

    r2 = run_pipeline(home, [nxt])
    (batch2,) = r2.batches
    assert batch2.status == "succeeded" and batch2.rows_quarantined == 0
    assert batch2.rows_loaded == expected["rows"]
    c = r2.transforms[0].counts
    got = {k: getattr(c, k) for k in ("inserted", "updated", "unchanged", "deleted", "revived")}
    assert got == {k: v for k, v in expected.items() if k != "rows"}
    assert r2.report is not None and r2.report.failed == 0
