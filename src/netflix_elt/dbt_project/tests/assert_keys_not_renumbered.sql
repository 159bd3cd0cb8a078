-- Key-remap guard: among the batch's keys that are active in analytics_netflix_current, more than
-- var('key_change_threshold') changed title means the drop renumbered its show_ids (the 2020 and
-- 2021 releases did: 0 of 7,775 shared titles kept theirs). The figures are
-- int_netflix_batch_guards'; the change set depends on that model, so failing here stops
-- `dbt build` before current and history change. var('accept_key_changes') turns the guard off
-- for one build.
{{ config(severity='error') }}

with

guards as (

    select * from {{ ref('int_netflix_batch_guards') }}

),

final as (

    select *
    from guards
    where matched_keys > 0
        and retitled_keys > {{ var('key_change_threshold') }} * matched_keys
        {%- if var('accept_key_changes') %}
        and false
        {%- endif %}

)

select * from final
