{#- The four bridges (netflix_title_cast, _countries, _directors, _genres): one row per element
    of one comma-separated column of each current, not deleted title, in listed order, as
    (show_id, value, position, updated_at). Each bridge model is one call:

        {{ netflix_bridge('cast_members') }}

    Incremental: each bridge row carries the `updated_at` its title had when the row was
    written. An incremental build rewrites the titles changed since the newest such time: their
    rows are deleted by the pre-hook, then rebuilt from the current table (a deleted title gets
    none). The watermark is read before the delete and inlined into both statements, so they
    agree; a run killed after the current table was built catches up on the next run.
    `dbt build --full-refresh` rebuilds a bridge from the current table. -#}
{% macro netflix_bridge(list_column) -%}

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

    {{ split_list('titles', 'show_id', list_column, carry=['updated_at']) }}

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

{%- endmacro %}

{% macro bridge_watermark() -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query('select cast(max(updated_at) as ' ~ dbt.type_string() ~ ') from ' ~ this) -%}
        {%- set value = result.columns[0].values()[0] -%}
        {%- if value is not none -%}
            {{ return("cast('" ~ value ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- A filter on the current table's rows whose bridge rows this build rewrites (all rows on the
    first build). A filter, not a join: at 10M titles DuckDB built the hash table of a semi-join
    on the 10M side and ran out of memory. -#}
{% macro bridge_changed_filter() -%}
    {%- set watermark = bridge_watermark() -%}
    {%- if watermark is not none -%}
        updated_at > {{ watermark }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of the bridges: on an incremental build, delete the rows of the titles to rewrite. -#}
{% macro delete_bridge_rows_of_changed_titles() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where show_id in (
            select show_id
            from {{ ref('analytics_netflix_current') }}
            where {{ bridge_changed_filter() }}
        )
    {%- endif -%}
{%- endmacro %}
