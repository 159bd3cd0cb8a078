-- Mass-deletion guard: a snapshot drop that would soft-delete more than var('max_delete_ratio') of
-- the active titles in analytics_netflix_current, or that lists that share fewer titles than are
-- active, is a truncated or partial upload far more often than a real purge (the first 1.7 MB of
-- the catalog would delete half of it). Failing here stops `dbt build` before the change set, so
-- current and history are left as they were. var('accept_deletes') turns it off for one build;
-- delta drops delete nothing and always pass. The current table is read through the adapter, not
-- ref(): the guard must run before it is rebuilt.
{{ config(severity='error') }}

{%- set current = adapter.get_relation(database=target.database, schema=target.schema, identifier='analytics_netflix_current') %}

with

batch as (

    select * from {{ ref('staging_netflix_batch') }}

),

staged_keys as (

    select show_id from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

{% if current is not none -%}
active as (

    select show_id from {{ current }}
    where not is_deleted

),
{%- else -%}
active as (

    select show_id from staged_keys
    where false

),
{%- endif %}

summary as (

    select
        (select count(*) from active) as active_titles,
        (select count(*) from staged_keys) as listed_titles,
        (
            select count(*)
            from active
            where not exists (
                select 1
                from staged_keys
                where staged_keys.show_id = active.show_id
            )
        ) as deleted_titles,
        (select cdc_mode from batch) as cdc_mode,

),

final as (

    select *
    from summary
    where cdc_mode = 'snapshot'
        and active_titles > 0
        and (
            deleted_titles > {{ var('max_delete_ratio') }} * active_titles
            or listed_titles < (1 - {{ var('max_delete_ratio') }}) * active_titles
        )
        {%- if var('accept_deletes') %}
        and false
        {%- endif %}

)

select * from final
