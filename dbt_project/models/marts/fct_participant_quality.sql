{#-
    Participant quality: one row per meeting, person (person_key, so rejoins count together),
    stream kind (audio, video, share, cpu) and metric, with the same measures as
    fct_meeting_quality. Incremental like fct_meeting_quality (meetings recomputed whole), and also
    for meetings whose MEETS attendance arrived since (it can resolve who an anonymous Zoom
    participant was, and so their person_key).
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
-- depends_on: {{ ref('int_meets_events__matched_to_meetings') }}
-- depends_on: {{ ref('stg_meets__attendance') }}

with

qos_aggregates as (

    {#- per session and stream (int_qos__session_stream_aggregates), for the meetings to recompute -#}
    select * from {{ ref('int_qos__session_stream_aggregates') }}
    {{- where_meeting_touched(ref('int_qos__session_stream_aggregates'), 'qos_loaded_at', watermark, identities=true) }}

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
        {{ qos_quality_measures('kind_metrics') }}
    from kind_metrics
    left join thresholds
        on
            kind_metrics.stream_kind = thresholds.stream
            and kind_metrics.metric = thresholds.metric

)

select * from final
