with

source as (

    select * from {{ source('meets', 'conferencing_event_users') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        cast(meets_id_user as bigint) as meets_user_id,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
