with

source as (

    select * from {{ source('meets', 'conferencing_accounts') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_account as bigint) as meets_conferencing_account_id,
        ---------- attributes
        lower(conferencing_service) as conferencing_service,
        conferencing_username,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
