{#-
    Participant quality: one row per meeting, person (person_key, so rejoins count together),
    stream kind (audio, video, share, cpu) and metric, with the same measures as
    fct_meeting_quality. Incremental like fct_meeting_quality (meetings recomputed whole).
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

sessions as (

    select * from {{ ref('fct_participant_sessions') }}
    where source = 'zoom'

),

thresholds as (

    select * from {{ ref('qos_thresholds') }}

),

by_session_person as (

    select
        qos_aggregates.*,
        sessions.person_key
    from qos_aggregates
    inner join sessions
        on
            qos_aggregates.meeting_uuid = sessions.meeting_uuid
            and qos_aggregates.participant_id = sessions.participant_id

),

by_kind as (

    {{ qos_reaggregate('by_session_person', ['meeting_uuid', 'person_key', 'stream_kind']) }}

),

kind_metrics as (

    {{ qos_metrics_long('by_kind', ['meeting_uuid', 'person_key', 'stream_kind']) }}

),

final as (

    select
        kind_metrics.meeting_uuid,
        kind_metrics.person_key,
        kind_metrics.stream_kind,
        kind_metrics.metric,
        kind_metrics.unit,
        cast(kind_metrics.sampled_minutes as integer) as sampled_minutes,
        kind_metrics.min_value,
        kind_metrics.avg_value,
        kind_metrics.max_value,
        cast(kind_metrics.measured_minutes as integer) as measured_minutes,
        case
            when thresholds.comparator is not null then cast(kind_metrics.violating_minutes as integer)
        end as violating_minutes,
        case
            when thresholds.comparator is not null and kind_metrics.measured_minutes > 0
                then kind_metrics.violating_minutes / kind_metrics.measured_minutes
        end as violating_proportion,
        thresholds.comparator as threshold_comparator,
        thresholds.value as threshold_value,
        coalesce(
            thresholds.comparator is not null
            and kind_metrics.measured_minutes > 0
            and kind_metrics.violating_minutes / kind_metrics.measured_minutes > {{ var('quality_issue_share') }},
            false
        ) as is_issue,
        kind_metrics.qos_loaded_at
    from kind_metrics
    left join thresholds
        on
            kind_metrics.stream_kind = thresholds.stream
            and kind_metrics.metric = thresholds.metric

)

select * from final
