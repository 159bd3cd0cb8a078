-- The staged batch's keys that are active in analytics_netflix_current and changed title
-- (case-insensitively): a few are corrections, most of them at once is a renumbered drop (the
-- 2020 and 2021 releases kept 0 of 7,775 shared titles' show_ids). Read by the key-remap guard's
-- figures (int_netflix_batch_guards) and by the refusal message's examples. The current table is
-- read as it stands before this build, as the source `prior_state` (see int_netflix_changes).

{%- set current = source('prior_state', 'analytics_netflix_current') %}
{%- set current_exists = relation_exists(current) %}

with

staged as (

    select * from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

active as (

    {% if current_exists -%}
    select
        show_id,
        title,
    from {{ current }}
    where not is_deleted
    {%- else -%}
    select
        show_id,
        title,
    from staged
    where false
    {%- endif %}

),

final as (

    select
        staged.show_id,
        active.title as previous_title,
        staged.title,
    from staged
    inner join active
        on staged.show_id = active.show_id
    where lower(staged.title) is distinct from lower(active.title)

)

select * from final
