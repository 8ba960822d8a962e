{#-
    Meeting quality: one row per meeting, level, stream and metric.
      level 'stream': the seven streams (audio/video/share x input/output, and cpu);
      level 'kind':   audio, video, share (both directions together) and cpu.
    Measured minutes count the minutes where the metric had a value (for frame rate: while there
    was a picture); violating minutes those where the seed's threshold was crossed; the proportion
    is violating / measured, null when nothing was measured or the metric has no threshold.
    Built from int_qos__session_stream_aggregates (sessions rolled up to the meeting).
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

with

qos_aggregates as (

    {#- per session and stream (int_qos__session_stream_aggregates), for the meetings to recompute -#}
    select * from {{ ref('int_qos__session_stream_aggregates') }}
    {{- where_meeting_touched(ref('int_qos__session_stream_aggregates'), 'qos_loaded_at', watermark) }}

),

thresholds as (

    select * from {{ ref('qos_thresholds') }}

),

by_stream as (

    {{ qos_reaggregate('qos_aggregates', ['meeting_uuid', 'stream'], carry_columns=['stream_kind', 'direction']) }}

),

stream_metrics as (

    {{ qos_metrics_long('by_stream', ['meeting_uuid', 'stream', 'stream_kind', 'direction']) }}

),

kind_metrics as (

    select
        meeting_uuid,
        stream_kind as stream,
        stream_kind,
        'all' as direction,
        metric,
        unit,
        sum(sampled_minutes) as sampled_minutes,
        max(qos_loaded_at) as qos_loaded_at,
        min(min_value) as min_value,
        sum(sum_value) / nullif(sum(measured_minutes), 0) as avg_value,
        max(max_value) as max_value,
        sum(sum_value) as sum_value,
        sum(measured_minutes) as measured_minutes,
        sum(violating_minutes) as violating_minutes
    from stream_metrics
    group by meeting_uuid, stream_kind, metric, unit

),

both_levels as (

    select
        'stream' as level,
        *
    from stream_metrics
    union all by name
    select
        'kind' as level,
        *
    from kind_metrics

),

final as (

    select
        both_levels.meeting_uuid,
        both_levels.level,
        both_levels.stream,
        both_levels.stream_kind,
        both_levels.direction,
        both_levels.metric,
        both_levels.unit,
        {{ qos_quality_measures('both_levels') }}
    from both_levels
    left join thresholds
        on
            both_levels.stream_kind = thresholds.stream
            and both_levels.metric = thresholds.metric

)

select * from final
