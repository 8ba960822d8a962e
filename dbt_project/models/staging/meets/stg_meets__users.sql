with

source as (

    select * from {{ source('meets', 'users') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_user as bigint) as meets_user_id,
        cast(meets_id_connection as bigint) as meets_connection_id,
        nullif(lti_id_user, '') as lti_user_id,
        ---------- attributes
        lower(nullif(trim(email), '')) as email,
        nullif(name_first, '') as first_name,
        nullif(name_last, '') as last_name,
        cast(auxiliary as json) as auxiliary,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
