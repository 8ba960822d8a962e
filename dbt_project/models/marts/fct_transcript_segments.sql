{#-
    What was said, one row per transcript or caption cue and chat message, with the meeting, its
    host and course and where the file is. is_host_speaker: the speaker's name as written is the
    host's display name (Zoom writes display names; a renamed host is not recognised).
    Incremental by touched meeting (int_meetings__touched; new cues and files touch theirs): their
    rows, and those of cues without a meeting, are deleted and computed again.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_touched_or_unmatched() }}",
    )
}}
-- depends_on: {{ ref('int_meetings__touched') }}

with

cues as (

    select * from {{ ref('stg_transcripts__cues') }}
    {%- if is_incremental() %}
    where {{ touched_condition() }} or meeting_uuid is null
    {%- endif %}

),

files as (

    select * from {{ ref('stg_transcripts__files') }}
    {%- if is_incremental() %}
    where {{ touched_condition() }} or meeting_uuid is null
    {%- endif %}

),

meetings as (

    select * from {{ ref('fct_meetings') }}
    {{- where_touched() }}

),

courses as (

    select * from {{ ref('dim_courses') }}

),

final as (

    select
        ---------- ids
        cues.segment_id,
        cues.recording_file_id,
        cues.cue_index,
        cues.meeting_uuid,
        meetings.meeting_series_id,
        meetings.meets_course_id,
        ---------- attributes
        cues.file_type,
        cues.segment_kind,
        cues.speaker,
        coalesce(cues.speaker = meetings.host_name, false) as is_host_speaker,
        cues.segment_text,
        cues.word_count,
        cues.start_offset_seconds,
        cues.end_offset_seconds,
        cues.duration_seconds,
        meetings.topic,
        meetings.host_name,
        meetings.host_user_id as host_email,
        courses.course_name,
        files.dest_url,
        ---------- timestamps
        cues.spoken_at,
        meetings.started_at as meeting_started_at

    from cues
    left join files
        on cues.recording_file_id = files.recording_file_id
    left join meetings
        on cues.meeting_uuid = meetings.meeting_uuid
    left join courses
        on meetings.meets_course_id = courses.meets_course_id

)

select * from final
