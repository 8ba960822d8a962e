with

source as (

    select * from {{ source('meets', 'course_users') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_course as bigint) as meets_course_id,
        cast(meets_id_user as bigint) as meets_user_id,
        ---------- roles
        coalesce(cast(roles__administrator as boolean), false) as is_course_administrator,
        coalesce(cast(roles__teacher as boolean), false) as is_teacher,
        coalesce(cast(roles__student as boolean), false) as is_student,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
