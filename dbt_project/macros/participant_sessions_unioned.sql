{% macro participant_sessions_unioned(touched_only=false) -%}
    {#- The SQL of int_participant_sessions__unioned (see there). With touched_only, only the rows
        of the meetings and MEETS events of int_meetings__touched: fct_participant_sessions'
        incremental build, filtered before the union rather than after it. -#}

with

zoom_sessions as (

    select * from {{ ref('int_zoom_sessions__identified') }}
    where
        not is_waiting_room
        {%- if touched_only %}
        and {{ touched_condition() }}
        {%- endif %}

),

attendance as (

    select * from {{ ref('stg_meets__attendance') }}
    {%- if touched_only %}
    where {{ touched_condition(none, 'meets_event_id') }}
    {%- endif %}

),

event_meetings as (

    select * from {{ ref('int_meets_events__matched_to_meetings') }}

),

zoom_rows as (

    select
        md5('zoom|' || zoom_sessions.meeting_uuid || '|' || zoom_sessions.participant_id) as participant_session_id,
        'zoom' as source,
        zoom_sessions.meeting_uuid,
        zoom_sessions.meets_event_id,
        zoom_sessions.participant_id,
        zoom_sessions.zoom_user_id,
        zoom_sessions.person_key,
        zoom_sessions.identity_source,
        zoom_sessions.user_name,
        zoom_sessions.resolved_email as email,
        zoom_sessions.joined_at,
        zoom_sessions.left_at,
        coalesce(zoom_sessions.role = 'host', false) as is_host,
        zoom_sessions.role,
        zoom_sessions.device,
        zoom_sessions.os,
        zoom_sessions.os_version,
        zoom_sessions.client,
        zoom_sessions.client_version,
        null::varchar as browser,
        zoom_sessions.network_type,
        zoom_sessions.connection_type,
        zoom_sessions.location,
        zoom_sessions.data_center,
        zoom_sessions.leave_reason,
        true as is_final
    from zoom_sessions

),

meets_rows as (

    select
        md5('meets|' || attendance.meets_event_id || '|' || attendance.attendance_row_number)
            as participant_session_id,
        'meets' as source,
        event_meetings.meeting_uuid,
        attendance.meets_event_id,
        null::varchar as participant_id,
        null::varchar as zoom_user_id,
        coalesce(
            attendance.email,
            'guest:'
            || coalesce(event_meetings.meeting_uuid, 'meets:' || attendance.meets_event_id)
            || ':' || lower(attendance.attendee_name),
            'session:meets:' || attendance.meets_event_id || ':' || attendance.attendance_row_number
        ) as person_key,
        case
            when attendance.email is not null then 'meets_email'
            when attendance.attendee_name is not null then 'name_in_meeting'
            else 'session_only'
        end as identity_source,
        attendance.attendee_name as user_name,
        attendance.email,
        attendance.joined_at,
        attendance.left_at,
        attendance.was_host as is_host,
        case when attendance.was_host then 'host' else 'attendee' end as role,
        null::varchar as device,
        null::varchar as os,
        null::varchar as os_version,
        null::varchar as client,
        null::varchar as client_version,
        attendance.browser,
        null::varchar as network_type,
        null::varchar as connection_type,
        null::varchar as location,
        null::varchar as data_center,
        null::varchar as leave_reason,
        attendance.is_final
    from attendance
    left join event_meetings
        on attendance.meets_event_id = event_meetings.meets_event_id

),

final as (

    select * from zoom_rows
    union all
    select * from meets_rows

)

select * from final
{%- endmacro %}
