"""The value pools: for each column, the values of a real catalog (the bundled sample by default)
held in DuckDB list variables, the distinct values and every occurrence as an index into them,
movies first, then TV shows, so a uniform pick keeps the source's frequencies. They are built with
ordered aggregates over the source's row order, so the same source gives the same pools.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from netflix_elt.core.errors import InputError
from netflix_elt.tools.synth.reading import _read_csv
from netflix_elt.tools.synth.session import _first_line
from netflix_elt.tools.synth.sql import _sql_list

log = logging.getLogger("netflix_elt.tools.synth")  # the package's logger, the name it has always had

DATE_FORMATS = ["%B %d, %Y", "%d-%b-%y", "%Y-%m-%d"]  # what staging parses


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
