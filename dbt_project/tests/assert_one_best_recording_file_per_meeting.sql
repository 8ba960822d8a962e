-- At most one best file per meeting, and one whenever the meeting has a prioritised video file.
with

files as (

    select * from {{ ref('fct_recording_files') }}

),

per_meeting as (

    select
        meeting_uuid,
        count_if(is_best_file) as best_files,
        count(recording_type_priority) as candidates
    from files
    group by meeting_uuid

)

select * from per_meeting
where best_files > 1 or (candidates > 0 and best_files = 0)
