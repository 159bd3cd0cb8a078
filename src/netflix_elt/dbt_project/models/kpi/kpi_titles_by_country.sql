-- Top 10 countries by titles; multi-country titles count once for each country listed.

with

countries as (

    select * from {{ ref('netflix_title_countries') }}

),

counted as (

    select
        value as country,
        count(distinct show_id) as total_titles,
    from countries
    group by value

),

final as (

    select *
    from counted
    order by total_titles desc, country
    limit 10

)

select * from final
