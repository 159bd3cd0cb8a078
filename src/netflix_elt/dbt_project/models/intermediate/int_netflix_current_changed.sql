-- The rows of analytics_netflix_current the SCD2 snapshot has not seen yet: changed after the
-- newest version it holds (every row on the first build). Feeding the snapshot only these keeps
-- each batch's history step proportional to what changed, not to the catalog; keys absent here
-- are left alone (hard_deletes: ignore; deletes are versions with is_deleted). Strictly after:
-- rows stamped with the newest version's time are in the snapshot already (dbt commits a
-- snapshot's update and insert together), and `>=` would feed it every title the previous batch
-- loaded or left unchanged, the whole catalog after a first load. Measured against the snapshot
-- itself, not against this batch's change set, so a run killed between the current table and
-- the snapshot catches up on the next run. The snapshot is read through the adapter, not ref(),
-- which would be a cycle.

{%- set history = adapter.get_relation(
    database=this.database,
    schema=this.schema,
    identifier='snapshot_netflix_current',
) %}

with

titles as (

    select * from {{ ref('analytics_netflix_current') }}

),

{% if history is not none -%}
watermark as (

    select max(valid_from) as newest_version_at
    from {{ history }}

),
{%- endif %}

final as (

    select titles.*
    from titles
    {% if history is not none -%}
    cross join watermark
    where watermark.newest_version_at is null
        or titles.updated_at > watermark.newest_version_at
    {%- endif %}

)

select * from final
