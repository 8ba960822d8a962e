{% macro create_youtube_raw_tables() -%}
    {#-
        The publish stage (pipelines/youtube/state.py, DDL there) creates this table on its first
        run. A warehouse it never ran on (no channel configured: the usual case) gets it empty
        here, so the recordings mart builds. Keep both definitions in step.
    -#}
    {%- set lake = target.name == 'lake' %}
    {%- set db = target.database ~ '.' if lake else '' %}  {#- hooks run outside the lake -#}
    create schema if not exists {{ db }}youtube;
    create table if not exists {{ db }}youtube.publications (
        target varchar not null,
        file_key varchar not null,
        meeting_uuid varchar,
        source_url varchar,
        size bigint,
        sha256 varchar,
        title varchar,
        privacy_status varchar,
        privacy_effective varchar,
        status varchar not null,
        video_id varchar,
        video_url varchar,
        session_uri varchar,
        session_started_at timestamptz,
        bytes_sent bigint not null{{ '' if lake else ' default 0' }},
        quota_units bigint not null{{ '' if lake else ' default 0' }},
        attempts integer not null{{ '' if lake else ' default 0' }},
        error varchar,
        playlist_id varchar,
        playlist_item_id varchar,
        published_at timestamptz,
        updated_at timestamptz
        {%- if not lake %},
        primary key (target, file_key)  -- DuckLake: no keys
        {%- endif %}
    )
{%- endmacro %}
