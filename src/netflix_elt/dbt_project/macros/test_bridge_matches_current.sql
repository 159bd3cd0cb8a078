{#- Generic test for an incremental bridge. Fails for rows whose title is missing from the current
    table, deleted, or changed since the row was written (another updated_at): stale rows the
    incremental build should have replaced. Also fails for a (show_id, position) held twice among
    the titles changed by the latest batch, the only rows a build writes; every other title's rows
    passed this test when they were written and, by the first check, have not been touched since. -#}
{% test bridge_matches_current(model, current) %}

with

-- Each CTE is read once: DuckDB materializes a CTE read twice, and at 10M titles the bridge
-- holds ~70M rows.
titles as (

    select
        show_id,
        is_deleted,
        updated_at,
    from {{ current }}

),

bridge as (

    select
        show_id,
        updated_at,
    from {{ model }}

),

newest_title as (

    select max(updated_at) as updated_at
    from {{ current }}

),

bridge_of_newest_titles as (

    select
        show_id,
        position,
    from {{ model }}
    where updated_at = (select updated_at from newest_title)

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

duplicated as (

    select show_id
    from bridge_of_newest_titles
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
