-- The one batch this build processes: the `batch_id` var, else the latest succeeded batch (by as-of,
-- then sequence).

with

batches as (

    select * from {{ source('netflix', 'etl_batches') }}

),

succeeded as (

    select
        batch_id,
        mode as cdc_mode,
        started_at as ingested_at,
        batch_seq,
        coalesce(as_of, started_at) as as_of,
        rows_read,
        rows_loaded,
        rows_quarantined,
    from batches
    where status = 'succeeded'

),

final as (

    select *
    from succeeded
    where batch_id = {{ netflix_batch_id('succeeded') }}

)

select * from final
