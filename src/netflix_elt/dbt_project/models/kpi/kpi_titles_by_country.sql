-- Top 10 countries by titles; multi-country titles count once for each country listed.

with

countries as (

    select * from {{ ref('netflix_title_countries') }}

),

-- One row per (country, title): count(*) on distinct pairs spills to disk when memory is short,
-- where count(distinct ...) runs out of it.
title_countrys as (

    select distinct
        value as country,
        show_id,
    from countries

),

counted as (

    select
        country,
        count(*) as total_titles,
    from title_countrys
    group by country

),

final as (

    select *
    from counted
    order by total_titles desc, country asc
    limit 10

)

select * from final
