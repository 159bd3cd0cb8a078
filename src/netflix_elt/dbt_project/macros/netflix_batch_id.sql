{#- The batch a build processes, as a SQL expression: the `batch_id` var (set by netflix-elt),
    else the latest succeeded batch in `succeeded_cte` (a CTE with batch_id of succeeded batches). -#}
{% macro netflix_batch_id(succeeded_cte) -%}
    {%- set batch_id = var('batch_id', none) -%}
    {%- if batch_id -%}
        '{{ batch_id | replace("'", "''") }}'
    {%- else -%}
        (select max(batch_id) from {{ succeeded_cte }})
    {%- endif -%}
{%- endmacro %}
