"""The row generator: one SELECT of N synthetic catalog rows that streams from `range(rows)`, every
random choice `hash(seed, salt, i, k)` indexing into a value pool, so memory stays bounded whatever
the row count (10M rows: ~1 min, ~150 MB RSS). It reads one table with SELECT only, which DuckDB
documents as order-preserving (with insertion order kept; joins would not be): the same seed, pools
and DuckDB version give the same rows in the same order.
"""

from __future__ import annotations

from netflix_elt.tools.synth.pools import _Pool
from netflix_elt.tools.synth.sql import _hash


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
