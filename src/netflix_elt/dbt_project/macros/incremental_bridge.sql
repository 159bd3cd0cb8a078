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

{#- The show_ids of `current` whose bridge rows must be rewritten by this build. -#}
{% macro bridge_changed_titles(current) -%}
    {%- set watermark = bridge_watermark() -%}
    select show_id
    from {{ current }}
    {%- if watermark is not none %}
    where updated_at > {{ watermark }}
    {%- endif %}
{%- endmacro %}

{#- Pre-hook of the bridges: on an incremental build, delete the rows of the titles to rewrite. -#}
{% macro delete_bridge_rows_of_changed_titles() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where show_id in ({{ bridge_changed_titles(ref('analytics_netflix_current')) }})
    {%- endif -%}
{%- endmacro %}
