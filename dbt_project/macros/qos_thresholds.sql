{#
    Threshold helpers. The thresholds themselves are data (seed qos_thresholds); these macros only
    know the *names* of the metrics, which stream kinds carry them, and how to apply a comparator
    read from the seed. A seed row for any metric listed here takes effect without SQL changes.
#}

{% macro qos_metrics() -%}
    {#- metric name (as in the seed) -> the fct_qos_minutes column holding the measured value, its
        unit, and the stream kinds that carry it. -#}
    {{ return({
        'bitrate': {'column': 'bitrate_kbps', 'unit': 'kbps', 'kinds': ['audio', 'video', 'share']},
        'latency': {'column': 'latency_ms', 'unit': 'ms', 'kinds': ['audio', 'video', 'share']},
        'jitter': {'column': 'jitter_ms', 'unit': 'ms', 'kinds': ['audio', 'video', 'share']},
        'avg_loss': {'column': 'avg_loss_pct', 'unit': 'pct', 'kinds': ['audio', 'video', 'share']},
        'max_loss': {'column': 'max_loss_pct', 'unit': 'pct', 'kinds': ['audio', 'video', 'share']},
        'frame_rate': {'column': 'frame_rate_fps', 'unit': 'fps', 'kinds': ['video', 'share']},
        'cpu_usage': {'column': 'cpu_usage_pct', 'unit': 'pct', 'kinds': ['cpu']},
    }) }}
{%- endmacro %}

{% macro qos_streams() -%}
    {#- Zoom's QoS stream blocks -> (stream kind, direction). 'cpu' is the per-minute CPU block,
        carried as a seventh pseudo-stream so it is aggregated like the others. -#}
    {{ return({
        'audio_input': ('audio', 'input'),
        'audio_output': ('audio', 'output'),
        'video_input': ('video', 'input'),
        'video_output': ('video', 'output'),
        'as_input': ('share', 'input'),
        'as_output': ('share', 'output'),
        'cpu': ('cpu', 'none'),
    }) }}
{%- endmacro %}

{% macro violates(value, comparator, threshold) -%}
    {#- true/false when the value is measured and a threshold exists; null otherwise
        (null = "not measured for this metric", so count(flag) = measured minutes). -#}
    case {{ comparator }}
        when '>' then {{ value }} > {{ threshold }}
        when '>=' then {{ value }} >= {{ threshold }}
        when '<' then {{ value }} < {{ threshold }}
        when '<=' then {{ value }} <= {{ threshold }}
    end
{%- endmacro %}

{% macro qos_stream_aggregates(minutes, group_columns, carry_columns=[]) -%}
    {#- Wide per-group aggregates of fct_qos_minutes rows (`minutes` is a CTE/relation name):
        sampled minutes, first and last minute, and per metric min, max, sum, measured minutes
        (value present) and violating minutes (threshold flag true). carry_columns are functionally dependent on the
        group (e.g. stream_kind for stream) and are carried with any_value instead of grouped by,
        which keeps the hash table small. -#}
    select
        {%- for column in group_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in carry_columns %}
        any_value({{ column }}) as {{ column }},
        {%- endfor %}
        {%- for metric, spec in qos_metrics().items() %}
        min({{ spec.column }}) as {{ metric }}_min,
        max({{ spec.column }}) as {{ metric }}_max,
        sum({{ spec.column }}) as {{ metric }}_sum,
        count({{ spec.column }}) as {{ metric }}_measured,
        cast(count_if(is_{{ metric }}_violation) as bigint) as {{ metric }}_violating,
        {%- endfor %}
        count(*) as sampled_minutes,
        min(minute_at) as first_minute_at,
        max(minute_at) as last_minute_at,
        max(_dbt_loaded_at) as qos_loaded_at
    from {{ minutes }}
    group by {{ group_columns | join(', ') }}
{%- endmacro %}

{% macro qos_reaggregate(aggregates, group_columns, carry_columns=[]) -%}
    {#- Rolls qos_stream_aggregates rows (CTE `aggregates`) up to coarser groups: min of minima,
        max of maxima, sums of sums and counts. carry_columns as in qos_stream_aggregates. -#}
    select
        {%- for column in group_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in carry_columns %}
        any_value({{ column }}) as {{ column }},
        {%- endfor %}
        {%- for metric in qos_metrics() %}
        min({{ metric }}_min) as {{ metric }}_min,
        max({{ metric }}_max) as {{ metric }}_max,
        sum({{ metric }}_sum) as {{ metric }}_sum,
        cast(sum({{ metric }}_measured) as bigint) as {{ metric }}_measured,
        cast(sum({{ metric }}_violating) as bigint) as {{ metric }}_violating,
        {%- endfor %}
        cast(sum(sampled_minutes) as bigint) as sampled_minutes,
        max(qos_loaded_at) as qos_loaded_at
    from {{ aggregates }}
    group by {{ group_columns | join(', ') }}
{%- endmacro %}

{% macro qos_metrics_long(aggregates, key_columns) -%}
    {#- Turns qos_stream_aggregates' wide rows (CTE `aggregates`, which must also carry
        stream_kind) into one row per key and metric, keeping only metrics the stream kind carries. -#}
    {%- for metric, spec in qos_metrics().items() %}
    select
        {{ key_columns | join(',\n        ') }},
        '{{ metric }}' as metric,
        '{{ spec.unit }}' as unit,
        sampled_minutes,
        qos_loaded_at,
        {{ metric }}_min as min_value,
        {{ metric }}_sum / nullif({{ metric }}_measured, 0) as avg_value,
        {{ metric }}_max as max_value,
        {{ metric }}_sum as sum_value,
        {{ metric }}_measured as measured_minutes,
        {{ metric }}_violating as violating_minutes
    from {{ aggregates }}
    where stream_kind in ('{{ spec.kinds | join("', '") }}')
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro enum_type(values) -%}
    {#- An inline DuckDB ENUM type of the given labels: a low-cardinality text column stored as a
        small integer (several times cheaper to write than varchar on tens of millions of rows);
        it compares and displays like text. DuckLake has no ENUM: varchar on the lake target. -#}
    {%- if target.name == 'lake' %}varchar{% else %}enum({%- for value in values %}'{{ value }}'{{ ', ' if not loop.last }}{%- endfor %}){% endif %}
{%- endmacro %}

{% macro qos_quality_measures(rows) -%}
    {#- The measure columns both quality marts end with, from re-aggregated rows (`rows`, with
        sampled_minutes, min/avg/max_value, measured_minutes, violating_minutes, qos_loaded_at) left
        joined to the seed as `thresholds`: violating minutes and proportion only where the seed has
        a threshold, and is_issue when the proportion exceeds var('quality_issue_share'). -#}
    cast({{ rows }}.sampled_minutes as integer) as sampled_minutes,
        {{ rows }}.min_value,
        {{ rows }}.avg_value,
        {{ rows }}.max_value,
        cast({{ rows }}.measured_minutes as integer) as measured_minutes,
        case
            when thresholds.comparator is not null then cast({{ rows }}.violating_minutes as integer)
        end as violating_minutes,
        case
            when thresholds.comparator is not null and {{ rows }}.measured_minutes > 0
                then {{ rows }}.violating_minutes / {{ rows }}.measured_minutes
        end as violating_proportion,
        thresholds.comparator as threshold_comparator,
        thresholds.value as threshold_value,
        coalesce(
            thresholds.comparator is not null
            and {{ rows }}.measured_minutes > 0
            and {{ rows }}.violating_minutes / {{ rows }}.measured_minutes > {{ var('quality_issue_share') }},
            false
        ) as is_issue,
        {{ rows }}.qos_loaded_at
{%- endmacro %}
