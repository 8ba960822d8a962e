{#- Zoom's wide QoS minute (one column group per stream) as one row per participant session,
    minute and stream: the six audio/video/share x input/output streams plus the 'cpu' block. -#}
{%- set streams = qos_streams() -%}

with

qos as (

    select * from {{ ref('stg_zoom__participant_qos') }}

),

unpivoted as (

    {% for stream, (kind, direction) in streams.items() %}
    select
        meeting_uuid,
        participant_id,
        minute_at,
        '{{ stream }}' as stream,
        '{{ kind }}' as stream_kind,
        '{{ direction }}' as direction,
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
        zoom_avg_cpu_usage_pct as cpu_usage_pct,
        zoom_min_cpu_usage_pct,
        zoom_max_cpu_usage_pct,
        system_max_cpu_usage_pct,
        {%- else %}
        null::double as cpu_usage_pct,
        null::double as zoom_min_cpu_usage_pct,
        null::double as zoom_max_cpu_usage_pct,
        null::double as system_max_cpu_usage_pct,
        {%- endif %}
        _dlt_load_id
    from qos
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unpivoted
