"""Hostile drops: SQL in headers, values and file names; inbox names, symlinks and folders that
try to make the pipeline write outside its home."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netflix_elt.cli.main import cli
from netflix_elt.core.home import Home
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS

from conftest import CANONICAL, query, scalar

pytestmark = pytest.mark.slow

SQL_HEADER = 'x"; DROP TABLE raw_netflix_titles; --'
SQL_VALUES = [
    "x'); DROP TABLE raw_netflix_titles; --",
    'x"; DROP TABLE etl_batches; --',
    "'; delete from analytics_netflix_current where ''='",
    "{{ run_query('drop table raw_netflix_titles') }}",  # Jinja: dbt must not render data
    "$1 ? %s :name",
]
TABLES = {"raw_netflix_titles", "etl_batches", "analytics_netflix_current", "staging_netflix_titles"}


def invoke(runner: CliRunner, home: Home, *args: str):
    return runner.invoke(cli, ["--home", str(home.root), *args])


def hostile_drop(path: Path) -> Path:
    """The sample's first 50 titles, with SQL and Jinja in a header and in every text column."""
    with CANONICAL.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[:51]
    header, body = rows[0], rows[1:]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([*header, SQL_HEADER])
    for i, row in enumerate(body):
        value = SQL_VALUES[i % len(SQL_VALUES)]
        row = [*row]
        for col in ("title", "director", "country", "description", "listed_in"):
            row[header.index(col)] = value
        w.writerow([*row, value])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def tables(home: Home) -> set[str]:
    return {r[0] for r in query(home, "select table_name from information_schema.tables")}


def test_sql_in_headers_values_and_file_names_is_only_ever_data(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    drop = hostile_drop(tmp_path / "x'; DROP TABLE raw_netflix_titles; --.csv")
    result = invoke(runner, home, "run", "--source", str(drop))
    assert result.exit_code == 0, result.output
    assert tables(home) >= TABLES
    assert scalar(home, "select count(*) from raw_netflix_titles") == 50
    # every hostile value arrived verbatim, through raw, staging and the current table
    stored = {r[0] for r in query(home, "select distinct title from analytics_netflix_current")}
    assert stored == set(SQL_VALUES)
    assert {r[0] for r in query(home, "select distinct value from netflix_title_genres")} >= {"$1 ? %s :name"}
    # the hostile header is an unknown column, kept in _extra under its own name
    extras = [json.loads(r[0]) for r in query(home, "select _extra from raw_netflix_titles")]
    assert {e[SQL_HEADER] for e in extras} == set(SQL_VALUES)
    assert query(home, "select distinct _source_file from raw_netflix_titles") == [(str(drop),)]
    # and the file name is only a name: the raw layer's files are named by batch id
    assert all("DROP" not in p.name for p in home.root.rglob("*"))
    # exports, LookML and the dashboard were written from it without trouble
    assert (home.root / "reports" / "dashboard.html").is_file()
    assert invoke(runner, home, "lookml", "--check").exit_code == 0


def test_a_hostile_header_that_collides_with_a_canonical_name_is_refused_or_mapped(
    runner: CliRunner, home: Home, tmp_path: Path
) -> None:
    # duplicated and quote-laden headers: loaded with the first of each kept, or a one-line error
    header = ",".join([*CANONICAL_COLUMNS, '"title"""', '"show_id"'])
    drop = tmp_path / "dupes.csv"
    drop.write_text(header + "\n" + ",".join(["s1", "Movie", "A", *[""] * 9, "B", "s2"]) + "\n", encoding="utf-8")
    result = invoke(runner, home, "ingest", str(drop))
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert query(home, "select show_id, title from raw_netflix_titles") == [("s1", "A")]
    else:
        assert len(result.stderr.strip().splitlines()) == 1


def _inbox(home: Home) -> Path:
    inbox = home.root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)  # a home has one from the start
    return inbox


def _outside_files(outside: Path) -> list[str]:
    return sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))


def test_a_symlinked_drop_is_rejected_and_its_target_untouched(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_bytes(CANONICAL.read_bytes())
    home.ensure()
    inbox = _inbox(home)
    (inbox / "evil.csv").symlink_to(secret)
    result = invoke(runner, home, "run", "--inbox", str(inbox))
    # rejected (2); on a home with no data yet the failed freshness check (1) may take precedence
    assert result.exit_code in (1, 2), result.output
    assert "is a symlink; put the file itself in the inbox" in result.output
    assert secret.read_bytes() == CANONICAL.read_bytes()
    assert _outside_files(outside) == ["secret.csv"]
    moved = inbox / "rejected" / "evil.csv"
    assert moved.is_symlink()  # the link was moved, not the file it points to
    assert (inbox / "rejected" / "evil.csv.reason.txt").read_text().startswith(f"{inbox / 'evil.csv'}: is a symlink")
    assert scalar(home, "select count(*) from etl_batches") == 0


def test_inbox_folders_that_are_symlinks_outside_are_refused(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    home.ensure()
    inbox = _inbox(home)
    (inbox / "processed").symlink_to(outside, target_is_directory=True)
    (inbox / "drop.csv").write_bytes(CANONICAL.read_bytes())
    result = invoke(runner, home, "run", "--inbox", str(inbox))
    assert result.exit_code == 1
    assert "processed: is not a plain folder (a symlink or a file); refusing to move drops there" in result.stderr
    assert _outside_files(outside) == []
    assert (inbox / "drop.csv").is_file()  # left where it was


def test_a_reason_file_never_follows_a_planted_symlink(runner: CliRunner, home: Home, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim.txt"
    target.write_text("keep me\n")
    home.ensure()
    inbox = _inbox(home)
    (inbox / "rejected").mkdir()
    (inbox / "rejected" / "bad.csv.reason.txt").symlink_to(target)
    (inbox / "bad.csv").write_bytes(b"\x00\x01\x02 not a catalog\n")
    result = invoke(runner, home, "run", "--inbox", str(inbox))
    assert result.exit_code in (1, 2), result.output
    assert target.read_text() == "keep me\n"
    reasons = sorted(p.name for p in (inbox / "rejected").iterdir() if p.name.endswith(".txt"))
    assert reasons == ["bad.csv.reason.1.txt", "bad.csv.reason.txt"]
    assert "bad.csv" in (inbox / "rejected" / "bad.csv.reason.1.txt").read_text()


@pytest.mark.parametrize("name", ["..csv", "...csv", "-rf.csv", "--source.csv", "a b;c&d|e.csv", "ünï©ødé.csv"])
def test_odd_inbox_names_stay_inside_the_inbox(runner: CliRunner, home: Home, tmp_path: Path, name: str) -> None:
    home.ensure()
    inbox = _inbox(home)
    (inbox / name).write_bytes(b"not,a,catalog\n1,2,3\n")
    before = {p for p in tmp_path.rglob("*")}
    result = invoke(runner, home, "run", "--inbox", str(inbox))
    assert "Traceback" not in result.output
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p.is_relative_to(home.root) for p in created), created
    if not name.startswith("."):  # hidden names are not drops
        assert result.exit_code in (1, 2), result.output
        assert (inbox / "rejected" / name).is_file()
