{#-
    One row per meeting, participant session and stream with the per-metric building blocks of
    every QoS quality measure: min, max, sum, measured minutes and violating minutes, plus sampled
    minutes. Minima, maxima, sums and counts roll up exactly, so fct_meeting_quality and
    fct_participant_quality are small re-aggregations of this table (~7 rows per session) instead
    of two more scans of the per-minute fact.
    Incremental: meetings with rows newly written to fct_qos_minutes are recomputed whole.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='meeting_uuid',
        on_schema_change='fail',
    )
}}
{%- set watermark = meetings_watermark('qos_loaded_at') %}
{%- set since_minute = none %}
{%- if watermark is not none and execute %}
    {#- The first minute any recomputed meeting can have: its new rows start at the earliest new
        minute, and its older rows at the first_minute_at this model recorded for it. As a literal it
        lets DuckDB skip the per-minute fact's older row groups, so a daily run reads about a day
        of minutes, however long the history. -#}
    {%- set bound_query -%}
        with new_rows as (
            select meeting_uuid, minute_at
            from {{ ref('fct_qos_minutes') }}
            where _dbt_loaded_at > timestamp '{{ watermark }}'
        )
        select cast(least(
            (select min(minute_at) from new_rows),
            (select min(first_minute_at) from {{ this }} where meeting_uuid in (select meeting_uuid from new_rows))
        ) as varchar)
    {%- endset %}
    {%- set since_minute = run_query(bound_query).rows[0][0] %}
{%- endif %}

with

qos_minutes as (

    select * from {{ ref('fct_qos_minutes') }}
    {{- where_meeting_touched(
        ref('fct_qos_minutes'), '_dbt_loaded_at', watermark,
        also=("minute_at >= timestamp '" ~ since_minute ~ "'") if since_minute is not none else none
    ) }}

),

aggregated as (

    {{ qos_stream_aggregates(
        'qos_minutes', ['meeting_uuid', 'participant_id', 'stream'], carry_columns=['stream_kind', 'direction']
    ) }}

)

select * from aggregated
