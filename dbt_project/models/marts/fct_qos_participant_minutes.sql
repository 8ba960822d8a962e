{#-
    The stored per-minute QoS fact: one row per participant session and minute, as Zoom gives it,
    with typed columns per stream and metric (<stream>_<metric>_<unit>) and one threshold flag per
    stream and metric (<stream>_is_<metric>_violation: true = violating, false = fine, null = not
    measured or no threshold in the seed). fct_qos_minutes presents it long (one row per stream),
    as a view; this layout stores a seventh of the rows and none of the repeated keys.

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
        unique_key=['meeting_uuid', 'participant_id', 'minute_at'],
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
            where _dlt_load_id >= {{ since or 0 }}
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

    select * from {{ ref('stg_zoom__participant_qos') }}
    {%- if load_ids is not none %}
    where _dlt_load_id in ({{ load_id_list }})
    {%- endif %}

),

thresholds as (

    select * from {{ ref('int_qos_thresholds__pivoted') }}

),
{%- for kind in ['audio', 'video', 'share', 'cpu'] %}

{{ kind }}_thresholds as (

    select * from thresholds
    where stream_kind = '{{ kind }}'

),
{%- endfor %}

{%- if load_ids is not none %}

held as (

    {#- the participant-minutes the model already holds from those loads -#}
    select
        meeting_uuid,
        participant_id,
        minute_at,
        _dlt_load_id
    from {{ this }}
    where _dlt_load_id in ({{ load_id_list }})

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
        {%- for stream, (kind, direction) in qos_streams().items() if kind != 'cpu' %}
        {{ stream }}_bitrate_kbps,
        {{ stream }}_latency_ms,
        {{ stream }}_jitter_ms,
        {{ stream }}_avg_loss_pct,
        {{ stream }}_max_loss_pct,
        {%- if kind in ('video', 'share') %}
        {{ stream }}_resolution_width,
        {{ stream }}_resolution_height,
        -- a frame rate means something only while there is a picture (resolution other than 0*0)
        case
            when {{ stream }}_resolution_width > 0 and {{ stream }}_resolution_height > 0
                then {{ stream }}_frame_rate_fps
        end as {{ stream }}_frame_rate_fps,
        {%- endif %}
        {%- endfor %}
        zoom_avg_cpu_usage_pct as cpu_usage_pct,
        zoom_min_cpu_usage_pct,
        zoom_max_cpu_usage_pct,
        system_max_cpu_usage_pct,
        _dlt_load_id
    from new_minutes

),

final as (

    select
        measured.* exclude (_dlt_load_id),
        {%- for stream, (kind, direction) in qos_streams().items() %}
        {%- for metric, spec in metrics.items() if kind in spec.kinds %}
        {%- set column = (stream ~ '_' ~ spec.column) if kind != 'cpu' else spec.column %}
        {{ violates(
            'measured.' ~ column, kind ~ '_thresholds.' ~ metric ~ '_comparator',
            kind ~ '_thresholds.' ~ metric ~ '_threshold'
        ) }} as {{ stream }}_is_{{ metric }}_violation,
        {%- endfor %}
        {%- endfor %}
        -- dlt's load id ('<unix seconds>.<micro>') as an exact decimal: far cheaper to store than text
        cast(measured._dlt_load_id as decimal(18, 6)) as _dlt_load_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as _dbt_loaded_at
    from measured
    cross join audio_thresholds
    cross join video_thresholds
    cross join share_thresholds
    cross join cpu_thresholds

)

select * from final
