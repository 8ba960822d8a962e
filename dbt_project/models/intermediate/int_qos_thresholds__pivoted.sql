{#- One row per stream kind (audio, video, share, cpu) with the comparator and value of every
    metric's threshold from the seed as columns, ready to join onto per-minute rows. -#}

with

thresholds as (

    select * from {{ ref('qos_thresholds') }}

),

stream_kinds as (

    select distinct stream as stream_kind from thresholds
    union
    select unnest(['audio', 'video', 'share', 'cpu']) as stream_kind

),

final as (

    select
        {%- for metric in qos_metrics() %}
        max(case when thresholds.metric = '{{ metric }}' then thresholds.comparator end) as {{ metric }}_comparator,
        max(case when thresholds.metric = '{{ metric }}' then thresholds.value end) as {{ metric }}_threshold,
        {%- endfor %}
        stream_kinds.stream_kind
    from stream_kinds
    left join thresholds
        on stream_kinds.stream_kind = thresholds.stream
    group by stream_kinds.stream_kind

)

select * from final
