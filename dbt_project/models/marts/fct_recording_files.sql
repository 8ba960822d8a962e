{#-
    The recordings mart: one row per Zoom cloud recording file (live and trashed), with the meeting
    it belongs to, the file chosen for publishing (is_best_file: the highest priority of seed
    recording_type_priority among the recording's video files, then the largest, then the id),
    and a ready title in the "full" format: "<topic> - YYYY-MM-DD HH:MM (<N> min)" (UTC start;
    without the duration part when Zoom reports 0 minutes). youtube_video_id / youtube_url: the
    video the publish stage made of the file (null when it was not published).
-#}

with

files as (

    select * from {{ ref('stg_zoom__recording_files') }}

),

recordings as (

    select * from {{ ref('stg_zoom__recordings') }}

),

priorities as (

    select * from {{ ref('recording_type_priority') }}

),

publications as (

    select * from {{ ref('stg_youtube__publications') }}

),

ranked as (

    select
        files.*,
        priorities.priority as recording_type_priority,
        case
            when priorities.priority is not null
                then row_number() over (
                    partition by files.meeting_uuid, priorities.priority is not null
                    order by priorities.priority asc, files.file_size_bytes desc nulls last, files.recording_file_id asc
                )
        end as best_file_rank
    from files
    left join priorities
        on files.recording_type = priorities.recording_type

),

final as (

    select
        ranked.recording_file_id,
        ranked.zoom_file_id,
        ranked.meeting_uuid,
        recordings.meeting_series_id,
        recordings.host_zoom_user_id,
        recordings.topic,
        ranked.file_type,
        ranked.file_extension,
        ranked.recording_type,
        ranked.file_size_bytes,
        ranked.status,
        ranked.file_type = 'MP4' as is_video_file,
        ranked.recording_type_priority,
        coalesce(ranked.best_file_rank = 1, false) as is_best_file,
        recordings.topic
        || ' - '
        || strftime(recordings.started_at, '%Y-%m-%d %H:%M')
        || case
            when coalesce(recordings.duration_minutes, 0) > 0
                then ' (' || recordings.duration_minutes || ' min)'
            else ''
        end as title,
        recordings.duration_minutes,
        recordings.has_passcode,
        coalesce(ranked.is_trashed or recordings.is_trashed, false) as is_trashed,
        recordings.is_auto_delete,
        recordings.auto_delete_date,
        recordings.share_url,
        ranked.download_url,
        ranked.play_url,
        recordings.started_at as recording_meeting_started_at,
        ranked.recording_started_at,
        ranked.recording_ended_at,
        ranked.deleted_at,
        publications.youtube_video_id,
        publications.youtube_url
    from ranked
    left join recordings
        on ranked.meeting_uuid = recordings.meeting_uuid
    left join publications
        on ranked.recording_file_id = publications.recording_file_id

)

select * from final
