"""Step 3: the staging SQL."""

import duckdb
from _common import args, database

a = args()
con = duckdb.connect(database(a.work))
con.execute(
    """
    create or replace table staging_netflix_titles as
    with cleaned as (
        select
            nullif(trim(show_id), '') as show_id,
            case lower(trim(type))
                when 'movie' then 'Movie' when 'tv show' then 'TV Show' else nullif(trim(type), '')
            end as type,
            nullif(trim(title), '') as title,
            nullif(trim(director), '') as director,
            nullif(trim("cast"), '') as cast_members,
            nullif(trim(country), '') as country,
            try_strptime(nullif(trim(date_added), ''), '%B %d, %Y')::date as date_added,
            try_cast(nullif(trim(release_year), '') as integer) as release_year,
            nullif(trim(rating), '') as rating,
            nullif(trim(duration), '') as duration,
            try_cast(regexp_extract(duration, '(\\d+)', 1) as integer) as duration_value,
            case when duration ilike '%season%' then 'seasons' when duration ilike '%min%' then 'minutes' end
                as duration_unit,
            nullif(trim(listed_in), '') as listed_in,
            nullif(trim(description), '') as description,
            row_number() over (partition by trim(show_id) order by loaded_at desc) as rn
        from raw_netflix_titles
    )
    select * exclude (rn) from cleaned where rn = 1 and show_id is not null
    """
)
print(con.execute("select count(*) from staging_netflix_titles").fetchone()[0], "staged rows")
