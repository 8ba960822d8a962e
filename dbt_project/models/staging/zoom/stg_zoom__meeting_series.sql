with

source as (

    select * from {{ source('zoom', 'meeting_series') }}

),

renamed as (

    select
        ---------- ids
        cast(id as bigint) as meeting_series_id,
        host_id as host_zoom_user_id,
        ---------- attributes
        topic,
        cast(type as integer) as meeting_type,
        cast(duration as integer) as scheduled_duration_minutes,
        nullif(timezone, '') as timezone,
        cast(recurrence__type as integer) as recurrence_type,
        cast(recurrence__repeat_interval as integer) as recurrence_repeat_interval,
        nullif(cast(recurrence__weekly_days as varchar), '') as recurrence_weekly_days,
        ---------- timestamps
        {{ to_utc('start_time') }} as scheduled_start_at,
        {{ to_utc('created_at') }} as created_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
