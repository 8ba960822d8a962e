with

source as (

    select * from {{ source('meets', 'conferencing_event_courses') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_conferencing_event as bigint) as meets_event_id,
        cast(meets_id_course as bigint) as meets_course_id,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
