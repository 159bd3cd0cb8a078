{#- Generic test: every show_id in an SCD2 model has exactly one version with is_current. -#}
{% test one_current_version_per_key(model) %}
    select show_id
    from {{ model }}
    group by show_id
    having sum(case when is_current then 1 else 0 end) <> 1
{% endtest %}
