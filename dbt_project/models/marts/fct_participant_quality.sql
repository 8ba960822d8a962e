{#-
    Participant quality: one row per meeting, person (person_key, so rejoins count together),
    stream kind (audio, video, share, cpu) and metric, with the same measures as
    fct_meeting_quality. Incremental by touched meeting (int_meetings__touched: new QoS minutes,
    and also new sessions or MEETS attendance, which can resolve who an anonymous Zoom participant
    was, and so their person_key): their rows are deleted and computed again.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_touched() }}",
    )
}}
-- depends_on: {{ ref('int_meetings__touched') }}

with

qos_aggregates as (

    {#- per session and stream (int_qos__session_stream_aggregates), for the meetings to recompute -#}
    select * from {{ ref('int_qos__session_stream_aggregates') }}
    {{- where_touched() }}

),

sessions as (

    select * from {{ ref('fct_participant_sessions') }}
    where source = 'zoom'
    {%- if is_incremental() %}
        and {{ touched_condition() }}
    {%- endif %}

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
