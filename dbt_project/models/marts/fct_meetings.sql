{#-
    One row per Zoom meeting instance (uuid): series, host, MEETS event and course(s) when MEETS
    scheduled it, start/end/duration, Zoom's participant count, and counts from Zoom's participant
    sessions (sessions, distinct people by person_key), QoS minutes, recording files, and a
    quality summary per stream kind from fct_meeting_quality, and the time people spent in the
    waiting room (fct_waiting_room_stints; never counted as sessions).
    Incremental by touched meeting (int_meetings__touched): their rows are deleted and computed again.
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

meetings as (

    select * from {{ ref('stg_zoom__meetings') }}
    {{- where_touched() }}

),

users as (

    select * from {{ ref('stg_zoom__users') }}

),

sessions as (

    select * from {{ ref('fct_participant_sessions') }}
    where source = 'zoom'
    {%- if is_incremental() %}
        and {{ touched_condition() }}
    {%- endif %}

),

waiting_room as (

    select
        meeting_uuid,
        count(*) as waiting_room_stint_count,
        sum(waited_seconds) as waiting_room_seconds,
        count_if(not was_admitted) as waiting_room_not_admitted_count
    from {{ ref('fct_waiting_room_stints') }}
    {{- where_touched() }}
    group by meeting_uuid

),

event_meetings as (

    select * from {{ ref('int_meets_events__matched_to_meetings') }}

),

event_courses as (

    select * from {{ ref('stg_meets__conferencing_event_courses') }}
    {{- where_touched(none, 'meets_event_id') }}

),

recording_files as (

    select * from {{ ref('stg_zoom__recording_files') }}
    {{- where_touched() }}

),

quality as (

    select * from {{ ref('fct_meeting_quality') }}
    where level = 'kind'
    {%- if is_incremental() %}
        and {{ touched_condition() }}
    {%- endif %}

),

session_counts as (

    select
        meeting_uuid,
        count(*) as session_count,
        count(distinct person_key) as distinct_people,
        count(*) - count(distinct person_key) as rejoin_count
    from sessions
    group by meeting_uuid

),

courses as (

    select
        event_courses.meets_event_id,
        min(event_courses.meets_course_id) as meets_course_id,
        list(event_courses.meets_course_id order by event_courses.meets_course_id) as meets_course_ids
    from event_courses
    group by event_courses.meets_event_id

),

files as (

    select
        meeting_uuid,
        count(*) as recording_file_count,
        sum(file_size_bytes) as recording_bytes
    from recording_files
    group by meeting_uuid

),

quality_summary as (

    select
        meeting_uuid,
        {%- for kind in ['audio', 'video', 'share', 'cpu'] %}
        max(case when stream_kind = '{{ kind }}' then violating_proportion end)
            as {{ kind }}_worst_violating_proportion,
        coalesce(bool_or(stream_kind = '{{ kind }}' and is_issue), false) as has_{{ kind }}_issue,
        {%- endfor %}
        max(case when stream_kind = 'cpu' and metric = 'cpu_usage' then sampled_minutes end) as qos_minutes
    from quality
    group by meeting_uuid

),

final as (

    select
        meetings.meeting_uuid,
        meetings.meeting_series_id,
        meetings.topic,
        host_user.zoom_user_id as host_zoom_user_id,
        meetings.host_email as host_user_id,
        meetings.host_name,
        meetings.host_dept,
        event_meetings.meets_event_id,
        courses.meets_course_id,
        courses.meets_course_ids,
        meetings.started_at,
        meetings.ended_at,
        coalesce(
            meetings.duration_seconds,
            cast(epoch(meetings.ended_at) - epoch(meetings.started_at) as bigint)
        ) as duration_seconds,
        meetings.participant_count,
        coalesce(session_counts.session_count, 0) as session_count,
        coalesce(session_counts.distinct_people, 0) as distinct_people,
        coalesce(session_counts.rejoin_count, 0) as rejoin_count,
        coalesce(waiting_room.waiting_room_stint_count, 0) as waiting_room_stint_count,
        coalesce(waiting_room.waiting_room_seconds, 0) as waiting_room_seconds,
        coalesce(waiting_room.waiting_room_not_admitted_count, 0) as waiting_room_not_admitted_count,
        coalesce(quality_summary.qos_minutes, 0) as qos_minutes,
        meetings.has_recording,
        coalesce(files.recording_file_count, 0) as recording_file_count,
        coalesce(files.recording_bytes, 0) as recording_bytes,
        meetings.has_video,
        meetings.has_screen_share,
        meetings.has_pstn,
        meetings.has_sip,
        meetings.audio_quality as zoom_audio_quality,
        meetings.video_quality as zoom_video_quality,
        meetings.screen_share_quality as zoom_screen_share_quality,
        {%- for kind in ['audio', 'video', 'share', 'cpu'] %}
        quality_summary.{{ kind }}_worst_violating_proportion,
        coalesce(quality_summary.has_{{ kind }}_issue, false) as has_{{ kind }}_issue,
        {%- endfor %}
        meetings._dlt_load_id
    from meetings
    left join users as host_user
        on meetings.host_email = host_user.email
    left join session_counts
        on meetings.meeting_uuid = session_counts.meeting_uuid
    left join waiting_room
        on meetings.meeting_uuid = waiting_room.meeting_uuid
    left join event_meetings
        on meetings.meeting_uuid = event_meetings.meeting_uuid
    left join courses
        on event_meetings.meets_event_id = courses.meets_event_id
    left join files
        on meetings.meeting_uuid = files.meeting_uuid
    left join quality_summary
        on meetings.meeting_uuid = quality_summary.meeting_uuid

)

select * from final
