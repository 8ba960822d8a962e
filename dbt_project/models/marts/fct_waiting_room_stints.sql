{#-
    One row per stint in a Zoom waiting room (participant_status 'in_waiting_room'): who waited,
    from when to when, and whether they were let in. Kept apart from attendance: these rows are not
    sessions, have no QoS minutes and are no rejoins. was_admitted: the same person has an
    attendance session in the meeting that starts at or after the stint began.
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

rows_ as (

    select * from {{ ref('int_zoom_sessions__identified') }}
    {{- where_touched() }}

),

stints as (

    select * from rows_
    where is_waiting_room

),

attendance as (

    select
        meeting_uuid,
        person_key,
        min(joined_at) as first_joined_at,
        max(joined_at) as last_joined_at
    from rows_
    where not is_waiting_room
    group by meeting_uuid, person_key

),

final as (

    select
        md5('zoom|' || stints.meeting_uuid || '|' || stints.participant_id) as waiting_room_stint_id,
        stints.meeting_uuid,
        stints.participant_id,
        stints.person_key,
        stints.identity_source,
        stints.user_name,
        stints.resolved_email as email,
        stints.joined_at as entered_at,
        stints.left_at,
        cast(greatest(0, epoch(stints.left_at) - epoch(stints.joined_at)) as bigint) as waited_seconds,
        stints.leave_reason,
        coalesce(attendance.last_joined_at >= stints.joined_at, false) as was_admitted,
        coalesce(lower(stints.leave_reason) like 'removed by host%', false) as was_removed_by_host,
        stints._dlt_load_id
    from stints
    left join attendance
        on
            stints.meeting_uuid = attendance.meeting_uuid
            and stints.person_key = attendance.person_key

)

select * from final
