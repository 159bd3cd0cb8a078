-- One row per show_id ever seen. Only the keys in int_netflix_changes are rewritten (delete+insert
-- on show_id; MERGE on BigQuery, which has no delete+insert); unchanged rows keep their updated_at
-- and batch ids. full_refresh is disabled: the table is the accumulated state of every batch and
-- cannot be rebuilt from one.
{{
    config(
        materialized='incremental',
        unique_key='show_id',
        incremental_strategy=('merge' if target.type == 'bigquery' else 'delete+insert'),
        on_schema_change='fail',
        full_refresh=false,
    )
}}

with

changes as (

    select * from {{ ref('int_netflix_changes') }}

),

final as (

    select
        show_id,
        type,
        title,
        director,
        cast_members,
        country,
        date_added,
        release_year,
        rating,
        duration,
        duration_minutes,
        seasons,
        listed_in,
        description,
        row_hash,
        is_deleted,
        deleted_at,
        first_seen_batch_id,
        first_seen_at,
        last_changed_batch_id,
        updated_at,
        change_type as last_change_type,
    from changes

)

select * from final
