{#
    Every `<event>_at` column in this project is a `timestamp` (without time zone) holding UTC.
    These macros make that true whatever the session time zone is.
#}

{% macro to_utc(column) -%}
    {#- A Zoom timestamp (dlt loads them as timestamptz; ISO text such as '2025-12-02T17:29:28Z'
        works too) as a UTC timestamp. -#}
    timezone('UTC', cast({{ column }} as timestamptz))
{%- endmacro %}

{% macro unix_to_utc(column) -%}
    {#- MEETS UNIX seconds (bigint) as a UTC timestamp; null stays null. -#}
    make_timestamp(cast({{ column }} as bigint) * 1000000)
{%- endmacro %}
