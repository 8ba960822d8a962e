{#-
    One row per join/leave session, from Zoom's participant list (source 'zoom') and MEETS
    attendance (source 'meets'). For a Zoom meeting MEETS reports the same sessions again, so
    count sessions of one source at a time: fct_meetings counts Zoom's. person_key resolves the
    same person across rejoins (email, Zoom account id, or name within the meeting; see
    int_participant_sessions__unioned).
    Incremental by touched meeting and MEETS event (int_meetings__touched): their rows are deleted
    and computed again (MEETS attendance that turned final replaces the preliminary rows).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_touched('meeting_uuid', 'meets_event_id') }}",
    )
}}
-- depends_on: {{ ref('int_meetings__touched') }}
-- depends_on: {{ ref('int_participant_sessions__unioned') }}

with

sessions as (

    {#- int_participant_sessions__unioned, of the touched meetings and events on an incremental build -#}
    select * from ({{ participant_sessions_unioned(touched_only=is_incremental()) }})

),

users as (

    select * from {{ ref('dim_users') }}

),

final as (

    select
        sessions.participant_session_id,
        sessions.source,
        sessions.meeting_uuid,
        sessions.meets_event_id,
        sessions.participant_id,
        sessions.zoom_user_id,
        users.user_id,
        sessions.person_key,
        sessions.identity_source,
        sessions.user_name,
        sessions.email,
        sessions.is_host,
        sessions.role,
        sessions.joined_at,
        sessions.left_at,
        cast(greatest(0, epoch(sessions.left_at) - epoch(sessions.joined_at)) as bigint) as duration_seconds,
        sessions.device,
        sessions.os,
        sessions.os_version,
        sessions.client,
        sessions.client_version,
        sessions.browser,
        sessions.network_type,
        sessions.connection_type,
        sessions.location,
        sessions.data_center,
        sessions.leave_reason,
        -- Zoom's leave_reason values for a lost connection: "<name> got disconnected from the
        -- meeting." and "Network connection error." (the others are leaves, ends or removals)
        coalesce(
            regexp_matches(lower(sessions.leave_reason), 'got disconnected from the meeting|network connection error'),
            false
        ) as is_dropped,
        sessions.is_final
    from sessions
    left join users
        on sessions.email = users.email

)

select * from final
