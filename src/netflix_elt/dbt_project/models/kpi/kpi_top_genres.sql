-- Top 10 genres (listed_in split) by titles.

with

genres as (

    select * from {{ ref('netflix_title_genres') }}

),

-- One row per (genre, title): count(*) on distinct pairs spills to disk when memory is short,
-- where count(distinct ...) runs out of it.
title_genres as (

    select distinct
        value as genre,
        show_id,
    from genres

),

counted as (

    select
        genre,
        count(*) as total_titles,
    from title_genres
    group by genre

),

final as (

    select *
    from counted
    order by total_titles desc, genre asc
    limit 10

)

select * from final
