with

source as (

    select * from {{ source('zoom', 'active_hosts') }}

),

renamed as (

    select
        ---------- ids
        id as zoom_user_id,
        ---------- attributes
        lower(nullif(trim(email), '')) as email,
        nullif(user_name, '') as user_name,
        cast(type as integer) as user_type,
        nullif(dept, '') as dept,
        cast(meetings as integer) as meeting_count,
        cast(participants as integer) as participant_count,
        cast(meeting_minutes as integer) as meeting_minutes,
        ---------- dates
        cast(report_from as date) as report_from_date,
        cast(report_to as date) as report_to_date,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from renamed
