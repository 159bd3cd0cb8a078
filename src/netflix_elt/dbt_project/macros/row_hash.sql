{#- A change hash over `columns`: md5 of a JSON object of them, so NULL and '' differ, and a
    value moving from one column to the next changes it (no bare concatenation). -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'netflix_elt')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    md5(to_json({ {%- for c in columns %}'{{ c }}': {{ c }}{{ ", " if not loop.last }}{% endfor -%} }))
{%- endmacro %}

{% macro bigquery__row_hash(columns) -%}
    to_hex(md5(to_json_string(struct({%- for c in columns %}{{ c }}{{ ", " if not loop.last }}{% endfor -%}))))
{%- endmacro %}
