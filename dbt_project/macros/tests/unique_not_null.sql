{% test unique_not_null(model, column_name) %}
{#- A key column: dbt's `unique` and `not_null` in one query. Fails on every null (one row, with
    the count of null rows) and on every value held by more than one row. One scan of the model
    instead of two, and on a DuckLake one transaction (snapshot and file lookups in the catalog)
    instead of two. -#}
select
    {{ column_name }} as key_value,
    count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
