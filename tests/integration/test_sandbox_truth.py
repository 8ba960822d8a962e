"""The truth file for the default scale, checked against an independent count over the served API.

The truth CLI computes its numbers from the generator's objects; this test counts the same things
by walking the sandbox's HTTP API the way any client would, with its own small loops (not the
project's sources), so a disagreement means the sandbox serves something other than its truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from urllib.parse import quote

from pipelines.sandbox import Scale


def _encode_uuid(uuid: str) -> str:
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


def _walk(client, path: str, token: str, key: str, **params) -> list[dict]:
    items: list[dict] = []
    page_token = ""
    while True:
        q = dict(params)
        if page_token:
            q["next_page_token"] = page_token
        resp = client.zoom_get(path, token, **q)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        body = resp.json()
        items += body[key]
        page_token = body.get("next_page_token", "")
        if not page_token:
            return items


def _windows(start: date, end: date, days: int = 30) -> list[tuple[str, str]]:
    out = []
    cur = start
    while cur <= end:
        stop = min(end, cur + timedelta(days=days))
        out.append((cur.isoformat(), stop.isoformat()))
        cur = stop + timedelta(days=1)
    return out


def _meets_walk(client, function: str, entity: str, **params) -> dict[str, dict]:
    out: dict[str, dict] = {}
    after = 0
    while True:
        resp = client.meets(function, limit=1000, startAfterId=after, **params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        for k, v in body[entity].items():
            assert k not in out, f"{function} returned {k} twice"
            out[k] = v
        if body["nextPageStartAfterId"] is None:
            return out
        after = body["nextPageStartAfterId"]


def test_default_scale_truth_matches_served_api(sandbox_factory, tmp_path):
    truth_file = tmp_path / "truth.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "sandbox",
            "truth",
            "--scale",
            "default",
            "--out",
            str(truth_file),
        ],
        check=True,
    )
    truth = json.loads(truth_file.read_text())
    client = sandbox_factory(scale=Scale.named("default"), enforce_rate_limits=False)
    assert client.info["start_date"] == truth["start_date"]
    token = client.s2s_token()

    users = []
    for status in ("active", "inactive", "pending"):
        users += _walk(client, "/users", token, "users", status=status, page_size=300)
    assert len(users) == truth["zoom"]["users"]
    # Zoom sends no id for pending users; everyone else has a distinct one
    with_id = [u for u in users if "id" in u]
    assert len(users) - len(with_id) == truth["zoom"]["users_without_id"]
    assert len({u["id"] for u in with_id}) == len(with_id)

    start = date.fromisoformat(truth["start_date"])
    today = date.fromisoformat(client.info["clock"][:10])
    meetings = []
    for frm, to in _windows(start, today):
        meetings += _walk(
            client,
            "/metrics/meetings",
            token,
            "meetings",
            type="past",
            page_size=300,
            **{"from": frm, "to": to},
        )
    assert len(meetings) == truth["zoom"]["meetings"]
    assert len({m["uuid"] for m in meetings}) == len(meetings)

    sessions = qos_minutes = 0
    for m in meetings:
        enc = _encode_uuid(m["uuid"])
        parts = _walk(
            client, f"/metrics/meetings/{enc}/participants", token, "participants", type="past", page_size=300
        )
        qos = _walk(
            client,
            f"/metrics/meetings/{enc}/participants/qos",
            token,
            "participants",
            type="past",
            page_size=10,
        )
        t = truth["meetings"][m["uuid"]]
        assert len(parts) == t["listed_sessions"]  # waiting-room stints included
        in_meeting = [p for p in parts if p["status"] == "in_meeting"]
        assert len(in_meeting) == len(qos) == t["sessions"]  # no QoS for the waiting room
        sessions += len(in_meeting)
        qos_minutes += sum(len(p["user_qos"]) for p in qos)
    assert sessions == truth["zoom"]["participant_sessions"]
    assert qos_minutes == truth["zoom"]["qos_participant_minutes"]

    recordings = trash = files = 0
    for u in with_id:
        for frm, to in _windows(start, today):
            recs = _walk(
                client,
                f"/users/{u['id']}/recordings",
                token,
                "meetings",
                page_size=300,
                **{"from": frm, "to": to},
            )
            recordings += len(recs)
            files += sum(len(r["recording_files"]) for r in recs)
        trash += len(
            _walk(client, f"/users/{u['id']}/recordings", token, "meetings", page_size=300, trash="true")
        )
    assert recordings == truth["zoom"]["recordings"]
    assert trash == truth["zoom"]["recordings_in_trash"]
    assert files == truth["zoom"]["recording_files"]

    t_meets = truth["meets"]
    assert len(_meets_walk(client, "list_admins", "admins")) == t_meets["admins"]
    assert len(_meets_walk(client, "list_connections", "connections")) == t_meets["connections"]
    courses = _meets_walk(client, "list_courses", "courses")
    assert len(courses) == t_meets["courses"]
    assert len(_meets_walk(client, "list_users", "users")) == t_meets["users"]
    course_users = sum(
        len(_meets_walk(client, "list_course_users", "users", meetsIdCourse=c)) for c in courses
    )
    assert course_users == t_meets["course_users"]
    events = _meets_walk(client, "list_conferencing_events", "conferencingEvents")
    assert len(events) == t_meets["conferencing_events"]
    assert sum(len(e["meetsIdCourses"]) for e in events.values()) == t_meets["event_courses"]
    assert (
        len(_meets_walk(client, "list_conference_recordings", "conferenceRecordings"))
        == t_meets["conference_recordings"]
    )
    rows = final = 0
    for e in events.values():
        resp = client.meets(
            "get_conferencing_event_attendance", meetsIdConferencingEvent=e["meetsIdConferencingEvent"]
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        rows += len(body["attendance"])
        final += int(body["isFinal"])
    assert rows == t_meets["attendance_rows"]
    assert final == t_meets["events_with_final_attendance"]
