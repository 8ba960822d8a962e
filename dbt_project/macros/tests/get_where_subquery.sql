{% macro duckdb__get_where_subquery(relation) -%}
    {#- dbt's `where` test config, plus two shorthands for big incremental tables:
            where: "latest_batch:<column>"
        tests only the rows of the newest batch, i.e. where <column> equals its maximum
        (_dbt_loaded_at: the rows the latest dbt run wrote; _dlt_load_id: the newest dlt load).
            where: "latest_batch_meetings:<column>"
        tests every row of the meetings that have a row in the newest batch (for tests comparing
        rows with each other, such as uniqueness: a duplicate always involves a new row).
        A full refresh (or a first load) is one batch, so it is still tested whole.
            where: "touched" / "touched:meets_event_id"
        tests the rows of the meetings (and MEETS events) the run recomputed (below). -#}
    {% set where = config.get('where', '') %}
    {% if where and (where.startswith('latest_batch_meetings:') or where.startswith('latest_batch:')) %}
        {%- set kind, column = where.split(':', 1) -%}
        {%- set column = column | trim -%}
        {#- the newest batch as a literal (so DuckDB prunes row groups by their min/max), and
            whether it is the only one (full refresh: test everything, no filter to pay for) -#}
        {%- set newest, only_batch, type_name = none, true, none -%}
        {%- if execute -%}
            {%- set row = run_query(
                'select cast(max(' ~ column ~ ') as varchar), min(' ~ column ~ ') = max(' ~ column ~ '), '
                ~ 'typeof(max(' ~ column ~ ')) from ' ~ relation
            ).rows[0] -%}
            {%- set newest, only_batch, type_name = row[0], row[1], row[2] -%}
        {%- endif -%}
        {%- if newest is none or only_batch -%}
            {% do return(relation) %}
        {%- endif -%}
        {%- set literal = "cast('" ~ newest ~ "' as " ~ type_name ~ ")" -%}
        {%- if kind == 'latest_batch_meetings' -%}
            {#- every row of each meeting that has a row in the newest batch: for tests that compare
                rows with each other (uniqueness), where a new row can clash with an older one -#}
            {%- set filtered -%}
                (select * from {{ relation }} where meeting_uuid in (
                    select meeting_uuid from {{ relation }} where {{ column }} = {{ literal }}
                )) dbt_subquery
            {%- endset -%}
        {%- else -%}
            {%- set filtered -%}
                (select * from {{ relation }} where {{ column }} = {{ literal }}) dbt_subquery
            {%- endset -%}
        {%- endif -%}
        {% do return(filtered) %}
    {% elif where and (where == 'touched' or where.startswith('touched:')) %}
        {#- where: "touched" (or "touched:<MEETS event column>"): the rows of the meetings (and
            events) this run recomputed, int_meetings__touched; after a full build that is every
            meeting, so the table is tested whole. Not a ref: tests do not depend on it. -#}
        {%- set touched = adapter.get_relation(
            database=relation.database, schema=generate_schema_name('intermediate', none),
            identifier='int_meetings__touched'
        ) -%}
        {%- if touched is none -%}
            {% do return(relation) %}
        {%- endif -%}
        {%- set event_column = where.split(':', 1)[1] | trim if ':' in where else none -%}
        {%- set filtered -%}
            (select * from {{ relation }} where meeting_uuid in (
                select meeting_uuid from {{ touched }} where meeting_uuid is not null
            )
            {%- if event_column %} or {{ event_column }} in (
                select meets_event_id from {{ touched }} where meets_event_id is not null
            )
            {%- endif %}) dbt_subquery
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
