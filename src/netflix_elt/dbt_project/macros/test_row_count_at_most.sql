{#- Generic test: the model has at most `maximum` rows. -#}
{% test row_count_at_most(model, maximum) %}
    select count(*) as actual
    from {{ model }}
    having count(*) > {{ maximum }}
{% endtest %}
