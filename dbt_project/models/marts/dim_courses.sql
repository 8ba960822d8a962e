{#- MEETS courses with their LMS connection, LTI context id, roster sizes, and the Zoom meetings
    their events became (via int_meets_events__matched_to_meetings).
    A course that events link to but that list_courses did not give (deleted in MEETS since, or
    quarantined as unreadable) is kept as an inferred member: its id and its events, nothing else,
    and is_listed = false. Every meeting's course is therefore in this table. -#}

with

courses as (

    select * from {{ ref('stg_meets__courses') }}

),

connections as (

    select * from {{ ref('stg_meets__connections') }}

),

course_users as (

    select * from {{ ref('stg_meets__course_users') }}

),

event_courses as (

    select * from {{ ref('stg_meets__conferencing_event_courses') }}

),

event_meetings as (

    select * from {{ ref('int_meets_events__matched_to_meetings') }}

),

meetings as (

    select * from {{ ref('stg_zoom__meetings') }}

),

roster as (

    select
        meets_course_id,
        count_if(is_teacher) as teacher_count,
        count_if(is_student) as student_count,
        count_if(is_course_administrator) as course_administrator_count
    from course_users
    group by meets_course_id

),

course_meetings as (

    select
        event_courses.meets_course_id,
        count(distinct event_courses.meets_event_id) as event_count,
        count(distinct event_meetings.meeting_uuid) as zoom_meeting_count,
        mode(meetings.meeting_series_id) as meeting_series_id
    from event_courses
    left join event_meetings
        on event_courses.meets_event_id = event_meetings.meets_event_id
    left join meetings
        on event_meetings.meeting_uuid = meetings.meeting_uuid
    group by event_courses.meets_course_id

),

all_courses as (

    select
        meets_course_id,
        course_name,
        lti_context_id,
        meets_connection_id,
        auxiliary,
        true as is_listed
    from courses
    union all
    select distinct
        event_courses.meets_course_id,
        null::varchar as course_name,
        null::varchar as lti_context_id,
        null::bigint as meets_connection_id,
        null::json as auxiliary,
        false as is_listed
    from event_courses
    anti join courses
        on event_courses.meets_course_id = courses.meets_course_id

),

final as (

    select
        courses.meets_course_id,
        courses.course_name,
        courses.lti_context_id,
        courses.meets_connection_id,
        connections.connection_name,
        connections.platform_type,
        connections.platform_url,
        course_meetings.meeting_series_id,
        coalesce(roster.teacher_count, 0) as teacher_count,
        coalesce(roster.student_count, 0) as student_count,
        coalesce(roster.course_administrator_count, 0) as course_administrator_count,
        coalesce(course_meetings.event_count, 0) as event_count,
        coalesce(course_meetings.zoom_meeting_count, 0) as zoom_meeting_count,
        courses.auxiliary,
        courses.is_listed
    from all_courses as courses
    left join connections
        on courses.meets_connection_id = connections.meets_connection_id
    left join roster
        on courses.meets_course_id = roster.meets_course_id
    left join course_meetings
        on courses.meets_course_id = course_meetings.meets_course_id

)

select * from final
