-- Top 10 genres (listed_in split) by titles.

with

genres as (

    select * from {{ ref('netflix_title_genres') }}

),

counted as (

    select
        value as genre,
        count(distinct show_id) as total_titles,
    from genres
    group by value

),

final as (

    select *
    from counted
    order by total_titles desc, genre
    limit 10

)

select * from final
