{% macro create_transcripts_raw_tables() -%}
    {#-
        The transcripts stage (pipelines/transcripts/stage.py, DDL there) creates these tables on its
        first run. A warehouse it never ran on (transcripts off, a fresh clone before any recording)
        gets them empty here, so every model and test builds. Keep both definitions in step.
    -#}
    {%- set db = target.database ~ '.' if target.name == 'lake' else '' %}  {#- hooks run outside the lake -#}
    create schema if not exists {{ db }}transcripts;
    create table if not exists {{ db }}transcripts.cues (
        file_key varchar not null,
        cue_index integer not null,
        meeting_uuid varchar,
        file_type varchar,
        start_offset_s double,
        end_offset_s double,
        spoken_at timestamptz,
        speaker varchar,
        text varchar,
        file_sha256 varchar,
        loaded_at timestamptz
    );
    create table if not exists {{ db }}transcripts.files (
        file_key varchar {{ 'not null' if target.name == 'lake' else 'primary key' }},  -- DuckLake: no keys
        meeting_uuid varchar,
        file_type varchar,
        dest_url varchar,
        sha256 varchar,
        status varchar,
        reason varchar,
        cue_count integer,
        recording_start timestamptz,
        parsed_at timestamptz
    )
{%- endmacro %}
