{#- One row per participant session per minute, as Zoom gives it (wide: one column group per
    stream), with every QoS string parsed to a number whose unit is in the column name.
    A participant on the web client or a Cloud Room Connector has their streams in Zoom's
    <kind>_device_{from,to}_{rwg,crc} blocks instead of *_input/*_output: each stream reads its
    classic block, else the web-client one, else the room-connector one (qos_path says which). -#}
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
        ---------- which blocks carried the streams
        case
            when coalesce(
                audio_device_from_rwg__bitrate, audio_device_to_rwg__bitrate,
                video_device_from_rwg__bitrate, video_device_to_rwg__bitrate
            ) is not null then 'web_client'
            when coalesce(
                audio_device_from_crc__bitrate, audio_device_to_crc__bitrate,
                video_device_from_crc__bitrate, video_device_to_crc__bitrate
            ) is not null then 'room_connector'
            else 'zoom_client'
        end as qos_path,
        {%- for stream in streams %}
        ---------- {{ stream }}
        {{ parse_qos_number(qos_stream_value(stream, 'bitrate')) }} as {{ stream }}_bitrate_kbps,
        {{ parse_qos_number(qos_stream_value(stream, 'latency')) }} as {{ stream }}_latency_ms,
        {{ parse_qos_number(qos_stream_value(stream, 'jitter')) }} as {{ stream }}_jitter_ms,
        {{ parse_qos_number(qos_stream_value(stream, 'avg_loss')) }} as {{ stream }}_avg_loss_pct,
        {{ parse_qos_number(qos_stream_value(stream, 'max_loss')) }} as {{ stream }}_max_loss_pct,
        {%- if not stream.startswith('audio') %}
        {{ parse_resolution(qos_stream_value(stream, 'resolution'), 'width') }} as {{ stream }}_resolution_width,
        {{ parse_resolution(qos_stream_value(stream, 'resolution'), 'height') }} as {{ stream }}_resolution_height,
        {{ parse_qos_number(qos_stream_value(stream, 'frame_rate')) }} as {{ stream }}_frame_rate_fps,
        {%- endif %}
        {%- endfor %}
        ---------- cpu
        {{ parse_qos_number('cpu_usage__zoom_min_cpu_usage') }} as zoom_min_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__zoom_avg_cpu_usage') }} as zoom_avg_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__zoom_max_cpu_usage') }} as zoom_max_cpu_usage_pct,
        {{ parse_qos_number('cpu_usage__system_max_cpu_usage') }} as system_max_cpu_usage_pct,
        lower(nullif(cpu_pressure_level__system_max_cpu_pressure_level, '')) as system_max_cpu_pressure_level,
        ---------- wi-fi signal (dBm; integers in Zoom's payload)
        {{ parse_qos_number('wifi_rssi__avg_rssi') }} as wifi_avg_rssi_dbm,
        {{ parse_qos_number('wifi_rssi__min_rssi') }} as wifi_min_rssi_dbm,
        ---------- lineage
        _dlt_load_id

    from source

)

select * from parsed
