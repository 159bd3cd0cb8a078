-- Top 10 countries by titles released in the catalog's last `recent_years` years
-- (release_year >= max(release_year) - 5, as the original pipeline defined it).

with

-- Read twice below: only the two columns needed (DuckDB materializes a CTE read twice).
titles as (

    select
        show_id,
        release_year,
    from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

countries as (

    select * from {{ ref('netflix_title_countries') }}

),

cutoff as (

    select max(release_year) - {{ var('recent_years') }} as min_year
    from titles

),

recent as (

    select titles.show_id
    from titles
    cross join cutoff
    where titles.release_year >= cutoff.min_year

),

-- One row per (country, title): count(*) on distinct pairs spills to disk when memory is
-- short, where count(distinct ...) runs out of it.
recent_countries as (

    select distinct
        countries.value as country,
        countries.show_id,
    from countries
    inner join recent
        on countries.show_id = recent.show_id

),

counted as (

    select
        country,
        count(*) as total_titles_recent,
    from recent_countries
    group by country

),

final as (

    select *
    from counted
    order by total_titles_recent desc, country asc
    limit 10

)

select * from final
