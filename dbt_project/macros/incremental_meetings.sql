{#
    Incremental refresh by whole meetings. A QoS aggregate of a meeting depends on all of its
    minutes, and a meeting's minutes can arrive over several loads, so the aggregate models recompute
    every meeting that has rows newer than what they already hold (delete+insert on meeting_uuid).
#}

{% macro meetings_watermark(column) -%}
    {#- The newest `column` (a timestamp) this incremental model holds, as text; none on a full
        refresh or first build (then everything is read). -#}
    {%- if is_incremental() and execute -%}
        {%- set query -%}
            select coalesce(cast(max({{ column }}) as varchar), '1970-01-01 00:00:00') from {{ this }}
        {%- endset -%}
        {{ return(run_query(query).rows[0][0]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro where_meeting_touched(relation, column, watermark, also=none, identities=false) -%}
    {#- Keeps the rows of every meeting having a row in `relation` with `column` newer than the
        watermark (and `also`, an extra condition, when given); nothing to filter when the
        watermark is none. With `identities`, also every meeting whose MEETS attendance was
        loaded since: it can name people Zoom left anonymous, which changes their person_key. -#}
    {%- if watermark is not none %}
    where meeting_uuid in (
        select touched.meeting_uuid
        from {{ relation }} as touched
        where touched.{{ column }} > timestamp '{{ watermark }}'
        {%- if identities %}
        union
        select event_meetings.meeting_uuid
        from {{ ref('int_meets_events__matched_to_meetings') }} as event_meetings
        inner join {{ ref('stg_meets__attendance') }} as attendance
            on event_meetings.meets_event_id = attendance.meets_event_id
        where to_timestamp(cast(attendance._dlt_load_id as double)) > timestamp '{{ watermark }}'
        {%- endif %}
    )
    {%- if also %}
    and {{ also }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}
