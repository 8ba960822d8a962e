{#-
    One row per meeting, participant session and stream with the per-metric building blocks of
    every QoS quality measure: min, max, sum, measured minutes and violating minutes, plus sampled
    minutes. Minima, maxima, sums and counts roll up exactly, so fct_meeting_quality and
    fct_participant_quality are small re-aggregations of this table (~7 rows per session) instead
    of two more scans of the per-minute fact.
    Read from the stored wide fact (fct_qos_participant_minutes): one pass grouping by session,
    with one aggregate per stream and metric, then one row per stream; the same numbers as
    aggregating the long fct_qos_minutes by stream, over a seventh of the rows.
    Incremental: meetings with rows newly written to the per-minute fact are recomputed whole.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='meeting_uuid',
        on_schema_change='fail',
    )
}}
{%- set metrics = qos_metrics() -%}
{%- set streams = qos_streams() -%}
{%- set wide = ref('fct_qos_participant_minutes') -%}
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
            from {{ wide }}
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

    select * from {{ wide }}
    {{- where_meeting_touched(
        wide, '_dbt_loaded_at', watermark,
        also=("minute_at >= timestamp '" ~ since_minute ~ "'") if since_minute is not none else none
    ) }}

),

per_session as (

    select
        meeting_uuid,
        participant_id,
        {%- for stream, (kind, direction) in streams.items() %}
        {%- for metric, spec in metrics.items() if kind in spec.kinds %}
        {%- set column = (stream ~ '_' ~ spec.column) if kind != 'cpu' else spec.column %}
        min({{ column }}) as {{ stream }}__{{ metric }}_min,
        max({{ column }}) as {{ stream }}__{{ metric }}_max,
        sum({{ column }}) as {{ stream }}__{{ metric }}_sum,
        count({{ column }}) as {{ stream }}__{{ metric }}_measured,
        cast(count_if({{ stream }}_is_{{ metric }}_violation) as bigint) as {{ stream }}__{{ metric }}_violating,
        {%- endfor %}
        {%- endfor %}
        count(*) as sampled_minutes,
        min(minute_at) as first_minute_at,
        max(minute_at) as last_minute_at,
        max(_dbt_loaded_at) as qos_loaded_at
    from qos_minutes
    group by meeting_uuid, participant_id

),

aggregated as (

    {% for stream, (kind, direction) in streams.items() %}
    select
        meeting_uuid,
        participant_id,
        cast('{{ stream }}' as {{ enum_type(streams.keys()) }}) as stream,
        cast('{{ kind }}' as {{ enum_type(['audio', 'video', 'share', 'cpu']) }}) as stream_kind,
        cast('{{ direction }}' as {{ enum_type(['input', 'output', 'none']) }}) as direction,
        {%- for metric, spec in metrics.items() %}
        {%- if kind in spec.kinds %}
        {{ stream }}__{{ metric }}_min as {{ metric }}_min,
        {{ stream }}__{{ metric }}_max as {{ metric }}_max,
        {{ stream }}__{{ metric }}_sum as {{ metric }}_sum,
        {{ stream }}__{{ metric }}_measured as {{ metric }}_measured,
        {{ stream }}__{{ metric }}_violating as {{ metric }}_violating,
        {%- else %}
        cast(null as double) as {{ metric }}_min,
        cast(null as double) as {{ metric }}_max,
        cast(null as double) as {{ metric }}_sum,
        cast(0 as bigint) as {{ metric }}_measured,
        cast(0 as bigint) as {{ metric }}_violating,
        {%- endif %}
        {%- endfor %}
        sampled_minutes,
        first_minute_at,
        last_minute_at,
        qos_loaded_at
    from per_session
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from aggregated
