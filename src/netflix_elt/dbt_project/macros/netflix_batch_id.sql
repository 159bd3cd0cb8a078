{#- The batch a build processes, as a SQL expression: the `batch_id` var (set by netflix-elt),
    else the latest succeeded batch in `succeeded_cte` (a CTE of succeeded ledger rows with batch_id,
    as_of and batch_seq): the newest as-of, then the highest sequence; never the wall clock. -#}
{% macro netflix_batch_id(succeeded_cte) -%}
    {%- set batch_id = var('batch_id', none) -%}
    {%- if batch_id -%}
        '{{ batch_id | replace("'", "''") }}'
    {%- else -%}
        (
            select latest.batch_id
            from {{ succeeded_cte }} as latest
            order by latest.as_of desc, latest.batch_seq desc
            limit 1
        )
    {%- endif -%}
{%- endmacro %}
