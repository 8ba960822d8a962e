with

source as (

    select * from {{ source('meets', 'connections') }}

),

renamed as (

    select
        ---------- ids
        cast(meets_id_connection as bigint) as meets_connection_id,
        ---------- attributes
        name as connection_name,
        nullif(platform_url, '') as platform_url,
        nullif(platform_type, '') as platform_type,
        ---------- settings
        cast(settings__tls_required as boolean) as is_tls_required,
        cast(settings__teacher_schedule_others as boolean) as can_teacher_schedule_others,
        cast(settings__teacher_substitute as boolean) as can_teacher_substitute,
        cast(settings__students_host as boolean) as can_students_host,
        cast(settings__feature_appointments as boolean) as has_appointments,
        cast(settings__feature_recordings as boolean) as has_recordings,
        cast(settings__feature_repository as boolean) as has_repository,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
