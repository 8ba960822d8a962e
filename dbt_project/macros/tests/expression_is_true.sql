{% test expression_is_true(model, expression) %}
{#- Rows for which a boolean SQL expression over the model's columns is false,
    e.g. 'violating_minutes <= measured_minutes'. Null counts as a failure. -#}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
