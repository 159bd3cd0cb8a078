{#- date_added as a DATE, whatever format the copy used: `September 25, 2021` (leading space
    allowed), `25-Sep-21`, `9-Sep-19`, `2021-09-25`. NULL when nothing fits; never an error. -#}
{% macro parse_date_added(expr) -%}
    {{ return(adapter.dispatch('parse_date_added', 'netflix_elt')(expr)) }}
{%- endmacro %}

{% macro default__parse_date_added(expr) -%}
    cast(try_strptime(trim({{ expr }}), ['%B %d, %Y', '%d-%b-%y', '%Y-%m-%d']) as date)
{%- endmacro %}

{% macro bigquery__parse_date_added(expr) -%}
    coalesce(
        safe.parse_date('%B %e, %Y', trim({{ expr }})),
        safe.parse_date('%e-%b-%y', trim({{ expr }})),
        safe.parse_date('%Y-%m-%d', trim({{ expr }}))
    )
{%- endmacro %}
