-- One row per country of each current title: `country` split on ',' and trimmed, empty parts dropped.

with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

split as (

    {{ split_list('titles', 'show_id', 'country') }}

),

final as (

    select
        show_id,
        value,
        position,
    from split

)

select * from final
