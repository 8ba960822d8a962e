with

source as (

    select * from {{ source('zoom', 'users') }}

),

renamed as (

    select
        ---------- ids
        user_key,
        nullif(id, '') as zoom_user_id,
        ---------- attributes
        lower(nullif(trim(email), '')) as email,
        nullif(first_name, '') as first_name,
        nullif(last_name, '') as last_name,
        nullif(display_name, '') as display_name,
        cast(type as integer) as user_type,
        status as user_status,
        cast(role_id as varchar) as role_id,
        nullif(dept, '') as dept,
        nullif(timezone, '') as timezone,
        cast(pmi as bigint) as pmi,
        ---------- timestamps
        {{ to_utc('user_created_at') }} as created_at,
        {{ to_utc('created_at') }} as login_type_created_at,
        {{ to_utc('last_login_time') }} as last_login_at,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
