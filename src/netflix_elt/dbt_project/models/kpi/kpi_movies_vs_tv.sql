with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

final as (

    select
        type,
        count(*) as total_titles,
    from titles
    group by type

)

select * from final
