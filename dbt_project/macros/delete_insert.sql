{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {#- dbt-duckdb's delete+insert (called below), plus one option for big incremental tables:
            config(meta={'delete_range_column': 'minute_at'})
        where that column is part of the unique key. A target row replaced by a new one has the
        same key, so its value of that column lies between the new rows' minimum and maximum: the
        delete is limited to that range, written as literals so DuckDB skips every row group whose
        min/max statistics fall outside it. Without the bound the delete joins the whole table,
        so a daily run would cost more as history grows. -#}
    {%- set predicates = (incremental_predicates or []) | list -%}
    {%- set range_column = (config.get('meta') or {}).get('delete_range_column') -%}
    {%- if range_column and execute -%}
        {%- set bounds = run_query(
            'select cast(min(' ~ range_column ~ ') as varchar), cast(max(' ~ range_column ~ ') as varchar), '
            ~ 'typeof(any_value(' ~ range_column ~ ')) from ' ~ source
        ).rows[0] -%}
        {%- if bounds[0] is not none -%}
            {%- do predicates.append(
                'DBT_INCREMENTAL_TARGET.' ~ range_column ~ ' between cast(\'' ~ bounds[0] ~ '\' as ' ~ bounds[2]
                ~ ') and cast(\'' ~ bounds[1] ~ '\' as ' ~ bounds[2] ~ ')'
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{- dbt.duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, predicates) -}}
{%- endmacro %}
