{#- Generic test for an incremental bridge. Fails for rows whose title is missing from the current
    table, deleted, or changed since the row was written (another updated_at): stale rows the
    incremental build should have replaced. Also fails for a (show_id, position) held twice among
    the titles changed by the latest batch, the only rows a build writes; every other title's rows
    passed this test when they were written and, by the first check, have not been touched since. -#}
{% test bridge_matches_current(model, current) %}

with

titles as (

    select * from {{ current }}

),

bridge as (

    select * from {{ model }}

),

stale as (

    select bridge.show_id
    from bridge
    left join titles
        on bridge.show_id = titles.show_id
    where titles.show_id is null
        or titles.is_deleted
        or titles.updated_at <> bridge.updated_at

),

latest_rows as (

    select bridge.*
    from bridge
    where bridge.updated_at = (select max(updated_at) from titles)

),

duplicated as (

    select show_id
    from latest_rows
    group by show_id, position
    having count(*) > 1

),

final as (

    select show_id from stale
    union all
    select show_id from duplicated

)

select * from final

{% endtest %}
