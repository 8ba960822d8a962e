{#-
    Which meetings and MEETS events each successful build recomputed (int_meetings__touched), with
    the run's start: the serving snapshot's republish (pipelines/publish.py) replaces exactly those
    rows of the per-meeting marts. A full build writes one row with is_full_build (everything was
    rewritten: the snapshot copies those marts whole). Built after the per-meeting marts, so a failed
    build logs nothing and its meetings are logged by the next build, which recomputes them again.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('int_meetings__state') }}
-- depends_on: {{ ref('int_meetings__touched') }}
{%- set full = not is_incremental() or flags.FULL_REFRESH %}
{%- set run_at = "cast('" ~ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") ~ "' as timestamp)" %}

{%- if full %}

select
    null::varchar as meeting_uuid,
    null::bigint as meets_event_id,
    {{ run_at }} as run_started_at,
    true as is_full_build

{%- else %}

select
    meeting_uuid,
    meets_event_id,
    {{ run_at }} as run_started_at,
    false as is_full_build
from {{ ref('int_meetings__touched') }}

{%- endif %}
