-- What the batch changes in analytics_netflix_current: one row per inserted, updated, revived
-- or (for snapshot drops) deleted key, already in the current table's shape. Unchanged keys are
-- absent. Every time written (first_seen_at, updated_at, deleted_at) is the batch's as-of, which
-- increases with the batch sequence by construction (never the wall clock).
-- The current table is read as it stands before this build, as the source
-- `prior_state.analytics_netflix_current` (see _sources.yml), not through ref(), which would be a
-- cycle: the current table is built from this model. Before the first build it does not exist yet
-- and every key is an insert. As a source, a unit test can give its rows.
-- It waits for the drop guards (tests on int_netflix_batch_guards): a refused drop changes nothing.
-- depends_on: {{ ref('int_netflix_batch_guards') }}

{%- set current = source('prior_state', 'analytics_netflix_current') %}
{%- set current_exists = relation_exists(current) %}

with

staged as (

    select * from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

-- The batch's keys alone, for finding deleted titles (`staged` read a second time would be
-- materialized whole by DuckDB).
staged_keys as (  -- noqa: ST03

    select show_id from {{ ref('staging_netflix_titles') }}
    where show_id is not null

),

batch as (

    select * from {{ ref('staging_netflix_batch') }}

),

existing as (

    {% if current_exists -%}
    select * from {{ current }}
    {%- else -%}
    select *
    from (
        select
            cast(null as {{ dbt.type_string() }}) as show_id,
            cast(null as {{ dbt.type_string() }}) as title,
            cast(null as {{ dbt.type_string() }}) as row_hash,
            cast(null as boolean) as is_deleted,
            cast(null as {{ dbt.type_string() }}) as first_seen_batch_id,
            cast(null as {{ dbt.type_timestamp() }}) as first_seen_at,
    ) as empty_current
    where false
    {%- endif %}

),

compared as (

    select
        staged.*,
        existing.title as previous_title,
        existing.first_seen_batch_id as existing_first_seen_batch_id,
        existing.first_seen_at as existing_first_seen_at,
        case
            when existing.show_id is null then 'insert'
            when existing.is_deleted then 'revive'
            when (staged.row_hash is distinct from existing.row_hash) then 'update'
        end as change_type,
    from staged
    left join existing
        on staged.show_id = existing.show_id

),

upserts as (

    select
        compared.show_id,
        compared.type,
        compared.title,
        compared.director,
        compared.cast_members,
        compared.country,
        compared.date_added,
        compared.release_year,
        compared.rating,
        compared.duration,
        compared.duration_minutes,
        compared.seasons,
        compared.listed_in,
        compared.description,
        compared.row_hash,
        false as is_deleted,
        cast(null as {{ dbt.type_timestamp() }}) as deleted_at,
        coalesce(compared.existing_first_seen_batch_id, batch.batch_id) as first_seen_batch_id,
        coalesce(compared.existing_first_seen_at, batch.as_of) as first_seen_at,
        batch.batch_id as last_changed_batch_id,
        batch.as_of as updated_at,
        compared.change_type,
        compared.previous_title,
    from compared
    cross join batch
    where compared.change_type is not null

),

deletes as (

    select
        existing.show_id,
        existing.type,
        existing.title,
        existing.director,
        existing.cast_members,
        existing.country,
        existing.date_added,
        existing.release_year,
        existing.rating,
        existing.duration,
        existing.duration_minutes,
        existing.seasons,
        existing.listed_in,
        existing.description,
        existing.row_hash,
        true as is_deleted,
        batch.as_of as deleted_at,
        existing.first_seen_batch_id,
        existing.first_seen_at,
        batch.batch_id as last_changed_batch_id,
        batch.as_of as updated_at,
        'delete' as change_type,
        existing.title as previous_title,
    {% if current_exists -%}
    from {{ current }} as existing
    cross join batch
    where batch.cdc_mode = 'snapshot'
        and not existing.is_deleted
        and not exists (
            select 1
            from staged_keys
            where staged_keys.show_id = existing.show_id
        )
    {%- else -%}
    from upserts as existing
    cross join batch
    where false
    {%- endif %}

),

final as (

    select * from upserts
    union all
    select * from deletes

)

select * from final
