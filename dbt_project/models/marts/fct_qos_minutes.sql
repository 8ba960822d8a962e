{#-
    One row per participant session, minute and stream (audio/video/share x input/output, plus the
    'cpu' block) with parsed metrics and one boolean per threshold metric (null = not measured).

    Incremental on dlt's load ids (`_dlt_load_id`, the load's UNIX time) with a lookback window.
    Before building, the run compares, per load id, how many raw minutes there are with how many the
    model holds, for every load from `qos_lookback_hours` (var, default 72) before the newest load
    the model holds onwards. Only loads that differ are read (for a daily run: the new load), and of
    those only the minutes the model does not hold yet. So new loads are picked up, and so is a load
    that committed late under an older id (dlt finishes an interrupted load package under its
    original id on the next run), while rows already held are never rewritten. A minute re-loaded
    under a new id replaces the old row (delete+insert on the key); the delete only looks at rows
    whose minute_at lies between the new rows' first and last minute (macros/delete_insert.sql), so
    its cost follows the increment, not the history. `_dbt_loaded_at` says which run wrote a row.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['meeting_uuid', 'participant_id', 'minute_at', 'stream'],
        on_schema_change='fail',
        meta={'delete_range_column': 'minute_at'},
    )
}}
-- depends_on: {{ ref('stg_zoom__participant_qos') }}
{%- set metrics = qos_metrics() -%}
{%- set load_ids = none -%}
{%- if is_incremental() and execute -%}
    {%- set newest = run_query('select max(_dlt_load_id) from ' ~ this).rows[0][0] -%}
    {#- load ids are '<unix seconds>.<micro>': the window's lower bound in the same format -#}
    {%- set since = '%.6f' % ((newest | float) - var('qos_lookback_hours') * 3600) if newest is not none else '' -%}
    {%- set pending_query -%}
        with raw_loads as (
            select _dlt_load_id, count(*) as minutes
            from {{ ref('stg_zoom__participant_qos') }}
            where _dlt_load_id >= '{{ since }}'
            group by _dlt_load_id
        ),
        held_loads as (
            select _dlt_load_id, count(*) as minutes
            from {{ this }}
            where stream = 'cpu' and _dlt_load_id >= {{ since or 0 }}
            group by _dlt_load_id
        )
        select raw_loads._dlt_load_id
        from raw_loads
        left join held_loads on cast(raw_loads._dlt_load_id as decimal(18, 6)) = held_loads._dlt_load_id
        where held_loads.minutes is distinct from raw_loads.minutes
        order by 1
    {%- endset -%}
    {%- set load_ids = run_query(pending_query).columns[0].values() | list -%}
    {%- set load_id_list = ("'" ~ (load_ids | join("', '")) ~ "'") if load_ids else 'null' -%}
{%- endif %}

with

minutes as (

    select * from {{ ref('int_qos__unpivoted') }}
    {%- if load_ids is not none %}
    where _dlt_load_id in ({{ load_id_list }})
    {%- endif %}

),

thresholds as (

    select * from {{ ref('int_qos_thresholds__pivoted') }}

),

{%- if load_ids is not none %}

held as (

    {#- one row per participant-minute the model already holds from those loads -#}
    select
        meeting_uuid,
        participant_id,
        minute_at,
        _dlt_load_id
    from {{ this }}
    where stream = 'cpu' and _dlt_load_id in ({{ load_id_list }})

),

new_minutes as (

    select minutes.*
    from minutes
    anti join held
        on
            minutes.meeting_uuid = held.meeting_uuid
            and minutes.participant_id = held.participant_id
            and minutes.minute_at = held.minute_at
            and cast(minutes._dlt_load_id as decimal(18, 6)) = held._dlt_load_id

),
{%- else %}

new_minutes as (

    select * from minutes

),
{%- endif %}

measured as (

    select
        meeting_uuid,
        participant_id,
        minute_at,
        stream,
        stream_kind,
        direction,
        bitrate_kbps,
        latency_ms,
        jitter_ms,
        avg_loss_pct,
        max_loss_pct,
        resolution_width,
        resolution_height,
        -- a frame rate means something only while there is a picture (resolution other than 0*0)
        case when resolution_width > 0 and resolution_height > 0 then frame_rate_fps end as frame_rate_fps,
        cpu_usage_pct,
        zoom_min_cpu_usage_pct,
        zoom_max_cpu_usage_pct,
        system_max_cpu_usage_pct,
        _dlt_load_id
    from new_minutes

),

final as (

    select
        measured.meeting_uuid,
        measured.participant_id,
        measured.minute_at,
        cast(measured.stream as {{ enum_type(qos_streams().keys()) }}) as stream,
        cast(measured.stream_kind as {{ enum_type(['audio', 'video', 'share', 'cpu']) }}) as stream_kind,
        cast(measured.direction as {{ enum_type(['input', 'output', 'none']) }}) as direction,
        measured.bitrate_kbps,
        measured.latency_ms,
        measured.jitter_ms,
        measured.avg_loss_pct,
        measured.max_loss_pct,
        measured.resolution_width,
        measured.resolution_height,
        measured.frame_rate_fps,
        measured.cpu_usage_pct,
        measured.zoom_min_cpu_usage_pct,
        measured.zoom_max_cpu_usage_pct,
        measured.system_max_cpu_usage_pct,
        {%- for metric, spec in metrics.items() %}
        {{ violates(
            'measured.' ~ spec.column, 'thresholds.' ~ metric ~ '_comparator', 'thresholds.' ~ metric ~ '_threshold'
        ) }} as is_{{ metric }}_violation,
        {%- endfor %}
        -- dlt's load id ('<unix seconds>.<micro>') as an exact decimal: far cheaper to store than text
        cast(measured._dlt_load_id as decimal(18, 6)) as _dlt_load_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as _dbt_loaded_at
    from measured
    left join thresholds
        on measured.stream_kind = thresholds.stream_kind

)

select * from final
