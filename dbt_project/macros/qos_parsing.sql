{#
    QoS string parsing. Zoom's dashboard API returns every QoS value as a string with its unit:
    '20 ms', '1,055 kbps', '0.3%', '12 fps', '1280*720'; a metric that was not measured is ''
    (and other APIs write '-' or 'N/A'). These macros turn them into numbers, and every
    "not measured" spelling into null, never 0. Tested in tests/unit/test_qos_parsing_sql.py.
#}

{% macro parse_qos_number(column) -%}
    {#- '20 ms' -> 20, '0.3%' -> 0.3, '1,234 kbps' -> 1234, '12fps' -> 12, ''/'-'/'N/A'/null -> null.
        The leading number is taken after dropping thousands separators; anything without a
        leading number is null. Returns double. -#}
    try_cast(
        nullif(regexp_extract(replace({{ column }}, ',', ''), '^\s*([-+]?[0-9]*\.?[0-9]+)', 1), '')
        as double
    )
{%- endmacro %}

{% macro qos_stream_value(stream, metric) -%}
    {#- The raw string of one stream's metric: the classic block (audio_input...), else the web
        client's (audio_device_from_rwg...), else the Cloud Room Connector's (..._crc). An empty
        string counts as absent so a "not measured" classic block does not hide the others. -#}
    {%- set kind, way = stream.split('_') -%}
    {%- set connector = kind ~ '_device_' ~ ('from' if way == 'input' else 'to') -%}
    coalesce(
        nullif({{ stream }}__{{ metric }}, ''),
        nullif({{ connector }}_rwg__{{ metric }}, ''),
        {{ connector }}_crc__{{ metric }}
    )
{%- endmacro %}

{% macro parse_resolution(column, part) -%}
    {#- '1280*720' -> width 1280 / height 720 (also '1280x720'); ''/'-'/null -> null.
        part: 'width' or 'height'. '0*0' parses to 0 x 0 (Zoom's "no picture"). Returns integer. -#}
    {%- set index = 1 if part == 'width' else 2 -%}
    try_cast(
        nullif(trim(split_part(replace(lower({{ column }}), 'x', '*'), '*', {{ index }})), '')
        as integer
    )
{%- endmacro %}

{% macro parse_hms_duration(column) -%}
    {#- Zoom dashboard durations: 'hh:mm:ss', or 'mm:ss' when under an hour -> seconds (bigint). -#}
    case
        when {{ column }} is null or trim({{ column }}) = '' then null
        else (
            list_reduce(
                list_transform(string_split(trim({{ column }}), ':'), x -> try_cast(x as bigint)),
                (acc, x) -> acc * 60 + x
            )
        )
    end
{%- endmacro %}
