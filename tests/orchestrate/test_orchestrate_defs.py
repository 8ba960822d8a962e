"""The Dagster definitions without running the flow: they load, lineage links dlt to dbt, the
schedules skip busy or budget-blocked ticks, the webhook sensor turns queued events into runs
exactly once, and a failed run sends one message to a local receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from pipelines.orchestrate import assets as a
from pipelines.orchestrate import automation as auto
from pipelines.orchestrate.definitions import build_definitions, defs
from pipelines.orchestrate.settings import OrchestrateSettingsError, load_settings
from pipelines.paths import dbt_target_dir
from pipelines.webhooks.queue import EventQueue

TICK = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _schedule(name: str, **overrides):
    return next(s for s in build_definitions(**overrides).schedules if s.name == name)


def _sensor(name: str, **overrides):
    return next(s for s in build_definitions(**overrides).sensors if s.name == name)


def test_definitions_load_and_lineage_runs_from_the_sources_to_the_marts() -> None:
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {"load", "transform", "recordings", "doctor"}
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    # every dbt source is an asset some step materialises (no dangling external sources), except
    # the publish state the marts read: the publish asset reads the marts, so it cannot be upstream
    sources = {k for k in keys if not graph.get(k).is_materializable}
    assert sources == {dg.AssetKey(["youtube", "publications_state"])}
    assert (
        dg.AssetKey(["analytics", "fct_recording_files"])
        in graph.get(dg.AssetKey(["youtube", "publications"])).parent_keys
    )
    assert (
        dg.AssetKey(["zoom", "meetings"])
        in graph.get(dg.AssetKey(["staging", "stg_zoom__meetings"])).parent_keys
    )
    assert (
        dg.AssetKey(["zoom", "participant_sessions"])
        in graph.get(dg.AssetKey(["staging", "stg_zoom__participant_sessions"])).parent_keys
    )
    assert (
        dg.AssetKey(["transcripts", "cues"])
        in graph.get(dg.AssetKey(["staging", "stg_transcripts__cues"])).parent_keys
    )
    rec = graph.get(dg.AssetKey(["recordings", "files"])).parent_keys
    assert dg.AssetKey(["analytics", "fct_recording_files"]) in rec
    assert (
        dg.AssetKey(["recordings", "files"])
        in graph.get(dg.AssetKey(["youtube", "publications"])).parent_keys
    )
    # tests are asset checks: every data test on a model of the manifest (dagster-dbt may hang a
    # relationships test on the other model of the pair)
    manifest = json.loads((dbt_target_dir() / "manifest.json").read_text())
    model_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and manifest["nodes"].get(node.get("attached_node") or "", {}).get("resource_type") == "model"
    }
    checks = {key.name for key in (*a.dbt_models.check_keys, *a.dbt_transcript_models.check_keys)}
    assert len(model_tests) > 80 and a.dbt_transcript_models.check_keys
    assert all(name.startswith("relationships_") for name in model_tests - checks), model_tests - checks
    # every writer of the warehouse is in the one pool
    for assets_def in (a.zoom_assets, a.meets_assets, a.dbt_models, a.recordings_copy, a.transcripts_stage):
        assert assets_def.op.pool == a.WAREHOUSE_POOL


def test_settings_from_env_and_one_clear_error_per_bad_value(monkeypatch) -> None:
    monkeypatch.setenv("ORCHESTRATE__LOAD_CRON", "15 */2 * * *")
    assert load_settings().load_cron == "15 */2 * * *"
    assert _schedule("load_hourly").cron_schedule == "15 */2 * * *"
    monkeypatch.setenv("ORCHESTRATE__LOAD_CRON", "every hour")
    with pytest.raises(OrchestrateSettingsError, match=r"orchestrate\.load_cron"):
        load_settings()
    with pytest.raises(OrchestrateSettingsError, match=r"orchestrate\.notify_url"):
        load_settings(load_cron="0 * * * *", notify_url="slack.example/hook")
    assert load_settings(load_cron="0 * * * *").notify_url == ""  # notifications are off by default


def test_schedules_fire_on_their_cron_and_skip_while_a_run_is_in_progress(instance) -> None:
    load = _schedule("load_hourly")
    recordings = _schedule("recordings_every_10_minutes")
    doctor = _schedule("doctor_daily")
    assert (load.cron_schedule, recordings.cron_schedule) == ("0 * * * *", "*/10 * * * *")
    assert load.default_status == dg.DefaultScheduleStatus.RUNNING
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
    request = load.evaluate_tick(ctx).run_requests[0]
    assert request.run_key == "load-20261203T1000" and request.asset_selection is None
    assert recordings.evaluate_tick(ctx).run_requests[0].run_key == "recordings-20261203T1000"
    assert doctor.evaluate_tick(ctx).run_requests[0].run_key == "doctor-20261203T1000"

    create_run_for_test(instance, job_name="load", status=dg.DagsterRunStatus.STARTED)
    create_run_for_test(instance, job_name="recordings", status=dg.DagsterRunStatus.STARTING)
    result = load.evaluate_tick(ctx)
    assert not result.run_requests and "still started" in result.skip_message
    assert "still starting" in recordings.evaluate_tick(ctx).skip_message
    assert doctor.evaluate_tick(ctx).run_requests  # other jobs are not held up by the tick check


def test_a_spent_zoom_budget_makes_ticks_load_meets_only_until_the_reset(instance) -> None:
    resets = TICK.replace(hour=0) + dt.timedelta(days=1)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=["zoom", "meetings"],
            metadata={"budget_exhausted": True, "budget_resets_at": resets.isoformat()},
        )
    )
    load = _schedule("load_hourly")
    before = load.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK))
    request = before.run_requests[0]
    assert set(request.asset_selection) == set(a.load_keys("meets"))
    assert request.tags["mw/zoom_budget_resets_at"] == resets.isoformat()
    after = load.evaluate_tick(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=resets + dt.timedelta(minutes=1)
        )
    )
    assert after.run_requests[0].asset_selection is None  # the first tick after the reset loads Zoom again


def _put(queue: EventQueue, event: str, ts: int, uuid: str) -> int:
    return queue.put(event, ts, {"account_id": "A", "object": {"uuid": uuid, "id": ts}})


def test_webhook_events_become_targeted_runs_once(instance, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    queue = EventQueue()
    r1 = _put(queue, "recording.completed", 1, "uuid-1==")
    r2 = _put(queue, "recording.completed", 2, "uuid/2")
    e1 = _put(queue, "meeting.ended", 3, "uuid-3")
    sensor = _sensor("zoom_webhooks")

    first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    by_job = {r.job_name: r for r in first.run_requests}
    assert set(by_job) == {"recordings", "load"}
    rec = by_job["recordings"]
    assert rec.run_config["ops"]["recordings__files"]["config"]["meetings"] == ["uuid-1==", "uuid/2"]
    assert set(by_job["load"].asset_selection) == set(a.load_keys("zoom"))
    assert rec.run_key == auto.batch_key("recordings", [r1, r2]) and rec.run_key != by_job["load"].run_key
    # no run exists yet (the daemon has not launched them): requested again with the same keys, and
    # Dagster never starts a second run for a key it has seen
    second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert sorted(r.run_key for r in second.run_requests) == sorted(r.run_key for r in first.run_requests)
    assert queue.counts() == {"pending": 3, "done": 0}
    # the runs exist: the events are done, with their run keys, and nothing is requested again
    for request in first.run_requests:
        create_run_for_test(instance, job_name=request.job_name, tags={"dagster/run_key": request.run_key})
    third = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=second.cursor))
    assert not third.run_requests and queue.counts() == {"pending": 0, "done": 3}
    # a new event makes a new batch of its own
    r3 = _put(queue, "recording.completed", 4, "uuid-4")
    fourth = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=third.cursor))
    assert [r.run_key for r in fourth.run_requests] == [auto.batch_key("recordings", [r3])]
    assert e1 and queue.counts()["pending"] == 1


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@dg.asset
def kept_asset() -> int:
    return 1


@dg.asset(deps=[kept_asset])
def failing_asset() -> None:
    raise RuntimeError("warehouse went away")


def test_a_failed_run_sends_one_message_saying_what_failed_and_what_was_kept(instance) -> None:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result = dg.materialize([kept_asset, failing_asset], instance=instance, raise_on_error=False)
        assert not result.success
        ctx = dg.build_run_status_sensor_context(
            sensor_name="notify_on_failure",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        _sensor("notify_on_failure", notify_url=url)(ctx)
        assert len(_Receiver.received) == 1
        content_type, body = _Receiver.received[0]
        assert content_type == "application/json" and set(body) == {"text"}
        text = body["text"]
        assert "failed" in text and "failing_asset: " in text and "warehouse went away" in text
        assert "kept: 1 asset(s) materialised before the failure: kept_asset" in text
        # off by default: nothing is sent
        _sensor("notify_on_failure")(ctx)
        assert len(_Receiver.received) == 1
    finally:
        server.shutdown()
