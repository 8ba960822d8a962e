"""The MEETS dlt source over real HTTP against the sandbox, into a real DuckDB file.

Expected contents come from the sandbox's generated account and its ``/_sandbox/truth``, never from
the source's own helpers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
import requests

from pipelines.api_client import RetryPolicy
from pipelines.meets.client import MeetsAuthError, MeetsNotFound
from pipelines.meets.pipeline import build_client, lookup_lti_context, lookup_lti_user, run_meets_load
from pipelines.meets.settings import MeetsSettings, load_settings
from pipelines.sandbox.account import Account

FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05)
ATTENDANCE = "meets/get_conferencing_event_attendance"
PRIMARY_KEYS = {
    "admins": ["meets_id_admin"],
    "connections": ["meets_id_connection"],
    "courses": ["meets_id_course"],
    "course_users": ["meets_id_course", "meets_id_user"],
    "users": ["meets_id_user"],
    "conferencing_accounts": ["meets_id_conferencing_account"],
    "conferencing_account_users": ["meets_id_conferencing_account", "meets_id_user"],
    "conferencing_events": ["meets_id_conferencing_event"],
    "conferencing_event_courses": ["meets_id_conferencing_event", "meets_id_course"],
    "conferencing_event_users": ["meets_id_conferencing_event", "meets_id_user"],
    "conference_recordings": ["meets_id_conference_recording"],
    "attendance": ["meets_id_conferencing_event", "row_number"],
    "attendance_status": ["meets_id_conferencing_event"],
}


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse" / "meetings.duckdb"
    monkeypatch.setenv("MW_WAREHOUSE", str(path))
    monkeypatch.setenv("MW_PIPELINES_DIR", str(tmp_path / "dlt_pipelines"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    return path


def settings_for(sandbox, **overrides) -> MeetsSettings:
    return MeetsSettings.from_sandbox_info(sandbox.info, **{"requests_per_second": 1000, **overrides})


def load(sandbox, **kwargs) -> dict:
    settings = kwargs.pop("settings", None) or settings_for(sandbox)
    return run_meets_load(settings=settings, retry=FAST_RETRY, **kwargs)


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def id_set(path: Path, table: str, *cols: str) -> set:
    rows = query(path, f"select {', '.join(cols)} from meets_raw.{table}")
    return {r[0] if len(cols) == 1 else tuple(r) for r in rows}


def account(sandbox) -> Account:
    return sandbox.server.state.account


def sandbox_now(sandbox) -> int:
    return int(sandbox.server.state.now().timestamp())


def truth(sandbox) -> dict:
    return sandbox.admin("truth?detail=0")["meets"]


def attendance_requests(sandbox) -> int:
    return sandbox.admin("stats")["by_endpoint"].get(ATTENDANCE, 0)


def assert_no_duplicates(path: Path) -> None:
    for table, keys in PRIMARY_KEYS.items():
        cols = ", ".join(keys)
        (dupes,) = query(
            path,
            f"select count(*) from (select {cols} from meets_raw.{table} group by {cols} having count(*) > 1)",
        )[0]
        assert dupes == 0, table


def assert_attendance_equals_sandbox(path: Path, sandbox) -> None:
    """Every ended event's attendance, exactly as MEETS answers at the sandbox clock."""
    acc, now = account(sandbox), sandbox_now(sandbox)
    final_after = sandbox.server.config.attendance_final_after
    expected: dict[int, list[tuple]] = {}
    for e in acc.meets_events:
        if e.time_end <= now:
            rows = acc.attendance(e, now >= e.time_end + final_after)
            expected[e.id] = sorted((r["attendeeName"], r["timeJoin"], r["timeLeave"]) for r in rows)
    got: dict[int, list[tuple]] = {}
    for eid, name, join, leave in query(
        path,
        "select meets_id_conferencing_event, attendee_name, time_join, time_leave from meets_raw.attendance",
    ):
        got.setdefault(eid, []).append((name, join, leave))
    assert {k: sorted(v) for k, v in got.items()} == {k: v for k, v in expected.items() if v}
    status = dict(
        query(path, "select meets_id_conferencing_event, is_final from meets_raw.attendance_status")
    )
    assert set(status) == set(expected)
    assert status == {e.id: now >= e.time_end + final_after for e in acc.meets_events if e.id in expected}


# ------------------------------------------------------------------------------------------ tests
def test_full_load_equals_sandbox_truth(sandbox, warehouse: Path) -> None:
    # a small page size exercises paging (startAfterId / nextPageStartAfterId) on every list
    summary = load(sandbox, settings=settings_for(sandbox, page_limit=7))
    acc, t = account(sandbox), truth(sandbox)

    assert id_set(warehouse, "admins", "meets_id_admin") == {a["meetsIdAdmin"] for a in acc.meets_admins}
    assert id_set(warehouse, "connections", "meets_id_connection") == {
        c["meetsIdConnection"] for c in acc.meets_connections
    }
    assert id_set(warehouse, "courses", "meets_id_course", "lti_id_context") == {
        (c.id, c.lti_id_context) for c in acc.meets_courses
    }
    assert id_set(warehouse, "users", "meets_id_user", "lti_id_user") == {
        (u.id, u.lti_id_user) for u in acc.meets_users
    }
    assert id_set(warehouse, "course_users", "meets_id_course", "meets_id_user", "roles__teacher") == {
        (cu["meetsIdCourse"], cu["meetsIdUser"], cu["roles"]["teacher"]) for cu in acc.meets_course_users
    }
    assert id_set(warehouse, "conferencing_accounts", "meets_id_conferencing_account") == {
        a["meetsIdConferencingAccount"] for a in acc.meets_accounts
    }
    assert id_set(
        warehouse, "conferencing_account_users", "meets_id_conferencing_account", "meets_id_user"
    ) == {(a["meetsIdConferencingAccount"], u) for a in acc.meets_accounts for u in a["meetsIdUsers"]}
    assert id_set(
        warehouse,
        "conferencing_events",
        "meets_id_conferencing_event",
        "time_end",
        "meets_id_conferencing_account",
    ) == {(e.id, e.time_end, e.account_id) for e in acc.meets_events}
    assert id_set(
        warehouse, "conferencing_event_courses", "meets_id_conferencing_event", "meets_id_course"
    ) == {(e.id, c) for e in acc.meets_events for c in e.course_ids}
    assert id_set(warehouse, "conferencing_event_users", "meets_id_conferencing_event", "meets_id_user") == {
        (e.id, u) for e in acc.meets_events for u in e.user_ids
    }
    now = sandbox_now(sandbox)
    assert id_set(warehouse, "conference_recordings", "meets_id_conference_recording") == {
        r.id for r in acc.meets_recordings if r.time_added <= now
    }
    assert_attendance_equals_sandbox(warehouse, sandbox)
    assert_no_duplicates(warehouse)

    counts = {
        "admins": t["admins"],
        "connections": t["connections"],
        "courses": t["courses"],
        "users": t["users"],
        "course_users": t["course_users"],
        "conferencing_accounts": t["conferencing_accounts"],
        "conferencing_account_users": t["conferencing_account_users"],
        "conferencing_events": t["conferencing_events"],
        "conferencing_event_courses": t["event_courses"],
        "conferencing_event_users": t["event_users"],
        "conference_recordings": t["conference_recordings"],
        "attendance": t["attendance_rows"],
        "attendance_status": t["ended_events"],
    }
    for table, n in counts.items():
        assert query(warehouse, f"select count(*) from meets_raw.{table}")[0][0] == n, table
    (finals,) = query(warehouse, "select count(*) from meets_raw.attendance_status where is_final")[0]
    assert finals == t["events_with_final_attendance"]

    # raw stays raw: UNIX seconds as integers, auxiliary as JSON, flattened settings/permissions
    types = dict(
        query(
            warehouse,
            "select table_name || '.' || column_name, data_type from information_schema.columns "
            "where table_schema = 'meets_raw'",
        )
    )
    assert types["conferencing_events.time_end"] == "BIGINT"
    assert types["attendance.time_join"] == "BIGINT"
    assert types["courses.auxiliary"] == "JSON"
    assert types["connections.settings__tls_required"] == "BOOLEAN"
    assert types["admins.permissions__manage_content"] == "BOOLEAN"
    assert not any(name.startswith(("conferencing_events__", "conferencing_accounts__")) for name in types)

    assert summary["rows"]["conferencing_events"] == t["conferencing_events"]
    assert summary["requests"]["sent"] == sum(sandbox.admin("stats")["by_endpoint"].values())
    assert summary["requests"]["by_method"] == {"GET": summary["requests"]["sent"]}
    assert summary["sandbox"] is True


def test_second_run_replaces_non_final_attendance_and_skips_final_events(sandbox, warehouse: Path) -> None:
    acc = account(sandbox)
    final_after = sandbox.server.config.attendance_final_after
    now1 = sandbox_now(sandbox)
    load(sandbox)
    non_final = {
        eid
        for (eid,) in query(
            warehouse,
            "select meets_id_conferencing_event from meets_raw.attendance_status where not is_final",
        )
    }
    expected_non_final = {e.id for e in acc.meets_events if now1 - final_after < e.time_end <= now1}
    assert non_final == expected_non_final and non_final
    rows_before = dict(
        query(
            warehouse,
            "select meets_id_conferencing_event, count(*) from meets_raw.attendance group by 1",
        )
    )
    before = attendance_requests(sandbox)

    sandbox.admin("clock", {"advance_days": 1})
    now2 = sandbox_now(sandbox)
    summary = load(sandbox)

    newly_ended = {e.id for e in acc.meets_events if now1 < e.time_end <= now2}
    # only the events that were not final, and the ones that ended since: never a final one again
    assert attendance_requests(sandbox) - before == len(non_final) + len(newly_ended)
    assert summary["attendance"]["attendance_requested"] == len(non_final) + len(newly_ended)
    assert_attendance_equals_sandbox(warehouse, sandbox)
    assert_no_duplicates(warehouse)
    rows_after = dict(
        query(
            warehouse,
            "select meets_id_conferencing_event, count(*) from meets_raw.attendance group by 1",
        )
    )
    events = {e.id: e for e in acc.meets_events}
    for eid in non_final:  # replaced by the complete, final rows (not added to)
        assert rows_after.get(eid, 0) == len(acc.attendance(events[eid], True))
        assert rows_after.get(eid, 0) >= rows_before.get(eid, 0)
    assert any(rows_after.get(eid, 0) > rows_before.get(eid, 0) for eid in non_final)
    (stale,) = query(
        warehouse,
        "select count(*) from meets_raw.attendance a join meets_raw.attendance_status s "
        "using (meets_id_conferencing_event) where a.is_final <> s.is_final",
    )[0]
    assert stale == 0

    # recordings MEETS learned about during the day arrive through the incremental window
    t = truth(sandbox)
    assert (
        query(warehouse, "select count(*) from meets_raw.conference_recordings")[0][0]
        == t["conference_recordings"]
    )
    assert summary["windows"]["recordings_time_added_after"] is not None
    assert summary["windows"]["events_time_end_after"] == now1 - 2 * 86400 - 1
    assert (
        query(warehouse, "select count(*) from meets_raw.conferencing_events")[0][0]
        == t["conferencing_events"]
    )

    # a third run at the same clock asks only for what is still not final
    pending = summary["attendance"]["attendance_pending_after_run"]
    before = attendance_requests(sandbox)
    load(sandbox, resources=["attendance"])
    assert attendance_requests(sandbox) - before == pending
    assert_attendance_equals_sandbox(warehouse, sandbox)


def test_long_filters_go_by_post_and_are_chunked(sandbox) -> None:
    acc, now = account(sandbox), sandbox_now(sandbox)
    visible = [r for r in acc.meets_recordings if r.time_added <= now]
    wanted_events = sorted({r.event_id for r in visible})[::2]
    expected = {r.id for r in visible if r.event_id in wanted_events}
    assert expected and len(expected) < len(visible)

    # MEETS ignores an over-long GET filter: it would silently return every recording
    padding = list(range(100000, 100120))
    long_value = ",".join(map(str, wanted_events + padding))
    raw = sandbox.meets("list_conference_recordings", meetsIdConferencingEvents=long_value).json()
    assert len(raw["conferenceRecordings"]) == len(visible)

    with build_client(settings_for(sandbox)) as client:
        rows = client.list_all(
            "list_conference_recordings", {"meetsIdConferencingEvents": wanted_events + padding}
        )
        assert {r["meetsIdConferenceRecording"] for r in rows} == expected
        assert client.calls_by_method == {"POST": 1}

    with build_client(settings_for(sandbox)) as client:
        many = wanted_events + list(range(100000, 101500))  # ~10 KB as sent: three POST chunks
        rows = client.list_all("list_conference_recordings", {"meetsIdConferencingEvents": many})
        ids = [r["meetsIdConferenceRecording"] for r in rows]
        assert sorted(ids) == sorted(expected)
        assert client.calls_by_method["POST"] >= 3 and "GET" not in client.calls_by_method
        merged = client.call("list_conference_recordings", {"meetsIdConferencingEvents": many})
        assert {int(k) for k in merged["conferenceRecordings"]} == expected


def test_non_json_500s_are_retried_and_the_load_still_equals_truth(sandbox_factory, warehouse: Path) -> None:
    sandbox = sandbox_factory(p500_nonjson=0.3)
    summary = load(sandbox)
    stats = sandbox.admin("stats")
    assert stats["faults"].get("500_nonjson", 0) > 0
    assert summary["requests"]["retries"] >= stats["faults"]["500_nonjson"]
    t = truth(sandbox)
    for table, key in (
        ("conferencing_events", "conferencing_events"),
        ("users", "users"),
        ("course_users", "course_users"),
        ("conference_recordings", "conference_recordings"),
        ("attendance", "attendance_rows"),
        ("attendance_status", "ended_events"),
    ):
        assert query(warehouse, f"select count(*) from meets_raw.{table}")[0][0] == t[key], table
    assert_attendance_equals_sandbox(warehouse, sandbox)


def test_attendance_404_is_reported_and_the_run_completes(sandbox, warehouse: Path) -> None:
    acc, now = account(sandbox), sandbox_now(sandbox)
    ended = [e for e in acc.meets_events if e.time_end <= now and acc.attendance(e, True)][:2]
    summary = load(sandbox, resources=["attendance"], attendance_event_ids=[ended[0].id, 999999, ended[1].id])
    assert summary["attendance"]["attendance_not_found"] == [
        {"meets_id_conferencing_event": 999999, "error": 'Conferencing event with ID "999999" not found'}
    ]
    assert any("999999" in m for m in summary["messages"])
    assert id_set(warehouse, "attendance_status", "meets_id_conferencing_event") == {ended[0].id, ended[1].id}
    assert summary["rows"]["attendance"] == sum(len(acc.attendance(e, True)) for e in ended)


def test_zoom_attendance_daily_limit_is_respected_and_resumes(sandbox, warehouse: Path) -> None:
    acc, now = account(sandbox), sandbox_now(sandbox)
    ended = [e for e in acc.meets_events if e.time_end <= now]
    zoom = [e for e in ended if e.service in ("zoom", "zoomwebinars")]
    other = [e for e in ended if e.service not in ("zoom", "zoomwebinars")]
    assert len(zoom) > 10 and other

    settings = settings_for(sandbox, zoom_attendance_daily_limit=5)
    first = load(sandbox, settings=settings)["attendance"]
    assert first["zoom_attendance_lookups_today"] == 5
    assert first["zoom_attendance_limit_reached"] is True
    assert first["zoom_attendance_deferred"] == len(zoom) - 5
    assert first["attendance_requested"] == 5 + len(other)  # other services are not limited
    assert attendance_requests(sandbox) == 5 + len(other)

    second = load(sandbox, settings=settings)["attendance"]  # same MEETS day: nothing more for Zoom
    final_after = sandbox.server.state.config.attendance_final_after
    not_final_other = [e for e in other if now < e.time_end + final_after]  # asked again until final
    assert second["zoom_attendance_lookups_today"] == 5
    assert second["attendance_requested"] == len(not_final_other)

    sandbox.admin("clock", {"advance_days": 1})
    third = load(sandbox, settings=settings)["attendance"]
    assert third["zoom_attendance_lookups_today"] == 5
    (fetched,) = query(warehouse, "select count(*) from meets_raw.attendance_status")[0]
    later = sandbox_now(sandbox)  # a day on: other services' events that ended since count too
    other_then = [
        e for e in acc.meets_events if e.time_end <= later and e.service not in ("zoom", "zoomwebinars")
    ]
    assert fetched == 10 + len(other_then)  # 5 more Zoom events, none of the first five again


def test_meets_own_429_stops_zoom_attendance_for_the_day(sandbox_factory, warehouse: Path) -> None:
    sandbox = sandbox_factory(zoom_attendance_daily_limit=3)
    summary = load(sandbox)
    att = summary["attendance"]
    assert att["zoom_attendance_limit_reached"] is True
    assert any("daily allowance" in m for m in summary["messages"])
    (fetched,) = query(warehouse, "select count(*) from meets_raw.attendance_status")[0]
    acc, now = account(sandbox), sandbox_now(sandbox)
    other = [e for e in acc.meets_events if e.time_end <= now and e.service not in ("zoom", "zoomwebinars")]
    assert fetched == 3 + len(other)
    # the refused request was sent once, not retried for minutes; later Zoom events were not tried
    assert attendance_requests(sandbox) == 3 + 1 + len(other)


def test_lti_ids_round_trip_through_from_functions(sandbox, warehouse: Path) -> None:
    load(sandbox, resources=["courses", "users"])
    settings = settings_for(sandbox)
    courses = query(
        warehouse, "select meets_id_course, meets_id_connection, lti_id_context from meets_raw.courses"
    )
    users = query(warehouse, "select meets_id_user, meets_id_connection, lti_id_user from meets_raw.users")
    assert courses and users and all(c[2] for c in courses) and all(u[2] for u in users)
    with build_client(settings) as client:
        for course_id, connection_id, lti in courses:
            assert client.from_lti_id_context(connection_id, lti) == course_id
        for user_id, connection_id, lti in users:
            assert client.from_lti_id_user(connection_id, lti) == user_id
        with pytest.raises(MeetsNotFound, match="No course with LTI context ID"):
            client.from_lti_id_context(courses[0][1], "no-such-context")
    assert lookup_lti_context(courses[0][1], courses[0][2], settings=settings) == courses[0][0]
    assert lookup_lti_user(users[0][1], users[0][2], settings=settings) == users[0][0]


def test_a_wrong_token_is_a_clear_auth_error_without_the_token(sandbox) -> None:
    settings = settings_for(sandbox, api_token="wrong-token-1234567")
    with build_client(settings) as client, pytest.raises(MeetsAuthError) as info:
        client.list_all("list_admins")
    text = str(info.value)
    assert "Missing or invalid API token" in text and "sources.meets.api_token" in text
    assert "wrong-token-1234567" not in text and "wrong-token-1234567" not in repr(info.value)


def test_a_failed_load_raises_the_meets_error_not_a_dlt_wrapper(sandbox, warehouse: Path) -> None:
    with pytest.raises(MeetsAuthError, match="MEETS rejected the API token"):
        load(sandbox, settings=settings_for(sandbox, api_token="wrong-token-1234567"), resources=["admins"])


def test_without_a_token_the_embedded_sandbox_is_used_and_said_once(
    sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pipelines import embedded
    from pipelines.meets import settings as settings_module

    monkeypatch.setenv("MW_SANDBOX_URL", sandbox.base)
    monkeypatch.setenv("SOURCES__MEETS__API_TOKEN", "")
    monkeypatch.setenv("SOURCES__MEETS__BASE_URL", "")
    monkeypatch.setattr(settings_module, "_announced", False)
    embedded.reset()
    try:
        with caplog.at_level(logging.INFO, logger="pipelines.meets"):
            s1 = load_settings()
            s2 = load_settings()
    finally:
        embedded.reset()
    assert s1.sandbox and s1.base_url == f"{sandbox.base}/meets/api" and s1 == s2
    assert s1.now() == sandbox_now(sandbox)
    lines = [r for r in caplog.records if "embedded sandbox" in r.getMessage()]
    assert len(lines) == 1
    assert requests.get(s1.clock_url, timeout=10).ok
