{#-
    Zoom meeting series (the meeting number shared by a series' instances). Listed series come
    from the users' meeting lists; a number seen only on past instances is the host's personal
    meeting ID (PMI) when it equals a user's pmi, and an instant meeting otherwise.
-#}

with

listed as (

    select * from {{ ref('stg_zoom__meeting_series') }}

),

meetings as (

    select * from {{ ref('stg_zoom__meetings') }}

),

users as (

    select * from {{ ref('stg_zoom__users') }}

),

instances as (

    select
        meeting_series_id,
        arg_max(topic, started_at) as latest_topic,
        arg_max(host_email, started_at) as latest_host_email,
        count(*) as meeting_count,
        min(started_at) as first_started_at,
        max(started_at) as last_started_at
    from meetings
    group by meeting_series_id

),

all_series as (

    select meeting_series_id from listed
    union
    select meeting_series_id from instances

),

final as (

    select
        all_series.meeting_series_id,
        coalesce(listed.host_zoom_user_id, pmi_owner.zoom_user_id, host_user.zoom_user_id) as host_zoom_user_id,
        coalesce(listed.topic, instances.latest_topic) as topic,
        case
            when listed.meeting_series_id is not null then listed.meeting_type
            when pmi_owner.zoom_user_id is not null then 4
            else 1
        end as meeting_type,
        case
            when listed.meeting_series_id is null and pmi_owner.zoom_user_id is not null then 'pmi'
            when listed.meeting_series_id is null then 'instant'
            when listed.meeting_type in (3, 8) then 'recurring'
            when listed.meeting_type = 2 then 'scheduled'
            when listed.meeting_type = 4 then 'pmi'
            when listed.meeting_type = 1 then 'instant'
            else 'other'
        end as series_kind,
        listed.meeting_series_id is not null as is_listed,
        coalesce(listed.meeting_type = 4, pmi_owner.zoom_user_id is not null) as is_pmi,
        coalesce(listed.meeting_type = 1, pmi_owner.zoom_user_id is null) as is_instant,
        coalesce(listed.meeting_type in (3, 8), false) as is_recurring,
        listed.recurrence_type,
        listed.recurrence_repeat_interval,
        listed.recurrence_weekly_days,
        listed.scheduled_duration_minutes,
        listed.scheduled_start_at,
        listed.timezone,
        listed.created_at,
        coalesce(instances.meeting_count, 0) as meeting_count,
        instances.first_started_at,
        instances.last_started_at
    from all_series
    left join listed
        on all_series.meeting_series_id = listed.meeting_series_id
    left join instances
        on all_series.meeting_series_id = instances.meeting_series_id
    left join users as pmi_owner
        on all_series.meeting_series_id = pmi_owner.pmi
    left join users as host_user
        on instances.latest_host_email = host_user.email

)

select * from final
