{#-
    Every row of Zoom's participant list (attendance sessions and waiting-room stints) with the
    person it belongs to. Zoom shows the email of account members and of a few external
    participants (registered or authenticated); for everyone else it sends "". The email comes from:
      1. Zoom (email),                                                    identity_source 'zoom_email'
      2. the Zoom account member with that user id,                       'zoom_account'
      3. the MEETS attendance row of the same meeting: same display name,
         join and leave within var('meets_identity_tolerance_seconds'),
         exactly one distinct email among the candidates,                 'meets_attendance'
    and, without an email, the person is 'zoom:<user id>' ('zoom_user_id') or, only within the
    meeting, 'guest:<meeting>:<lower-cased name>' ('name_in_meeting'); a row without even a name
    is a person of its own, 'session:<meeting>:<participant id>' ('session_only').
    Rows of one display name in one meeting that know exactly one email between them are that
    person (a rejoin MEETS has not reported yet, or a waiting-room stint, which has no MEETS row of
    its own, takes the email of the same name's other rows); two people of one name in one meeting
    are told apart only by their emails.
    Incremental by touched meeting (int_meetings__touched): a run reads the sessions of the touched
    meetings only, with their MEETS attendance, and replaces those meetings' rows.
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

{%- set tolerance = var('meets_identity_tolerance_seconds') %}

with

zoom_sessions as (

    select * from {{ ref('stg_zoom__participant_sessions') }}
    {{- where_touched() }}

),

zoom_users as (

    select * from {{ ref('stg_zoom__users') }}

),

attendance as (

    select * from {{ ref('stg_meets__attendance') }}
    {%- if is_incremental() %}
    where meets_event_id in (
        select touched.meets_event_id from {{ ref('int_meetings__touched') }} as touched
        where touched.meets_event_id is not null
    )
    {%- endif %}

),

event_meetings as (

    select * from {{ ref('int_meets_events__matched_to_meetings') }}
    {{- where_touched() }}

),

with_account as (

    select
        zoom_sessions.*,
        zoom_users.email as account_email,
        event_meetings.meets_event_id
    from zoom_sessions
    left join zoom_users
        on zoom_sessions.zoom_user_id = zoom_users.zoom_user_id
    left join event_meetings
        on zoom_sessions.meeting_uuid = event_meetings.meeting_uuid

),

meets_candidates as (

    select
        with_account.meeting_uuid,
        with_account.participant_id,
        count(distinct attendance.email) as candidate_emails,
        min(attendance.email) as meets_email
    from with_account
    inner join attendance
        on
            with_account.meets_event_id = attendance.meets_event_id
            and lower(with_account.user_name) = lower(attendance.attendee_name)
            and abs(epoch(with_account.joined_at) - epoch(attendance.joined_at)) <= {{ tolerance }}
            and abs(
                epoch(coalesce(with_account.left_at, with_account.joined_at))
                - epoch(coalesce(attendance.left_at, attendance.joined_at))
            ) <= {{ tolerance }}
    where
        with_account.email is null
        and with_account.account_email is null
        and not with_account.is_waiting_room
        and attendance.email is not null
    group by with_account.meeting_uuid, with_account.participant_id

),

resolved as (

    select
        with_account.*,
        case when meets_candidates.candidate_emails = 1 then meets_candidates.meets_email end as meets_email
    from with_account
    left join meets_candidates
        on
            with_account.meeting_uuid = meets_candidates.meeting_uuid
            and with_account.participant_id = meets_candidates.participant_id

),

keyed as (

    select
        *,
        coalesce(email, account_email, meets_email) as own_email,
        case
            when email is not null then 'zoom_email'
            when account_email is not null then 'zoom_account'
            when meets_email is not null then 'meets_attendance'
        end as own_email_source
    from resolved

),

name_groups as (

    -- one display name in one meeting: its rows are one person when they know one email between them
    select
        meeting_uuid,
        lower(user_name) as name_key,
        count(distinct own_email) as emails,
        min(own_email) as email,
        min(own_email_source) as email_source
    from keyed
    where user_name is not null
    group by meeting_uuid, lower(user_name)

),

final as (

    select
        keyed.meeting_uuid,
        keyed.participant_id,
        keyed.zoom_user_id,
        keyed.participant_uuid,
        keyed.user_name,
        keyed.email,
        keyed.role,
        keyed.participant_status,
        keyed.is_waiting_room,
        keyed.device,
        keyed.os,
        keyed.os_version,
        keyed.client,
        keyed.client_version,
        keyed.ip_address,
        keyed.location,
        keyed.data_center,
        keyed.network_type,
        keyed.connection_type,
        keyed.leave_reason,
        keyed.joined_at,
        keyed.left_at,
        keyed.account_email,
        keyed.meets_event_id,
        keyed.meets_email,
        coalesce(keyed.own_email, case when name_groups.emails = 1 then name_groups.email end) as resolved_email,
        coalesce(
            keyed.own_email,
            case when name_groups.emails = 1 then name_groups.email end,
            'zoom:' || keyed.zoom_user_id,
            'guest:' || keyed.meeting_uuid || ':' || lower(keyed.user_name),
            'session:' || keyed.meeting_uuid || ':' || keyed.participant_id
        ) as person_key,
        case
            when keyed.own_email is not null then keyed.own_email_source
            when name_groups.emails = 1 then name_groups.email_source
            when keyed.zoom_user_id is not null then 'zoom_user_id'
            when keyed.user_name is not null then 'name_in_meeting'
            else 'session_only'
        end as identity_source,
        keyed._dlt_load_id
    from keyed
    left join name_groups
        on
            keyed.meeting_uuid = name_groups.meeting_uuid
            and lower(keyed.user_name) = name_groups.name_key

)

select * from final
