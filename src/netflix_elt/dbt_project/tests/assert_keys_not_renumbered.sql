-- Key-remap guard: among the batch's keys that are in analytics_netflix_current (not deleted),
-- more than var('key_change_threshold') changed title means the drop renumbered its show_ids
-- (the 2020 and 2021 releases did: 0 of 7,775 shared titles kept theirs). Failing here stops
-- `dbt build` before the change set, so current and history are left as they were.
-- var('accept_key_changes') turns the guard off for one build. The current table is read through
-- the adapter, not ref(): the guard must run before it is rebuilt.
{{ config(severity='error') }}

{%- set current = adapter.get_relation(database=target.database, schema=target.schema, identifier='analytics_netflix_current') %}

with

staged as (

    select * from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

{% if current is not none -%}
matched as (

    select
        staged.show_id,
        lower(staged.title) is distinct from lower(existing.title) as title_changed,
    from staged
    inner join {{ current }} as existing
        on staged.show_id = existing.show_id
    where not existing.is_deleted

),
{%- else -%}
matched as (

    select
        show_id,
        false as title_changed,
    from staged
    where false

),
{%- endif %}

summary as (

    select
        count(*) as matched_keys,
        sum(case when title_changed then 1 else 0 end) as changed_keys,
    from matched

),

final as (

    select *
    from summary
    where matched_keys > 0
        and changed_keys > {{ var('key_change_threshold') }} * matched_keys
        {%- if var('accept_key_changes') %}
        and false
        {%- endif %}

)

select * from final
