with

source as (

    select * from {{ source('zoom', 'recording_files') }}

),

renamed as (

    select
        ---------- ids
        file_key as recording_file_id,
        nullif(id, '') as zoom_file_id,
        meeting_uuid,
        ---------- attributes
        upper(nullif(file_type, '')) as file_type,
        upper(nullif(file_extension, '')) as file_extension,
        lower(nullif(recording_type, '')) as recording_type,
        cast(file_size as bigint) as file_size_bytes,
        nullif(status, '') as status,
        nullif(download_url, '') as download_url,
        nullif(play_url, '') as play_url,
        coalesce(cast(is_trashed as boolean), false) as is_trashed,
        ---------- timestamps
        {{ to_utc('recording_start') }} as recording_started_at,
        {{ to_utc('recording_end') }} as recording_ended_at,
        {{ to_utc('deleted_time') }} as deleted_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
