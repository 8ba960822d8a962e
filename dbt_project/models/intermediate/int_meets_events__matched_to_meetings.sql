{#-
    Which Zoom meeting instance a MEETS conferencing event became.

    Rule: a MEETS event on a Zoom service ('zoom', 'zoomwebinars') is the Zoom meeting whose host
    email equals the event's conferencing account username and whose actual start lies within
    `meets_match_tolerance_minutes` (var, default 15) of the event's scheduled timeBegin. Among
    several candidates the one whose topic equals the event name wins, then the nearest start,
    then the smallest uuid; each meeting is claimed by at most one event (the event that ranks it
    first and that it ranks first). Events with no such meeting (cancelled, never started, other
    services) have no row here.
    A table, rebuilt whole (one row per matched meeting, cheap next to the per-session models): the
    per-meeting models and int_meetings__touched read it many times in a run.
-#}
{{ config(materialized='table') }}

with

events as (

    select * from {{ ref('stg_meets__conferencing_events') }}

),

accounts as (

    select * from {{ ref('stg_meets__conferencing_accounts') }}

),

meetings as (

    select * from {{ ref('stg_zoom__meetings') }}

),

zoom_events as (

    select
        events.meets_event_id,
        events.event_name,
        events.scheduled_start_at,
        lower(trim(accounts.conferencing_username)) as host_email
    from events
    inner join accounts
        on events.meets_conferencing_account_id = accounts.meets_conferencing_account_id
    where events.conferencing_service in ('zoom', 'zoomwebinars')

),

candidates as (

    select
        zoom_events.meets_event_id,
        meetings.meeting_uuid,
        abs(epoch(meetings.started_at) - epoch(zoom_events.scheduled_start_at)) as start_offset_seconds,
        meetings.topic = zoom_events.event_name as is_same_topic
    from zoom_events
    inner join meetings
        on
            zoom_events.host_email = meetings.host_email
            and meetings.started_at
            between zoom_events.scheduled_start_at - to_minutes({{ var('meets_match_tolerance_minutes') }})
            and zoom_events.scheduled_start_at + to_minutes({{ var('meets_match_tolerance_minutes') }})

),

ranked as (

    select
        *,
        row_number() over (
            partition by meets_event_id
            order by is_same_topic desc, start_offset_seconds asc, meeting_uuid asc
        ) as rank_for_event,
        row_number() over (
            partition by meeting_uuid
            order by is_same_topic desc, start_offset_seconds asc, meets_event_id asc
        ) as rank_for_meeting
    from candidates

),

final as (

    select
        meets_event_id,
        meeting_uuid,
        start_offset_seconds,
        is_same_topic
    from ranked
    where rank_for_event = 1 and rank_for_meeting = 1

)

select * from final
