{#-
    People known to Zoom (account users) or MEETS (LMS users and MEETS admins), one row per email
    address (user_id = the lower-cased email; MEETS users without an email get 'meets:<id>').
-#}

with

zoom_users as (

    select * from {{ ref('stg_zoom__users') }}

),

meets_users as (

    select * from {{ ref('stg_meets__users') }}

),

meets_admins as (

    select * from {{ ref('stg_meets__admins') }}

),

course_users as (

    select * from {{ ref('stg_meets__course_users') }}

),

meetings as (

    select * from {{ ref('stg_zoom__meetings') }}

),

meets_people as (

    select
        coalesce(meets_users.email, 'meets:' || meets_users.meets_user_id) as user_id,
        min(meets_users.meets_user_id) as meets_user_id,
        count(*) as meets_user_count,
        min(meets_users.meets_connection_id) as meets_connection_id,
        min(meets_users.lti_user_id) as lti_user_id,
        min(meets_users.first_name) as first_name,
        min(meets_users.last_name) as last_name,
        coalesce(bool_or(course_users.is_teacher), false) as is_teacher,
        coalesce(bool_or(course_users.is_student), false) as is_student,
        coalesce(bool_or(course_users.is_course_administrator), false) as is_course_administrator,
        count(distinct course_users.meets_course_id) as course_count
    from meets_users
    left join course_users
        on meets_users.meets_user_id = course_users.meets_user_id
    group by coalesce(meets_users.email, 'meets:' || meets_users.meets_user_id)

),

hosted as (

    select
        host_email,
        count(*) as hosted_meeting_count
    from meetings
    where host_email is not null
    group by host_email

),

all_ids as (

    select email as user_id
    from zoom_users
    where email is not null
    union
    select user_id
    from meets_people
    union
    select email as user_id
    from meets_admins
    where email is not null

),

final as (

    select
        all_ids.user_id,
        coalesce(zoom_users.email, meets_admins.email, case when all_ids.user_id like '%@%' then all_ids.user_id end)
            as email,
        coalesce(zoom_users.first_name, meets_people.first_name, meets_admins.first_name) as first_name,
        coalesce(zoom_users.last_name, meets_people.last_name, meets_admins.last_name) as last_name,
        coalesce(
            zoom_users.display_name,
            nullif(
                trim(
                    coalesce(coalesce(zoom_users.first_name, meets_people.first_name, meets_admins.first_name), '')
                    || ' '
                    || coalesce(coalesce(zoom_users.last_name, meets_people.last_name, meets_admins.last_name), '')
                ),
                ''
            )
        ) as full_name,
        ---------- Zoom
        zoom_users.zoom_user_id,
        zoom_users.user_type as zoom_user_type,
        zoom_users.user_status as zoom_user_status,
        zoom_users.role_id as zoom_role_id,
        zoom_users.pmi as zoom_pmi,
        zoom_users.dept,
        zoom_users.timezone,
        zoom_users.created_at as zoom_created_at,
        zoom_users.user_key is not null as is_zoom_user,
        coalesce(zoom_users.user_type = 2, false) as is_zoom_licensed,
        coalesce(hosted.hosted_meeting_count, 0) as hosted_meeting_count,
        coalesce(hosted.hosted_meeting_count, 0) > 0 as is_zoom_host,
        ---------- MEETS
        meets_people.meets_user_id,
        coalesce(meets_people.meets_user_count, 0) as meets_user_count,
        meets_people.meets_connection_id,
        meets_people.lti_user_id,
        meets_people.meets_user_id is not null as is_meets_user,
        coalesce(meets_people.is_teacher, false) as is_teacher,
        coalesce(meets_people.is_student, false) as is_student,
        coalesce(meets_people.is_course_administrator, false) as is_course_administrator,
        coalesce(meets_people.course_count, 0) as course_count,
        meets_admins.meets_admin_id,
        meets_admins.meets_admin_id is not null as is_meets_admin
    from all_ids
    left join zoom_users
        on all_ids.user_id = zoom_users.email
    left join meets_people
        on all_ids.user_id = meets_people.user_id
    left join meets_admins
        on all_ids.user_id = meets_admins.email
    left join hosted
        on all_ids.user_id = hosted.host_email

)

select * from final
