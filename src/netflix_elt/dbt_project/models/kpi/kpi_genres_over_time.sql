with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

genres as (

    select * from {{ ref('netflix_title_genres') }}

),

-- One row per (year, genre, title): count(*) on distinct rows spills to disk when memory is
-- short, where count(distinct ...) runs out of it.
title_genres as (

    select distinct
        titles.release_year,
        genres.value as genre,
        titles.show_id,
    from genres
    inner join titles
        on genres.show_id = titles.show_id

),

final as (

    select
        release_year,
        genre,
        count(*) as total_titles,
    from title_genres
    group by release_year, genre

)

select * from final
