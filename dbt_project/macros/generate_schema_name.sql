{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Models land exactly in the schema dbt_project.yml gives their folder (staging, intermediate,
        analytics for the marts, seeds), not in '<target schema>_<custom>', so BI tools, notebooks
        and the serving snapshot (pipelines/publish.py) see stable names like analytics.fct_meetings. -#}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
