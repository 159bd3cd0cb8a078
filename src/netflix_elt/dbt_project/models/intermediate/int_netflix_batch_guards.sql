-- What the drop guards measure for the staged batch, in one row, against analytics_netflix_current
-- as it stands before this build (the source `prior_state`, as in int_netflix_changes): the
-- key-remap guard's matched and retitled keys, and the mass-deletion guard's active, listed and
-- deleted titles. The guards (tests/assert_*.sql) judge this row; netflix-elt reads its figures
-- for the refusal message and the ledger (etl_transforms.key_change_share, delete_share). The
-- change set depends on it, so a failing guard stops the build before current or history change.

{%- set current = source('prior_state', 'analytics_netflix_current') %}
{%- set current_exists = relation_exists(current) %}

with

batch as (

    select * from {{ ref('staging_netflix_batch') }}

),

staged_keys as (

    select show_id from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

retitled as (

    select * from {{ ref('int_netflix_retitled_keys') }}

),

active as (

    {% if current_exists -%}
    select show_id from {{ current }}
    where not is_deleted
    {%- else -%}
    select show_id from staged_keys
    where false
    {%- endif %}

),

matched as (

    select staged_keys.show_id
    from staged_keys
    inner join active
        on staged_keys.show_id = active.show_id

),

deleted as (

    select active.show_id
    from active
    where
        not exists (
            select 1
            from staged_keys
            where staged_keys.show_id = active.show_id
        )

),

final as (

    select
        batch.batch_id,
        batch.cdc_mode,
        (select count(*) from active) as active_titles,
        (select count(*) from staged_keys) as listed_titles,
        (select count(*) from deleted) as deleted_titles,
        (select count(*) from matched) as matched_keys,
        (select count(*) from retitled) as retitled_keys,
    from batch

)

select * from final
