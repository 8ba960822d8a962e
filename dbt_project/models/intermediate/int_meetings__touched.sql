{#-
    The Zoom meetings (meeting_uuid) and MEETS events (meets_event_id) whose rows this run
    recomputes in the per-meeting models (macros/touched_meetings.sql): one row per meeting or
    event, the other column null. Compared with int_meetings__state, what the last successful build
    saw:
      - raw rows of a load it did not see, or of a load that holds more rows than it did (a package
        committed late under an older id; a load that holds fewer lost them to a newer load's
        merge, which is itself new), among the loads from
        var('qos_lookback_hours') before the newest it saw: zoom meetings, participant sessions
        (meetings); MEETS events, their courses, attendance (events);
      - per-minute QoS rows written since (fct_qos_participant_minutes._dbt_loaded_at);
      - transcript cues and files the transcripts stage wrote since (loaded_at, parsed_at);
      - a changed lookup: a Zoom user's email (sessions of that user, meetings of that host), the
        user id dim_users gives an email (sessions resolved to it), an event-to-meeting match
        (both sides, old and new), a course's name (meetings of that course), a meeting's recording
        files count and bytes (Zoom's recordings listing is re-loaded over a window every day);
    and then every meeting matched to a touched event and every event matched to a touched
    meeting, so a meeting's Zoom rows and its MEETS rows are always recomputed together.
    Without a state (first build, or after it was dropped) every meeting and event is listed.
-#}
{{ config(materialized='table') }}
-- depends_on: {{ ref('stg_zoom__participant_sessions') }}
-- depends_on: {{ ref('stg_zoom__users') }}
-- depends_on: {{ ref('dim_users') }}
-- depends_on: {{ ref('dim_courses') }}
-- depends_on: {{ ref('stg_zoom__recording_files') }}
-- depends_on: {{ ref('int_meets_events__matched_to_meetings') }}
-- depends_on: {{ ref('fct_qos_participant_minutes') }}
{%- for name, relation, id_expr, kind in touched_sources() %}
-- reads {{ relation }}
{%- endfor %}
{%- for name, relation, column in touched_watermarks() %}
-- reads {{ relation }}
{%- endfor %}
-- depends_on: {{ ref('stg_zoom__meetings') }}
-- depends_on: {{ ref('stg_meets__conferencing_events') }}
-- depends_on: {{ ref('stg_meets__attendance') }}
-- depends_on: {{ ref('stg_transcripts__cues') }}
{%- set state = touched_state_relation() %}
{%- set full = state is none or flags.FULL_REFRESH %}
{%- set matches = ref('int_meets_events__matched_to_meetings') %}
{%- set qos = ref('fct_qos_participant_minutes') %}
{%- set changed = [] %}
{%- if not full and execute %}
    {%- set since = touched_since(state) %}
    {%- set changed_query -%}
        with now_ as ({{ touched_lookups() }}),
        held as (
            select kind, key1, key2 from {{ state }}
            where kind in ('zoom_user', 'user', 'match', 'course', 'recording')
        )
        (select * from now_ except select * from held)
        union
        (select * from held except select * from now_)
    {%- endset %}
    {%- for row in run_query(changed_query).rows %}
        {%- do changed.append([row[0], row[1], row[2]]) %}
    {%- endfor %}
    {%- set watermark = run_query(
        "select max(value) from " ~ state ~ " where kind = 'watermark' and key1 = 'qos'"
    ).rows[0][0] or '1970-01-01 00:00:00' %}
    {%- set marks = {} %}
    {%- for row in run_query("select key1, value from " ~ state ~ " where kind = 'watermark'").rows %}
        {%- do marks.update({row[0]: row[1]}) %}
    {%- endfor %}
    {%- set old_meetings = adapter.get_relation(
        database=this.database, schema=generate_schema_name('analytics', none), identifier='fct_meetings'
    ) %}
    {%- set old_sessions = adapter.get_relation(
        database=this.database, schema=generate_schema_name('analytics', none), identifier='fct_participant_sessions'
    ) %}
{%- endif %}


{%- if full %}

-- every meeting and event any per-meeting model can hold rows of
select
    meeting_uuid,
    null::bigint as meets_event_id
from {{ ref('stg_zoom__meetings') }}
union
select
    meeting_uuid,
    null::bigint as meets_event_id
from {{ ref('stg_zoom__participant_sessions') }}
union
select
    meeting_uuid,
    null::bigint as meets_event_id
from {{ ref('stg_transcripts__cues') }}
where meeting_uuid is not null
union
select
    null::varchar as meeting_uuid,
    meets_event_id
from {{ ref('stg_meets__conferencing_events') }}
union
select
    null::varchar as meeting_uuid,
    meets_event_id
from {{ ref('stg_meets__attendance') }}

{%- else %}

with

held_loads as (

    select
        key1 as source_table,
        key2 as load_id,
        value as row_count
    from {{ state }}
    where kind = 'load' and key2 >= '{{ since }}'

),

raw_loads as (

    {{ touched_raw_loads(since) }}

),

pending as (

    {#- a load not seen, or holding more rows than when seen (a package committed late under its
        id); one holding fewer lost rows to a newer load's merge, which is pending itself -#}
    select
        raw_loads.source_table,
        raw_loads.load_id
    from raw_loads
    left join held_loads
        on
            raw_loads.source_table = held_loads.source_table
            and raw_loads.load_id = held_loads.load_id
    where held_loads.row_count is null or raw_loads.row_count > cast(held_loads.row_count as bigint)

),

direct as (

    {%- for name, relation, id_expr, kind in touched_sources() %}
    select
        {{ id_expr if kind == 'meeting' else 'null::varchar' }} as meeting_uuid,
        {{ id_expr if kind == 'event' else 'null::bigint' }} as meets_event_id
    from {{ relation }}
    where
        _dlt_load_id >= '{{ since }}'
        and _dlt_load_id in (select pending.load_id from pending where pending.source_table = '{{ name }}')
    union
    {%- endfor %}
    select
        meeting_uuid,
        null::bigint as meets_event_id
    from {{ qos }}
    where _dbt_loaded_at > timestamp '{{ watermark }}'
    {%- set recording_changes = changed | selectattr(0, 'equalto', 'recording') | list %}
    {%- if recording_changes %}
    union
    select
        unnest([{{ literal_list(recording_changes | map(attribute=1) | unique | list) }}]) as meeting_uuid,
        null::bigint as meets_event_id
    {%- endif %}
    {%- set match_changes = changed | selectattr(0, 'equalto', 'match') | list %}
    {%- set zoom_user_changes = changed | selectattr(0, 'equalto', 'zoom_user') | list %}
    {%- set user_changes = changed | selectattr(0, 'equalto', 'user') | list %}
    {%- for row in match_changes %}
    union
    select
        '{{ row[1] }}' as meeting_uuid,
        null::bigint as meets_event_id
    union
    select
        null::varchar as meeting_uuid,
        {{ row[2] | int }} as meets_event_id
    {%- endfor %}
    {%- if zoom_user_changes %}
    {%- set ids = zoom_user_changes | map(attribute=1) | reject('equalto', '') | list %}
    {%- set emails = zoom_user_changes | map(attribute=2) | reject('equalto', '') | list %}
    {%- if ids %}
    union
    select
        meeting_uuid,
        null::bigint as meets_event_id
    from {{ ref('stg_zoom__participant_sessions') }}
    where zoom_user_id in ({{ literal_list(ids) }})
    {%- endif %}
    {%- if emails %}
    union
    select
        meeting_uuid,
        null::bigint as meets_event_id
    from {{ ref('stg_zoom__meetings') }}
    where host_email in ({{ literal_list(emails) }})
    {%- endif %}
    {%- endif %}
    {%- for name, relation, column in touched_watermarks() %}
    union
    select
        meeting_uuid,
        null::bigint as meets_event_id
    from {{ relation }}
    {%- if marks.get(name) %}
    where {{ column }} > cast('{{ marks[name] }}' as timestamptz)
    {%- endif %}
    {%- endfor %}
    {%- set course_changes = changed | selectattr(0, 'equalto', 'course') | list %}
    {%- if course_changes and old_meetings is not none %}
    union
    select
        meeting_uuid,
        null::bigint as meets_event_id
    from {{ old_meetings }}
    where cast(meets_course_id as varchar) in ({{ literal_list(course_changes | map(attribute=1) | list) }})
    {%- endif %}
    {%- if user_changes and old_sessions is not none %}
    union
    select
        meeting_uuid,
        meets_event_id
    from {{ old_sessions }}
    where email in ({{ literal_list(user_changes | map(attribute=1) | list) }})
    {%- endif %}

),

matches as (

    select
        meeting_uuid,
        meets_event_id
    from {{ matches }}

),

closed as (

    select
        meeting_uuid,
        null::bigint as meets_event_id
    from direct
    where meeting_uuid is not null
    union
    select
        null::varchar as meeting_uuid,
        meets_event_id
    from direct
    where meets_event_id is not null
    union
    select
        matches.meeting_uuid,
        null::bigint as meets_event_id
    from matches
    where matches.meets_event_id in (select direct.meets_event_id from direct)
    union
    select
        null::varchar as meeting_uuid,
        matches.meets_event_id
    from matches
    where matches.meeting_uuid in (select direct.meeting_uuid from direct)

)

select * from closed

{%- endif %}
