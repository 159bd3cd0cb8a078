{#- One row per element of the comma-separated `column` of `relation`: (key, value, position,
    *carry). Parts are trimmed, empty parts dropped, positions renumbered from 1 without gaps. -#}
{% macro split_list(relation, key, column, carry=[]) -%}
    {{ return(adapter.dispatch('split_list', 'netflix_elt')(relation, key, column, carry)) }}
{%- endmacro %}

{#- DuckDB: each list split, trimmed and emptied of blank parts once, then unnested beside its
    subscripts, which are the positions: no window sorting every element by key (2.5x faster at
    7M cast rows than a row_number() over the unnested parts). -#}
{% macro default__split_list(relation, key, column, carry) -%}
    select
        {{ key }},
        unnest(parts) as value,
        generate_subscripts(parts, 1) as position,
    {%- for c in carry %}
        {{ c }},
    {%- endfor %}
    from (
        select
            {{ key }},
            list_filter(
                list_transform(string_split({{ column }}, ','), lambda part: trim(part)),
                lambda part: part <> ''
            ) as parts,
    {%- for c in carry %}
        {{ c }},
    {%- endfor %}
        from {{ relation }}
        where {{ column }} is not null
    ) as listed
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
