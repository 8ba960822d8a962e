with

source as (

    select * from {{ source('meets', 'courses') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_course as bigint) as meets_course_id,
        cast(meets_id_connection as bigint) as meets_connection_id,
        nullif(lti_id_context, '') as lti_context_id,
        ---------- attributes
        name as course_name,
        cast(auxiliary as json) as auxiliary,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
