{#
    Incremental refresh by touched meetings (docs/transform.md, "What is incremental").

    int_meetings__touched lists, before the per-meeting marts build, the Zoom meetings (meeting_uuid)
    and MEETS events (meets_event_id) whose rows must be recomputed: those with raw rows in a load
    the last successful build did not see (per load id and row count, within var('qos_lookback_hours')
    of the newest load it saw), those with per-minute QoS rows written since, and those a changed
    lookup reaches (a Zoom user's email, a dim_users email, an event-to-meeting match). The
    per-meeting models delete the touched meetings' and events' rows (pre_hook delete_touched) and
    append them again, computed from the touched rows only. int_meetings__state, built after the
    marts, records what the build saw (load row counts, the lookups, the run's start); a failed build
    leaves it as it was, so the next run recomputes the same meetings again.
#}

{% macro touched_sources() -%}
    {#- raw tables whose loads touch a meeting or an event: (name, relation, id expression, kind) -#}
    {{ return([
        ('zoom.meetings', source('zoom', 'meetings'), 'uuid', 'meeting'),
        ('zoom.participant_sessions', source('zoom', 'participant_sessions'), 'meeting_uuid', 'meeting'),
        ('meets.conferencing_events', source('meets', 'conferencing_events'),
            'cast(meets_id_conferencing_event as bigint)', 'event'),
        ('meets.conferencing_event_courses', source('meets', 'conferencing_event_courses'),
            'cast(meets_id_conferencing_event as bigint)', 'event'),
        ('meets.attendance', source('meets', 'attendance'), 'cast(meets_id_conferencing_event as bigint)', 'event'),
    ]) }}
{%- endmacro %}

{% macro touched_state_relation() -%}
    {#- int_meetings__state as built by the last successful run, or none (not a ref: it is built
        after everything that reads it) -#}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier='int_meetings__state')) }}
{%- endmacro %}

{% macro touched_since(state) -%}
    {#- the oldest load id (text, '<unix seconds>.<micro>') re-examined: var('qos_lookback_hours')
        before the newest load the state holds; '' (everything) without a state -#}
    {%- if state is none or not execute -%}{{ return('') }}{%- endif -%}
    {%- set newest = run_query("select max(key2) from " ~ state ~ " where kind = 'load'").rows[0][0] -%}
    {%- if newest is none -%}{{ return('') }}{%- endif -%}
    {{ return('%.6f' % ((newest | float) - var('qos_lookback_hours') * 3600)) }}
{%- endmacro %}

{% macro touched_raw_loads(since) -%}
    {#- rows per raw table and load id, for load ids from `since` on (a literal: row groups of older
        loads are skipped) -#}
    {%- for name, relation, id_expr, kind in touched_sources() %}
    select
        '{{ name }}' as source_table,
        cast(_dlt_load_id as varchar) as load_id,
        count(*) as row_count
    from {{ relation }}
    where _dlt_load_id >= '{{ since }}'
    group by _dlt_load_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro touched_lookups() -%}
    {#- the small lookups whose change reaches old meetings' rows: a Zoom user's email (account
        emails of sessions, a meeting host's user id), dim_users' user id of an email, and the
        MEETS event each meeting became -#}
    select
        'zoom_user' as kind,
        coalesce(zoom_user_id, '') as key1,
        coalesce(email, '') as key2
    from {{ ref('stg_zoom__users') }}
    union all
    select
        'user' as kind,
        email as key1,
        user_id as key2
    from {{ ref('dim_users') }}
    where email is not null
    union all
    select
        'match' as kind,
        meeting_uuid as key1,
        cast(meets_event_id as varchar) as key2
    from {{ ref('int_meets_events__matched_to_meetings') }}
    union all
    select
        'course' as kind,
        cast(meets_course_id as varchar) as key1,
        coalesce(course_name, '') as key2
    from {{ ref('dim_courses') }}
    union all
    {#- what fct_meetings takes from the recording files, per meeting: Zoom's recordings listing is
        re-loaded over a window every day (new load ids, same rows), so loads would touch every
        meeting in it #}
    select
        'recording' as kind,
        meeting_uuid as key1,
        count(*) || ':' || coalesce(sum(file_size_bytes), 0) as key2
    from {{ ref('stg_zoom__recording_files') }}
    group by meeting_uuid
{%- endmacro %}

{% macro touched_watermarks() -%}
    {#- (name, relation, column): the transcripts stage's tables carry no dlt load id; rows whose
        column is newer than at the last successful build touch their meeting -#}
    {{ return([
        ('cues', source('transcripts', 'cues'), 'loaded_at'),
        ('files', source('transcripts', 'files'), 'parsed_at'),
    ]) }}
{%- endmacro %}

{% macro touched_condition(meeting_column='meeting_uuid', event_column=none) -%}
    {#- true for rows of a touched meeting (and, with event_column, of a touched MEETS event) -#}
    {%- set touched = ref('int_meetings__touched') -%}
    (
    {%- if meeting_column %}
        {{ meeting_column }} in (
            select touched.meeting_uuid from {{ touched }} as touched where touched.meeting_uuid is not null
        )
    {%- endif %}
    {%- if event_column %}
        {{ 'or ' if meeting_column }}{{ event_column }} in (
            select touched.meets_event_id from {{ touched }} as touched where touched.meets_event_id is not null
        )
    {%- endif %})
{%- endmacro %}

{% macro where_touched(meeting_column='meeting_uuid', event_column=none) -%}
    {#- `where <touched_condition>` on an incremental build, nothing on a full one -#}
    {%- if is_incremental() %}
    where {{ touched_condition(meeting_column, event_column) }}
    {%- endif %}
{%- endmacro %}

{% macro delete_touched(meeting_column='meeting_uuid', event_column=none) -%}
    {#- pre_hook of the per-meeting models: on an incremental build, drop the rows about to be
        recomputed (all rows of the touched meetings and events; rows that no longer exist, such as
        MEETS attendance replaced by the final report, go too) -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ touched_condition(meeting_column, event_column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro literal_list(values) -%}
    {#- SQL string literals, comma-separated -#}
    {%- for value in values %}'{{ value | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{% macro prune_touched_state() -%}
    {#- pre_hook of int_meetings__state: everything but the loads older than the window is written again -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where kind <> 'load' or key2 >= '{{ touched_since(this) }}'
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro delete_touched_or_unmatched() -%}
    {#- delete_touched, plus the rows without a meeting (transcript cues of no known meeting: few,
        recomputed on every run) -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ touched_condition() }} or meeting_uuid is null
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
