{#- The integer at the start of `expr` when the rest matches `unit_regex`
    (`90 min` with unit 'min' -> 90); NULL otherwise. -#}
{% macro extract_leading_int(expr, unit_regex) -%}
    {{ return(adapter.dispatch('extract_leading_int', 'netflix_elt')(expr, unit_regex)) }}
{%- endmacro %}

{% macro default__extract_leading_int(expr, unit_regex) -%}
    try_cast(regexp_extract({{ expr }}, '^([0-9]+) *(?i:{{ unit_regex }})$', 1) as integer)
{%- endmacro %}

{% macro bigquery__extract_leading_int(expr, unit_regex) -%}
    safe_cast(regexp_extract({{ expr }}, r'^([0-9]+) *(?i:{{ unit_regex }})$') as int64)
{%- endmacro %}

{#- `expr` as an integer, NULL when it is not one (dbt's safe_cast is a plain cast on DuckDB). -#}
{% macro safe_int(expr) -%}
    {{ return(adapter.dispatch('safe_int', 'netflix_elt')(expr)) }}
{%- endmacro %}

{% macro default__safe_int(expr) -%}
    try_cast({{ expr }} as integer)
{%- endmacro %}

{% macro bigquery__safe_int(expr) -%}
    safe_cast({{ expr }} as int64)
{%- endmacro %}
