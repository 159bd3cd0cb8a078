with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

final as (

    select
        rating,
        count(*) as total_titles,
    from titles
    group by rating

)

select * from final
