-- Mass-deletion guard: a snapshot drop that would soft-delete more than var('max_delete_ratio') of
-- the active titles in analytics_netflix_current, or that lists that share fewer titles than are
-- active, is a truncated or partial upload far more often than a real purge (the first 1.7 MB of
-- the catalog would delete half of it). The figures are int_netflix_batch_guards'; the change set
-- depends on that model, so failing here stops `dbt build` before current and history change.
-- var('accept_deletes') turns it off for one build; delta drops delete nothing and always pass.
{{ config(severity='error') }}

with

guards as (

    select * from {{ ref('int_netflix_batch_guards') }}

),

final as (

    select *
    from guards
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
