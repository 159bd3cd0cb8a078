-- One cleaned row per show_id of the batch being processed (see staging_netflix_batch).

with

raw_titles as (

    select * from {{ source('netflix', 'raw_netflix_titles') }}

),

-- The same source, narrow, to find repeated keys without sorting whole rows (a CTE read twice
-- is materialized whole by DuckDB, so the keys get their own import).
raw_keys as (

    select
        _batch_id,
        show_id,
        _source_row_number,
    from {{ source('netflix', 'raw_netflix_titles') }}

),

batches as (

    select * from {{ source('netflix', 'etl_batches') }}
    where status = 'succeeded'

),

batch_rows as (

    select *
    from raw_titles
    where _batch_id = {{ netflix_batch_id('batches') }}

),

batch_keys as (

    select
        nullif(trim(show_id), '') as show_id,
        _source_row_number as source_row_number,
    from raw_keys
    where _batch_id = {{ netflix_batch_id('batches') }}

),

-- show_ids the drop lists more than once, with the row that wins: the last occurrence.
repeated_keys as (

    select
        show_id,
        max(source_row_number) as last_row_number,
    from batch_keys
    where show_id is not null
    group by show_id
    having count(*) > 1

),

trimmed as (

    select
        nullif(trim(show_id), '') as show_id,
        nullif(trim(type), '') as type_raw,
        nullif(trim(title), '') as title,
        nullif(trim(director), '') as director,
        nullif(trim({{ adapter.quote("cast") }}), '') as cast_members,
        nullif(trim(country), '') as country,
        nullif(trim(date_added), '') as date_added_raw,
        nullif(trim(release_year), '') as release_year_raw,
        nullif(trim(rating), '') as rating_raw,
        nullif(trim(duration), '') as duration_raw,
        nullif(trim(listed_in), '') as listed_in,
        nullif(trim(description), '') as description,
        _batch_id as batch_id,
        _source_row_number as source_row_number,
        _ingested_at as ingested_at,
    from batch_rows

),

-- Three rows of the 2021 release carry their duration in `rating` (`74 min`) and none in
-- `duration`: move it back and leave the rating unknown.
duration_fixed as (

    select
        *,
        coalesce(
            duration_raw is null and {{ extract_leading_int('rating_raw', 'min') }} is not null,
            false
        ) as rating_was_duration,
    from trimmed

),

parsed as (

    select
        show_id,
        case
            when lower(type_raw) = 'movie' then 'Movie'
            when lower(type_raw) in ('tv show', 'tv', 'show', 'tv series', 'series') then 'TV Show'
            else type_raw
        end as type,
        title,
        director,
        cast_members,
        country,
        {{ parse_date_added('date_added_raw') }} as date_added,
        {{ safe_int('release_year_raw') }} as release_year,
        case when rating_was_duration then null else rating_raw end as rating,
        case when rating_was_duration then rating_raw else duration_raw end as duration,
        listed_in,
        description,
        date_added_raw,
        release_year_raw,
        rating_was_duration,
        batch_id,
        source_row_number,
        ingested_at,
    from duration_fixed

),

enriched as (

    select
        *,
        {{ extract_leading_int('duration', 'min') }} as duration_minutes,
        {{ extract_leading_int('duration', 'seasons?') }} as seasons,
        date_added_raw is not null and date_added is null as date_added_unparsed,
        release_year_raw is not null and release_year is null as release_year_invalid,
        rating is not null and rating not in (
            {%- for r in var('known_ratings') %}
            '{{ r }}'{{ "," if not loop.last }}
            {%- endfor %}
        ) as rating_unknown,
    from parsed

),

-- A drop may list a show_id twice: the last occurrence wins. Rows without a key are kept (and
-- fail the not_null test) rather than silently dropped.
deduplicated as (

    select enriched.*
    from enriched
    left join repeated_keys
        on enriched.show_id = repeated_keys.show_id
    where repeated_keys.show_id is null
        or enriched.source_row_number = repeated_keys.last_row_number

),

final as (

    select
        show_id,
        type,
        title,
        director,
        cast_members,
        country,
        date_added,
        release_year,
        rating,
        duration,
        duration_minutes,
        seasons,
        listed_in,
        description,
        {{ row_hash([
            'show_id', 'type', 'title', 'director', 'cast_members', 'country', 'date_added',
            'release_year', 'rating', 'duration', 'listed_in', 'description',
        ]) }} as row_hash,
        date_added_raw,
        release_year_raw,
        date_added_unparsed,
        release_year_invalid,
        rating_unknown,
        rating_was_duration,
        batch_id,
        source_row_number,
        ingested_at,
    from deduplicated

)

select * from final
