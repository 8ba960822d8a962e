{#- One row per participant session per minute, as Zoom gives it (wide: one column group per
    stream), with every QoS string parsed to a number whose unit is in the column name. -#}
{%- set streams = ['audio_input', 'audio_output', 'video_input', 'video_output', 'as_input', 'as_output'] -%}

with

source as (

    select * from {{ source('zoom', 'participant_qos') }}

),

parsed as (

    select
        ---------- ids
        meeting_uuid,
        user_id as participant_id,
        ---------- timestamps
        {{ to_utc('date_time') }} as minute_at,
        {%- for stream in streams %}
        ---------- {{ stream }}
        {{ parse_qos_number(stream ~ '__bitrate') }} as {{ stream }}_bitrate_kbps,
        {{ parse_qos_number(stream ~ '__latency') }} as {{ stream }}_latency_ms,
        {{ parse_qos_number(stream ~ '__jitter') }} as {{ stream }}_jitter_ms,
        {{ parse_qos_number(stream ~ '__avg_loss') }} as {{ stream }}_avg_loss_pct,
        {{ parse_qos_number(stream ~ '__max_loss') }} as {{ stream }}_max_loss_pct,
        {%- if not stream.startswith('audio') %}
        {{ parse_resolution(stream ~ '__resolution', 'width') }} as {{ stream }}_resolution_width,
        {{ parse_resolution(stream ~ '__resolution', 'height') }} as {{ stream }}_resolution_height,
        {{ parse_qos_number(stream ~ '__frame_rate') }} as {{ stream }}_frame_rate_fps,
        {%- endif %}
        {%- endfor %}
        ---------- cpu
        {{ parse_qos_number('cpu_usage__zoom_min_cpu_usage') }} as zoom_min_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__zoom_avg_cpu_usage') }} as zoom_avg_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__zoom_max_cpu_usage') }} as zoom_max_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__system_max_cpu_usage') }} as system_max_cpu_usage_pct,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from parsed
