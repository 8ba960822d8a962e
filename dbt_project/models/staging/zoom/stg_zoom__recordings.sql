with

source as (

    select * from {{ source('zoom', 'recordings') }}

),

renamed as (

    select
        ---------- ids
        uuid as meeting_uuid,
        cast(id as bigint) as meeting_series_id,
        host_id as host_zoom_user_id,
        ---------- attributes
        topic,
        cast(type as integer) as meeting_type,
        cast(duration as integer) as duration_minutes,
        cast(total_size as bigint) as total_size_bytes,
        cast(recording_count as integer) as zoom_recording_count,
        nullif(share_url, '') as share_url,
        cast(auto_delete as boolean) as is_auto_delete,
        cast(auto_delete_date as date) as auto_delete_date,
        coalesce(cast(has_passcode as boolean), false) as has_passcode,
        coalesce(cast(is_trashed as boolean), false) as is_trashed,
        ---------- timestamps
        {{ to_utc('start_time') }} as started_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
