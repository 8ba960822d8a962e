with

source as (

    select * from {{ source('zoom', 'participant_sessions') }}

),

renamed as (

    select
        ---------- ids
        meeting_uuid,
        user_id as participant_id,
        -- Zoom deprecates id in favour of participant_user_id (empty for guests in both)
        coalesce(nullif(participant_user_id, ''), nullif(id, '')) as zoom_user_id,
        nullif(participant_uuid, '') as participant_uuid,
        ---------- person
        nullif(trim(user_name), '') as user_name,
        lower(nullif(trim(email), '')) as email,
        lower(nullif(role, '')) as role,
        ---------- in the meeting or waiting to be admitted
        coalesce(lower(nullif(status, '')), 'in_meeting') as participant_status,
        coalesce(lower(status) = 'in_waiting_room', false) as is_waiting_room,
        ---------- client and network
        nullif(device, '') as device,
        nullif(os, '') as os,
        nullif(os_version, '') as os_version,
        nullif(client, '') as client,
        nullif(version, '') as client_version,
        nullif(ip_address, '') as ip_address,
        nullif(location, '') as location,
        nullif(data_center, '') as data_center,
        nullif(network_type, '') as network_type,
        nullif(connection_type, '') as connection_type,
        nullif(leave_reason, '') as leave_reason,
        ---------- timestamps
        {{ to_utc('join_time') }} as joined_at,
        {{ to_utc('leave_time') }} as left_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
