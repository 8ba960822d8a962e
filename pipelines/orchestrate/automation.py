"""Jobs, schedules and sensors: when each part of the flow runs, and what a failure tells whom.

* ``load`` (hourly): Zoom + MEETS. While the Zoom daily budget is spent (the last Zoom
  materialisation says until when), a tick loads MEETS only; the first tick after the reset loads Zoom again.
* ``transform``: not a clock. :func:`transform_after_load` requests it after each ``load`` run that
  materialised something (a budget-stopped load too: what it loaded is worth transforming).
* ``recordings`` (every 10 minutes): copy, transcripts, their models, YouTube (when configured), snapshot.
* ``doctor`` (daily): the full configuration check.
* ``zoom_webhooks``: queued ``recording.completed`` events become targeted recordings runs,
  ``meeting.ended`` events a Zoom load; each batch has a run key, so an event never makes two runs.
* ``notify_on_failure``: one message per failed run to ``[orchestrate] notify_url``.

A tick whose job still has a run queued or in progress is skipped (the run queue allows one run
at a time anyway: one writer per warehouse), so ticks never pile up or run twice.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable

import dagster as dg
from dagster import DagsterRunStatus

from pipelines.orchestrate import assets as a
from pipelines.orchestrate.settings import OrchestrateSettings

IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
RECORDING_COMPLETED = "recording.completed"
MEETING_ENDED = "meeting.ended"
BUDGET_KEY = dg.AssetKey(["zoom", "meetings"])  # every Zoom load materialises it, with the budget outcome

load_job = dg.define_asset_job(
    "load",
    selection=dg.AssetSelection.assets(a.zoom_assets, a.meets_assets),
    description="Zoom then MEETS into the warehouse (pipelines.load.run_load).",
)
transform_job = dg.define_asset_job(
    "transform",
    selection=dg.AssetSelection.assets(a.dbt_models, a.serving_snapshot),
    description="dbt build (tests as asset checks), then the serving snapshot.",
)
recordings_job = dg.define_asset_job(
    "recordings",
    selection=dg.AssetSelection.assets(
        a.recordings_copy, a.transcripts_stage, a.dbt_transcript_models, a.youtube_publish, a.serving_snapshot
    ),
    description="Recording files to object storage, transcripts and their models, YouTube, snapshot.",
)


@dg.op
def doctor_check(context: dg.OpExecutionContext) -> None:
    """``python -m pipelines doctor``: every setting, credential and store, checked."""
    from pipelines.doctor import run_doctor

    code = run_doctor()
    if code != 0:
        raise dg.Failure(
            description=f"doctor found problems (exit {code}); see this run's log", allow_retries=False
        )


@dg.job(name="doctor", description="The daily full check (python -m pipelines doctor).")
def doctor_job() -> None:
    doctor_check()


def job_busy(instance: dg.DagsterInstance, job_name: str) -> dg.DagsterRun | None:
    """A run of ``job_name`` that is queued or in progress, if any."""
    runs = instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=IN_PROGRESS), limit=1)
    return runs[0] if runs else None


def zoom_budget_blocked_until(instance: dg.DagsterInstance, now: dt.datetime) -> dt.datetime | None:
    """When the last Zoom load stopped on the daily budget and its reset is still ahead: the reset."""
    event = instance.get_latest_materialization_event(BUDGET_KEY)
    if event is None or event.asset_materialization is None:
        return None
    meta = event.asset_materialization.metadata
    flag, resets = meta.get("budget_exhausted"), meta.get("budget_resets_at")
    if flag is None or not flag.value or resets is None or not resets.value:
        return None
    at = dt.datetime.fromisoformat(str(resets.value))
    return at if at > now else None


def _status(settings: OrchestrateSettings) -> dg.DefaultScheduleStatus:
    return (
        dg.DefaultScheduleStatus.RUNNING if settings.schedules_running else dg.DefaultScheduleStatus.STOPPED
    )


def _sensor_status(settings: OrchestrateSettings) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if settings.schedules_running else dg.DefaultSensorStatus.STOPPED


def _tick_key(context: dg.ScheduleEvaluationContext) -> str:
    when = context.scheduled_execution_time
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M") if when else "manual"


def build_schedules(settings: OrchestrateSettings) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        name="load_hourly",
        cron_schedule=settings.load_cron,
        execution_timezone=settings.timezone,
        job=load_job,
        default_status=_status(settings),
        description="Zoom + MEETS loads; MEETS only while the Zoom daily budget is spent.",
    )
    def load_schedule(context: dg.ScheduleEvaluationContext):
        from pipelines import clock

        busy = job_busy(context.instance, load_job.name)
        if busy is not None:
            return dg.SkipReason(
                f"a load run is still {busy.status.value.lower()} ({busy.run_id[:8]}): tick skipped"
            )
        now = context.scheduled_execution_time or clock.now()
        blocked = zoom_budget_blocked_until(context.instance, now.astimezone(dt.UTC))
        if blocked is not None:
            return dg.RunRequest(
                run_key=f"load-{_tick_key(context)}-meets",
                asset_selection=a.load_keys("meets"),
                tags={"mw/zoom_budget_resets_at": blocked.isoformat()},
            )
        return dg.RunRequest(run_key=f"load-{_tick_key(context)}")

    @dg.schedule(
        name="recordings_every_10_minutes",
        cron_schedule=settings.recordings_cron,
        execution_timezone=settings.timezone,
        job=recordings_job,
        default_status=_status(settings),
        description="Copy new recording files, load their transcripts, republish the snapshot.",
    )
    def recordings_schedule(context: dg.ScheduleEvaluationContext):
        busy = job_busy(context.instance, recordings_job.name)
        if busy is not None:
            return dg.SkipReason(
                f"a recordings run is still {busy.status.value.lower()} ({busy.run_id[:8]}): tick skipped"
            )
        return dg.RunRequest(run_key=f"recordings-{_tick_key(context)}")

    @dg.schedule(
        name="doctor_daily",
        cron_schedule=settings.doctor_cron,
        execution_timezone=settings.timezone,
        job=doctor_job,
        default_status=_status(settings),
        description="The full configuration check; a failure is notified like any run's.",
    )
    def doctor_schedule(context: dg.ScheduleEvaluationContext):
        if job_busy(context.instance, doctor_job.name) is not None:
            return dg.SkipReason("a doctor run is still queued or running: tick skipped")
        return dg.RunRequest(run_key=f"doctor-{_tick_key(context)}")

    return [load_schedule, recordings_schedule, doctor_schedule]


# ----------------------------------------------------------------------------- transform after load
def build_transform_sensor(settings: OrchestrateSettings) -> dg.SensorDefinition:
    @dg.sensor(
        name="transform_after_load",
        job=transform_job,
        minimum_interval_seconds=30,
        default_status=_sensor_status(settings),
        description="Requests a transform after each load run that materialised something.",
    )
    def transform_after_load(context: dg.SensorEvaluationContext):
        after = int(context.cursor or 0)
        newest, runs = after, set()
        for key in (dg.AssetKey(["zoom", "meetings"]), dg.AssetKey(["meets", "conferencing_events"])):
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after or None), limit=1000
            ).records
            for record in records:
                run = context.instance.get_run_by_id(record.run_id) if record.run_id else None
                newest = max(newest, record.storage_id)
                if run is not None and run.job_name == load_job.name:
                    runs.add(run.run_id)
        if newest == after:
            return dg.SkipReason("no load since the last transform request")
        context.update_cursor(str(newest))
        if not runs:
            return dg.SkipReason("new materialisations came from runs that transformed already")
        waiting = context.instance.get_runs(
            dg.RunsFilter(
                job_name=transform_job.name, statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]
            ),
            limit=1,
        )
        if waiting:
            return dg.SkipReason(
                f"a transform run is already queued ({waiting[0].run_id[:8]}); it will see this load"
            )
        return dg.RunRequest(
            run_key=f"transform-after-{newest}", tags={"mw/after_load_runs": ",".join(sorted(runs))[:200]}
        )

    return transform_after_load


# ----------------------------------------------------------------------------- webhooks
def batch_key(kind: str, ids: Iterable[int]) -> str:
    """A run key for a batch of queued events: the same events always give the same key."""
    ordered = sorted(int(i) for i in ids)
    digest = hashlib.sha256(",".join(map(str, ordered)).encode()).hexdigest()[:12]
    return f"webhook-{kind}-{ordered[0]}-{ordered[-1]}-{digest}"


def webhook_requests(queue, instance: dg.DagsterInstance, cursor: str | None, limit: int) -> tuple[list, str]:
    """Run requests for queued events, and the new cursor.

    Two phases so that no acknowledged event is lost: a batch is requested (its ids kept in the
    cursor as in flight) and marked done in the queue only once a run with its key exists; until
    then it is requested again with the same key, which Dagster turns into no second run."""
    state = json.loads(cursor) if cursor else {}
    in_flight: dict[str, dict] = state.get("in_flight", {})
    requests: list[dg.RunRequest] = []
    for key, batch in list(in_flight.items()):
        if instance.get_runs(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1):
            queue.mark_done(batch["ids"], key)
            del in_flight[key]
        else:
            requests.append(_request(key, batch))
    flying = {i for b in in_flight.values() for i in b["ids"]}
    events = [e for e in queue.pending(limit, (RECORDING_COMPLETED, MEETING_ENDED)) if e.id not in flying]
    recordings = [e for e in events if e.event == RECORDING_COMPLETED]
    ended = [e for e in events if e.event == MEETING_ENDED]
    if recordings:
        uuids = sorted({e.meeting_uuid for e in recordings if e.meeting_uuid})
        key = batch_key("recordings", [e.id for e in recordings])
        in_flight[key] = {"kind": "recordings", "ids": [e.id for e in recordings], "meetings": uuids}
        requests.append(_request(key, in_flight[key]))
    if ended:
        key = batch_key("load", [e.id for e in ended])
        in_flight[key] = {"kind": "load", "ids": [e.id for e in ended]}
        requests.append(_request(key, in_flight[key]))
    return requests, json.dumps({"in_flight": in_flight}, sort_keys=True)


def _request(key: str, batch: dict) -> dg.RunRequest:
    tags = {"mw/webhook_events": str(len(batch["ids"]))}
    if batch["kind"] == "recordings":
        return dg.RunRequest(
            run_key=key,
            job_name=recordings_job.name,
            run_config={"ops": {"recordings__files": {"config": {"meetings": batch["meetings"]}}}},
            tags=tags,
        )
    return dg.RunRequest(run_key=key, job_name=load_job.name, asset_selection=a.load_keys("zoom"), tags=tags)


def webhook_queue_path():
    """The receiver's queue file: ``[zoom.webhooks] queue_path`` when set, else its default (None)."""
    from pathlib import Path

    import dlt

    try:
        value = dlt.config.get("zoom.webhooks.queue_path")
    except Exception:
        value = None
    return Path(str(value)).expanduser() if value else None


def build_webhook_sensor(settings: OrchestrateSettings) -> dg.SensorDefinition:
    @dg.sensor(
        name="zoom_webhooks",
        jobs=[recordings_job, load_job],
        minimum_interval_seconds=settings.webhook_interval_seconds,
        default_status=_sensor_status(settings),
        description="recording.completed -> a recordings copy of those meetings; meeting.ended -> a Zoom load.",
    )
    def zoom_webhooks(context: dg.SensorEvaluationContext):
        from pipelines.webhooks.queue import EventQueue, default_path

        path = webhook_queue_path() or default_path()
        if not path.exists():  # no receiver has run here: nothing queued (and no file made for doctor to see)
            return dg.SkipReason(f"no webhook queue at {path} (the receiver has not run)")
        queue = EventQueue(path)
        requests, cursor = webhook_requests(queue, context.instance, context.cursor, settings.webhook_batch)
        context.update_cursor(cursor)
        if not requests:
            return dg.SkipReason("no queued webhook events")
        return requests

    return zoom_webhooks


# ----------------------------------------------------------------------------- failure notifications
def failure_message(context: dg.RunFailureSensorContext) -> str:
    """What failed (the steps and their errors) and what was kept (assets materialised before it)."""
    from pipelines.api_client.redact import scrub_patterns

    run = context.dagster_run
    kept = sorted(
        {
            e.dagster_event.asset_key.to_user_string()
            for e in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.dagster_event is not None and e.dagster_event.asset_key is not None
        }
    )
    failed = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and getattr(error, "cause", None) is not None:
            error = error.cause  # Dagster wraps what the step raised: say what it raised
        text = (getattr(error, "message", "") or event.message or "").strip().splitlines()
        failed.append(f"{event.step_key}: {text[0][:400] if text else 'failed'}")
    if not failed:
        failed.append((context.failure_event.message or "run failed").splitlines()[0][:400])
    lines = [f"meetings-warehouse: run of job '{run.job_name}' failed ({run.run_id[:8]})"]
    lines += [f"failed: {f}" for f in failed]
    if kept:
        shown = ", ".join(kept[:15]) + (f" and {len(kept) - 15} more" if len(kept) > 15 else "")
        lines.append(f"kept: {len(kept)} asset(s) materialised before the failure: {shown}")
    else:
        lines.append("kept: nothing was materialised in this run")
    lines.append("the next scheduled run resumes; nothing is duplicated")
    return scrub_patterns("\n".join(lines))


def send_notification(url: str, text: str, timeout: float = 10.0) -> int:
    """POST Slack/Teams incoming-webhook JSON ``{"text": ...}``; the HTTP status."""
    import requests

    response = requests.post(url, json={"text": text}, timeout=timeout)
    return response.status_code


def build_failure_sensor(settings: OrchestrateSettings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="notify_on_failure",
        default_status=_sensor_status(settings),
        description="One message per failed run to [orchestrate] notify_url (off when empty).",
    )
    def notify_on_failure(context: dg.RunFailureSensorContext):
        url = settings.notify_url
        if not url:
            return dg.SkipReason("orchestrate.notify_url is not set: no notification sent")
        status = send_notification(url, failure_message(context))
        if status >= 300:
            context.log.warning(f"failure notification answered HTTP {status}")

    return notify_on_failure
