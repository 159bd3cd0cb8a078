-- One row per cast member of each current title: `cast_members` split on ',' and trimmed, empty parts dropped.

with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

split as (

    {{ split_list('titles', 'show_id', 'cast_members') }}

),

final as (

    select
        show_id,
        value,
        position,
    from split

)

select * from final
