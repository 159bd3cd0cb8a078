{#- dbt's snapshot compares its input with the snapshot's open versions in a CTE that selects
    from the whole snapshot table and is read twice, so DuckDB materializes it: at 10M titles,
    10M (key, version id, valid_from) rows, which ran out of a 1GB memory limit. With
    `hard_deletes: ignore` only versions of keys in the input can match, so dbt's own macro is
    given the snapshot narrowed to those keys (a semi-join); everything else (strategy, columns,
    merge) stays dbt's. Other configurations (deletes tracked by dbt, composite keys) get dbt's
    macro unchanged. -#}
{% macro duckdb__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- if strategy.hard_deletes == 'ignore' and strategy.unique_key is string -%}
        {%- set versions_of_input_keys -%}
            (
                select *
                from {{ target_relation }}
                where {{ strategy.unique_key }} in (
                    select {{ strategy.unique_key }} from ({{ source_sql }}) as snapshot_input
                )
            )
        {%- endset -%}
        {{ dbt.default__snapshot_staging_table(strategy, source_sql, versions_of_input_keys) }}
    {%- else -%}
        {{ dbt.default__snapshot_staging_table(strategy, source_sql, target_relation) }}
    {%- endif -%}
{%- endmacro %}
