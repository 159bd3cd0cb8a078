from __future__ import annotations

import pytest

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS, load_mapping_file, normalize_header, resolve_mapping


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("\ufeffshow_id", "show_id"), (" Date Added ", "date_added"), ("DATE-ADDED", "date_added"), ("List", "list")],
)
def test_normalize_header(raw: str, norm: str) -> None:
    assert normalize_header(raw) == norm


def test_canonical_headers_map_to_themselves() -> None:
    m = resolve_mapping(list(CANONICAL_COLUMNS))
    assert m.missing == [] and m.extras == []
    assert m.describe() == {c: c for c in CANONICAL_COLUMNS}


def test_2019_headers() -> None:
    headers = [
        "show_id",
        "Category",
        "Title",
        "director",
        "cast",
        "Country",
        "Year",
        "release_year",
        "Rating",
        "duration",
        "List",
        "description",
    ]
    assert resolve_mapping(headers).describe() == {
        "show_id": "show_id",
        "Category": "type",
        "Title": "title",
        "director": "director",
        "cast": "cast",
        "Country": "country",
        "Year": "date_added",
        "release_year": "release_year",
        "Rating": "rating",
        "duration": "duration",
        "List": "listed_in",
        "description": "description",
    }


def test_synonym_never_shadows_a_real_column() -> None:
    m = resolve_mapping(["show_id", "type", "title", "year", "date_added"])
    assert m.describe()["year"] == "_extra"
    assert m.describe()["date_added"] == "date_added"


def test_overrides_win_and_empty_target_forces_extra() -> None:
    m = resolve_mapping(["id", "kind", "name", "title"], {"kind": "type", "title": "", "name": "title"})
    assert m.describe() == {"id": "show_id", "kind": "type", "name": "title", "title": "_extra"}


def test_second_column_for_the_same_target_goes_to_extra() -> None:
    m = resolve_mapping(["show_id", "type", "title", "Title"])
    assert m.describe() == {"show_id": "show_id", "type": "type", "title": "title", "Title": "_extra"}
    assert m.duplicates


def test_missing_columns_listed_in_order() -> None:
    assert resolve_mapping(["title", "show_id", "type"]).missing == list(CANONICAL_COLUMNS[3:])


def test_bad_mapping_files(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid TOML"):
        load_mapping_file(bad)
    bad.write_text('title = "title"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"needs a \[columns\] table"):
        load_mapping_file(bad)
    with pytest.raises(InputError, match="cannot read mapping file"):
        load_mapping_file(tmp_path / "absent.toml")
