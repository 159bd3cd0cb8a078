{#- Whether `relation` (a ref() or source()) exists in the warehouse now. A model calls it directly
    so that a unit test can override it (`overrides: macros: {relation_exists: true}`): a unit
    test's inputs are fixtures, never the warehouse. -#}
{% macro relation_exists(relation) -%}
    {%- set found = adapter.get_relation(
        database=relation.database,
        schema=relation.schema,
        identifier=relation.identifier,
    ) -%}
    {{ return(found is not none) }}
{%- endmacro %}
