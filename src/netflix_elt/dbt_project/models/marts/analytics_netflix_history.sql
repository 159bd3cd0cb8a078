-- SCD type 2 history of every title: one row per version, deletes included.

with

versions as (

    select * from {{ ref('snapshot_netflix_current') }}

),

final as (

    select
        history_id,
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
        last_changed_batch_id as batch_id,
        last_change_type as change_type,
        valid_from,
        valid_to,
        valid_to is null as is_current,
    from versions

)

select * from final
