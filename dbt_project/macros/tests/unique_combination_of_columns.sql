{% test unique_combination_of_columns(model, combination_of_columns, hashed=false) %}
{#- Keys (a combination of columns) that occur more than once; a small stand-in for dbt_utils'.
    hashed: group by one 64-bit hash of the key instead of the columns: several times faster on
        tens of millions of rows; a failure shows the hash. Two different keys sharing a hash would
        be a false alarm (odds about n^2 / 2^65: 1e-8 at 20 million rows), never a missed duplicate.
    Combine with `where: "latest_batch:<column>"` on big incremental tables. -#}
{%- set key = combination_of_columns | join(', ') %}
select
    {%- if hashed %}
    hash({{ key }}) as key_hash,
    {%- else %}
    {{ key }},
    {%- endif %}
    count(*) as occurrences
from {{ model }}
group by {% if hashed %}hash({{ key }}){% else %}{{ key }}{% endif %}
having count(*) > 1
{% endtest %}
