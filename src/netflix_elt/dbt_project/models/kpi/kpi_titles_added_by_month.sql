with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted
        and date_added is not null

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'date_added') }} as date) as month_added,
        type,
        count(*) as total_titles,
    from titles
    group by 1, 2

)

select * from final
