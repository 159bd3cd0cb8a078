{#- Incremental bridges. Each bridge row carries the `updated_at` its title had when the row was
    written. An incremental build rewrites the titles changed since the newest such time: their
    rows are deleted by the pre-hook, then rebuilt from the current table (a deleted title gets
    none). The watermark is read before the delete and inlined into both statements, so they
    agree; a run killed after the current table was built catches up on the next run. -#}

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
