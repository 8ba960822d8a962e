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
{%- set watermark = none -%}
{%- if is_incremental() and execute -%}
    {%- set watermark = run_query(
        "select coalesce(cast(max(qos_loaded_at) as varchar), '1970-01-01 00:00:00') from " ~ this
    ).rows[0][0] -%}
{%- endif %}

with

qos_minutes as (

    select * from {{ ref('fct_qos_minutes') }}
    {%- if watermark is not none %}
    where meeting_uuid in (
        select touched.meeting_uuid
        from {{ ref('fct_qos_minutes') }} as touched
        where touched._dbt_loaded_at > timestamp '{{ watermark }}'
    )
    {%- endif %}

),

sessions as (

    select * from {{ ref('int_participant_sessions__unioned') }}
    where source = 'zoom'

),

thresholds as (

    select * from {{ ref('qos_thresholds') }}

),

by_session as (

    {#- aggregate the minutes per session first (cheap), then roll sessions up to people -#}
    {{ qos_stream_aggregates('qos_minutes', ['meeting_uuid', 'participant_id', 'stream_kind']) }}

),

by_session_person as (

    select
        by_session.*,
        sessions.person_key
    from by_session
    inner join sessions
        on
            by_session.meeting_uuid = sessions.meeting_uuid
            and by_session.participant_id = sessions.participant_id

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
