with

source as (

    select * from {{ source('meets', 'attendance_status') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        ---------- attributes
        coalesce(cast(is_final as boolean), false) as is_final,
        cast(rows as integer) as attendance_row_count,
        ---------- timestamps
        {{ to_utc('fetched_at') }} as fetched_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
