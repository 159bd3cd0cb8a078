with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

genres as (

    select * from {{ ref('netflix_title_genres') }}

),

final as (

    select
        titles.release_year,
        genres.value as genre,
        count(distinct titles.show_id) as total_titles,
    from genres
    inner join titles
        on genres.show_id = titles.show_id
    group by titles.release_year, genres.value

)

select * from final
