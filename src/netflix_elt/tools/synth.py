"""Synthetic catalog drops: a realistic catalog of any size, and the next full-snapshot drop after it.

Everything runs inside DuckDB and streams: the rows come from `range(rows)`, every random choice is
`hash(seed, salt, i, k)` indexing into a small pool of values sampled from a real catalog (the
bundled sample by default), held as DuckDB list variables, and `COPY (select ...) TO` writes the
CSV. Memory stays bounded whatever the row count (10M rows: ~1 min, ~150 MB RSS). A `.gz` name
gets the CSV gzipped in parallel blocks afterwards (see `_gzip`).

Determinism: the queries read one table (`range()` or the base CSV) with SELECT / WHERE / UNION ALL
only, which DuckDB documents as order-preserving (insertion order is kept on; joins would not be),
and the pools are built with ordered aggregates. So the same seed, source and DuckDB version (its
`hash()`) give a byte-identical file; a .gz also needs the same zlib.

Scratch space (DuckDB spill files, and for a .gz the uncompressed CSV) goes to `scratch_dir`, by
default a hidden temporary directory beside the output; it is removed afterwards.

`synth_next` builds the next snapshot of a drop: an exact number of rows changed (in a way the
pipeline's cleaning keeps: a sentence appended to `description`, or another valid `rating`),
deleted and added (fresh show_ids), the rest copied as they were, plus the CDC counts the pipeline
must report when it loads the base and then the new drop (`<name>.expected.json`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.ingest.mapping import CANONICAL_COLUMNS
from netflix_elt.ingest.sample import sample_path

log = logging.getLogger(__name__)

COLUMNS = CANONICAL_COLUMNS
# The ratings the pipeline accepts (dbt var `known_ratings`); a changed row gets one of them.
KNOWN_RATINGS = (
    "TV-MA",
    "TV-14",
    "TV-PG",
    "R",
    "PG-13",
    "TV-Y7",
    "TV-Y",
    "PG",
    "TV-G",
    "NR",
    "G",
    "TV-Y7-FV",
    "NC-17",
    "UR",
)
# Appended to the description of some changed rows (quotes and commas on purpose).
CHANGE_SENTENCES = (
    "Now includes an extended cut.",
    'Features a new "behind the scenes" segment.',
    "Remastered in 4K, with new subtitles.",
    "Includes an exclusive interview with the cast.",
    'Winner of the "Audience Choice" award, 2022.',
    "Now with audio description in five languages.",
)
MEMORY_LIMIT = "1GB"
THREADS = 2
GZIP_MAGIC = b"\x1f\x8b"
GZIP_LEVEL = 1  # test data: speed over size (level 6 is ~3x slower for ~15% smaller files)
GZIP_BLOCK = 16 << 20
DATE_FORMATS = ["%B %d, %Y", "%d-%b-%y", "%Y-%m-%d"]  # what staging parses


@dataclass(frozen=True)
class NextDropSpec:
    """Shares of the base drop's rows to change, add and delete (e.g. 0.01, 0.005, 0.002)."""

    changed: float
    new: float
    deleted: float

    def __post_init__(self) -> None:
        for name in ("changed", "new", "deleted"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InputError(f"synth: share {name}={value!r} must be a number between 0 and 1")
        total = self.changed + self.new + self.deleted
        if total > 1:
            raise InputError(f"synth: shares changed + new + deleted sum to {total:g}; they must not exceed 1")


def expected_path(out: Path) -> Path:
    """`<out name without .csv/.csv.gz>.expected.json` beside `out`."""
    name = out.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return out.with_name(f"{name}.expected.json")


def synth_catalog(
    out: Path, rows: int, seed: int, *, source: Path | None = None, scratch_dir: Path | None = None
) -> int:
    """Write a synthetic catalog drop of `rows` rows (show_ids s1..sN) to `out`, its values sampled
    from `source` (default: the bundled sample). Returns the number of rows written."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InputError(f"synth: rows={rows!r} must be a whole number of at least 1")
    seed = _check_seed(seed)
    out = Path(out)
    src = Path(source) if source is not None else sample_path()
    _check_output(out, [src])
    started = time.monotonic()
    with _duckdb(scratch_dir, out) as (con, scratch):
        pools = _load_pools(con, src)
        sql = _generator_sql(pools, seed, "catalog", first_id=1, rows=rows)
        _copy_to(con, sql, out, scratch)
    log.info("synth: wrote %s rows to %s in %.1fs (seed %d)", f"{rows:,}", out, time.monotonic() - started, seed)
    return rows


def synth_next(
    base: Path, out: Path, spec: NextDropSpec, seed: int, *, scratch_dir: Path | None = None
) -> dict[str, int]:
    """Write the next full-snapshot drop after `base` to `out`, and the CDC counts the pipeline
    must report for it (after loading `base`) to `expected_path(out)`. Returns those counts."""
    seed = _check_seed(seed)
    base, out = Path(base), Path(out)
    if not base.is_file():
        raise InputError(f"{base}: base drop not found; pass an existing .csv or .csv.gz file")
    _check_output(out, [base])
    started = time.monotonic()
    with _duckdb(scratch_dir, out) as (con, scratch):
        _create_base_view(con, base)
        n, keys, max_id = _base_stats(con, base, seed)
        if n == 0:
            raise InputError(f"{base}: base drop has no rows")
        if keys != n:
            raise InputError(
                f"{base}: base drop lists {n - keys:,} show_id(s) more than once or without a show_id, "
                "title or type; synth_next needs a clean snapshot"
            )
        n_changed, n_new, n_deleted = round(spec.changed * n), round(spec.new * n), round(spec.deleted * n)
        deleted_below, changed_below = _thresholds(con, base, seed, n_deleted, n_changed)
        pick = _hash(seed, "pick", "trim(show_id)")
        how = _hash(seed, "how", "trim(show_id)")
        is_deleted = f"{pick} <= {deleted_below}::ubigint" if deleted_below is not None else "false"
        is_changed = (
            f"{pick} <= {changed_below}::ubigint and not ({is_deleted})" if changed_below is not None else "false"
        )
        ratings = _sql_list(KNOWN_RATINGS)
        sentences = _sql_list(CHANGE_SENTENCES)
        r1 = f"{ratings}[(1 + {how} // 2 % {len(KNOWN_RATINGS)})::bigint]"
        r2 = f"{ratings}[(1 + ({how} // 2 % {len(KNOWN_RATINGS)} + 1) % {len(KNOWN_RATINGS)})::bigint]"
        new_rating = f"case when {r1} = coalesce(trim(rating), '') then {r2} else {r1} end"
        sentence = f"{sentences}[(1 + {how} // 2 % {len(CHANGE_SENTENCES)})::bigint]"
        new_description = f"case when description is null then {sentence} else description || ' ' || {sentence} end"
        kept = (
            'select show_id, type, title, director, "cast", country, date_added, release_year, '
            f"case when {is_changed} and {how} % 2 = 0 then {new_rating} else rating end as rating, "
            "duration, listed_in, "
            f"case when {is_changed} and {how} % 2 = 1 then {new_description} else description end as description "
            f"from base where not ({is_deleted})"
        )
        sql = kept
        if n_new:
            pools = _load_pools(con, sample_path())
            sql += " union all " + _generator_sql(pools, seed, "next", first_id=max_id + 1, rows=n_new)
        con.execute("drop table base_keys")
        _copy_to(con, sql, out, scratch)
    expected = {
        "inserted": n_new,
        "updated": n_changed,
        "deleted": n_deleted,
        "unchanged": n - n_changed - n_deleted,
        "revived": 0,
        "rows": n - n_deleted + n_new,
    }
    _write_json(expected_path(out), expected)
    log.info(
        "synth: next drop %s from %s (%s rows): %s changed, %s new, %s deleted in %.1fs (seed %d)",
        out,
        base,
        f"{n:,}",
        f"{n_changed:,}",
        f"{n_new:,}",
        f"{n_deleted:,}",
        time.monotonic() - started,
        seed,
    )
    return expected


# --- DuckDB session ---------------------------------------------------------------------------


@contextmanager
def _duckdb(scratch_dir: Path | None, out: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """An in-memory DuckDB with bounded memory, and a scratch directory (its spill files, the
    uncompressed copy of a .gz output) removed afterwards: under `scratch_dir`, else a hidden one
    beside `out` (same disk as the output; the system temp dir may be a small tmpfs)."""
    parent = Path(scratch_dir) if scratch_dir is not None else out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".synth-scratch-", dir=parent))
    except OSError as exc:
        raise InputError(f"{parent}: cannot use as scratch directory ({exc.strerror or exc})") from None
    try:
        con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": THREADS,
                "temp_directory": str(scratch / "duckdb"),
                "preserve_insertion_order": True,  # the output order (and bytes) must not depend on timing
            },
        )
        try:
            yield con, scratch
        finally:
            con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise InputError(f"synth: seed={seed!r} must be a whole number that fits in 64 bits")
    return seed


def _check_output(out: Path, inputs: list[Path]) -> None:
    if out.is_dir():
        raise InputError(f"{out}: is a directory; pass a file name ending in .csv or .csv.gz")
    name = out.name.lower()
    if not any(name.endswith(suffix) and len(name) > len(suffix) for suffix in (".csv", ".csv.gz")):
        # The file is CSV whatever its name: x.xlsx or x.parquet would be a lie to the next reader.
        raise InputError(f"{out}: synth writes CSV; use .csv or .csv.gz as the file name's ending")
    for p in inputs:
        with suppress(OSError):
            if out.exists() and out.samefile(p):
                raise InputError(f"{out}: is also the input; write the synthetic drop to another file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create its directory ({exc.strerror or exc})") from None
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"{out}: directory {out.parent} is not writable; choose another output")


def _copy_to(con: duckdb.DuckDBPyConnection, sql: str, out: Path, scratch: Path) -> None:
    """COPY the query as CSV to a temporary file beside `out`, then rename it into place. For a
    `.gz` name, DuckDB writes the plain CSV to scratch and it is gzipped in parallel blocks (DuckDB's
    own gzip writer runs at ~13 MB/s on one core: minutes for 10M rows)."""
    gz = out.name.lower().endswith(".gz")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    plain = scratch / "out.csv" if gz else tmp
    tmp.unlink(missing_ok=True)
    try:
        con.execute(
            f"copy ({sql}) to {_sql_str(str(plain))} "
            "(format csv, header true, delimiter ',', quote '\"', escape '\"', compression none)"
        )
        if gz:
            _gzip(plain, tmp)
            plain.unlink()
        tmp.replace(out)
    except duckdb.IOException as exc:
        raise InputError(f"{out}: cannot write ({_first_line(exc)})") from None
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except duckdb.Error as exc:
        raise PipelineError(f"{out}: synthetic drop failed ({_first_line(exc)})") from None
    finally:
        tmp.unlink(missing_ok=True)


def _gzip(src: Path, dst: Path) -> None:
    """gzip `src` into `dst` as a series of gzip members (one per block, compressed on THREADS
    threads, written in order): a valid .gz that gunzip, Python and DuckDB read as one stream.
    Deterministic for a given zlib; memory stays at a few blocks."""

    def member(block: bytes) -> bytes:
        z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip header, mtime 0
        return z.compress(block) + z.flush()

    with src.open("rb") as fin, dst.open("wb") as fout, ThreadPoolExecutor(THREADS) as pool:
        pending: deque[Future[bytes]] = deque()
        while block := fin.read(GZIP_BLOCK):
            pending.append(pool.submit(member, block))
            if len(pending) >= 2 * THREADS:
                fout.write(pending.popleft().result())
        while pending:
            fout.write(pending.popleft().result())


def _write_json(path: Path, data: dict[str, int]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None


# --- SQL helpers --------------------------------------------------------------------------------


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_sql_str(v) for v in values) + "]"


def _hash(seed: int, salt: str, *args: str) -> str:
    """A deterministic UBIGINT for (seed, salt, args): the randomness of every choice."""
    return f"hash({seed}::bigint, {_sql_str(salt)}, {', '.join(args)})"


# --- reading a drop -----------------------------------------------------------------------------


def _header(path: Path) -> tuple[list[str], str]:
    """The header fields of a drop (plain or gzip) and its compression."""
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == GZIP_MAGIC
        stream: IO[bytes] = gzip.open(path, "rb") if gz else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115 (closed by the with below)
        with stream as fh:
            line = fh.readline(1 << 20)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff")
    fields = next(csv.reader(io.StringIO(text)), [])
    return [f.strip() for f in fields], "gzip" if gz else "none"


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> None:
    """`view`: the drop's canonical columns as VARCHAR, in file order (strict RFC-4180 parse)."""
    headers, compression = _header(path)
    index = {h.lower(): i for i, h in reversed(list(enumerate(headers)))}
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)}; synth needs a drop with the 12 canonical columns")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers))) + "}"
    select = ", ".join(f'c{index[c]} as "{c}"' for c in COLUMNS)
    con.execute(
        f"create or replace temp view {view} as select {select} from read_csv({_sql_str(str(path))}, "
        f"auto_detect = false, header = true, delim = ',', quote = '\"', escape = '\"', columns = {columns}, "
        f"compression = '{compression}', strict_mode = true, max_line_size = 16777216, buffer_size = 33554432)"
    )


def _create_base_view(con: duckdb.DuckDBPyConnection, base: Path) -> None:
    _read_csv(con, base, "base")


def _base_stats(con: duckdb.DuckDBPyConnection, base: Path, seed: int) -> tuple[int, int, int]:
    """Reads the base once into `base_keys` (key, pick hash) and returns (rows, rows with a usable
    key that no other row shares, largest numeric id among `s<N>` ids)."""
    pick = _hash(seed, "pick", "trim(show_id)")
    try:
        con.execute(
            "create or replace temp table base_keys as select nullif(trim(show_id), '') as key, "
            "nullif(trim(title), '') is not null and nullif(trim(type), '') is not null as usable, "
            f"{pick} as h from base"
        )
        row = con.execute(
            """
            with g as (select key, count(*) as n, bool_and(usable) as usable from base_keys group by key)
            select coalesce(sum(n), 0),
                coalesce(sum(n) filter (where key is not null and n = 1 and usable), 0),
                coalesce(max(try_cast(regexp_extract(key, '^s([0-9]+)$', 1) as bigint)), 0),
            from g
            """
        ).fetchone()
    except duckdb.Error as exc:
        raise InputError(f"{base}: cannot be read as an RFC-4180 CSV drop ({_first_line(exc)})") from None
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _thresholds(
    con: duckdb.DuckDBPyConnection, base: Path, seed: int, n_deleted: int, n_changed: int
) -> tuple[int | None, int | None]:
    """Hash cut-offs: rows whose pick hash is <= the first are deleted, <= the second (and not
    deleted) changed. Exact counts: the cut-offs are the n_deleted-th and (n_deleted+n_changed)-th
    smallest hashes, and a tie across a cut-off (a 64-bit collision) is refused."""
    k = n_deleted + n_changed
    if k == 0:
        return None, None
    sql = f"""
        with top as (select h from base_keys order by h limit {k + 1}),
        ranked as (select h, row_number() over (order by h) as rn from top)
        select max(h) filter (where rn = {n_deleted}), max(h) filter (where rn = {n_deleted + 1}),
            max(h) filter (where rn = {k}), max(h) filter (where rn = {k + 1}),
        from ranked
    """
    row = con.execute(sql).fetchone()
    assert row is not None
    d_last, d_next, k_last, k_next = row
    if (d_last is not None and d_last == d_next) or (k_last is not None and k_last == k_next):
        raise InputError(f"{base}: seed {seed} splits two show_ids with equal hashes; use another seed")
    return (int(d_last) if n_deleted else None), int(k_last)


# --- value pools and the row generator ----------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    """Values sampled from the source, for one column: DuckDB list variables `pool_<name>` (the
    distinct values) and `map_<name>` (every occurrence, movies first, then TV shows, as an index
    into the distinct values, so a uniform pick keeps the source's frequencies).

    DuckDB materializes a constant list once per vector (2,048 rows) and per occurrence in the
    query, so the generator extracts from each pool exactly once (one index, or a list of indexes
    with list_select), and long strings are held once each: the cost per row is about
    (distinct values) / 2,048 string copies."""

    name: str
    movies: int
    shows: int
    typed: bool = True

    @property
    def values(self) -> str:
        """SQL: the pool's distinct values."""
        return f"getvariable('pool_{self.name}')"

    @property
    def occurrences(self) -> str:
        """SQL: every occurrence, in source order, as a 1-based index into `values`."""
        return f"getvariable('map_{self.name}')"

    def index(self, h: str) -> str:
        """SQL: a 1-based index into the pool for the row's type (`is_movie`), chosen by hash `h`."""
        if not self.typed:
            n = self.movies + self.shows
            return f"(1 + {h} % {n})::bigint" if n else "null::bigint"
        movie = f"1 + {h} % {self.movies}" if self.movies else "null"
        show = f"{self.movies + 1} + {h} % {self.shows}" if self.shows else "null"
        return f"(case when is_movie then {movie} else {show} end)::bigint"


_DATE = "cast(try_strptime(trim(date_added), " + _sql_list(tuple(DATE_FORMATS)) + ") as date)"
# name: (value, source relation, filter, typed). Each value keeps its source row order (rn, ord).
_POOL_SPECS: dict[str, tuple[str, str, str, bool]] = {
    "word": (
        "w.v",
        "src cross join unnest(string_split(trim(title), ' ')) with ordinality as w(v, ord)",
        "w.v <> ''",
        False,
    ),
    "director": ("director", "src", "true", True),
    "cast": ('"cast"', "src", "true", True),
    "country": ("country", "src", "true", True),
    "country_part": (
        "trim(p.v)",
        "src cross join unnest(string_split(country, ',')) with ordinality as p(v, ord)",
        "trim(p.v) <> ''",
        True,
    ),
    "genres": ("listed_in", "src", "true", True),
    "genre_part": (
        "trim(p.v)",
        "src cross join unnest(string_split(listed_in, ',')) with ordinality as p(v, ord)",
        "trim(p.v) <> ''",
        True,
    ),
    "date": (_DATE, "src", f"date_added is null or {_DATE} is not null", True),
    "release_year": (
        "trim(release_year)",
        "src",
        "release_year is null or regexp_full_match(trim(release_year), '[0-9]{4}')",
        True,
    ),
    # The sample's three `74 min` ratings are durations in the wrong column: not ratings.
    "rating": ("trim(rating)", "src", "rating is null or not regexp_full_match(trim(rating), '[0-9]+ *min')", True),
    "duration": (
        "trim(duration)",
        "src",
        "case when is_movie then regexp_full_match(trim(duration), '[0-9]+ min') "
        "else regexp_full_match(trim(duration), '[0-9]+ Seasons?') end",
        True,
    ),
    "description": ("description", "src", "true", True),
}


_TYPE_COUNTS = (
    "select count(*) filter (where is_movie), count(*) filter (where not is_movie) from {relation} where {where}"
)


def _load_pools(con: duckdb.DuckDBPyConnection, source: Path) -> dict[str, _Pool]:
    """Sample the source into list variables, one per pool, and return their sizes."""
    _read_csv(con, source, "src_raw")
    try:
        con.execute(
            "create or replace temp table src as select row_number() over () as rn, "
            "lower(trim(type)) = 'movie' as is_movie, * exclude (type) from src_raw "
            "where lower(trim(type)) in ('movie', 'tv show')"
        )
    except duckdb.Error as exc:
        raise InputError(f"{source}: cannot be read as an RFC-4180 CSV drop ({_first_line(exc)})") from None
    movies, shows = con.execute(
        "select count(*) filter (where is_movie), count(*) filter (where not is_movie) from src"
    ).fetchone()  # type: ignore[misc]
    if not movies or not shows:
        raise InputError(f"{source}: needs rows of type Movie and of type TV Show to sample from")
    pools: dict[str, _Pool] = {"type": _Pool("type", int(movies), int(shows))}
    for name, (value, relation, where, typed) in _POOL_SPECS.items():
        ordinal = "ord" if "ordinality" in relation else "0"
        order = f"not is_movie, rn, {ordinal}" if typed else f"rn, {ordinal}"
        # Every occurrence (so values keep their frequencies) as an index into the distinct values,
        # both in a stable order: the source's row order.
        con.execute(
            f"create or replace temp table occ as select row_number() over (order by {order}) as pos, "
            f"{value} as v from {relation} where {where}"
        )
        con.execute(
            "create or replace temp table dist as "
            "select v, row_number() over (order by min(pos)) as vi from occ group by v"
        )
        con.execute(f"set variable pool_{name} = (select coalesce(list(v order by vi), []) from dist)")
        con.execute(
            f"set variable map_{name} = (select coalesce(list(vi order by pos), []) "
            "from occ join dist on occ.v is not distinct from dist.v)"
        )
        m, s = con.execute(_TYPE_COUNTS.format(relation=relation, where=where)).fetchone()  # type: ignore[misc]
        pools[name] = _Pool(name, int(m), int(s), typed)
    con.execute("drop table if exists occ; drop table if exists dist")
    log.debug("synth: pools from %s: %s", source, {p.name: (p.movies, p.shows) for p in pools.values()})
    return pools


def _generator_sql(pools: dict[str, _Pool], seed: int, salt: str, *, first_id: int, rows: int) -> str:
    """SELECT of `rows` synthetic rows with show_ids s<first_id>.., the canonical columns as VARCHAR.

    Four layers, each a single-table SELECT (order-preserving): the row's type; the hashes and
    pool indexes; one extraction per pool; the final strings."""

    def h(k: int) -> str:
        return _hash(seed, salt, "i", str(k))

    p = pools
    total = p["type"].movies + p["type"].shows
    singles = ["director", "cast", "country", "genres", "date", "release_year", "rating", "duration", "description"]
    multis = {"word": 4, "country_part": 3, "genre_part": 3}  # pool: how many picks per row
    indexes = [f"{p[name].index(h(10 * k))} as ix_{name}" for k, name in enumerate(singles, start=1)]
    for k, (name, count) in enumerate(multis.items(), start=20):
        picks = ", ".join(p[name].index(h(10 * k + j)) for j in range(count))
        indexes.append(f"[{picks}] as ix_{name}")
    extracted = [f"{p[name].values}[{p[name].occurrences}[ix_{name}]] as v_{name}" for name in singles]
    extracted += [
        f"list_select({p[name].values}, list_select({p[name].occurrences}, ix_{name})) as v_{name}" for name in multis
    ]

    def recombined(part: str, n: str) -> str:
        # 1 to 3 distinct parts (weights 50/35/15), in the order sampled.
        v = f"v_{part}"
        return (
            f"{v}[1] || case when {n} >= 50 and {v}[2] <> {v}[1] then ', ' || {v}[2] else '' end"
            f" || case when {n} >= 85 and {v}[3] <> {v}[1] and {v}[3] <> {v}[2] then ', ' || {v}[3] else '' end"
        )

    # Titles: 2 to 4 words sampled from real titles (weights 40/35/25), so they are mostly unique.
    title_words = (
        "v_word[1] || ' ' || v_word[2]"
        " || case when n_title < 60 then ' ' || v_word[3] else '' end"
        " || case when n_title < 25 then ' ' || v_word[4] else '' end"
    )
    return f"""
        select
            's' || id as show_id,
            case when is_movie then 'Movie' else 'TV Show' end as type,
            {title_words} as title,
            v_director as director,
            v_cast as "cast",
            case when n_country < 15 then {recombined("country_part", "n_country_parts")}
                else v_country end as country,
            case
                when v_date is null then null
                when n_date < 10 then ' ' || strftime(v_date, '%B %-d, %Y')
                when n_date < 20 then strftime(v_date, '%-d-%b-%y')
                when n_date < 30 then strftime(v_date, '%Y-%m-%d')
                else strftime(v_date, '%B %-d, %Y')
            end as date_added,
            v_release_year as release_year,
            v_rating as rating,
            v_duration as duration,
            case when n_genre < 20 then {recombined("genre_part", "n_genre_parts")}
                else v_genres end as listed_in,
            v_description as description,
        from (
            select *, {", ".join(extracted)},
            from (
                select
                    id,
                    is_movie,
                    {h(1)} % 100 as n_title,
                    {h(2)} % 100 as n_country,
                    {h(3)} % 100 as n_country_parts,
                    {h(4)} % 100 as n_genre,
                    {h(5)} % 100 as n_genre_parts,
                    {h(6)} % 1000 as n_date,
                    {", ".join(indexes)},
                from (
                    select i, {first_id}::bigint + i as id, {h(0)} % {total} < {p["type"].movies} as is_movie,
                    from range({rows}) as r(i)
                )
            )
        )
    """
