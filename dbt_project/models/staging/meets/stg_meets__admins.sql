with

source as (

    select * from {{ source('meets', 'admins') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_admin as bigint) as meets_admin_id,
        ---------- attributes
        lower(nullif(trim(email), '')) as email,
        nullif(name_first, '') as first_name,
        nullif(name_last, '') as last_name,
        ---------- permissions
        coalesce(cast(permissions__manage_admins as boolean), false) as can_manage_admins,
        coalesce(cast(permissions__manage_connections as boolean), false) as can_manage_connections,
        coalesce(cast(permissions__view_data as boolean), false) as can_view_data,
        coalesce(cast(permissions__manage_conferencing_accounts as boolean), false)
            as can_manage_conferencing_accounts,
        coalesce(cast(permissions__manage_content as boolean), false) as can_manage_content,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
