{% macro duckdb__get_where_subquery(relation) -%}
    {#- dbt's `where` test config, plus one shorthand for big incremental tables:
            where: "latest_batch:<column>"
        tests only the rows of the newest batch, i.e. where <column> equals its maximum
        (_dbt_loaded_at: the rows the latest dbt run wrote; _dlt_load_id: the newest dlt load).
        A full refresh (or a first load) is one batch, so it is still tested whole. -#}
    {% set where = config.get('where', '') %}
    {% if where and where.startswith('latest_batch:') %}
        {%- set column = where.split(':', 1)[1] | trim -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ column }} = (select max({{ column }}) from {{ relation }})) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {% elif where %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
