"""Property-based fuzzing of hostile and malformed drops (hypothesis).

Every generated drop is ingested into a warehouse that lives for the whole test function (one
DuckDB home per test, reused across examples; state is compared before and after each one), and
must end in one of two ways:

- it loads: rows_read = rows_loaded + rows_quarantined, the raw table gained exactly rows_loaded
  rows, the ledger row says 'succeeded' with those counts, and the raw Parquet file exists with
  rows_loaded rows;
- it is rejected with an InputError whose message is one line naming the file, and the warehouse
  is as it was, except for at most one ledger row recording the rejection: same raw row count,
  same files under data/raw/, no *.tmp file and no transcoded scratch copy anywhere in the home.

Any other exception fails the test. The well-formed generator also checks the loaded values equal
the generated ones (after the documented normalisations: an empty field is NULL, a file that is
not UTF-8 is decoded as cp1252 with a latin-1 fallback).

Profiles: `ci` (the default; deterministic), `fuzz` (HYPOTHESIS_PROFILE=fuzz, 15x the examples,
random seeds; `make fuzz`) and `regressions` (only the pinned @example inputs). No example
database is written (database=None).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import gzip
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from netflix_elt.cli.main import cli
from netflix_elt.core.errors import InputError
from netflix_elt.core.home import Home
from netflix_elt.ingest.load import IngestOptions, ingest_file
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS
from netflix_elt.warehouse.connection import connect

pytestmark = pytest.mark.fuzz

# Hypothesis keeps caches (Unicode tables, constants) in ./.hypothesis by default: keep them out of
# the repo. No example database is kept at all (database=None below).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "netflix-elt-hypothesis")

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=1500, derandomize=False, **_COMMON)
# Only the pinned @example regressions (quick check that a fix still holds).
settings.register_profile("regressions", phases=[Phase.explicit], **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
SCALE = 15 if PROFILE == "fuzz" else 1


def examples(n: int) -> settings:
    """`n` examples under the ci profile, SCALE times as many under fuzz."""
    return settings(max_examples=n * SCALE)


# --------------------------------------------------------------------------------------------
# The harness: one home per test function, checked around every example
# --------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    raw_rows: int
    raw_files: frozenset[Path]
    batches: frozenset[str]


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = Home(root / "home").ensure()
        self.drops = root / "drops"
        self.drops.mkdir()
        self.con = connect(self.home)
        self.n = 0

    def close(self) -> None:
        self.con.close()

    def write(self, data: bytes, name: str = "drop.csv") -> Path:
        self.n += 1
        folder = self.drops / f"{self.n:05d}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        return path

    def snapshot(self) -> Snapshot:
        raw_rows = self.con.execute("select count(*) from raw_netflix_titles").fetchone()[0]
        batches = self.con.execute("select batch_id from etl_batches").fetchall()
        files = frozenset(p for p in (self.home.root / "data" / "raw").rglob("*") if p.is_file())
        return Snapshot(raw_rows, files, frozenset(b for (b,) in batches))

    def ingest(self, path: Path, ratio: float = 0.01, data: bytes | None = None):
        """Ingest `path` and check the properties; the result, or None when it was rejected."""
        before = self.snapshot()
        try:
            result = ingest_file(self.home, self.con, path, IngestOptions(force=True, max_reject_ratio=ratio))
        except InputError as exc:
            self.check_rejected(path, exc, before)
            result = None
        else:
            self.check_loaded(path, result, before, ratio)
        self.check_no_leftovers()
        if data is not None:
            assert path.read_bytes() == data, "the drop itself was modified"
        return result

    def check_no_leftovers(self) -> None:
        stray = [p for p in self.home.root.rglob("*.tmp")]
        assert stray == [], f"stray temporary files: {stray}"
        scratch = [p for p in self.home.tmp_dir.glob("*.csv")]
        assert scratch == [], f"transcoded scratch copies left: {scratch}"

    def check_rejected(self, path: Path, exc: InputError, before: Snapshot) -> None:
        message = str(exc)
        assert message, "an empty error message"
        assert len(message.splitlines()) == 1 and "\n" not in message and "\r" not in message, repr(message)
        assert shown(path) in message, f"the message does not name the file: {message!r}"
        after = self.snapshot()
        assert after.raw_rows == before.raw_rows
        assert after.raw_files == before.raw_files
        new = after.batches - before.batches
        assert before.batches <= after.batches
        assert len(new) <= 1
        if new:
            rows = self.con.execute(
                "select status, message, rows_loaded, raw_path from etl_batches where batch_id = ?", [next(iter(new))]
            ).fetchall()
            assert rows == [("rejected", message, 0, None)]

    def check_loaded(self, path: Path, result, before: Snapshot, ratio: float) -> None:
        assert result.status == "succeeded"
        assert result.rows_loaded > 0
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
        assert result.rows_quarantined / result.rows_read <= ratio
        after = self.snapshot()
        assert after.raw_rows == before.raw_rows + result.rows_loaded
        assert after.batches - before.batches == {result.batch_id}
        ledger = self.con.execute(
            "select status, rows_read, rows_loaded, rows_quarantined, raw_path, source_path from etl_batches "
            "where batch_id = ?",
            [result.batch_id],
        ).fetchall()
        rel = str(result.raw_path.relative_to(self.home.root))
        assert ledger == [("succeeded", result.rows_read, result.rows_loaded, result.rows_quarantined, rel, str(path))]
        assert result.raw_path.is_file()
        assert after.raw_files == before.raw_files | {result.raw_path, result.raw_path.with_suffix(".json")}
        parquet = self.con.execute(
            "select count(*), count(distinct _source_row_number), min(_batch_id), max(_batch_id) "
            "from read_parquet(?, hive_partitioning = false)",
            [str(result.raw_path)],
        ).fetchone()
        assert parquet == (result.rows_loaded, result.rows_loaded, result.batch_id, result.batch_id)
        in_table = self.con.execute(
            "select count(*) from raw_netflix_titles where _batch_id = ?", [result.batch_id]
        ).fetchone()[0]
        assert in_table == result.rows_loaded
        if result.rows_quarantined:
            q = self.con.execute(
                "select count(*) from read_parquet(?, hive_partitioning = false)", [str(result.quarantine_path)]
            ).fetchone()[0]
            assert q == result.rows_quarantined
        else:
            assert result.quarantine_path is None

    def values(self, batch_id: str) -> list[tuple]:
        cols = ", ".join(f'"{c}"' for c in CANONICAL_COLUMNS)
        return self.con.execute(
            f"select {cols} from raw_netflix_titles where _batch_id = ? order by _source_row_number", [batch_id]
        ).fetchall()


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def shown(path: Path) -> str:
    """How a one-line message names the file: line breaks in its name escaped."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in str(path))


@contextlib.contextmanager
def harness() -> Iterator[Harness]:
    root = Path(tempfile.mkdtemp(prefix="netflix-elt-fuzz-"))
    h = Harness(root)
    try:
        yield h
    finally:
        h.close()
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Encoding a table of strings as a drop
# --------------------------------------------------------------------------------------------

HEADER = ",".join(CANONICAL_COLUMNS)
DELIMITERS = [",", ";", "|", "\t"]
NEWLINES = ["\n", "\r\n"]
# Unicode that tends to break things: emoji (with ZWJ), RTL text and overrides, combining marks,
# zero-width characters, a stray BOM, Unicode line separators, C1 controls, wide spaces.
NASTY = [
    "😀",
    "👩\u200d👩\u200d👧",
    "שלום",
    "مرحبا",
    "\u202ereversed\u202c",
    "e\u0301",
    "\u0300",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b",
    "\x0c",
    "\x1c",
    "\u3000",
    "ß",
    "€",
    "İ",
    "𝕏",
]
CSV_CHARS = [",", ";", "|", "\t", '"', "\\", "'", "\n", "\r", "\r\n", " "]

CP1252_CHARS = [c for b in range(1, 256) for c in [bytes([b]).decode("cp1252", errors="ignore")] if c]
LATIN1_CHARS = [chr(b) for b in range(1, 256)]
SINGLE_BYTE = {"cp1252": CP1252_CHARS, "latin-1": LATIN1_CHARS}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]


@functools.cache
def any_text(charset: str | None = None, *, max_size: int = 12, exclude: str = "") -> st.SearchStrategy[str]:
    """Short strings mixing runs of characters, CSV metacharacters and nasty Unicode, from `charset`
    (a key of SINGLE_BYTE; default: every character UTF-8 can carry except NUL). Runs are drawn
    as whole strings, which is much cheaper than a draw per character. Cached per arguments."""
    if charset is None:
        chars: st.SearchStrategy[str] = st.text(
            st.characters(codec="utf-8", exclude_characters="\x00" + exclude), min_size=1, max_size=max_size
        )
        extras = [c for c in NASTY + CSV_CHARS if not any(x in c for x in exclude)]
    else:
        alphabet = "".join(c for c in SINGLE_BYTE[charset] if c not in exclude)
        chars = st.text(alphabet, min_size=1, max_size=max_size)
        extras = [c for c in CSV_CHARS if all(x in alphabet for x in c)]
    ascii_run = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=exclude), min_size=1, max_size=max_size
    )
    return st.lists(chars | ascii_run | st.sampled_from(extras), max_size=3).map("".join)


def encode(text: str, encoding: str, *, errors: str = "strict") -> bytes:
    if encoding == "utf-16-le":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le", errors=errors)
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be", errors=errors)
    return text.encode(encoding, errors=errors)


def quote_rfc(value: str, delim: str, always: bool) -> str:
    if always or any(c in value for c in (delim, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def quote_backslash(value: str, delim: str, always: bool) -> str:
    if always or any(c in value for c in (delim, '"', "\n", "\r")):
        return '"' + value.replace('"', '\\"') + '"'
    return value


# --------------------------------------------------------------------------------------------
# Well-formed drops: valid rows that must load with exactly these values
# --------------------------------------------------------------------------------------------


@dataclass
class WellFormed:
    data: bytes
    columns: list[str]  # canonical names, in the file's order
    rows: list[list[str]]
    encoding: str
    description: str

    def __repr__(self) -> str:  # hypothesis prints this on failure
        return f"WellFormed({self.encoding}, {self.description}, data={self.data!r})"


def _header_variant(col: str, style: int) -> str:
    if style == 1:
        return col.upper()
    if style == 2:
        return " " + col.replace("_", " ").title() + " "
    return col


@st.composite
def well_formed_drops(draw: st.DrawFn) -> WellFormed:
    encoding = draw(st.sampled_from(ENCODINGS))
    delim = draw(st.sampled_from(DELIMITERS))
    escape = draw(st.sampled_from(["doubled", "backslash"]))
    newline = draw(st.sampled_from(NEWLINES))
    always = draw(st.booleans())
    charset = encoding if encoding in SINGLE_BYTE else None
    # a backslash in a value is ambiguous with a backslash-escaped quote: not well-formed
    exclude = "\\" if escape == "backslash" else ""
    columns = list(CANONICAL_COLUMNS)
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    style = draw(st.integers(0, 2))
    header = [_header_variant(c, style) for c in columns]
    # a key needs a character no trim removes (DuckDB's trim also strips Unicode spaces like U+3000)
    key = st.builds(
        lambda a, b, c: a + b + c,
        any_text(charset, max_size=5, exclude=exclude),
        st.sampled_from("sA0"),
        any_text(charset, max_size=5, exclude=exclude),
    )
    other = any_text(charset, exclude=exclude)
    row = st.fixed_dictionaries({c: key if c in ("show_id", "type", "title") else other for c in CANONICAL_COLUMNS})
    rows = [[r[c] for c in columns] for r in draw(st.lists(row, min_size=1, max_size=8))]
    trailing_newline = draw(st.booleans())
    return make_well_formed(rows, columns, header, encoding, delim, escape, always, newline, trailing_newline)


def make_well_formed(
    rows: list[list[str]],
    columns: list[str] | None = None,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    delim: str = ",",
    escape: str = "doubled",
    always: bool = False,
    newline: str = "\n",
    trailing_newline: bool = True,
) -> WellFormed:
    columns = columns or list(CANONICAL_COLUMNS)
    header = header or columns
    quote = quote_rfc if escape == "doubled" else quote_backslash
    lines = [delim.join(quote(h, delim, always) for h in header)]
    lines += [delim.join(quote(v, delim, always) for v in r) for r in rows]
    text = newline.join(lines) + (newline if trailing_newline else "")
    data = encode(text, encoding)
    return WellFormed(data, columns, rows, encoding, f"delim {delim!r}, {escape}, always-quote {always}")


def _canonical_row(description: str) -> list[str]:
    return ["s1", "Movie", "T", "", "", "", "", "", "", "", "", description]


def expected_value(value: str, encoding: str, decoded_as: str) -> str | None:
    """The value as loaded: re-decoded when the file was single-byte; an empty field is NULL."""
    if encoding in SINGLE_BYTE:
        raw = value.encode(encoding)
        value = raw.decode("utf-8") if decoded_as == "utf-8" else raw.decode("cp1252", errors="netflix_elt_latin1")
    return value if value != "" else None


def check_well_formed(h: Harness, drop: WellFormed, name: str = "drop.csv", compress: bool = False) -> None:
    data = gzip.compress(drop.data, mtime=0) if compress else drop.data
    result = h.ingest(h.write(data, name), data=data)
    assert result is not None, "a well-formed drop was rejected"
    assert (result.rows_loaded, result.rows_quarantined) == (len(drop.rows), 0)
    if drop.encoding.startswith("utf-16"):
        decoded_as = "utf-16"
    elif drop.encoding == "utf-8-sig":
        decoded_as = "utf-8-sig"
    else:
        try:
            drop.data.decode("utf-8")
            decoded_as = "utf-8"
        except UnicodeDecodeError:
            decoded_as = "cp1252"
    assert result.encoding == decoded_as
    order = [drop.columns.index(c) for c in CANONICAL_COLUMNS]
    expected = [tuple(expected_value(r[i], drop.encoding, decoded_as) for i in order) for r in drop.rows]
    assert h.values(result.batch_id) == expected


# --------------------------------------------------------------------------------------------
# Hostile drops: anything; must load or be rejected cleanly
# --------------------------------------------------------------------------------------------


@dataclass
class Hostile:
    data: bytes
    name: str
    ratio: float

    def __repr__(self) -> str:
        return f"Hostile(name={self.name!r}, ratio={self.ratio}, data={self.data!r})"


NAMES = [
    "drop.csv",
    "drop.csv.gz",
    "drop",
    "it's a drop.csv",
    "ünï😀 drop.csv",
    "--force.csv",
    "{0}%s.csv",
    "a;b|c.csv",
    "new\nline.csv",  # a name that could forge a second line of output
    "cr\rname.csv",
    "sep\u2028.csv",
]


@st.composite
def hostile_text(draw: st.DrawFn) -> str:
    delim = draw(st.sampled_from(DELIMITERS))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header_kind = draw(st.sampled_from(["canonical", "canonical", "subset", "random", "none"]))
    if header_kind == "canonical":
        header = list(CANONICAL_COLUMNS)
    elif header_kind == "subset":
        header = draw(st.lists(st.sampled_from([*CANONICAL_COLUMNS, "", "extra", "Title", "ID"]), max_size=14))
    elif header_kind == "random":
        header = draw(st.lists(any_text(max_size=6), max_size=14))
    else:
        header = []
    width = max(len(header), 1)
    quoting = draw(st.sampled_from(["doubled", "backslash", "none", "unbalanced", "mixed"]))

    def field(value: str) -> str:
        q = quoting if quoting != "mixed" else draw(st.sampled_from(["doubled", "backslash", "none", "unbalanced"]))
        if q == "doubled":
            return quote_rfc(value, delim, False)
        if q == "backslash":
            return quote_backslash(value, delim, False)
        if q == "unbalanced":
            return '"' + value if draw(st.booleans()) else value + '"'
        return value

    n_rows = draw(st.integers(0, 12))
    ragged = draw(st.booleans())
    lines = [delim.join(field(h) for h in header)] if header else []
    for _ in range(n_rows):
        n = width + (draw(st.integers(-3, 3)) if ragged else 0)
        values = draw(st.lists(any_text(), min_size=max(n, 0), max_size=max(n, 0)))
        lines.append(delim.join(field(v) for v in values))
    if draw(st.booleans()) and lines:  # repeated header line or blank lines in the middle
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from([lines[0], "", "   "])))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


@st.composite
def hostile_drops(draw: st.DrawFn, cheap: bool = False) -> Hostile:
    """Anything. `cheap`: only drops refused before they are parsed (binary, NUL bytes, empty or
    blank, truncated gzip), which cost milliseconds each, so many more of them fit in a run."""
    if cheap:
        kind = draw(st.sampled_from(["binary", "empty", "blank", "nul", "cut-gzip"]))
    else:
        kind = draw(st.sampled_from(["csv"] * 6 + ["binary", "empty", "blank", "header"]))
    if kind == "binary":
        data = draw(st.binary(max_size=300))
    elif kind == "empty":
        data = b""
    elif kind == "blank":
        data = draw(st.sampled_from([b" ", b"\n", b"\r\n\r\n", b"\t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"]))
    else:
        if kind == "header":
            text = HEADER + "\n"
        elif cheap:  # refused before parsing whatever the text: keep generating it cheap
            text = HEADER + "\n" + draw(st.text(max_size=200))
        else:
            text = draw(hostile_text())
        encoding = draw(st.sampled_from([*ENCODINGS, "utf-16-le-nobom"]))
        if encoding == "utf-16-le-nobom":
            data = text.encode("utf-16-le", errors="surrogatepass")
        else:
            data = encode(text, encoding, errors="replace")
        if kind == "nul" or (draw(st.integers(0, 4)) == 0 and data):  # splice in NULs or random bytes
            at = draw(st.integers(0, len(data)))
            nul = st.sampled_from([b"\x00", b"\x00\x00\x00"])
            junk = draw(nul if kind == "nul" else nul | st.binary(min_size=1, max_size=8))
            data = data[:at] + junk + data[at:]
        if kind != "nul" and draw(st.integers(0, 6)) == 0 and data:  # cut anywhere (mid-character, mid-quote)
            data = data[: draw(st.integers(0, len(data)))]
    wraps = ["gzip-truncated"] if kind == "cut-gzip" else ["plain"] * 5 + ["gzip", "gzip-truncated"]
    wrap = draw(st.sampled_from(wraps))
    if wrap != "plain":
        data = gzip.compress(data, mtime=0)
        if wrap == "gzip-truncated":
            data = data[: draw(st.integers(0, len(data) - 1))]
    name = draw(st.sampled_from(NAMES))
    ratio = draw(st.sampled_from([0.01, 0.01, 0.5, 1.0]))
    return Hostile(data, name, ratio)


def assert_cli_outcome(result, path: Path) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.exit_code == 0:
        assert errors == [], result.stderr
        return
    assert result.exit_code == 2, output
    assert len(errors) == 1, result.stderr
    assert shown(path) in errors[0]
    assert "internal error" not in errors[0]


# --------------------------------------------------------------------------------------------
# The properties, over generated drops. The order spreads the four slow tests over two xdist
# workers (each starts with two consecutive tests): keep the slowest two apart.
# --------------------------------------------------------------------------------------------


def test_hostile_drops_load_or_are_rejected_cleanly() -> None:
    with harness() as h:

        @examples(300)
        @given(drop=hostile_drops())
        # Bug 2: a line break in the file's name made the error message (and the ledger's) two lines.
        @example(drop=Hostile(b"", "new\nline.csv", 0.01))
        @example(drop=Hostile(HEADER.encode() + b"\n", "cr\rname.csv", 0.01))
        @example(drop=Hostile(b"show_id,type,title\ns1,Movie,T\n", "x\u2028\nerror: forged.csv", 0.01))
        def check(drop: Hostile) -> None:
            h.ingest(h.write(drop.data, drop.name), drop.ratio, data=drop.data)

        check()


def test_hostile_drops_through_the_cli() -> None:
    runner = CliRunner()
    with harness() as h:
        h.close()  # the CLI opens the warehouse itself

        @examples(25)
        @given(drop=hostile_drops())
        # Bug 2, on the console: the name, logged as it was ("<name>: batch ... started"), forged an
        # `error:` line on stderr.
        @example(drop=Hostile(HEADER.encode() + b"\n", "new\nerror: forged.csv", 0.01))
        def check(drop: Hostile) -> None:
            path = h.write(drop.data, drop.name)
            result = runner.invoke(
                cli,
                [
                    "--home",
                    str(h.home.root),
                    "ingest",
                    "--force",
                    "--max-reject-ratio",
                    str(drop.ratio),
                    "--",
                    str(path),
                ],
                catch_exceptions=True,
            )
            assert_cli_outcome(result, path)

        check()


def test_well_formed_drops_load_exactly() -> None:
    with harness() as h:

        @examples(100)
        @given(drop=well_formed_drops(), compress=st.booleans())
        # Bug 1: a backslash-escaped quote before a non-ASCII character and a delimiter in a quoted
        # field made DuckDB's RFC-4180 attempt report INVALID ENCODING on a valid file; that
        # stopped the escape search and the drop was rejected as having no data rows.
        @example(drop=make_well_formed([_canonical_row('x"é,')], escape="backslash"), compress=False)
        @example(
            drop=make_well_formed([_canonical_row('\x01"€,')], encoding="cp1252", escape="backslash"), compress=False
        )
        @example(drop=make_well_formed([_canonical_row('x"é,')], escape="backslash"), compress=True)
        def check(drop: WellFormed, compress: bool) -> None:
            check_well_formed(h, drop, "drop.csv.gz" if compress else "drop.csv", compress)

        check()


def test_drops_refused_before_parsing() -> None:
    with harness() as h:

        @examples(800)
        @given(drop=hostile_drops(cheap=True))
        def check(drop: Hostile) -> None:
            h.ingest(h.write(drop.data, drop.name), drop.ratio, data=drop.data)

        check()


# --------------------------------------------------------------------------------------------
# Explicit cases: big fields, paths that are not files
# --------------------------------------------------------------------------------------------


def _row(i: int, description: str = "text") -> str:
    return f's{i},Movie,Title {i},Someone,"A, B",India,"September 25, 2021",2020,TV-MA,90 min,Dramas,{description}'


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_a_10mb_field_loads_intact(encoding: str) -> None:
    big = ('é, "quoted"\nand more ' * (10 * 1024 * 1024 // 20))[: 10 * 1024 * 1024]
    text = "\n".join([HEADER, _row(1), _row(2, '"' + big.replace('"', '""') + '"'), _row(3)]) + "\n"
    with harness() as h:
        data = text.encode(encoding)
        result = h.ingest(h.write(data), data=data)
        assert result is not None and result.rows_loaded == 3
        got = h.con.execute(
            "select description from raw_netflix_titles where show_id = 's2' and _batch_id = ?", [result.batch_id]
        ).fetchone()[0]
        assert got == big


def test_not_utf8_past_the_first_megabyte_falls_back_to_cp1252() -> None:
    rows = [_row(i, "plain") for i in range(1, 20_001)]
    rows.append(_row(20_001, "Café"))
    data = ("\n".join([HEADER, *rows]) + "\n").encode("cp1252")
    assert len(data) > 1024 * 1024  # past the block the fast path checks
    with harness() as h:
        result = h.ingest(h.write(data), data=data)
        assert result is not None and result.encoding == "cp1252" and result.rows_loaded == 20_001
        assert h.con.execute(
            "select description from raw_netflix_titles where show_id = 's20001' and _batch_id = ?",
            [result.batch_id],
        ).fetchone() == ("Café",)


def _symlink_loop(d: Path) -> Path:
    (d / "a.csv").symlink_to(d / "b.csv")
    (d / "b.csv").symlink_to(d / "a.csv")
    return d / "a.csv"


def _dangling(d: Path) -> Path:
    (d / "dangling.csv").symlink_to(d / "gone.csv")
    return d / "dangling.csv"


def _fifo(d: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(d / "fifo.csv")
    return d / "fifo.csv"


def _directory(d: Path) -> Path:
    (d / "dir.csv").mkdir()
    return d / "dir.csv"


def _unreadable(d: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading the file")
    p = d / "locked.csv"
    p.write_text(HEADER + "\n" + _row(1) + "\n", encoding="utf-8")
    p.chmod(0)
    return p


PATH_CASES = {
    "directory": (_directory, "is a directory"),
    "symlink-loop": (_symlink_loop, "symlink loop"),
    "dangling-symlink": (_dangling, "no such file"),
    "fifo": (_fifo, "is not a regular file"),
    "unreadable": (_unreadable, "cannot be read"),
}


@pytest.mark.parametrize("case", list(PATH_CASES))
def test_paths_that_are_not_readable_files(case: str) -> None:
    make, fragment = PATH_CASES[case]
    with harness() as h:
        path = make(h.drops)
        try:
            before = h.snapshot()
            with pytest.raises(InputError) as info:
                ingest_file(h.home, h.con, path, IngestOptions())
            h.check_rejected(path, info.value, before)
            h.check_no_leftovers()
            assert fragment in str(info.value)
            h.close()
            result = CliRunner().invoke(cli, ["--home", str(h.home.root), "ingest", str(path)])
            assert_cli_outcome(result, path)
            assert result.exit_code == 2 and fragment in result.stderr
        finally:
            with contextlib.suppress(OSError):
                path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_nul_bytes_past_the_first_block_are_loaded_as_data() -> None:
    """Only a NUL in the first 8 KiB marks a file as binary; later ones are field content."""
    pad = "".join(_row(i) + "\n" for i in range(1, 400))
    text = HEADER + "\n" + pad + 'zz,Movie,T,,,,,,,,,"a\x00b"\n'
    with harness() as h:
        data = text.encode("utf-8")
        assert data.index(b"\x00") > 8192
        result = h.ingest(h.write(data), data=data)
        assert result is not None and result.rows_loaded == 400
        assert h.con.execute(
            "select description from raw_netflix_titles where show_id = 'zz' and _batch_id = ?", [result.batch_id]
        ).fetchone() == ("a\x00b",)


@pytest.mark.parametrize(
    "tail", [b"s9,Movie,T,,,,,,,,,crlf\r\n", b"\r\n", b"s9,Movie,T,,,,,,,,,cr\rs10,Movie,T,,,,,,,,,x\n"]
)
def test_mixed_line_endings_are_rejected_cleanly(tail: bytes) -> None:
    """An LF file with one CRLF (or CR) line end: DuckDB's strict reader fails the whole file on a mix
    of line ends by design (duckdb/duckdb#15959: "state machine reached an invalid state"), so the
    drop is rejected, cleanly. Loading it is pinned below as an expected failure."""
    data = (HEADER + "\n" + _row(1) + "\n").encode() + tail
    with harness() as h:
        assert h.ingest(h.write(data), data=data) is None


@pytest.mark.xfail(
    strict=True, reason="DuckDB's strict CSV reader rejects a file mixing LF and CRLF (duckdb/duckdb#15959)"
)
def test_mixed_line_endings_load() -> None:
    data = (HEADER + "\n" + _row(1) + "\n" + _row(2) + "\r\n").encode()
    with harness() as h:
        result = h.ingest(h.write(data), data=data)
        assert result is not None and result.rows_loaded == 2


def test_a_loaded_file_is_named_on_one_line_by_the_cli() -> None:
    with harness() as h:
        h.close()
        path = h.write((HEADER + "\n" + _row(1) + "\n").encode(), "x\nerror: forged.csv")
        result = CliRunner().invoke(cli, ["--home", str(h.home.root), "ingest", str(path)])
        assert result.exit_code == 0
        assert not [ln for ln in (result.stdout + result.stderr).splitlines() if ln.startswith("error:")]
