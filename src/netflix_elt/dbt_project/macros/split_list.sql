{#- One row per element of the comma-separated `column` of `relation`: (key, value, position,
    *carry). Parts are trimmed, empty parts dropped, positions renumbered from 1 without gaps. -#}
{% macro split_list(relation, key, column, carry=[]) -%}
    {{ return(adapter.dispatch('split_list', 'netflix_elt')(relation, key, column, carry)) }}
{%- endmacro %}

{% macro default__split_list(relation, key, column, carry) -%}
    select
        {{ key }},
        trim(part.value) as value,
        row_number() over (partition by {{ key }} order by part.ordinal) as position,
    {%- for c in carry %}
        {{ c }},
    {%- endfor %}
    from {{ relation }}
    cross join unnest(string_split({{ column }}, ',')) with ordinality as part(value, ordinal)
    where {{ column }} is not null
        and trim(part.value) <> ''
{%- endmacro %}

{% macro bigquery__split_list(relation, key, column, carry) -%}
    select
        {{ key }},
        trim(part) as value,
        row_number() over (partition by {{ key }} order by part_offset) as position,
    {%- for c in carry %}
        {{ c }},
    {%- endfor %}
    from {{ relation }}
    cross join unnest(split({{ column }}, ',')) as part with offset as part_offset
    where {{ column }} is not null
        and trim(part) <> ''
{%- endmacro %}
