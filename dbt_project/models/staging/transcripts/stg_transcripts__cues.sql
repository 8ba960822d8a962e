with

source as (

    select * from {{ source('transcripts', 'cues') }}

),

renamed as (

    select
        ---------- ids
        file_key || ':' || cue_index as segment_id,
        file_key as recording_file_id,
        cue_index,
        meeting_uuid,
        ---------- attributes
        upper(file_type) as file_type,
        case upper(file_type)
            when 'TRANSCRIPT' then 'transcript'
            when 'CC' then 'captions'
            when 'CHAT' then 'chat'
        end as segment_kind,
        nullif(trim(speaker), '') as speaker,
        text as segment_text,
        len(regexp_extract_all(coalesce(text, ''), '[\p{L}\p{N}_]+')) as word_count,
        cast(start_offset_s as decimal(12, 3)) as start_offset_seconds,
        cast(end_offset_s as decimal(12, 3)) as end_offset_seconds,
        cast(end_offset_s - start_offset_s as decimal(12, 3)) as duration_seconds,
        file_sha256,
        ---------- timestamps
        {{ to_utc('spoken_at') }} as spoken_at,
        {{ to_utc('loaded_at') }} as loaded_at

    from source

)

select * from renamed
