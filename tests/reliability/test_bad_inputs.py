"""Bad input: the corpus in ``bad_inputs/`` is served by the sandbox; every run completes, every bad
record lands in ``<dataset>.quarantine`` with its reason (one warning line naming endpoint, record id
and field), nothing else is lost or duplicated, a second run adds nothing, and the dbt models build
and pass their tests on the result.

Expected contents are the truth minus exactly the quarantined records (and what hangs off them: a
quarantined meeting's participants are never fetched, a quarantined course's members never listed,
a quarantined event's links and attendance never loaded), computed from the sandbox's account and
the records the sandbox pinned (``/_sandbox/truth`` -> ``bad_inputs``).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from _support import (
    MEETS_KEYS,
    ZOOM_KEYS,
    connect,
    duplicate_keys,
    meets_actual,
    meets_expected,
    quarantine_rows,
    zoom_actual,
    zoom_expected,
)

from pipelines.meets.pipeline import run_meets_load
from pipelines.meets.settings import MeetsSettings
from pipelines.sandbox.bad_inputs import load_corpus
from pipelines.sandbox.zoom_api import decode_meeting_segment
from pipelines.zoom.pipeline import run_zoom_load

CORPUS = Path(__file__).parent / "bad_inputs"
Z = {
    "users": "/users",
    "users/meetings": "/users/{userId}/meetings",
    "metrics/meetings": "/metrics/meetings",
    "metrics/meetings/participants": "/metrics/meetings/{meetingId}/participants",
    "metrics/meetings/participants/qos": "/metrics/meetings/{meetingId}/participants/qos",
    "users/recordings": "/users/{userId}/recordings",
}
# name -> field the source reports (snake_case for shaped rows, the API's name for map/dup checks)
FIELDS = {
    "zoom-user-missing-email": "user_key",
    "zoom-user-unknown-status": "status",
    "zoom-user-wrong-type": "type",
    "zoom-series-huge-topic": "topic",
    "zoom-meeting-end-without-zone": "end_time",
    "zoom-meeting-negative-duration": "duration",
    "zoom-meeting-duplicate-across-pages": "uuid",
    "zoom-meeting-non-utf8-topic": "topic",
    "zoom-session-leaves-before-joining": "leave_time",
    "zoom-qos-null-minutes": "user_qos",
    "zoom-qos-minute-without-zone": "date_time",
    "zoom-recording-null-files": "recording_files",
    "meets-user-map-key-mismatch": "meetsIdUser",
    "meets-user-missing-id": "meets_id_user",
    "meets-user-duplicate-across-pages": "meetsIdUser",
    "meets-user-non-utf8-name": "name_first",
    "meets-user-huge-email": "email",
    "meets-course-wrong-type": "meets_id_connection",
    "meets-event-negative-duration": "time_end",
    "meets-recording-unknown-type": "type",
    "meets-attendance-null": "attendance",
    "meets-attendance-leaves-before-joining": "time_leave",
}


def scope_meeting(scope: str) -> str:
    segment = urlsplit(scope).path.split("/")[4]
    return decode_meeting_segment(segment)[0]


def scope_event(scope: str) -> int:
    return int(dict(parse_qsl(urlsplit(scope).query))["meetsIdConferencingEvent"])


def expected_quarantine(bad: list[dict], mutations: dict[str, dict]) -> set[tuple[str, str, str]]:
    """``(endpoint, record id, field)`` the sources must report, from what the sandbox pinned."""
    out = set()
    for b in bad:
        if b["expect"] != "quarantine":
            continue
        name, rid = b["name"], b["record_id"]
        if name.startswith("zoom-"):
            endpoint = Z[b["endpoint"]]
            if b["endpoint"] == "metrics/meetings/participants" or name == "zoom-qos-null-minutes":
                rid = f"{scope_meeting(b['scope'])}/{rid}"
            elif name == "zoom-qos-minute-without-zone":
                rid = f"{scope_meeting(b['scope'])}/{rid}/{mutations[name]['value']}"
        else:
            endpoint = b["endpoint"].removeprefix("meets/")
            if name == "meets-attendance-null":
                rid = str(scope_event(b["scope"]))
            elif name == "meets-attendance-leaves-before-joining":
                rid = f"{scope_event(b['scope'])}/{rid}"
        if b["kind"] == "delete" and b["field"] in ("id", "email", "meetsIdUser"):
            rid = "(no id)"
        out.add((endpoint, rid, FIELDS[name]))
    return out


def expected_counts(sb: Any, truth: dict, bad: dict[str, dict]) -> tuple[dict, dict]:
    acc = sb.server.state.account
    now = sb.server.state.now()
    zoom, meets = zoom_expected(truth), meets_expected(truth)
    for name in ("zoom-user-missing-email", "zoom-user-unknown-status", "zoom-user-wrong-type"):
        uid = bad[name]["record_id"]
        zoom["users"] -= 1
        assert not [s for s in acc.series if s.host_id == uid and s.listed]  # no dependents to subtract
        assert not [r for r in acc.recordings if r.meeting.host.id == uid and r.available_at <= now]
    zoom["meeting_series"] -= 1
    for name in (
        "zoom-meeting-end-without-zone",
        "zoom-meeting-negative-duration",
        "zoom-meeting-non-utf8-topic",
    ):
        m = truth["meetings"][bad[name]["record_id"]]
        zoom["meetings"] -= 1
        zoom["meeting_fetch_log"] -= 1
        zoom["participant_sessions"] -= m["listed_sessions"]
        zoom["participant_qos"] -= m["qos_minutes"]
    zoom["participant_sessions"] -= 1  # the session that leaves before it joins
    qos_null = bad["zoom-qos-null-minutes"]
    session = next(
        s for s in acc.sessions[scope_meeting(qos_null["scope"])] if s.user_id == qos_null["record_id"]
    )
    zoom["participant_qos"] -= len(session.minutes) + 1  # ...and the minute without a zone
    rec = next(r for r in acc.recordings if r.meeting.uuid == bad["zoom-recording-null-files"]["record_id"])
    zoom["recordings"] -= 1
    zoom["recording_files"] -= len(rec.files)

    meets["users"] -= 4
    cid = int(bad["meets-course-wrong-type"]["record_id"])
    meets["courses"] -= 1
    meets["course_users"] -= sum(1 for cu in acc.meets_course_users if cu["meetsIdCourse"] == cid)
    event = next(
        e for e in acc.meets_events if e.id == int(bad["meets-event-negative-duration"]["record_id"])
    )
    ts = int(now.timestamp())
    final_after = sb.server.config.attendance_final_after
    meets["conferencing_events"] -= 1
    meets["conferencing_event_courses"] -= len(event.course_ids)
    meets["conferencing_event_users"] -= len(event.user_ids)
    if event.time_end <= ts:
        meets["attendance"] -= len(acc.attendance(event, ts >= event.time_end + final_after))
        meets["attendance_status"] -= 1
    meets["conference_recordings"] -= 1
    null_event = next(
        e for e in acc.meets_events if e.id == scope_event(bad["meets-attendance-null"]["scope"])
    )
    meets["attendance"] -= len(acc.attendance(null_event, ts >= null_event.time_end + final_after)) + 1
    meets["attendance_status"] -= 1
    return zoom, meets


PINNED_NOW = "2026-12-02T00:00:00Z"


def load(sb: Any) -> None:
    run_zoom_load(show=False, progress=False, start_date=sb.info["start_date"], page_size=4)
    run_meets_load(settings=MeetsSettings.from_sandbox_info(sb.info, page_limit=5, requests_per_second=100))


def test_bad_input_is_quarantined_the_rest_loads_exactly_and_the_models_stay_valid(
    tiny: Any, point_at: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the clock pinned (sandbox and pipelines): a mutation needs its target in the account, e.g. a
    # meeting listing of more than one page, which the tiny account has on some days only
    monkeypatch.setenv("MW_NOW", PINNED_NOW)
    caplog.set_level(logging.WARNING, logger="pipelines.quarantine")
    corpus = load_corpus(CORPUS)
    mutations = {m["name"]: m for m in corpus}
    assert set(FIELDS) == {m["name"] for m in corpus if m["expect"] == "quarantine"}
    sb = tiny()
    sb.admin("bad_inputs", {"mutations": corpus})
    warehouse = point_at(sb)
    load(sb)  # completes: nothing raised

    truth = sb.admin("truth")
    bad = {b["name"]: b for b in truth["bad_inputs"]}
    not_applied = [n for n, b in bad.items() if not b["applied"] or b["record_id"] is None]
    assert not_applied == []
    want = expected_quarantine(truth["bad_inputs"], mutations)
    zoom_want, meets_want = expected_counts(sb, truth, bad)

    with connect(warehouse) as con:
        got = {
            (r["endpoint"], "(no id)" if r["record_id"].startswith("(no id)") else r["record_id"], r["field"])
            for r in quarantine_rows(con, "zoom_raw") + quarantine_rows(con, "meets_raw")
        }
        assert got == want
        rows = quarantine_rows(con, "zoom_raw") + quarantine_rows(con, "meets_raw")
        assert all(r["reason"] and r["payload"] and r["load_id"] for r in rows)
        assert max(len(r["payload"]) for r in rows) < 20_000  # huge strings are cut in the payload
        assert zoom_actual(con) == zoom_want
        assert meets_actual(con) == meets_want
        assert (
            duplicate_keys(con, "zoom_raw", {**ZOOM_KEYS, "quarantine": ("endpoint", "record_id", "field")})
            == {}
        )
        assert (
            duplicate_keys(con, "meets_raw", {**MEETS_KEYS, "quarantine": ("endpoint", "record_id", "field")})
            == {}
        )
        # valid-but-odd raw QoS text is loaded verbatim (staging parses it)
        for column, value in (
            ("audio_input__bitrate", "1,234 kbps"),
            ("audio_input__latency", "N/A"),
            ("audio_input__jitter", "-"),
        ):
            assert (
                con.execute(
                    f"select count(*) from zoom_raw.participant_qos where {column} = ?", [value]
                ).fetchone()[0]
                == 1
            ), column
        # no variant columns: a wrong type never reached a raw table
        variants = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where regexp_matches(column_name, '__v_(text|bigint|double|bool|timestamp|json|decimal|date|wei)$')"
        ).fetchall()
        assert variants == []
    # `python -m pipelines doctor` points at the quarantine tables
    from pipelines.doctor import check_warehouse

    notes = [c.message for c in check_warehouse() if c.topic == "quarantine"]
    assert len(notes) == 2 and all("quarantine" in n for n in notes), notes
    said = [r.getMessage() for r in caplog.records]
    for endpoint, rid, field in want:
        assert any(endpoint in m and rid in m and f"field {field}" in m for m in said), (endpoint, rid, field)

    # a second run: the same records are quarantined again (merged, not duplicated), nothing else moves
    counts_before = Counter((r["endpoint"], r["field"]) for r in rows)
    load(sb)
    with connect(warehouse) as con:
        rows2 = quarantine_rows(con, "zoom_raw") + quarantine_rows(con, "meets_raw")
        assert Counter((r["endpoint"], r["field"]) for r in rows2) == counts_before
        assert zoom_actual(con) == zoom_want
        assert meets_actual(con) == meets_want

    # the models stay valid on this warehouse: dbt build (models + their tests) succeeds
    from pipelines.transform import last_result, run_transform

    assert run_transform(quiet=True) == 0
    result = last_result()
    assert result is not None and not result.failures and result.counts.get("pass", 0) >= 20, result
