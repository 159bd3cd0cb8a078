with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

final as (

    select
        release_year,
        count(*) as total_titles,
    from titles
    group by release_year

)

select * from final
