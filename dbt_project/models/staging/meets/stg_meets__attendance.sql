with

source as (

    select * from {{ source('meets', 'attendance') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        cast(row_number as bigint) as attendance_row_number,
        ---------- attendee
        nullif(trim(attendee_name), '') as attendee_name,
        lower(nullif(trim(email_address), '')) as email,
        nullif(ip, '') as ip_address,
        nullif(browser, '') as browser,
        coalesce(cast(was_host as boolean), false) as was_host,
        coalesce(cast(is_final as boolean), false) as is_final,
        ---------- timestamps
        {{ unix_to_utc('time_join') }} as joined_at,
        {{ unix_to_utc('time_leave') }} as left_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
