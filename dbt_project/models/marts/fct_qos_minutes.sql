{#-
    One row per participant session, minute and stream (audio/video/share x input/output, plus the
    'cpu' block) with parsed metrics and one boolean per threshold metric (null = not measured):
    the long presentation of the stored wide fact fct_qos_participant_minutes, as a view (one
    UNION ALL branch per stream; a filter on the key columns or _dbt_loaded_at reaches every
    branch, and a filter on stream drops the other branches at plan time).

    The wide table is referenced without its catalog, so the view also works where the file is
    attached under another name (the serving snapshot, a BI tool's ATTACH).
-#}
{{ config(materialized='view') }}
{%- set metrics = qos_metrics() -%}
{%- set wide = ref('fct_qos_participant_minutes').include(database=False) -%}

with

unpivoted as (

    {% for stream, (kind, direction) in qos_streams().items() %}
    select
        meeting_uuid,
        participant_id,
        minute_at,
        cast('{{ stream }}' as {{ enum_type(qos_streams().keys()) }}) as stream,
        cast('{{ kind }}' as {{ enum_type(['audio', 'video', 'share', 'cpu']) }}) as stream_kind,
        cast('{{ direction }}' as {{ enum_type(['input', 'output', 'none']) }}) as direction,
        {%- if kind != 'cpu' %}
        {{ stream }}_bitrate_kbps as bitrate_kbps,
        {{ stream }}_latency_ms as latency_ms,
        {{ stream }}_jitter_ms as jitter_ms,
        {{ stream }}_avg_loss_pct as avg_loss_pct,
        {{ stream }}_max_loss_pct as max_loss_pct,
        {%- else %}
        null::double as bitrate_kbps,
        null::double as latency_ms,
        null::double as jitter_ms,
        null::double as avg_loss_pct,
        null::double as max_loss_pct,
        {%- endif %}
        {%- if kind in ('video', 'share') %}
        {{ stream }}_resolution_width as resolution_width,
        {{ stream }}_resolution_height as resolution_height,
        {{ stream }}_frame_rate_fps as frame_rate_fps,
        {%- else %}
        null::integer as resolution_width,
        null::integer as resolution_height,
        null::double as frame_rate_fps,
        {%- endif %}
        {%- if kind == 'cpu' %}
        cpu_usage_pct,
        zoom_min_cpu_usage_pct,
        zoom_max_cpu_usage_pct,
        system_max_cpu_usage_pct,
        {%- else %}
        null::double as cpu_usage_pct,
        null::double as zoom_min_cpu_usage_pct,
        null::double as zoom_max_cpu_usage_pct,
        null::double as system_max_cpu_usage_pct,
        {%- endif %}
        {%- for metric, spec in metrics.items() %}
        {%- if kind in spec.kinds %}
        {{ stream }}_is_{{ metric }}_violation as is_{{ metric }}_violation,
        {%- else %}
        null::boolean as is_{{ metric }}_violation,
        {%- endif %}
        {%- endfor %}
        _dlt_load_id,
        _dbt_loaded_at
    from {{ wide }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unpivoted
