"""The Zoom source against the sandbox over real HTTP, into a real DuckDB file.

Every test compares the warehouse with the sandbox's ground truth and the requests the sandbox
received (``/_sandbox/stats``), so a source that loses, duplicates or over-fetches fails.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from pipelines import clock, embedded
from pipelines.api_client import AuthError, RateBudgetExceeded
from pipelines.sandbox import Scale
from pipelines.sandbox.config import PLANS
from pipelines.zoom.client import PageTokenExpired, month_windows
from pipelines.zoom.pipeline import (
    WarehouseLocked,
    authorize_zoom,
    build_client,
    plan_zoom_load,
    run_zoom_load,
)
from pipelines.zoom.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures.raw_keys import ZOOM_KEYS

PER_MEETING_ENDPOINTS = ("metrics/meetings/participants", "metrics/meetings/participants/qos")


@pytest.fixture
def zoom_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MW_WAREHOUSE", str(tmp_path / "warehouse" / "meetings.duckdb"))
    monkeypatch.setenv("MW_PIPELINES_DIR", str(tmp_path / "dlt_pipelines"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.delenv("MW_SANDBOX_URL", raising=False)
    for var in [v for v in os.environ if v.startswith("SOURCES__ZOOM__")]:
        monkeypatch.delenv(var)
    return tmp_path


def creds(sb: Any) -> dict[str, str]:
    info = sb.info
    return {
        "api_base_url": info["zoom_api_base_url"],
        "oauth_base_url": info["zoom_oauth_base_url"],
        "account_id": info["account_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "redirect_uri": info["redirect_uri"],
        "plan": info["plan"],
    }


def load(sb: Any, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {**creds(sb), "start_date": sb.info["start_date"], **overrides}
    return run_zoom_load(show=False, progress=False, **kwargs)


def warehouse(env: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(env / "warehouse" / "meetings.duckdb"), read_only=True)


def count(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    return con.execute(f"select count(*) from zoom_raw.{table} where {where}").fetchone()[0]


def assert_no_duplicate_keys(con: duckdb.DuckDBPyConnection) -> None:
    for table, key in ZOOM_KEYS.items():
        cols = ", ".join(key)
        dupes = con.execute(
            f"select count(*) from (select {cols} from zoom_raw.{table} group by {cols} having count(*) > 1)"
        ).fetchone()[0]
        assert dupes == 0, f"duplicate keys in {table}"


def assert_matches_truth(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    z = truth["zoom"]
    assert count(con, "users") == z["users"]
    by_status = dict(con.execute("select status, count(*) from zoom_raw.users group by 1").fetchall())
    assert by_status == z["users_by_status"]
    assert count(con, "meetings") == z["meetings"]
    assert count(con, "meeting_fetch_log") == z["meetings"]
    assert count(con, "participant_sessions") == z["participant_sessions_listed"]  # waiting room too
    assert count(con, "participant_sessions", "status = 'in_waiting_room'") == z["waiting_room_sessions"]
    assert count(con, "participant_qos") == z["qos_participant_minutes"]
    assert count(con, "recordings") == z["recordings"] + z["recordings_in_trash"]
    assert count(con, "recording_files") == z["recording_files"] + z["recording_files_in_trash"]
    assert (
        con.execute("select count(distinct id) from zoom_raw.active_hosts").fetchone()[0] == z["active_hosts"]
    )
    assert_no_duplicate_keys(con)


def per_meeting(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    sessions = dict(
        con.execute("select meeting_uuid, count(*) from zoom_raw.participant_sessions group by 1").fetchall()
    )
    qos = dict(
        con.execute("select meeting_uuid, count(*) from zoom_raw.participant_qos group by 1").fetchall()
    )
    return {u: (sessions.get(u, 0), qos.get(u, 0)) for u in set(sessions) | set(qos)}


def expected_per_meeting(truth: dict) -> dict[str, tuple[int, int]]:
    """Rows Zoom lists per meeting (waiting-room stints included) and QoS minutes."""
    return {u: (m["listed_sessions"], m["qos_minutes"]) for u, m in truth["meetings"].items()}


def minimum_heavy_requests(truth: dict, report_windows: int) -> int:
    return report_windows + sum(1 + math.ceil(m["sessions"] / 10) for m in truth["meetings"].values())


# ----------------------------------------------------------------------------- the main scenario
def test_load_matches_truth_second_run_adds_nothing_and_secrets_stay_out(
    sandbox: Any, zoom_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # start a month and a half before the sandbox's history: several calendar-month windows
    start = dt.date.fromisoformat(sandbox.info["start_date"]) - dt.timedelta(days=40)
    today = clock.today()
    windows = month_windows(start, today)
    first = load(sandbox, start_date=start.isoformat())
    assert first["stopped"] is None and first["users_not_hosting"]  # 400/3161 users are skipped
    truth = sandbox.admin("truth")
    stats = sandbox.admin("stats")
    z = truth["zoom"]

    with warehouse(zoom_env) as con:
        assert_matches_truth(con, truth)
        # every meeting's sessions and minutes, including the UUIDs that need double encoding
        got = per_meeting(con)
        expected = expected_per_meeting(truth)
        assert got == expected
        double = [u for u in expected if u.startswith("/") or "//" in u]
        assert len(double) == z["meetings_needing_double_encoding"] > 0
        # recordings: live/trash split, passcode presence (never the value), every file type
        assert count(con, "recordings", "not is_trashed") == z["recordings"]
        assert count(con, "recordings", "is_trashed") == z["recordings_in_trash"]
        assert (
            count(con, "recordings", "has_passcode and not is_trashed") == z["passcode_protected_recordings"]
        )
        by_type = dict(
            con.execute(
                "select file_type, count(*) from zoom_raw.recording_files where not is_trashed group by 1"
            ).fetchall()
        )
        assert by_type == z["recording_files_by_type"]
        # sizes only where Zoom declares them (CC never, TIMELINE sometimes)
        assert count(con, "recording_files", "file_size is not null") == z["recording_files_with_size"]
        assert count(con, "recording_files", "file_type = 'CC' and file_size is not null") == 0
        assert count(con, "meeting_series") == z["meeting_series_listed"]
        assert count(con, "meeting_series", "type = 8 and recurrence__type is null") == 0
        ledger = dict(con.execute("select category, requests from ops.request_ledger").fetchall())
        assert ledger["heavy"] == stats["received"]["heavy"]
        qos_types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'zoom_raw' and table_name = 'participant_qos'"
            ).fetchall()
        )
        assert qos_types["date_time"] == "TIMESTAMP WITH TIME ZONE"
        assert qos_types["audio_input__latency"] == "VARCHAR"
        assert {"_dlt_load_id", "_dlt_id"} <= set(qos_types)

    # requests: windows of a month at most, Zoom's page sizes, never above the plan's rates
    by_endpoint = stats["by_endpoint"]
    assert by_endpoint["metrics/meetings"] == len(windows)
    assert by_endpoint["report/users"] == len(windows)
    assert first["requests"]["heavy"] == minimum_heavy_requests(truth, len(windows))
    assert by_endpoint["metrics/meetings/participants"] == z["meetings"]
    plan = PLANS[sandbox.info["plan"]]
    for category, limit in plan["per_second"].items():
        assert stats["max_per_second"].get(category, 0) <= limit, category
    assert stats["max_per_minute"].get("resource_intensive", 0) <= plan["per_minute"]["resource_intensive"]
    assert sum(stats["rejected_429"].values()) == 0

    # second run: nothing new -> no per-meeting calls, nothing added; the meeting list is asked
    # again only for the windows the lookback reaches (two when it crosses a month boundary)
    with warehouse(zoom_env) as con:
        newest_end = con.execute("select max(end_time) from zoom_raw.meetings").fetchone()[0]
    lookback_windows = month_windows((newest_end - dt.timedelta(days=2)).date(), today)
    sandbox.admin("reset", {})
    second = load(sandbox, start_date=start.isoformat())
    stats2 = sandbox.admin("stats")
    for endpoint in (*PER_MEETING_ENDPOINTS, "meetings"):
        assert stats2["by_endpoint"].get(endpoint, 0) == 0, endpoint
    assert stats2["by_endpoint"]["metrics/meetings"] == len(lookback_windows)
    assert second["rows"]["participant_sessions"] == second["rows"]["participant_qos"] == 0
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, truth)

    # secrets: not in the warehouse, not in dlt's working files (state, trace), not in logs
    state = sandbox.server.state
    secrets_ = {sandbox.info["client_secret"], *state.tokens}
    for rec in state.account.recordings:
        secrets_ |= {s for s in (rec.passcode, rec.password) if s}
    secrets_ = {s for s in secrets_ if len(s) >= 6}
    with warehouse(zoom_env) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'JSON') and table_schema in ('zoom_raw', 'ops')"
        ).fetchall()
        values: set[str] = set()
        for schema, table, column in columns:
            values |= {
                str(v)
                for (v,) in con.execute(f'select distinct "{column}" from {schema}.{table}').fetchall()
                if v is not None
            }
    blob = "\n".join(values)
    for root, _, files in os.walk(zoom_env / "dlt_pipelines"):
        for name in files:
            blob += (Path(root) / name).read_bytes().decode("latin-1")
    blob += caplog.text
    leaked = [s for s in secrets_ if s in blob]
    assert not leaked, f"{len(leaked)} secret(s) leaked"


def test_clock_moving_forward_loads_exactly_the_new_meetings(sandbox_factory: Any, zoom_env: Path) -> None:
    sb = sandbox_factory(clock_offset=-86400)
    load(sb)
    before = sb.admin("truth")
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, before)

    sb.admin("clock", {"offset_seconds": 0})
    sb.admin("reset", {})
    second = load(sb)
    after = sb.admin("truth")
    new = set(after["meetings"]) - set(before["meetings"])
    assert new and set(before["meetings"]) <= set(after["meetings"])
    stats = sb.admin("stats")
    assert stats["by_endpoint"]["metrics/meetings/participants"] == len(new)
    assert second["meetings_detailed"] == len(new)
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, after)
        fetched_now = {
            u
            for (u,) in con.execute(
                "select meeting_uuid from zoom_raw.meeting_fetch_log where _dlt_load_id = "
                "(select max(_dlt_load_id) from zoom_raw.meeting_fetch_log)"
            ).fetchall()
        }
    assert fetched_now == new


def test_daily_budget_stops_cleanly_and_the_next_run_resumes_to_the_truth(
    sandbox: Any, zoom_env: Path, tmp_path: Path
) -> None:
    with pytest.raises(RateBudgetExceeded) as caught:
        load(sandbox, daily_budget=20, ledger_path=str(tmp_path / "ledger-day1.sqlite"))
    message = str(caught.value)
    assert "Loaded this run: " in message and "meetings " in message
    assert "Left for the next run: participants/QoS of" in message
    assert "resets at" in message and re.search(r"used \d+ of 20 requests today", message)
    summary = caught.value.summary  # type: ignore[attr-defined]
    assert summary["meetings_pending"] > 0
    stats = sandbox.admin("stats")
    assert stats["received"]["heavy"] + stats["received"]["resource_intensive"] <= 20
    detailed_first = stats["by_endpoint"]["metrics/meetings/participants"]
    assert 0 < detailed_first < summary["meetings_listed"]
    assert stats["by_endpoint"]["metrics/meetings/participants/qos"] >= detailed_first  # no meeting half-done
    with warehouse(zoom_env) as con:
        assert_no_duplicate_keys(con)
        assert count(con, "meeting_fetch_log") == detailed_first

    # the next day (a fresh ledger): resumes where it stopped, ends equal to the truth
    load(sandbox, ledger_path=str(tmp_path / "ledger-day2.sqlite"))
    truth = sandbox.admin("truth")
    stats = sandbox.admin("stats")
    assert stats["by_endpoint"]["metrics/meetings/participants"] == truth["zoom"]["meetings"]  # none twice
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, truth)
        got = per_meeting(con)
    assert got == expected_per_meeting(truth)


def test_zooms_daily_cap_without_its_headers_stops_that_category_only(
    sandbox_factory: Any, zoom_env: Path, tmp_path: Path
) -> None:
    """A daily-cap 429 as users captured it (no X-RateLimit-Type, no Retry-After; only Zoom's
    "maximum daily rate limit" message) is recognised at once: not retried, the category stops,
    the light and medium resources finish, and nothing is asked beyond the cap."""
    sb = sandbox_factory(plan="pro", daily_limit_headers="none")
    state = sb.server.state
    left = 12
    state.daily[(state.now().date().isoformat(), "heavy")] = PLANS["pro"]["daily_shared"] - left  # other apps
    with pytest.raises(RateBudgetExceeded) as caught:
        load(sb, ledger_path=str(tmp_path / "ledger.sqlite"))
    assert "daily" in str(caught.value).lower()
    stats = sb.admin("stats")
    assert all(n <= 1 for n in stats["rejected_429"].values()), stats["rejected_429"]  # never retried
    shared = stats["received"].get("heavy", 0) + stats["received"].get("resource_intensive", 0)
    assert shared <= left + len(stats["rejected_429"])  # the refused requests themselves, once each
    truth = sb.admin("truth")
    with warehouse(zoom_env) as con:  # users, series and recordings (medium) were loaded whole
        assert count(con, "users") == truth["zoom"]["users"]
        assert count(con, "meeting_series") == truth["zoom"]["meeting_series_listed"]
        assert count(con, "recordings") == truth["zoom"]["recordings"] + truth["zoom"]["recordings_in_trash"]


def test_users_who_may_not_host_are_skipped_and_reported_once(sandbox_factory: Any, zoom_env: Path) -> None:
    """Zoom answers GET /users/{id}/meetings with 400/3161 for users who may not host: the load
    skips them (reported once, by user), completes, and a rerun does the same (the tiny account:
    it has such a user, and two loads of it are quick)."""
    sandbox = sandbox_factory(scale=Scale.named("tiny"))
    acc = sandbox.server.state.account
    not_hosting = sorted(u.email for u in acc.users if u.status != "pending" and not u.may_host)
    assert not_hosting
    for _ in range(2):
        summary = load(sandbox)
        assert summary["stopped"] is None
        assert summary["users_not_hosting"] == not_hosting
    with warehouse(zoom_env) as con:
        assert count(con, "meeting_series") == sandbox.admin("truth")["zoom"]["meeting_series_listed"]
        assert count(con, "quarantine") == 0 if table_exists(con, "quarantine") else True


def test_recordings_still_processing_are_loaded_by_a_later_run(sandbox_factory: Any, zoom_env: Path) -> None:
    """Zoom lists a recording while it is processing (empty file type and end). The load skips it
    and says so; the next run, once it is complete, loads it with every file (the tiny account:
    one recording is enough, and two loads of it are quick)."""
    sandbox = sandbox_factory(scale=Scale.named("tiny"))
    state = sandbox.server.state
    rec = max(
        (r for r in state.account.recordings if r.available_at <= state.now()), key=lambda r: r.meeting.end
    )
    during = rec.meeting.end + dt.timedelta(minutes=5)
    sandbox.admin("clock", {"offset_seconds": int((during - state.clock_base).total_seconds())})
    first = load(sandbox)
    assert first["recordings_processing"] >= 1
    with warehouse(zoom_env) as con:
        assert count(con, "recordings", f"uuid = '{rec.meeting.uuid}'") == 0
        assert count(con, "recording_files", "file_type = '' or file_type is null") == 0
    sandbox.admin("clock", {"offset_seconds": 0})
    second = load(sandbox)
    assert second["recordings_processing"] == 0
    truth = sandbox.admin("truth")
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, truth)
        assert count(con, "recording_files", f"meeting_uuid = '{rec.meeting.uuid}'") == len(rec.files)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'zoom_raw' and table_name = ?",
            [table],
        ).fetchone()[0]
    )


# ----------------------------------------------------------------------------- auth
def test_s2s_token_expiring_mid_run_is_refreshed_and_the_request_retried(
    sandbox_factory: Any, zoom_env: Path
) -> None:
    sb = sandbox_factory(token_lifetime_requests=25)  # expiry by use: the same on any machine speed
    summary = load(sb, proactive_token_refresh=False)
    assert summary["token_refreshes_after_401"] >= 2
    assert summary["token_requests"] == summary["token_refreshes_after_401"] + 1
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, sb.admin("truth"))


def test_general_app_authorize_then_load_with_rotating_refresh_token(
    sandbox_factory: Any, zoom_env: Path
) -> None:
    sb = sandbox_factory(token_lifetime_requests=25)
    token_file = zoom_env / "tokens" / "zoom_oauth.json"
    oauth = {**creds(sb), "account_id": "", "auth": "oauth", "token_file": str(token_file)}
    printed: list[str] = []

    def browser(prompt: str) -> str:
        url = next(line.strip() for text in printed for line in text.splitlines() if "/authorize?" in line)
        answer = requests.get(url, allow_redirects=False, timeout=30)
        assert answer.status_code == 302
        return answer.headers["Location"]

    result = authorize_zoom(input_fn=browser, print_fn=printed.append, **oauth)
    assert result["token_file"] == str(token_file)
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    first_refresh_token = json.loads(token_file.read_text())["refresh_token"]

    sb.admin("expire_tokens", {})  # the code exchange's access token has expired: the load must rotate
    summary = run_zoom_load(show=False, progress=False, start_date=sb.info["start_date"], **oauth)
    assert summary["auth"] == "oauth"
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, sb.admin("truth"))

    stored = json.loads(token_file.read_text())
    assert stored["refresh_token"] != first_refresh_token
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    token_url = f"{sb.info['zoom_oauth_base_url']}/token"
    basic = (sb.info["client_id"], sb.info["client_secret"])
    stale = requests.post(
        token_url,
        data={"grant_type": "refresh_token", "refresh_token": first_refresh_token},
        auth=basic,
        timeout=30,
    )
    assert stale.status_code == 400
    newest = requests.post(
        token_url,
        data={"grant_type": "refresh_token", "refresh_token": stored["refresh_token"]},
        auth=basic,
        timeout=30,
    )
    assert newest.status_code == 200  # the file holds the newest token Zoom accepts


def test_wrong_client_secret_is_an_actionable_auth_error(sandbox: Any, zoom_env: Path) -> None:
    with pytest.raises(AuthError) as caught:
        load(sandbox, client_secret="definitely-wrong-secret")
    message = str(caught.value)
    assert "client_secret" in message or "client secret" in message
    assert "definitely-wrong-secret" not in message


def test_general_app_without_token_file_asks_to_authorize(sandbox: Any, zoom_env: Path) -> None:
    with pytest.raises(AuthError, match="pipelines authorize"):
        load(sandbox, account_id="", auth="oauth", token_file=str(zoom_env / "missing.json"))


# ----------------------------------------------------------------------------- paging
def test_expired_next_page_token_restarts_the_listing(sandbox_factory: Any, zoom_env: Path) -> None:
    sb = sandbox_factory(page_token_lifetime=1)
    pauses: list[int] = []

    def slow_consumer(endpoint: str, page: int, body: Any) -> None:
        if page == 1 and not pauses:
            pauses.append(page)
            time.sleep(1.5)  # longer than the token lives: the second page must fail once

    settings = load_settings(**creds(sb), page_size=2)
    client = build_client(settings, on_page=slow_consumer)
    users = client.users("active")
    expected = sb.admin("truth")["zoom"]["users_by_status"]["active"]
    assert len(users) == len({u["id"] for u in users}) == expected
    pages = math.ceil(expected / 2)
    assert sb.admin("stats")["by_endpoint"]["users"] == 2 + pages  # page 1, failed page 2, full restart

    sb.admin("faults", {"page_token_lifetime": 0})
    with pytest.raises(PageTokenExpired, match="restarted"):
        client.users("active")


# ----------------------------------------------------------------------------- defaults and plan
def test_without_credentials_the_embedded_sandbox_is_used_and_the_plan_is_exact(
    sandbox: Any, zoom_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MW_SANDBOX_URL", sandbox.base)
    embedded.reset()
    try:
        caplog.set_level(logging.WARNING, logger="pipelines.zoom")
        plan = plan_zoom_load(show=False, start_date=sandbox.info["start_date"])
        summary = run_zoom_load(show=False, progress=False, start_date=sandbox.info["start_date"])
    finally:
        embedded.reset()
    assert summary["source"] == plan["source"] == "sandbox"
    said = [r for r in caplog.records if "embedded sandbox" in r.getMessage()]
    assert len(said) == 2  # one line per command (plan, load)
    assert plan["requests"] == summary["requests"]
    assert (
        plan["meetings_to_fetch"]
        == summary["meetings_detailed"]
        == sandbox.admin("truth")["zoom"]["meetings"]
    )
    assert (
        plan["budgeted_requests"] == summary["requests"]["heavy"] + summary["requests"]["resource_intensive"]
    )
    assert plan["daily_runs_needed"] == 1 and plan["days_of_budget"] < 1
    assert Counter(plan["plan_cost"])["heavy"] == 0  # a dry run makes no heavy calls


def test_a_locked_warehouse_is_a_clear_error_and_the_next_run_completes(
    sandbox_factory: Any, zoom_env: Path
) -> None:
    sandbox = sandbox_factory(scale=Scale.named("tiny"))  # the lock is the point, not the size
    path = zoom_env / "warehouse" / "meetings.duckdb"
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('create table t (i int)'); "
            "print('locked', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLocked, match="one writer"):
            load(sandbox)
    finally:
        holder.kill()
        holder.wait()
    load(sandbox)
    truth = sandbox.admin("truth")
    with warehouse(zoom_env) as con:
        assert_matches_truth(con, truth)
    assert sandbox.admin("stats")["by_endpoint"]["metrics/meetings/participants"] == truth["zoom"]["meetings"]


def test_reloaded_minutes_replace_the_loaded_ones_and_the_rest_is_kept(
    sandbox_factory: Any, zoom_env: Path
) -> None:
    """Minutes loaded again (a meeting whose details are fetched a second time) replace their rows
    key by key, in place (``participant_qos`` is merged file by file into the table, no staging
    copy: :mod:`pipelines.zoom.destination`): no duplicate, the values the sandbox serves, rows of
    other meetings untouched, and a key the new answer lacks kept (dlt's delete-insert merge)."""
    import dlt

    sandbox = sandbox_factory(scale=Scale.named("tiny"))
    load(sandbox)
    truth = sandbox.admin("truth")
    picked = sorted(u for u, m in truth["meetings"].items() if m["qos_minutes"])[:2]
    other = next(u for u, m in sorted(truth["meetings"].items()) if m["qos_minutes"] and u not in picked)
    path = zoom_env / "warehouse" / "meetings.duckdb"
    with duckdb.connect(str(path)) as con:
        first_load = con.execute("select max(load_id) from zoom_raw._dlt_loads").fetchone()[0]
        tables = {
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'zoom_raw_staging'"
            ).fetchall()
        }
        assert "participant_qos" not in tables and "meetings" in tables  # QoS: no staging copy
        # stale values for every minute of the re-loaded meetings and one minute of another meeting,
        # and a minute Zoom does not list for a re-loaded participant
        con.execute(
            "update zoom_raw.participant_qos set audio_input__latency = 'stale' where meeting_uuid in (?, ?)",
            picked,
        )
        con.execute(
            "update zoom_raw.participant_qos set audio_input__latency = 'stale' where (meeting_uuid, "
            "user_id, date_time) = (select (meeting_uuid, user_id, min(date_time)) from zoom_raw.participant_qos "
            "where meeting_uuid = ? group by meeting_uuid, user_id order by user_id limit 1)",
            [other],
        )
        con.execute(
            "insert into zoom_raw.participant_qos by name select meeting_uuid, user_id, "
            "date_time - interval 1 day as date_time, 'kept' as audio_input__latency, _dlt_load_id, "
            "'extra-row' as _dlt_id from zoom_raw.participant_qos where meeting_uuid = ? limit 1",
            [picked[0]],
        )
    # the load forgets it fetched the picked meetings: the next run asks Zoom for them again
    pipeline = dlt.attach("zoom", pipelines_dir=str(zoom_env / "dlt_pipelines"))
    with pipeline.managed_state(extract_state=True) as state:
        done = state["sources"]["zoom"]["meeting_details"]["done"]
        for uuid in picked:
            del done[uuid]
    sandbox.admin("reset", {})
    second = load(sandbox)
    assert sandbox.admin("stats")["by_endpoint"]["metrics/meetings/participants/qos"] == len(picked)
    reloaded = sum(truth["meetings"][u]["qos_minutes"] for u in picked)
    assert second["rows"]["participant_qos"] == reloaded
    expected = expected_per_meeting(truth)
    expected[picked[0]] = (expected[picked[0]][0], expected[picked[0]][1] + 1)  # the extra minute
    with warehouse(zoom_env) as con:
        assert per_meeting(con) == expected
        assert_no_duplicate_keys(con)
        stale = dict(
            con.execute(
                "select meeting_uuid, count(*) from zoom_raw.participant_qos "
                "where audio_input__latency = 'stale' group by 1"
            ).fetchall()
        )
        assert stale == {other: 1}  # replaced where re-loaded, untouched elsewhere
        by_load = dict(
            con.execute(
                "select _dlt_load_id = ?, count(*) from zoom_raw.participant_qos where meeting_uuid in (?, ?) "
                "and _dlt_id <> 'extra-row' group by 1",
                [first_load, *picked],
            ).fetchall()
        )
        assert by_load == {False: reloaded}  # every re-loaded minute is the new load's row
        kept = con.execute(
            "select count(*) from zoom_raw.participant_qos where _dlt_id = 'extra-row' and "
            "audio_input__latency = 'kept'"
        ).fetchone()[0]
        assert kept == 1
