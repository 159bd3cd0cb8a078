-- Top 10 countries by titles released in the catalog's last `recent_years` years
-- (release_year >= max(release_year) - 5, as the original pipeline defined it).

with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

countries as (

    select * from {{ ref('netflix_title_countries') }}

),

cutoff as (

    select max(release_year) - {{ var('recent_years') }} as min_year,
    from titles

),

recent as (

    select titles.show_id
    from titles
    cross join cutoff
    where titles.release_year >= cutoff.min_year

),

counted as (

    select
        countries.value as country,
        count(distinct countries.show_id) as total_titles_recent,
    from countries
    inner join recent
        on countries.show_id = recent.show_id
    group by countries.value

),

final as (

    select *
    from counted
    order by total_titles_recent desc, country
    limit 10

)

select * from final
