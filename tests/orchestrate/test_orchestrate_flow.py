"""The jobs the schedules and sensors run, executed in process on the tiny sandbox: a Zoom load
stopped by the daily budget is a clean, visible outcome; the next load (budget raised, as after the
reset) resumes; the transform the sensor requests, then the recordings job, leave a warehouse that
equals the sandbox's truth, as ``make run`` does."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from pipelines import embedded
from pipelines.orchestrate import assets as a
from pipelines.orchestrate.definitions import build_definitions
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.sandbox.zoom_api import recording_visibility
from pipelines.webhooks.queue import EventQueue

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
import recordings_support as rs  # noqa: E402
from _support import assert_meets_equals_truth, assert_zoom_equals_truth  # noqa: E402

from tests.e2e.test_transform import assert_marts_match_truth  # noqa: E402
from tests.fixtures.sandbox_client import SandboxClient  # noqa: E402


def _meta(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    [mat] = [m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in mat.step_materialization_data.materialization.metadata.items()}


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flow")
    server = SandboxServer(
        SandboxConfig.from_env(scale=Scale.named("tiny"), enforce_rate_limits=False)
    ).start()
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        for var in [
            v for v in os.environ if v.startswith(("SOURCES__", "MW_", "RECORDINGS__", "ORCHESTRATE__"))
        ]:
            mp.delenv(var)
        mp.setenv("MW_SANDBOX_URL", server.base_url)
        mp.setenv("MW_WAREHOUSE", str(tmp / "warehouse" / "meetings.duckdb"))
        mp.setenv("MW_PIPELINES_DIR", str(tmp / "dlt_pipelines"))
        mp.setenv("MW_STATE_DIR", str(tmp / "state"))
        mp.setenv("MW_TOKEN_DIR", str(tmp / "tokens"))
        mp.setenv("MW_RECORDINGS_DEST", str(tmp / "recordings"))
        mp.setenv("DBT_LOG_PATH", str(tmp / "dbt_logs"))
        mp.setenv("SOURCES__ZOOM__DAILY_BUDGET", "6")  # a few heavy requests: the load stops midway
        embedded.reset()
        state = {"instance": instance, "server": server, "tmp": tmp, "defs": build_definitions(), "mp": mp}
        try:
            yield state
        finally:
            embedded.reset()
            server.stop()


def _job(flow, name: str):
    return flow["defs"].resolve_job_def(name)


def test_a_load_stopped_by_the_daily_budget_is_a_clean_visible_outcome(flow) -> None:
    instance = flow["instance"]
    result = _job(flow, "load").execute_in_process(instance=instance, asset_selection=a.load_keys("zoom"))
    assert result.success  # not a failure, so no retries and no notification storm
    zoom = _meta(result, ["zoom", "meetings"])
    assert zoom["budget_exhausted"] is True and "daily request budget" in zoom["budget_message"].lower()
    resets = dt.datetime.fromisoformat(zoom["budget_resets_at"])
    assert resets > dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    # the next ticks load MEETS only until the reset, then Zoom again
    load = next(s for s in flow["defs"].schedules if s.name == "load_hourly")
    tick = load.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=resets - dt.timedelta(hours=1))
    )
    assert set(tick.run_requests[0].asset_selection) == set(a.load_keys("meets"))
    tick = load.evaluate_tick(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=resets + dt.timedelta(minutes=1)
        )
    )
    assert tick.run_requests[0].asset_selection is None


def test_the_next_load_resumes_and_every_asset_equals_the_truth(flow) -> None:
    instance, server = flow["instance"], flow["server"]
    warehouse = Path(os.environ["MW_WAREHOUSE"])
    flow["mp"].setenv("SOURCES__ZOOM__DAILY_BUDGET", "1000000")  # as after the daily reset
    loaded = _job(flow, "load").execute_in_process(instance=instance)
    assert loaded.success and _meta(loaded, ["zoom", "meetings"])["budget_exhausted"] is False
    assert _meta(loaded, ["meets", "conferencing_events"])["budget_exhausted"] is False

    # the transform follows the successful load through the sensor (not a second clock), once
    sensor = next(s for s in flow["defs"].sensors if s.name == "transform_after_load")
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    [request] = tick.run_requests
    transformed = _job(flow, "transform").execute_in_process(instance=instance, tags=request.tags)
    assert transformed.success
    checks = transformed.get_asset_check_evaluations()
    assert len(checks) == len(a.dbt_models.check_keys) and all(c.passed for c in checks)
    again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert not again.run_requests

    # a recording.completed webhook: the sensor's run copies exactly that meeting's files, once
    account, now = server.state.account, server.state.now()
    target = next(r for r in account.recordings if recording_visibility(r, now) == "available" and r.files)
    queue = EventQueue()
    queue.put("recording.completed", 1, {"account_id": "A", "object": {"uuid": target.meeting.uuid, "id": 1}})
    webhooks = next(s for s in flow["defs"].sensors if s.name == "zoom_webhooks")
    tick = webhooks.evaluate_tick(dg.build_sensor_context(instance=instance))
    [request] = tick.run_requests
    targeted = _job(flow, "recordings").execute_in_process(
        instance=instance,
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key},
        asset_selection=[dg.AssetKey(["recordings", "files"])],
    )
    assert targeted.success
    rows = rs.inventory(warehouse)
    assert {r["meeting_uuid"] for r in rows} == {target.meeting.uuid}
    assert len([r for r in rows if r["status"] == "copied"]) == len(target.files)
    tick = webhooks.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert not tick.run_requests and queue.counts() == {"pending": 0, "done": 1}

    copied = _job(flow, "recordings").execute_in_process(instance=instance)
    assert copied.success
    done = {m.asset_key.to_user_string() for m in copied.get_asset_materialization_events()}
    assert {
        "recordings/files",
        "transcripts/cues",
        "analytics/fct_transcript_segments",
        "serving/snapshot",
    } <= done
    assert "youtube/publications" not in done  # no channel configured: skipped, not failed

    # every asset of the definitions was materialised by these runs (YouTube aside)
    everything = set(flow["defs"].resolve_asset_graph().get_all_asset_keys())
    materialised = {k for k in everything if instance.get_latest_materialization_event(k) is not None}
    assert everything - materialised == {
        dg.AssetKey(["youtube", "publications"]),  # no channel configured: skipped
        dg.AssetKey(["youtube", "publications_state"]),  # a source the marts read, not materialised
    }

    truth = requests.get(f"{server.base_url}/_sandbox/truth", timeout=120).json()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth)
    assert_marts_match_truth(warehouse, truth, server.state.account)
    want = rs.expected_files(SandboxClient(server))
    rows = rs.inventory(warehouse)
    got = {
        s: sorted((r["size"], r["sha256"]) for r in rows if r["source"] == s and r["status"] == "copied")
        for s in ("zoom", "meets")
    }
    assert got == {s: sorted(want[s].elements()) for s in ("zoom", "meets")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cues, segments = con.execute(
            "select (select count(*) from transcripts.cues), (select count(*) from analytics.fct_transcript_segments)"
        ).fetchone()
    assert cues > 0 and segments == cues
    serving = warehouse.parent / "serving.duckdb"
    with duckdb.connect(str(serving), read_only=True) as con:
        assert (
            con.execute("select count(*) from analytics.fct_meetings").fetchone()[0]
            == truth["zoom"]["meetings"]
        )
        assert con.execute("select count(*) from recordings.inventory where status = 'copied'").fetchone()[
            0
        ] == len([r for r in rows if r["status"] == "copied"])
