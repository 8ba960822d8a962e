with

source as (

    select * from {{ source('meets', 'conference_recordings') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conference_recording as bigint) as meets_recording_id,
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        ---------- attributes
        lower(type) as recording_kind,
        ---------- timestamps
        {{ unix_to_utc('time_added') }} as added_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
