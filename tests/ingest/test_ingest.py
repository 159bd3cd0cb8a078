"""Ingestion behaviour: raw layer, idempotency, failures that leave nothing behind, dialects."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from netflix_elt.core.errors import BatchRejected, InputError
from netflix_elt.core.faults import InjectedFault
from netflix_elt.core.home import Home
from netflix_elt.ingest.load import IngestOptions, ingest_file
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS
from netflix_elt.warehouse.connection import connect

from conftest import CANONICAL, query, scalar

HEADER = ",".join(CANONICAL_COLUMNS)


def ingest(home: Home, path: Path, **options) -> object:
    con = connect(home)
    try:
        return ingest_file(home, con, path, IngestOptions(**options))
    finally:
        con.close()


def write_rows(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def good_row(i: int) -> str:
    return f's{i},Movie,Title {i},Someone,"A, B",India,"September 25, 2021",2020,TV-MA,90 min,Dramas,Text {i}'


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_raw_layer_layout_and_metadata(home: Home) -> None:
    result = ingest(home, CANONICAL)
    rel = result.raw_path.relative_to(home.root).as_posix()
    assert re.fullmatch(
        r"data/raw/netflix_titles/ingest_date=\d{4}-\d{2}-\d{2}/batch_\d{8}T\d{12}Z_69cf6bd7\.parquet", rel
    )
    types = dict(
        query(
            home,
            "select column_name, column_type from (describe select * from read_parquet(?, hive_partitioning = false))",
            [str(result.raw_path)],
        )
    )
    assert list(types) == [
        *CANONICAL_COLUMNS,
        "_batch_id",
        "_ingested_at",
        "_source_file",
        "_source_sha256",
        "_source_row_number",
        "_extra",
    ]
    assert all(types[c] == "VARCHAR" for c in CANONICAL_COLUMNS)
    assert types["_ingested_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["_source_row_number"] == "BIGINT"
    assert types["_extra"] == "JSON"
    sha = hashlib.sha256(CANONICAL.read_bytes()).hexdigest()
    meta = query(
        home,
        "select distinct _batch_id, _source_file, _source_sha256 from read_parquet(?, hive_partitioning = false)",
        [str(result.raw_path)],
    )
    assert meta == [(result.batch_id, str(CANONICAL), sha)]
    # row numbers follow the file: s1 is the first data record, s8807 the last
    assert query(
        home,
        "select min(_source_row_number), max(_source_row_number), count(distinct _source_row_number) "
        "from raw_netflix_titles",
    ) == [(1, 8807, 8807)]
    assert scalar(home, "select show_id from raw_netflix_titles where _source_row_number = 8807") == "s8807"
    # ingestion time is UTC-aware and equals the ledger's start
    assert (
        scalar(
            home,
            "select count(*) from raw_netflix_titles r join etl_batches b "
            "on r._batch_id = b.batch_id and r._ingested_at = b.started_at",
        )
        == 8807
    )


def test_same_file_again_is_skipped_and_changes_nothing(home: Home) -> None:
    first = ingest(home, CANONICAL)
    before = files_under(home.root / "data")
    second = ingest(home, CANONICAL)
    assert second.status == "skipped"
    assert second.batch_id == first.batch_id
    assert files_under(home.root / "data") == before
    assert scalar(home, "select count(*) from etl_batches") == 1
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807


def test_force_loads_a_second_batch(home: Home) -> None:
    ingest(home, CANONICAL)
    again = ingest(home, CANONICAL, force=True)
    assert again.status == "succeeded"
    assert scalar(home, "select count(distinct _batch_id) from raw_netflix_titles") == 2
    assert len(list(home.raw_dir.rglob("*.parquet"))) == 2


@pytest.mark.parametrize(
    "point", ["after_parse", "after_raw_write", "after_raw_publish", "after_raw_insert", "before_commit"]
)
def test_failure_mid_load_leaves_nothing_behind(home: Home, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    monkeypatch.setenv("NETFLIX_ELT_FAULT", point)
    with pytest.raises(InjectedFault):
        ingest(home, CANONICAL)
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0
    assert files_under(home.raw_dir) == []
    assert query(home, "select status, raw_path from etl_batches") == [("failed", None)]

    monkeypatch.delenv("NETFLIX_ELT_FAULT")
    result = ingest(home, CANONICAL)  # a failed batch does not count as loaded
    assert result.status == "succeeded"
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807


@pytest.mark.parametrize("point", ["after_raw_publish", "after_raw_insert", "before_commit"])
def test_killed_run_is_recovered_by_the_next_one(home: Home, point: str) -> None:
    env = {**os.environ, "NETFLIX_ELT_FAULT": f"kill:{point}"}
    proc = subprocess.run(
        [sys.executable, "-m", "netflix_elt", "--home", str(home.root), "ingest", str(CANONICAL)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -9
    # the killed batch: a ledger row that does not claim success, and no committed rows
    assert query(home, "select status from etl_batches") == [("running",)]
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0

    result = ingest(home, CANONICAL)
    assert result.status == "succeeded"
    assert query(home, "select status from etl_batches order by started_at") == [("failed",), ("succeeded",)]
    assert files_under(home.raw_dir) == sorted([result.raw_path, result.raw_path.with_suffix(".json")])
    assert scalar(home, "select count(*) from raw_netflix_titles") == 8807


def test_too_many_malformed_lines_reject_the_batch(tmp_path: Path, home: Home) -> None:
    lines = [good_row(i) for i in range(1, 11)] + [good_row(11) + ",extra,fields"]
    drop = write_rows(tmp_path / "bad.csv", lines)
    with pytest.raises(BatchRejected, match=r"1 of 11 lines \(9\.1%\) are malformed, more than the 1\.0% allowed"):
        ingest(home, drop)
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0
    assert query(home, "select status, rows_loaded, rows_quarantined from etl_batches") == [("rejected", 0, 1)]
    assert files_under(home.raw_dir) == []
    q = list(home.quarantine_dir.rglob("*.parquet"))
    assert len(q) == 1
    assert query(
        home, "select line_number, raw_line like 's11,%' from read_parquet(?, hive_partitioning = false)", [str(q[0])]
    ) == [(12, True)]

    # the same drop with a looser threshold loads its 10 good rows
    result = ingest(home, drop, max_reject_ratio=0.2)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("succeeded", 10, 1)


@pytest.mark.parametrize("dropped", ["show_id", "title", "type"])
def test_missing_key_column_rejects_the_batch(tmp_path: Path, home: Home, dropped: str) -> None:
    cols = [c for c in CANONICAL_COLUMNS if c != dropped]
    drop = tmp_path / "nokey.csv"
    select = ", ".join(f'"{c}"' for c in cols)
    duckdb.execute(
        f"copy (select {select} from read_csv(?, all_varchar=true)) to '{drop}' (header)",
        [str(CANONICAL)],
    )
    with pytest.raises(BatchRejected, match=f"no column for {dropped} among the headers.*--mapping"):
        ingest(home, drop)
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0


def test_mapping_file_maps_unknown_headers(tmp_path: Path, home: Home) -> None:
    header = HEADER.replace("title", "Programme Name").replace("listed_in", "Tags")
    drop = write_rows(tmp_path / "renamed.csv", [good_row(1), good_row(2)], header=header)
    with pytest.raises(BatchRejected, match="no column for title"):
        ingest(home, drop)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Programme Name" = "title"\ntags = "listed_in"\n', encoding="utf-8")
    from netflix_elt.ingest.mapping import load_mapping_file

    result = ingest(home, drop, mapping_overrides=load_mapping_file(mapping))
    assert result.status == "succeeded"
    assert query(home, "select title, listed_in from raw_netflix_titles order by show_id") == [
        ("Title 1", "Dramas"),
        ("Title 2", "Dramas"),
    ]


def test_unknown_columns_kept_in_extra_and_empty_ones_dropped(tmp_path: Path, home: Home) -> None:
    header = HEADER + ",studio,notes"
    drop = write_rows(tmp_path / "extra.csv", [good_row(1) + ",Netflix,", good_row(2) + ",,"], header=header)
    result = ingest(home, drop)
    rows = query(home, "select show_id, _extra from raw_netflix_titles order by show_id")
    assert [(s, json.loads(e) if e else None) for s, e in rows] == [("s1", {"studio": "Netflix"}), ("s2", None)]
    assert any("'studio' kept in _extra" in w for w in result.warnings)
    assert any("dropped empty column(s) 'notes'" in w for w in result.warnings)


def test_gzip_drop(tmp_path: Path, home: Home) -> None:
    gz = tmp_path / "netflix_titles.csv.gz"
    gz.write_bytes(gzip.compress(CANONICAL.read_bytes()))
    result = ingest(home, gz)
    assert (result.status, result.rows_loaded) == ("succeeded", 8807)
    assert query(home, "select compression, source_sha256 from etl_batches") == [
        ("gzip", hashlib.sha256(gz.read_bytes()).hexdigest())
    ]


def test_truncated_gzip_is_rejected(tmp_path: Path, home: Home) -> None:
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(gzip.compress(CANONICAL.read_bytes())[:50_000])
    with pytest.raises(InputError, match="gzip data is truncated or corrupt"):
        ingest(home, gz)
    assert scalar(home, "select count(*) from raw_netflix_titles") == 0


def test_utf16_drop_is_transcoded(tmp_path: Path, home: Home) -> None:
    drop = tmp_path / "utf16.csv"
    drop.write_bytes(CANONICAL.read_text(encoding="utf-8").encode("utf-16"))
    result = ingest(home, drop)
    assert (result.rows_loaded, result.encoding) == (8807, "utf-16")
    assert scalar(home, "select title from raw_netflix_titles where show_id = 's1'") == "Dick Johnson Is Dead"
    assert not list(home.tmp_dir.glob("*.csv"))


@pytest.mark.parametrize("delim", ["\t", "|", ";"])
def test_other_delimiters(tmp_path: Path, home: Home, delim: str) -> None:
    drop = tmp_path / "other.csv"
    duckdb.execute(
        f"copy (select * from read_csv(?, all_varchar=true)) to '{drop}' (header, delimiter '{delim}')",
        [str(CANONICAL)],
    )
    result = ingest(home, drop)
    assert (result.rows_loaded, result.delimiter, result.rows_quarantined) == (8807, delim, 0)
    assert query(
        home,
        "select count(*) from raw_netflix_titles r join read_csv(?, all_varchar=true) c "
        "on r.show_id = c.show_id and r.description is not distinct from c.description "
        'and r."cast" is not distinct from c."cast"',
        [str(CANONICAL)],
    ) == [(8807,)]


def test_header_only_drop_is_rejected(tmp_path: Path, home: Home) -> None:
    drop = write_rows(tmp_path / "header_only.csv", [])
    with pytest.raises(BatchRejected, match="has a header but no data rows"):
        ingest(home, drop)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n  \n", "holds no text"),
        (bytes(range(256)) * 40, "looks like binary data"),
    ],
)
def test_unreadable_content_is_rejected_before_the_ledger(
    tmp_path: Path, home: Home, content: bytes, message: str
) -> None:
    drop = tmp_path / "x.csv"
    drop.write_bytes(content)
    with pytest.raises(InputError, match=message):
        ingest(home, drop)
    assert scalar(home, "select count(*) from etl_batches") == 0


def test_nothing_is_written_outside_the_home(tmp_path: Path, home: Home) -> None:
    drop_dir = tmp_path / "drops"
    drop_dir.mkdir()
    drop = drop_dir / "latin1.csv"
    drop.write_bytes(CANONICAL.read_text(encoding="utf-8").encode("cp1252", errors="replace"))
    ingest(home, drop)
    assert [p.name for p in drop_dir.iterdir()] == ["latin1.csv"]
    assert {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()} == {"home", "drops"}


def test_rows_without_key_fields_are_quarantined(tmp_path: Path, home: Home) -> None:
    rows = [good_row(i) for i in range(1, 200)]
    rows += [good_row(200).replace("Title 200", ""), " ,Movie,No Id,,,,,,,,,", "s201,,No Type,,,,,,,,,"]
    result = ingest(home, write_rows(tmp_path / "keys.csv", rows), max_reject_ratio=0.05)
    assert (result.rows_loaded, result.rows_quarantined) == (199, 3)
    reasons = query(
        home,
        "select record_number, reason from read_parquet(?, hive_partitioning = false) order by record_number",
        [str(result.quarantine_path)],
    )
    assert reasons == [(200, "missing title"), (201, "missing show_id"), (202, "missing type")]
