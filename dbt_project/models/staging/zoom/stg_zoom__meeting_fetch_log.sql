with

source as (

    select * from {{ source('zoom', 'meeting_fetch_log') }}

),

renamed as (

    select
        ---------- ids
        meeting_uuid,
        ---------- attributes
        status as fetch_status,
        cast(participant_sessions as integer) as participant_session_count,
        cast(qos_rows as integer) as qos_row_count,
        ---------- timestamps
        {{ to_utc('end_time') }} as meeting_ended_at,
        {{ to_utc('fetched_at') }} as fetched_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
