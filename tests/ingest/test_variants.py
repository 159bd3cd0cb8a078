"""Every real copy of the data set: loaded with the right counts and mapping, values checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netflix_elt.ingest.load import ingest_file
from netflix_elt.warehouse.connection import connect

from conftest import CANONICAL, VARIANTS, query, scalar


@dataclass(frozen=True)
class Expected:
    loaded: int
    quarantined: int
    encoding: str
    delimiter: str = ","
    escape: str = '"'
    missing: tuple[str, ...] = ()
    # show_id -> {column: value} spot checks on what landed in raw_netflix_titles
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine reason prefix -> count


EXPECTED: dict[str, Expected] = {
    "netflix_titles.csv": Expected(
        8807,
        0,
        "utf-8",
        values={
            "s1": {"type": "Movie", "title": "Dick Johnson Is Dead", "date_added": "September 25, 2021"},
            "s5542": {"rating": "74 min", "duration": None},
        },
    ),
    "netflix_titles_2019_renamed_columns.csv": Expected(
        6234,
        0,
        "utf-8",
        values={
            "81145628": {
                "type": "Movie",  # from `Category`
                "title": "Norm of the North: King Sized Adventure",  # from `Title`
                "date_added": "9-Sep-19",  # from `Year`
            },
            # a title with a quoted newline inside it, in a CRLF file
            "80119194": {"title": "The Memphis Belle: A Story of a\nFlying Fortress"},
        },
    ),
    "netflix_titles_2020_7787rows.csv": Expected(
        7772,
        15,
        "utf-8",
        escape="\\",
        values={
            "s1": {"title": "3%"},
            "s175": {"rating": "TV-MA", "duration": "102 min", "listed_in": "Comedies"},
        },
        reasons={"TOO MANY COLUMNS": 11, "UNQUOTED VALUE": 4},
    ),
    "netflix_titles_bom_crlf_repeated_header.csv": Expected(
        8809,
        2,
        "utf-8-sig",
        values={"s1": {"type": "Movie"}, "s8809": {"title": "Serena"}},
        reasons={"repeated header line": 2},
    ),
    "netflix_titles_latin1_no_cast.csv": Expected(
        8807,
        0,
        "cp1252",
        missing=("cast",),
        values={"s289": {"title": "Las mu?ñecas de la mafia", "cast": None, "date_added": "10-Aug-21"}},
    ),
    "netflix_titles_semicolon.csv": Expected(
        8807,
        2,
        "utf-8",
        delimiter=";",
        # NEs8420 is broken over two lines: its head loads with a cut title, its tail (a garbled
        # show_id, no title) and the closing fragment of another record are quarantined
        values={"NEs1": {"title": "Dick Johnson Is Dead"}, "NEs8420": {"title": "The Memphis Belle: A Story of a"}},
        reasons={"fragment": 1, "missing title": 1},
    ),
    "netflix_titles_trailing_empty_column.csv": Expected(8807, 0, "utf-8", values={"s1": {"type": "Movie"}}),
}

FILES = [CANONICAL, *sorted(VARIANTS.iterdir())]


def test_every_variant_has_expectations() -> None:
    """A new file in variants/ must get its expectations here rather than go untested."""
    assert sorted(p.name for p in FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_variant_loads(home, path: Path) -> None:
    exp = EXPECTED[path.name]
    con = connect(home)
    try:
        result = ingest_file(home, con, path)
    finally:
        con.close()

    assert result.status == "succeeded"
    assert (result.rows_loaded, result.rows_quarantined) == (exp.loaded, exp.quarantined)
    assert result.rows_read == exp.loaded + exp.quarantined
    assert (result.encoding, result.delimiter, result.escape) == (exp.encoding, exp.delimiter, exp.escape)
    assert scalar(home, "select count(*) from raw_netflix_titles") == exp.loaded

    # the ledger agrees with the result, and with the raw table
    ledger = query(
        home,
        "select status, rows_read, rows_loaded, rows_quarantined, encoding, delimiter, raw_path from etl_batches",
    )
    assert ledger == [
        (
            "succeeded",
            result.rows_read,
            exp.loaded,
            exp.quarantined,
            exp.encoding,
            exp.delimiter,
            str(result.raw_path.relative_to(home.root)),
        )
    ]

    # one raw Parquet file for the batch, with the same rows
    raw_files = list(home.raw_dir.rglob("*.parquet"))
    assert raw_files == [result.raw_path]
    assert (
        scalar(home, "select count(*) from read_parquet(?, hive_partitioning = false)", [str(result.raw_path)])
        == exp.loaded
    )

    for show_id, columns in exp.values.items():
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = query(home, f"select {cols} from raw_netflix_titles where show_id = ?", [show_id])
        assert rows == [tuple(columns.values())], show_id

    # no BOM, no carriage return and no header text left in the data
    assert scalar(home, "select count(*) from raw_netflix_titles where show_id like '%' || chr(65279) || '%'") == 0
    assert scalar(home, "select count(*) from raw_netflix_titles where description like '%' || chr(13)") == 0
    assert scalar(home, "select count(*) from raw_netflix_titles where lower(show_id) = 'show_id'") == 0
    for col in exp.missing:
        assert scalar(home, f'select count("{col}") from raw_netflix_titles') == 0
        assert any(col in w for w in result.warnings)

    if exp.quarantined:
        q = query(home, "select reason from read_parquet(?, hive_partitioning = false)", [str(result.quarantine_path)])
        assert len(q) == exp.quarantined
        for prefix, n in exp.reasons.items():
            assert sum(1 for (r,) in q if r.startswith(prefix)) == n, prefix
    else:
        assert result.quarantine_path is None


def test_trailing_junk_column_value_kept_in_extra(home) -> None:
    con = connect(home)
    try:
        result = ingest_file(home, con, VARIANTS / "netflix_titles_trailing_empty_column.csv")
    finally:
        con.close()
    rows = query(home, "select show_id, _extra from raw_netflix_titles where _extra is not null")
    assert [(sid, json.loads(extra)) for sid, extra in rows] == [("s8579", {"column_13": "1039768"})]
    assert result.mapping["column_13"] == "_extra"
    assert result.mapping["description"] == "description"


def test_latin1_file_is_flagged_with_an_encoding_warning(home) -> None:
    con = connect(home)
    try:
        result = ingest_file(home, con, VARIANTS / "netflix_titles_latin1_no_cast.csv")
    finally:
        con.close()
    assert any("not valid UTF-8" in w for w in result.warnings)
    warnings = json.loads(scalar(home, "select warnings from etl_batches"))
    assert any("not valid UTF-8" in w for w in warnings)
    # the scratch UTF-8 copy is gone
    assert not any(home.tmp_dir.glob("*.csv"))


def test_2020_quarantine_names_lines_and_reasons(home) -> None:
    con = connect(home)
    try:
        result = ingest_file(home, con, VARIANTS / "netflix_titles_2020_7787rows.csv")
    finally:
        con.close()
    rows = query(
        home,
        "select line_number, reason, raw_line from read_parquet(?, hive_partitioning = false) order by line_number",
        [str(result.quarantine_path)],
    )
    first_line, reason, raw = rows[0]
    assert first_line == 651
    assert reason.startswith("TOO MANY COLUMNS")
    assert raw.startswith("s650,Movie,Aziz Ansari: Buried Alive")
