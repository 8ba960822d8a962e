with

source as (

    select * from {{ source('zoom', 'meetings') }}

),

renamed as (

    select
        ---------- ids
        uuid as meeting_uuid,
        cast(id as bigint) as meeting_series_id,
        ---------- attributes
        topic,
        nullif(host, '') as host_name,
        lower(nullif(trim(email), '')) as host_email,
        nullif(user_type, '') as host_user_type,
        nullif(dept, '') as host_dept,
        {{ parse_hms_duration('duration') }} as duration_seconds,
        cast(participants as integer) as participant_count,
        audio_quality,
        video_quality,
        screen_share_quality,
        ---------- flags
        cast(has_pstn as boolean) as has_pstn,
        cast(has_voip as boolean) as has_voip,
        cast(has_3rd_party_audio as boolean) as has_3rd_party_audio,
        cast(has_video as boolean) as has_video,
        cast(has_screen_share as boolean) as has_screen_share,
        cast(has_recording as boolean) as has_recording,
        cast(has_sip as boolean) as has_sip,
        cast(has_archiving as boolean) as has_archiving,
        ---------- timestamps
        {{ to_utc('start_time') }} as started_at,
        {{ to_utc('end_time') }} as ended_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
