{#-
    What the last successful build saw, for int_meetings__touched to compare the next run with
    (macros/touched_meetings.sql): kind 'load' (key1 raw table, key2 load id, value its row count)
    for the loads from var('qos_lookback_hours') before the newest one on (older loads are kept as
    they were), the lookups 'zoom_user', 'user' and 'match' (key1, key2), and 'watermark' 'qos' (the
    run's start: per-minute rows written later are new). Built after every per-meeting model, so a
    run that fails before leaves the previous state and the next run recomputes the same meetings.
    Also 'watermark' 'cues' / 'files': the newest loaded_at / parsed_at of the transcripts stage's
    tables, and the lookup 'course' (a course's name, shown with each transcript segment).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ prune_touched_state() }}",
    )
}}
-- depends_on: {{ ref('int_meetings__touched') }}
-- depends_on: {{ ref('int_zoom_sessions__identified') }}
-- depends_on: {{ ref('fct_participant_sessions') }}
-- depends_on: {{ ref('fct_waiting_room_stints') }}
-- depends_on: {{ ref('fct_meetings') }}
-- depends_on: {{ ref('fct_participant_quality') }}
-- depends_on: {{ ref('fct_meeting_quality') }}
-- depends_on: {{ ref('fct_meeting_talk_time') }}
-- depends_on: {{ ref('fct_transcript_segments') }}
{%- set since = touched_since(this if is_incremental() else none) %}

with

loads as (

    {{ touched_raw_loads(since) }}

),

lookups as (

    {{ touched_lookups() }}

),

final as (

    select
        'load' as kind,
        source_table as key1,
        load_id as key2,
        cast(row_count as varchar) as value
    from loads
    union all
    select
        kind,
        key1,
        key2,
        cast(null as varchar) as value
    from lookups
    union all
    select
        'watermark' as kind,
        'qos' as key1,
        '' as key2,
        '{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as value
    {%- for name, relation, column in touched_watermarks() %}
    union all
    select
        'watermark' as kind,
        '{{ name }}' as key1,
        '' as key2,
        cast(max({{ column }}) as varchar) as value
    from {{ relation }}
    {%- endfor %}

)

select * from final
