-- Row-count reconciliation: staging rows + duplicate keys dropped = rows loaded for the batch
-- (raw rows = rows read - quarantined, checked at ingestion).

with

batch as (

    select * from {{ ref('staging_netflix_batch') }}

),

raw_rows as (

    select count(*) as n
    from {{ source('netflix', 'raw_netflix_titles') }}
    where _batch_id = (select batch.batch_id from batch)

),

staged as (

    select count(*) as n
    from {{ ref('staging_netflix_titles') }}

),

raw_keys as (

    select count(distinct nullif(trim(show_id), '')) + count(*) - count(nullif(trim(show_id), '')) as n
    from {{ source('netflix', 'raw_netflix_titles') }}
    where _batch_id = (select batch.batch_id from batch)

),

final as (

    select
        batch.rows_loaded,
        raw_rows.n as raw_rows,
        staged.n as staged_rows,
        raw_keys.n as distinct_keys,
    from batch
    cross join raw_rows
    cross join staged
    cross join raw_keys
    where batch.rows_loaded <> raw_rows.n
        or batch.rows_read - batch.rows_quarantined <> raw_rows.n
        or staged.n <> raw_keys.n

)

select * from final
