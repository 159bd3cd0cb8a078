-- One row per genre of each current title: `listed_in` split on ',' and trimmed, empty parts dropped.
-- Incremental: only the titles changed since the last build are rewritten (see incremental_bridge.sql);
-- `dbt build --full-refresh` rebuilds it from the current table.
{{
    config(
        materialized='incremental',
        incremental_strategy=('merge' if target.type == 'bigquery' else 'append'),
        on_schema_change='fail',
        pre_hook="{{ delete_bridge_rows_of_changed_titles() }}",
    )
}}

with

current_titles as (

    select * from {{ ref('analytics_netflix_current') }}

),

titles as (

    select *
    from current_titles
    where not is_deleted
    {%- if is_incremental() %}
        and {{ bridge_changed_filter() }}
    {%- endif %}

),

split as (

    {{ split_list('titles', 'show_id', 'listed_in', carry=['updated_at']) }}

),

final as (

    select
        show_id,
        value,
        position,
        updated_at,
    from split

)

select * from final
