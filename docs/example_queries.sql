-- Example queries against the serving snapshot (warehouse/serving.duckdb), schema `analytics`.
-- Each query starts with a `-- name:` line; the lines after it that start with `--` describe it.
-- docs/gen_tour.py runs them and writes their answers into docs/tour.md; the e2e tests run them
-- through SQLAlchemy (duckdb-engine) while a load is running. Run them all yourself with
--   .venv/bin/python -m pipelines sql --file docs/example_queries.sql

-- name: meetings_by_department
-- Meetings, meeting hours and attendance per host department.
select
    coalesce(host_dept, '(no department)') as department,
    count(*) as meetings,
    round(sum(duration_seconds) / 3600.0, 1) as meeting_hours,
    sum(distinct_people)::bigint as attendances,
    round(avg(distinct_people), 1) as avg_people_per_meeting
from analytics.fct_meetings
group by 1
order by meetings desc, department;

-- name: quality_issue_share
-- Share of meetings with an audio, video, screen-share or CPU issue (a metric over its threshold
-- in more than `quality_issue_share` of the measured participant-minutes, default 10 %).
select
    count(*) as meetings,
    round(avg(has_audio_issue::int), 3) as audio_issue_share,
    round(avg(has_video_issue::int), 3) as video_issue_share,
    round(avg(has_share_issue::int), 3) as share_issue_share,
    round(avg(has_cpu_issue::int), 3) as cpu_issue_share,
    round(avg((has_audio_issue or has_video_issue or has_share_issue)::int), 3) as any_issue_share
from analytics.fct_meetings;

-- name: audio_problems_by_network
-- Per network type: the share of the participants' audio stream-minutes (input and output) with
-- latency, jitter or packet loss over the threshold. Joins the per-minute QoS to the sessions.
select
    coalesce(s.network_type, '(unknown)') as network_type,
    count(distinct s.participant_session_id) as sessions,
    count(*) as audio_stream_minutes,
    round(
        avg(
            coalesce(
                q.is_latency_violation or q.is_jitter_violation
                or q.is_avg_loss_violation or q.is_max_loss_violation,
                false
            )::int
        ),
        3
    ) as bad_minute_share
from analytics.fct_participant_sessions as s
inner join analytics.fct_qos_minutes as q
    on s.meeting_uuid = q.meeting_uuid and s.participant_id = q.participant_id
where s.source = 'zoom' and q.stream_kind = 'audio'
group by 1
order by bad_minute_share desc, network_type;

-- name: rejoin_rate_by_device
-- How often people needed more than one session in a meeting (rejoins), by the device they
-- joined with first.
with attendances as (
    select
        meeting_uuid,
        person_key,
        count(*) as sessions,
        arg_min(device, joined_at) as device
    from analytics.fct_participant_sessions
    where source = 'zoom'
    group by meeting_uuid, person_key
)
select
    coalesce(device, '(unknown)') as device,
    count(*) as attendances,
    count(*) filter (where sessions > 1) as rejoined,
    round(avg((sessions > 1)::int), 3) as rejoin_rate
from attendances
group by 1
order by rejoin_rate desc, device;

-- name: recording_storage_by_host
-- Zoom cloud recording storage per host (live files), and how much of it Zoom auto-deletes
-- within 30 days.
select
    coalesce(u.email, f.host_zoom_user_id) as host,
    count(*) as files,
    round(sum(f.file_size_bytes) / 1e6, 1) as size_mb,
    round(
        coalesce(sum(f.file_size_bytes) filter (
            where f.is_auto_delete and f.auto_delete_date < current_date + 30
        ), 0) / 1e6,
        1
    ) as auto_deleted_within_30_days_mb
from analytics.fct_recording_files as f
left join analytics.dim_users as u on f.host_zoom_user_id = u.zoom_user_id
where not f.is_trashed
group by 1
order by size_mb desc, host;
