-- One row per genre of each current title: `listed_in` split on ',' and trimmed, empty parts dropped.

with

titles as (

    select * from {{ ref('analytics_netflix_current') }}
    where not is_deleted

),

split as (

    {{ split_list('titles', 'show_id', 'listed_in') }}

),

final as (

    select
        show_id,
        value,
        position,
    from split

)

select * from final
