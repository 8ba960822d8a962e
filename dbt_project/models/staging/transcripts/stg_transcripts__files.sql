with

source as (

    select * from {{ source('transcripts', 'files') }}

),

renamed as (

    select
        ---------- ids
        file_key as recording_file_id,
        meeting_uuid,
        ---------- attributes
        upper(file_type) as file_type,
        dest_url,
        sha256,
        status as parse_status,
        reason as quarantine_reason,
        cue_count,
        ---------- timestamps
        {{ to_utc('recording_start') }} as recording_started_at,
        {{ to_utc('parsed_at') }} as parsed_at

    from source

)

select * from renamed
