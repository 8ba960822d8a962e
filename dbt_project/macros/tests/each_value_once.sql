{% test each_value_once(model, group_columns, column) %}
{#- Groups (group_columns) that do not hold exactly one row for every value of `column`, an ENUM
    of at most 63 labels. E.g. every participant-minute of fct_qos_minutes has exactly one row per
    stream: this checks the grain (no duplicate, no missing stream) in one pass over the rows,
    grouping by participant-minute (7x fewer groups than a uniqueness test on the full key).
    Groups are keyed by one 64-bit hash of group_columns: two different groups sharing a hash
    would be a false alarm (odds about n^2 / 2^65), never a missed duplicate. -#}
{%- set key = group_columns | join(', ') %}
{%- if target.name == 'lake' %}
{#- On a DuckLake the column is varchar (no ENUM there): every group holds each value seen once. #}
select
    hash({{ key }}) as group_hash,
    count(*) as row_count
from {{ model }}
group by hash({{ key }})
having
    count(*) <> count(distinct {{ column }})
    or count(*) <> (select count(distinct {{ column }}) from {{ model }})
{%- else %}
select
    hash({{ key }}) as group_hash,
    count(*) as row_count,
    bit_or(cast(1 as bigint) << enum_code({{ column }})) as values_seen
from {{ model }}
group by hash({{ key }})
having
    count(*) <> len(enum_range(any_value({{ column }})))
    or bit_or(cast(1 as bigint) << enum_code({{ column }}))
    <> (cast(1 as bigint) << len(enum_range(any_value({{ column }})))) - 1
{%- endif %}
{% endtest %}
