{#-
    Who talked how long in each meeting with a transcript: one row per meeting and named speaker,
    from the meeting's main transcript (the audio_transcript file, else the closed captions; chat
    is not talk). Cues Zoom attributes to nobody count in the meeting's talk time, not in anyone's.
    host_talk_share: the host's talk seconds / all talk seconds of the meeting.
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
    where file_type in ('TRANSCRIPT', 'CC')
    {%- if is_incremental() %}
        and ({{ touched_condition() }} or meeting_uuid is null)
    {%- endif %}

),

meetings as (

    select * from {{ ref('fct_meetings') }}
    {{- where_touched() }}

),

main_file as (

    select
        meeting_uuid,
        recording_file_id,
        file_type
    from cues
    group by meeting_uuid, recording_file_id, file_type
    qualify row_number() over (
        partition by meeting_uuid
        order by case file_type when 'TRANSCRIPT' then 0 else 1 end, recording_file_id
    ) = 1

),

main_cues as (

    select cues.*
    from cues
    inner join main_file
        on cues.recording_file_id = main_file.recording_file_id

),

per_meeting as (

    select
        meeting_uuid,
        sum(duration_seconds) as meeting_talk_seconds,
        sum(word_count) as meeting_word_count,
        count(distinct speaker) as speaker_count,
        coalesce(sum(duration_seconds) filter (where speaker is null), 0) as unattributed_seconds
    from main_cues
    group by meeting_uuid

),

per_speaker as (

    select
        meeting_uuid,
        speaker,
        count(*) as cue_count,
        sum(word_count) as word_count,
        sum(duration_seconds) as talk_seconds
    from main_cues
    where speaker is not null
    group by meeting_uuid, speaker

),

final as (

    select
        ---------- ids
        per_speaker.meeting_uuid || ':' || per_speaker.speaker as meeting_speaker_id,
        per_speaker.meeting_uuid,
        main_file.recording_file_id,
        meetings.meeting_series_id,
        meetings.meets_course_id,
        ---------- attributes
        per_speaker.speaker,
        coalesce(per_speaker.speaker = meetings.host_name, false) as is_host,
        main_file.file_type as source_file_type,
        per_speaker.cue_count,
        per_speaker.word_count,
        per_speaker.talk_seconds,
        per_meeting.meeting_talk_seconds,
        per_meeting.meeting_word_count,
        per_meeting.speaker_count,
        per_meeting.unattributed_seconds,
        round(per_speaker.talk_seconds / nullif(per_meeting.meeting_talk_seconds, 0), 4) as talk_share,
        round(
            coalesce(sum(per_speaker.talk_seconds) filter (where per_speaker.speaker = meetings.host_name) over (
                partition by per_speaker.meeting_uuid
            ), 0) / nullif(per_meeting.meeting_talk_seconds, 0),
            4
        ) as host_talk_share,
        meetings.topic,
        meetings.host_name,
        ---------- timestamps
        meetings.started_at as meeting_started_at

    from per_speaker
    inner join per_meeting
        on per_speaker.meeting_uuid = per_meeting.meeting_uuid
    inner join main_file
        on per_speaker.meeting_uuid = main_file.meeting_uuid
    left join meetings
        on per_speaker.meeting_uuid = meetings.meeting_uuid

)

select * from final
