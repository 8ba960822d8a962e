{#
    Views and tables on a DuckLake (the `lake` target) in one commit each; every other target (the
    DuckDB file) runs dbt's own materializations, unchanged.

    dbt's view and table materializations build the relation under a temporary name, rename the old
    one to a backup, rename the new one in place, commit, and then drop the backup in a statement
    of its own. On the file that is a few catalog writes. On a DuckLake every commit is a round of
    catalog writes in PostgreSQL, and the next statement of any session reloads the catalog that
    the commit changed: two commits and two reloads per view or table, on every build.

    On a lake these do instead, in one transaction (one DuckLake snapshot): a table is replaced
    (create or replace table ... as); a view is replaced (create or replace view) and tagged with
    the md5 of its SQL as the view's comment, and a view whose SQL has not changed since is left as
    it is (no commit at all: a DuckDB view is bound when it is queried, so the same SQL is the same
    view even after the tables under it changed). `--full-refresh` recreates every view.
    A table whose columns (names, types, order) are those the model's SQL now returns keeps its
    DuckLake table: its rows are deleted and the new ones inserted in that one transaction. That
    changes data, not the catalog, so the next statements of every session do not reload the catalog
    (a replaced table is a dropped and a created table). Other columns, or `--full-refresh`: replaced.
    Python models, contracts, indexes and partitioned or sorted tables take dbt-duckdb's own path.
#}

{% macro lake_view_fingerprint(sql) -%}
    {{- return('dbt view sql md5 ' ~ local_md5(sql)) -}}
{%- endmacro %}

{% macro lake_view_comment(relation) -%}
    {#- the comment of the view `relation` (none when it has none) -#}
    {%- set found = run_query(
        "select comment from duckdb_views() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema ~ "' and view_name = '" ~ relation.identifier ~ "'"
    ) -%}
    {{- return(found.rows[0][0] if found.rows | length > 0 else none) -}}
{%- endmacro %}

{% macro lake_columns(describe_target) -%}
    {#- (name, type) of each column of a relation or a query, in order -#}
    {%- set columns = [] -%}
    {%- for row in run_query('describe ' ~ describe_target).rows -%}
        {%- do columns.append(row[0] ~ ' ' ~ row[1]) -%}
    {%- endfor -%}
    {{- return(columns) -}}
{%- endmacro %}

{% materialization view, adapter='duckdb' %}
    {%- if not adapter.is_ducklake(this) -%}
        {{ return(materialization_view_default()) }}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set fingerprint = lake_view_fingerprint(sql) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {%- if existing_relation is not none and existing_relation.is_view and not should_full_refresh()
        and lake_view_comment(target_relation) == fingerprint -%}
        {% call noop_statement('main', 'OK (unchanged view)', 'OK') -%}{%- endcall %}
    {%- else -%}
        {{ run_hooks(pre_hooks, inside_transaction=True) }}
        {%- if existing_relation is not none and not existing_relation.is_view -%}
            {{ drop_relation_if_exists(existing_relation) }}
        {%- endif %}
        {% call statement('main') -%}
            create or replace view {{ target_relation }} as (
                {{ sql }}
            );
            comment on view {{ target_relation }} is '{{ fingerprint }}';
        {%- endcall %}
        {{ run_hooks(post_hooks, inside_transaction=True) }}
        {{ adapter.commit() }}
    {%- endif %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization table, adapter='duckdb', supported_languages=['sql', 'python'] %}
    {%- set contract = config.get('contract') -%}
    {%- set plain = model['language'] == 'sql' and not (contract and contract.enforced)
        and not config.get('indexes') and not config.get('partitioned_by') and not config.get('sorted_by') -%}
    {%- if not (plain and adapter.is_ducklake(this)) -%}
        {{ return(dbt.materialization_table_duckdb()) }}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if existing_relation is not none and not existing_relation.is_table -%}
        {{ drop_relation_if_exists(existing_relation) }}
    {%- endif %}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- set refill = existing_relation is not none and existing_relation.is_table and sql_header is none
        and not should_full_refresh()
        and lake_columns(target_relation) == lake_columns('(\n' ~ sql ~ '\n)') -%}
    {% call statement('main') -%}
        {%- if refill %}
        delete from {{ target_relation }};
        insert into {{ target_relation }} (
            {{ sql }}
        );
        {%- else %}
        {{ sql_header if sql_header is not none }}
        create or replace table {{ target_relation }} as (
            {{ sql }}
        );
        {%- endif %}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
