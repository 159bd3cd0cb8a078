{#- Generic test: the model has exactly `expected` rows. -#}
{% test row_count_equals(model, expected) %}
    select count(*) as actual
    from {{ model }}
    having count(*) <> {{ expected }}
{% endtest %}
