with

source as (

    select * from {{ source('meets', 'conferencing_events') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        cast(meets_id_user_host as bigint) as host_meets_user_id,
        cast(meets_id_conferencing_account as bigint) as meets_conferencing_account_id,
        ---------- attributes
        name as event_name,
        lower(conferencing_service) as conferencing_service,
        ---------- timestamps
        {{ unix_to_utc('time_begin') }} as scheduled_start_at,
        {{ unix_to_utc('time_end') }} as scheduled_end_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
