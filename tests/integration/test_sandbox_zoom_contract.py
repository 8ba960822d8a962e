"""Contract tests of the sandbox's Zoom API over real loopback HTTP.

Every check compares the wire output with the generated account (``server.state.account``) exactly,
so a sandbox that drops, duplicates or reshapes data fails here before any pipeline test runs.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests

from pipelines.sandbox import SandboxConfig
from pipelines.sandbox.account import (
    Account,
    Meeting,
    Recording,
    connector_block,
    iso,
    needs_double_encoding,
    zoom_duration,
)
from pipelines.sandbox.config import default_clock_base
from pipelines.sandbox.zoom_api import recording_visibility, trashed_at

WINDOW_BODY = {
    "code": 300,
    "message": "The request can only be queried for a month that falls within the last six months.",
}
PAGE_TOKEN_BODY = {"code": 300, "message": "The next page token is invalid or expired."}
QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
PASSCODE_BODY = {
    "code": 300,
    "message": "This recording is passcode protected. Download it with a user-level OAuth token (General app) "
    "or the meeting's download_access_token.",
}
NO_RECORDING_BODY = {"code": 3301, "message": "This recording does not exist."}

USER_KEYS = {
    "id", "email", "type", "first_name", "last_name", "display_name", "status", "role_id", "dept",
    "timezone", "pmi", "verified", "created_at", "user_created_at", "group_ids",
}  # fmt: skip
DASHBOARD_KEYS = {
    "uuid", "id", "topic", "host", "email", "user_type", "dept", "start_time", "end_time", "duration",
    "participants", "has_pstn", "has_voip", "has_3rd_party_audio", "has_video", "has_screen_share",
    "has_recording", "has_sip", "has_archiving", "audio_quality", "video_quality", "screen_share_quality",
    "custom_keys", "tracking_fields", "session_key",
}  # fmt: skip
PARTICIPANT_KEYS = {
    "id", "user_id", "participant_user_id", "participant_uuid", "user_name", "email", "registrant_id",
    "join_time", "leave_time", "leave_reason", "status", "role", "device", "os", "os_version", "client",
    "version", "ip_address", "internal_ip_addresses", "location", "data_center", "full_data_center",
    "network_type", "connection_type", "mac_addr", "pc_name", "domain", "harddisk_id", "microphone",
    "speaker", "camera", "audio_quality", "video_quality", "screen_share_quality", "share_application",
    "share_desktop", "share_whiteboard", "recording", "has_archiving", "in_room_participants",
    "customer_key", "groupId",
}  # fmt: skip
QOS_PARTICIPANT_KEYS = {
    "id", "user_id", "user_name", "device", "client", "version", "ip_address", "internal_ip_addresses",
    "location", "domain", "pc_name", "mac_addr", "harddisk_id", "join_time", "leave_time", "user_qos",
}  # fmt: skip
RECORDING_KEYS = {
    "uuid", "id", "account_id", "host_id", "topic", "type", "start_time", "timezone", "duration",
    "total_size", "recording_count", "share_url", "auto_delete", "recording_files",
}  # fmt: skip
FILE_KEYS_FULL = {
    "id", "meeting_id", "recording_start", "recording_end", "file_type", "file_extension", "file_size",
    "play_url", "download_url", "status", "recording_type",
}  # fmt: skip
FILE_KEYS_NO_ID = {
    "meeting_id",
    "recording_start",
    "recording_end",
    "file_type",
    "file_extension",
    "download_url",
}
PAGE_KEYS = {"page_count", "page_size", "total_records", "next_page_token"}


# ----------------------------------------------------------------------------- helpers
def enc1(uuid: str) -> str:
    return quote(uuid, safe="")


def enc2(uuid: str) -> str:
    return quote(quote(uuid, safe=""), safe="")


def enc(uuid: str) -> str:
    """Zoom's rule: double-encode only UUIDs that begin with ``/`` or contain ``//``."""
    return enc2(uuid) if needs_double_encoding(uuid) else enc1(uuid)


def walk(sb, path: str, token: str, key: str, **params: object) -> list[dict]:
    """Follow next_page_token to the end; checks the pagination keys on every page."""
    items: list[dict] = []
    pages = 0
    params = dict(params)
    while True:
        r = sb.zoom_get(path, token, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.keys() >= PAGE_KEYS
        items += body[key]
        pages += 1
        assert pages <= 1000
        if body["next_page_token"] == "":
            break
        assert len(body[key]) == body["page_size"]
        params["next_page_token"] = body["next_page_token"]
    assert len(items) == body["total_records"]
    assert pages == max(1, body["page_count"])
    return items


def state(sb):
    return sb.server.state


def account(sb) -> Account:
    return sb.server.state.account


def attending(acc: Account, m: Meeting) -> list:
    """A meeting's attendance sessions: Zoom's participant rows without the waiting-room stints."""
    return [s for s in acc.sessions[m.uuid] if s.in_meeting]


def now_of(sb) -> datetime:
    return sb.server.state.now()


def seed_where(predicate: Callable[[Account, datetime], bool]) -> int:
    """A seed whose account (as a sandbox started now would build it) satisfies ``predicate``."""
    cfg = SandboxConfig.from_env()
    now = default_clock_base(cfg)
    start = now.date() - timedelta(days=cfg.scale.days)
    for seed in range(cfg.seed, cfg.seed + 200):
        if predicate(Account(seed, cfg.scale, start_date=start), now):
            return seed
    raise AssertionError("no seed gives an account with the wanted feature")


def past(acc: Account, now: datetime) -> list[Meeting]:
    return [m for m in acc.meetings if m.end <= now]


def visible(acc: Account, now: datetime) -> list[Recording]:
    return [r for r in acc.recordings if recording_visibility(r, now) == "available"]


def minutes(seconds: float) -> int:
    return max(1, (int(seconds) + 30) // 60)


def user_token(sb) -> tuple[str, str]:
    """Authorization-code flow: returns (access token, refresh token)."""
    info = sb.info
    r = requests.get(
        f"{sb.base}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": info["client_id"],
            "redirect_uri": info["redirect_uri"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302
    code = parse_qs(urlparse(r.headers["Location"]).query)["code"][0]
    r = requests.post(
        f"{sb.base}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": info["redirect_uri"]},
        headers={"Authorization": "Basic " + _basic(info["client_id"], info["client_secret"])},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return body["access_token"], body["refresh_token"]


def _basic(client_id: str, secret: str) -> str:
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def refresh(sb, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{sb.base}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": "Basic " + _basic(sb.info["client_id"], sb.info["client_secret"])},
        timeout=30,
    )


def dl(sb, key: str, token: str | None = None, query_token: str | None = None, **headers: str):
    h = dict(headers)
    if token:
        h["Authorization"] = f"Bearer {token}"
    params = {"access_token": query_token} if query_token else None
    return requests.get(f"{sb.base}/rec/download/{key}", params=params, headers=h, timeout=60)


def window(sb, first: date, last: date) -> dict:
    return {"from": first.isoformat(), "to": last.isoformat()}


# ----------------------------------------------------------------------------- users
def test_users_pagination_walks_every_status_exactly(sandbox):
    tok = sandbox.s2s_token()
    acc = account(sandbox)
    for status in ("active", "inactive", "pending"):
        items = walk(sandbox, "/users", tok, "users", status=status, page_size=2)
        assert [u["email"] for u in items] == [u.email for u in acc.users if u.status == status]
        for item in items:
            # the spec: "The API does not return this value [id] for users with the pending status"
            assert ("id" in item) == (status != "pending")
            assert item.keys() >= USER_KEYS - ({"id"} if status == "pending" else set())
            assert item["status"] == status
            assert isinstance(item["type"], int) and isinstance(item["pmi"], int)
            assert item["created_at"].endswith("Z")
            assert ("last_login_time" in item) == (status != "pending")
    r = sandbox.zoom_get("/users", tok)
    body = r.json()
    assert body["page_size"] == 30 and body["page_number"] == 1 and body["next_page_token"] == ""
    assert len(body["users"]) == sum(u.status == "active" for u in acc.users)
    assert sandbox.zoom_get("/users", tok, page_size=1000).json()["page_size"] == 300
    bad = sandbox.zoom_get("/users", tok, status="deleted")
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_user_meetings_lists_the_hosts_scheduled_series(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    seen_types = set()
    for host in acc.hosts:
        expected = sorted(
            (s for s in acc.series if s.host_id == host.id and s.listed and s.created_at <= now),
            key=lambda s: (s.created_at, s.id),
        )
        items = walk(sandbox, f"/users/{host.id}/meetings", tok, "meetings", page_size=3)
        assert [m["id"] for m in items] == [s.id for s in expected]
        for item, s in zip(items, expected, strict=True):
            assert item["type"] in (2, 8) and item["type"] == s.type
            assert item["host_id"] == host.id and item["topic"] == s.topic and item["duration"] == s.duration
            assert item["join_url"] and item["created_at"] == iso(s.created_at)
            if s.type == 2:
                assert item["start_time"] == iso(s.start_time)
            seen_types.add(s.type)
        by_email = walk(sandbox, f"/users/{quote(host.email)}/meetings", tok, "meetings")
        assert by_email == items
    assert seen_types == {2, 8}
    r = sandbox.zoom_get("/users/nobody@example.com/meetings", tok)
    assert r.status_code == 404
    assert r.json() == {"code": 1001, "message": "User does not exist: nobody@example.com."}


def test_meeting_detail_by_number_and_instant_meetings_404(sandbox):
    tok = sandbox.s2s_token()
    acc = account(sandbox)
    recurring = next(s for s in acc.series if s.type == 8)
    body = sandbox.zoom_get(f"/meetings/{recurring.id}", tok).json()
    assert body["id"] == recurring.id and body["type"] == 8 and body["recurrence"] == recurring.recurrence
    one_off = next(s for s in acc.series if s.type == 2)
    body = sandbox.zoom_get(f"/meetings/{one_off.id}", tok).json()
    assert body["type"] == 2 and body["start_time"] == iso(one_off.start_time) and "recurrence" not in body
    pmi = acc.hosts[0].pmi
    body = sandbox.zoom_get(f"/meetings/{pmi}", tok).json()
    assert body["type"] == 4 and body["id"] == pmi and body["host_id"] == acc.hosts[0].id
    instant = next(s for s in acc.series if s.type == 1)
    r = sandbox.zoom_get(f"/meetings/{instant.id}", tok)
    assert r.status_code == 404
    assert r.json() == {"code": 3001, "message": f"Meeting does not exist: {instant.id}."}


# ----------------------------------------------------------------------------- reports and windows
def test_report_users_active_and_inactive_match_the_account(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    first, last = now.date() - timedelta(days=5), now.date()
    stats: dict[str, list[int]] = {}
    for m in past(acc, now):
        if first <= m.start.date() <= last:
            row = stats.setdefault(m.host.id, [0, 0, 0])
            row[0] += 1
            row[1] += len(attending(acc, m))
            row[2] += minutes(m.duration_seconds)
    r = sandbox.zoom_get("/report/users", tok, page_size=2, **window(sandbox, first, last))
    assert r.headers["X-RateLimit-Category"] == "Heavy"
    body = r.json()
    assert body["from"] == first.isoformat() and body["to"] == last.isoformat()
    assert body["total_meetings"] == sum(v[0] for v in stats.values())
    assert body["total_participants"] == sum(v[1] for v in stats.values())
    assert body["total_meeting_minutes"] == sum(v[2] for v in stats.values())
    active = walk(sandbox, "/report/users", tok, "users", page_size=2, **window(sandbox, first, last))
    assert [u["id"] for u in active] == [u.id for u in acc.users if u.id in stats]
    for u in active:
        assert [u["meetings"], u["participants"], u["meeting_minutes"]] == stats[u["id"]]
        assert {"email", "user_name", "type", "dept", "custom_attributes"} <= u.keys()
    inactive = walk(sandbox, "/report/users", tok, "users", type="inactive", **window(sandbox, first, last))
    assert [u["id"] for u in inactive] == [
        u.id for u in acc.users if u.id not in stats and u.status != "pending"
    ]
    assert all(u["meetings"] == 0 for u in inactive)


@pytest.mark.parametrize("path", ["/metrics/meetings", "/report/users"])
def test_date_window_limits(sandbox, path):
    tok = sandbox.s2s_token()
    today = now_of(sandbox).date()
    extra = {"type": "past"} if path == "/metrics/meetings" else {}
    ok = sandbox.zoom_get(path, tok, **extra, **window(sandbox, today - timedelta(days=30), today))
    assert ok.status_code == 200, ok.text
    too_long = sandbox.zoom_get(path, tok, **extra, **window(sandbox, today - timedelta(days=31), today))
    assert too_long.status_code == 400 and too_long.json() == WINDOW_BODY
    too_old = sandbox.zoom_get(
        path, tok, **extra, **window(sandbox, today - timedelta(days=200), today - timedelta(days=190))
    )
    assert too_old.status_code == 400 and too_old.json() == WINDOW_BODY
    missing = sandbox.zoom_get(path, tok, **extra)
    assert missing.status_code == 400 and missing.json()["code"] == 300
    bad = sandbox.zoom_get(path, tok, **extra, **{"from": "2026/01/01", "to": today.isoformat()})
    assert bad.status_code == 400 and bad.json()["code"] == 300


# ----------------------------------------------------------------------------- dashboard
def test_dashboard_meetings_walk_equals_past_meetings(sandbox_factory):
    sb = sandbox_factory(enforce_rate_limits=False)
    tok = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    start = acc.start_date
    windows = [
        (start, start + timedelta(days=3)),
        (start + timedelta(days=4), now.date() + timedelta(days=1)),
    ]
    got: list[dict] = []
    for first, last in windows:
        got += walk(
            sb, "/metrics/meetings", tok, "meetings", type="past", page_size=5, **window(sb, first, last)
        )
    expected = [m for m in past(acc, now) if len({s.person.key for s in attending(acc, m)}) >= 2]
    assert len(expected) > 20
    assert [m["uuid"] for m in got] == [m.uuid for m in expected]
    for item, m in zip(got, expected, strict=True):
        assert item.keys() >= DASHBOARD_KEYS
        sessions = attending(acc, m)
        assert item["id"] == m.id and item["topic"] == m.topic and item["email"] == m.host.email
        assert item["start_time"] == iso(m.start) and item["end_time"] == iso(m.end)
        assert item["duration"] == zoom_duration(m.duration_seconds)
        assert isinstance(item["duration"], str) and item["duration"].count(":") in (1, 2)
        assert item["participants"] == len(sessions)
        assert item["has_recording"] == m.has_recording
        assert item["has_pstn"] == any(s.device == "Phone" for s in sessions)
        assert item["has_screen_share"] == any(s.shares for s in sessions)
        assert item["audio_quality"] in ("good", "fair", "poor")
    one = sb.zoom_get("/metrics/meetings", tok, type="pastOne", **window(sb, start, now.date())).json()
    assert one["total_records"] == len(past(acc, now)) - len(expected)
    live = sb.zoom_get("/metrics/meetings", tok, **window(sb, start, now.date())).json()
    assert live["total_records"] == sum(m.start <= now < m.end for m in acc.meetings)


def test_dashboard_meeting_detail_and_default_live_type(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    m = next(m for m in reversed(past(acc, now)) if not needs_double_encoding(m.uuid))
    r = sandbox.zoom_get(f"/metrics/meetings/{enc(m.uuid)}", tok, type="past")
    assert r.status_code == 200
    body = r.json()
    # the detail's published schema has no quality labels, session key or tracking fields
    detail_keys = DASHBOARD_KEYS - {
        "audio_quality",
        "video_quality",
        "screen_share_quality",
        "session_key",
        "tracking_fields",
    }
    assert body.keys() >= detail_keys and body["uuid"] == m.uuid
    assert not body.keys() & {"audio_quality", "video_quality", "screen_share_quality"}
    assert body["in_room_participants"] == 0 and body["has_meeting_summary"] is False
    default = sandbox.zoom_get(f"/metrics/meetings/{enc(m.uuid)}", tok)
    assert default.status_code == 404
    assert default.json() == {"code": 3001, "message": f"Meeting does not exist: {m.uuid}."}
    series = next(s for s in acc.series if s.type == 8 and any(x.series is s for x in past(acc, now)))
    latest = [x for x in past(acc, now) if x.series is series][-1]
    by_number = sandbox.zoom_get(f"/metrics/meetings/{series.id}", tok, type="past").json()
    assert by_number["uuid"] == latest.uuid


def test_participants_one_item_per_session_and_live_default_404(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)

    def rejoins(m: Meeting) -> bool:
        keys = [s.person.key for s in attending(acc, m)]
        return len(keys) > len(set(keys))

    m = next(m for m in past(acc, now) if rejoins(m) and not needs_double_encoding(m.uuid))
    path = f"/metrics/meetings/{enc(m.uuid)}/participants"
    items = walk(sandbox, path, tok, "participants", type="past", page_size=4)
    sessions = acc.sessions[m.uuid]
    assert [p["user_id"] for p in items] == [s.user_id for s in sessions]
    for p, s in zip(items, sessions, strict=True):
        assert p.keys() >= PARTICIPANT_KEYS
        assert p["user_name"] == s.person.name and p["id"] == s.person.zoom_user_id
        assert p["join_time"] == iso(s.join) and p["leave_time"] == iso(s.leave)
        assert p["role"] == ("host" if s.is_host else "attendee") and p["status"] == s.status
        assert p["device"] == s.device and p["network_type"] == s.network_type
    assert len({p["participant_uuid"] for p in items}) < len(items)  # a rejoin: same person, two sessions
    default = sandbox.zoom_get(path, tok)
    assert default.status_code == 404
    assert default.json() == {"code": 3001, "message": f"Meeting does not exist: {m.uuid}."}
    assert sandbox.zoom_get(path, tok, type="past", page_size=1000).json()["page_size"] == 300


def test_qos_pages_hold_every_session_and_minute(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    meetings = sorted(past(acc, now), key=lambda m: -len(acc.sessions[m.uuid]))[:2]
    meetings.append(next(m for m in past(acc, now) if any(s.device == "Phone" for s in acc.sessions[m.uuid])))
    meetings.append(next(m for m in past(acc, now) if needs_double_encoding(m.uuid)))
    for m in meetings:
        path = f"/metrics/meetings/{enc(m.uuid)}/participants/qos"
        items = walk(sandbox, path, tok, "participants", type="past", page_size=10)
        sessions = attending(acc, m)  # the waiting room has no QoS
        assert len(items) == len(sessions)
        for p, s in zip(items, sessions, strict=True):
            assert p.keys() >= QOS_PARTICIPANT_KEYS
            assert p["user_id"] == s.user_id
            assert len(p["user_qos"]) == len(s.minutes)
            assert p["user_qos"] == acc.qos(s)
            for sample in p["user_qos"]:
                for stream in (
                    "audio_input",
                    "audio_output",
                    "video_input",
                    "video_output",
                    "as_input",
                    "as_output",
                ):
                    block = sample.get(stream) or sample[connector_block(stream, s.connector)]
                    assert all(isinstance(v, str) for v in block.values())
                lat = (sample.get("audio_input") or sample[connector_block("audio_input", s.connector)])[
                    "latency"
                ]
                assert lat == "" or (lat.endswith(" ms") and lat[:-3].isdigit())
    m = meetings[0]
    first = sandbox.zoom_get(f"/metrics/meetings/{enc(m.uuid)}/participants/qos", tok, type="past").json()
    assert first["page_size"] == 1 and len(first["participants"]) == 1
    assert first["page_count"] == len(attending(acc, m))
    big = sandbox.zoom_get(
        f"/metrics/meetings/{enc(m.uuid)}/participants/qos", tok, type="past", page_size=50
    )
    assert big.json()["page_size"] == 10


def test_past_meeting_detail(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    m = past(acc, now)[-1]
    body = sandbox.zoom_get(f"/past_meetings/{enc(m.uuid)}", tok).json()
    sessions = attending(acc, m)
    assert body["uuid"] == m.uuid and body["id"] == m.id and body["type"] == m.type
    assert body["host_id"] == m.host.id and body["user_email"] == m.host.email
    assert body["duration"] == minutes(m.duration_seconds) and isinstance(body["duration"], int)
    assert body["participants_count"] == len(sessions)
    assert body["total_minutes"] == sum(minutes((s.leave - s.join).total_seconds()) for s in sessions)
    future = next(x for x in acc.meetings if x.end > now)
    r = sandbox.zoom_get(f"/past_meetings/{enc(future.uuid)}", tok)
    assert r.status_code == 404 and r.json()["code"] == 3001


def test_double_encoded_uuids_required_for_slashy_uuids(sandbox_factory):
    seed = seed_where(
        lambda a, now: (
            any(needs_double_encoding(r.meeting.uuid) for r in visible(a, now))
            and any(not needs_double_encoding(m.uuid) and "/" in m.uuid for m in past(a, now))
        )
    )
    sb = sandbox_factory(seed=seed)
    tok = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    rec = next(r for r in visible(acc, now) if needs_double_encoding(r.meeting.uuid))
    uuid = rec.meeting.uuid
    paths = [
        ("/metrics/meetings/{}", {"type": "past"}),
        ("/metrics/meetings/{}/participants", {"type": "past"}),
        ("/metrics/meetings/{}/participants/qos", {"type": "past"}),
        ("/past_meetings/{}", {}),
        ("/meetings/{}/recordings", {}),
    ]
    for template, params in paths:
        good = sb.zoom_get(template.format(enc2(uuid)), tok, **params)
        assert good.status_code == 200, (template, good.text)
        single = sb.zoom_get(template.format(enc1(uuid)), tok, **params)
        assert single.status_code == 404, template
        assert single.json() == {"code": 3001, "message": f"Meeting does not exist: {uuid}."}
    body = sb.zoom_get(f"/meetings/{enc2(uuid)}/recordings", tok).json()
    assert body["uuid"] == uuid
    normal = next(m for m in past(acc, now) if not needs_double_encoding(m.uuid) and "/" in m.uuid)
    for encoded in (enc1(normal.uuid), enc2(normal.uuid)):
        assert sb.zoom_get(f"/past_meetings/{encoded}", tok).json()["uuid"] == normal.uuid


# ----------------------------------------------------------------------------- pagination tokens
def test_page_token_expires(sandbox_factory):
    sb = sandbox_factory(page_token_lifetime=1)
    tok = sb.s2s_token()
    body = sb.zoom_get("/users", tok, page_size=2).json()
    assert body["next_page_token"]
    time.sleep(1.2)
    r = sb.zoom_get("/users", tok, page_size=2, next_page_token=body["next_page_token"])
    assert r.status_code == 400 and r.json() == PAGE_TOKEN_BODY


def test_page_token_is_bound_to_its_query(sandbox):
    tok = sandbox.s2s_token()
    acc = account(sandbox)
    active = [u.id for u in acc.users if u.status == "active"]
    nxt = sandbox.zoom_get("/users", tok, status="active", page_size=2).json()["next_page_token"]
    r = sandbox.zoom_get("/users", tok, status="inactive", page_size=2, next_page_token=nxt)
    assert r.status_code == 400 and r.json() == PAGE_TOKEN_BODY
    bogus = sandbox.zoom_get("/users", tok, status="active", next_page_token="not-a-token")
    assert bogus.status_code == 400 and bogus.json() == PAGE_TOKEN_BODY
    # a different page size on the next page is fine
    r = sandbox.zoom_get("/users", tok, status="active", page_size=3, next_page_token=nxt)
    assert r.status_code == 200
    assert [u["id"] for u in r.json()["users"]] == active[2:5]


# ----------------------------------------------------------------------------- OAuth
def test_s2s_token_and_wrong_credentials(sandbox):
    info = sandbox.info
    good = requests.post(
        f"{sandbox.base}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": info["account_id"]},
        headers={"Authorization": "Basic " + _basic(info["client_id"], info["client_secret"])},
        timeout=30,
    )
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "bearer" and "refresh_token" not in body and body["expires_in"] > 0
    assert sandbox.zoom_get("/users", body["access_token"]).status_code == 200
    bad = requests.post(
        f"{sandbox.base}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": info["account_id"]},
        headers={"Authorization": "Basic " + _basic(info["client_id"], "wrong-secret")},
        timeout=30,
    )
    # real token endpoints answer wrong app credentials with HTTP 400 (audit #11)
    assert bad.status_code == 400
    assert bad.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}


def test_authorization_code_flow_and_refresh_rotation(sandbox):
    access, refresh_token = user_token(sandbox)
    assert sandbox.zoom_get("/users", access).status_code == 200
    r1 = refresh(sandbox, refresh_token)
    assert r1.status_code == 200
    new_refresh = r1.json()["refresh_token"]
    assert new_refresh != refresh_token
    stale = refresh(sandbox, refresh_token)
    assert stale.status_code == 400
    assert stale.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    r2 = refresh(sandbox, new_refresh)
    assert r2.status_code == 200 and sandbox.zoom_get("/users", r2.json()["access_token"]).status_code == 200


def test_access_token_expiry(sandbox_factory):
    sb = sandbox_factory(token_lifetime=1)
    tok = sb.s2s_token()
    assert sb.zoom_get("/users", tok).status_code == 200
    time.sleep(1.2)
    r = sb.zoom_get("/users", tok)
    assert r.status_code == 401 and r.json()["code"] == 124


def test_token_in_query_string_or_missing_is_refused(sandbox):
    tok = sandbox.s2s_token()
    r = requests.get(f"{sandbox.base}/v2/users", params={"access_token": tok}, timeout=30)
    assert r.status_code == 401
    assert r.json() == {
        "code": 124,
        "message": "Invalid access token, this access token is not supported as query parameter string.",
    }
    none = requests.get(f"{sandbox.base}/v2/users", timeout=30)
    assert none.status_code == 401 and none.json() == {"code": 124, "message": "Invalid access token."}
    bogus = sandbox.zoom_get("/users", "sbx_at_bogus")
    assert bogus.status_code == 401 and bogus.json() == {"code": 124, "message": "Invalid access token."}


# ----------------------------------------------------------------------------- rate limits and counters
def test_rate_limit_headers_on_success(sandbox):
    tok = sandbox.s2s_token()
    today = now_of(sandbox).date()
    r1 = sandbox.zoom_get("/report/users", tok, **window(sandbox, today - timedelta(days=3), today))
    assert r1.headers["X-RateLimit-Category"] == "Heavy"
    assert r1.headers["X-RateLimit-Limit"] == "60000" and r1.headers["X-RateLimit-Remaining"] == "59999"
    r2 = sandbox.zoom_get(
        "/metrics/meetings", tok, type="past", **window(sandbox, today - timedelta(days=3), today)
    )
    assert r2.headers["X-RateLimit-Category"] == "Resource-intensive"
    assert r2.headers["X-RateLimit-Remaining"] == "59998"  # heavy + resource-intensive share one cap
    r3 = sandbox.zoom_get("/users", tok)
    assert r3.headers["X-RateLimit-Category"] == "Medium"


def test_resource_intensive_per_minute_limit(sandbox):
    tok = sandbox.s2s_token()
    today = now_of(sandbox).date()
    params = {"type": "past", **window(sandbox, today - timedelta(days=2), today)}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: sandbox.zoom_get("/metrics/meetings", tok, **params), range(25)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 20 + [429] * 5  # business: 20 per minute
    for r in responses:
        if r.status_code == 429:
            assert r.json() == {"code": 429, "message": QPS_MESSAGE}
            assert r.headers["X-RateLimit-Type"] == "QPS"
            assert r.headers["X-RateLimit-Category"] == "Resource-intensive"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
    stats = sandbox.admin("stats")
    assert stats["received"]["resource_intensive"] == 25
    assert stats["rejected_429"]["resource_intensive"] == 5


def test_free_plan_heavy_per_second_limit(sandbox_factory):
    sb = sandbox_factory(plan="free")
    tok = sb.s2s_token()
    m = past(account(sb), now_of(sb))[-1]
    path = f"/metrics/meetings/{enc(m.uuid)}"
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: sb.zoom_get(path, tok, type="past"), range(4)))
    codes = [r.status_code for r in responses]
    assert 200 in codes and 429 in codes
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["X-RateLimit-Type"] == "QPS" and refused.headers["Retry-After"] == "1"
    assert refused.json() == {"code": 429, "message": QPS_MESSAGE}


def test_free_plan_daily_limit(sandbox_factory):
    sb = sandbox_factory(plan="free")
    tok = sb.s2s_token()
    now = now_of(sb)
    state(sb).daily[(now.date().isoformat(), "heavy")] = 1000
    m = past(account(sb), now)[-1]
    r = sb.zoom_get(f"/metrics/meetings/{enc(m.uuid)}/participants", tok, type="past")
    assert r.status_code == 429
    assert r.json() == {"code": 429, "message": DAILY_MESSAGE}
    assert r.headers["X-RateLimit-Type"] == "Daily-limit" and r.headers["X-RateLimit-Remaining"] == "0"
    assert r.headers["Retry-After"] == (now.date() + timedelta(days=1)).isoformat() + "T00:00:00Z"
    assert sb.zoom_get(f"/past_meetings/{enc(m.uuid)}", tok).status_code == 200  # light is unaffected


def test_stats_count_every_request_per_category(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    today = now.date()
    m = past(acc, now)[-1]
    rec = next(r for r in visible(acc, now) if not r.passcode)
    sandbox.admin("reset", {})
    for _ in range(3):
        sandbox.zoom_get("/users", tok)
    for _ in range(2):
        sandbox.zoom_get(f"/past_meetings/{enc(m.uuid)}", tok)
    for _ in range(4):
        sandbox.zoom_get(f"/metrics/meetings/{enc(m.uuid)}/participants", tok, type="past")
    sandbox.zoom_get("/metrics/meetings", tok, type="past", **window(sandbox, today, today))
    for _ in range(2):
        dl(sandbox, rec.files[0].key, tok)
    sandbox.s2s_token()
    stats = sandbox.admin("stats")
    assert stats["received"] == {
        "medium": 3,
        "light": 2,
        "heavy": 4,
        "resource_intensive": 1,
        "download": 2,
        "oauth": 1,
    }
    assert stats["by_endpoint"]["users"] == 3 and stats["by_endpoint"]["metrics/meetings/participants"] == 4


# ----------------------------------------------------------------------------- recordings
def test_recordings_listing_shapes_and_exact_contents(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    first, last = acc.start_date, now.date()
    seen_no_id = seen_pass = 0
    for host in acc.hosts:
        items = walk(
            sandbox,
            f"/users/{host.id}/recordings",
            tok,
            "meetings",
            page_size=2,
            **window(sandbox, first, last),
        )
        expected = [r for r in visible(acc, now) if r.meeting.host.id == host.id]
        assert [i["uuid"] for i in items] == [r.meeting.uuid for r in expected]
        for item, rec in zip(items, expected, strict=True):
            assert item.keys() >= RECORDING_KEYS
            assert item["duration"] == minutes(rec.meeting.duration_seconds)
            # a 2024 capture: recording_count leaves out the SUMMARY files
            assert item["recording_count"] == sum(f.file_type != "SUMMARY" for f in rec.files)
            assert item["total_size"] == sum(f.size for f in rec.files)
            assert ("recording_play_passcode" in item) == (rec.passcode is not None)
            assert ("auto_delete_date" in item) == rec.auto_delete
            seen_pass += rec.passcode is not None
            assert len(item["recording_files"]) == len(rec.files)
            for fi, f in zip(item["recording_files"], rec.files, strict=True):
                assert fi["download_url"] == f"{sandbox.base}/rec/download/{f.key}"
                assert fi["meeting_id"] == rec.meeting.uuid and "deleted_time" not in fi
                if f.id is None:  # CC, and TIMELINE as the 2022 spec describes it
                    assert f.file_type in ("CC", "TIMELINE") and set(fi) == FILE_KEYS_NO_ID
                    seen_no_id += 1
                elif f.file_type in ("TIMELINE", "SUMMARY"):  # with an id, without a player (2024 captures)
                    assert set(fi) == FILE_KEYS_FULL - {"play_url"}
                    assert fi["id"] == f.id and fi["file_size"] == f.size and fi["status"] == "completed"
                else:
                    assert set(fi) == FILE_KEYS_FULL
                    assert fi["id"] == f.id and fi["file_size"] == f.size and fi["status"] == "completed"
    assert seen_no_id and seen_pass


def test_recordings_default_window_is_one_day(sandbox_factory):
    seed = seed_where(
        lambda a, now: (
            any(r.meeting.start.date() == now.date() - timedelta(days=1) for r in visible(a, now))
            and any(r.meeting.start.date() < now.date() - timedelta(days=1) for r in visible(a, now))
        )
    )
    sb = sandbox_factory(seed=seed)
    tok = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    today = now.date()
    total = 0
    for host in acc.hosts:
        body = sb.zoom_get(f"/users/{host.id}/recordings", tok).json()
        assert body["from"] == (today - timedelta(days=1)).isoformat() and body["to"] == today.isoformat()
        expected = [
            r.meeting.uuid
            for r in visible(acc, now)
            if r.meeting.host.id == host.id and r.meeting.start.date() >= today - timedelta(days=1)
        ]
        assert [m["uuid"] for m in body["meetings"]] == expected
        total += len(expected)
    assert 0 < total < len(visible(acc, now))


def test_recordings_span_over_a_month_is_capped_and_echoed(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    today = now.date()
    host = acc.hosts[0]
    body = sandbox.zoom_get(
        f"/users/{host.id}/recordings", tok, **window(sandbox, today - timedelta(days=90), today)
    ).json()
    assert body["from"] == (today - timedelta(days=30)).isoformat() and body["to"] == today.isoformat()
    expected = [r.meeting.uuid for r in visible(acc, now) if r.meeting.host.id == host.id]
    assert [m["uuid"] for m in body["meetings"]] == expected
    bad = sandbox.zoom_get(f"/users/{host.id}/recordings", tok, **{"from": "yesterday"})
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_trash_lists_only_trashed_recordings(sandbox_factory):
    seed = seed_where(lambda a, now: any(recording_visibility(r, now) == "trashed" for r in a.recordings))
    sb = sandbox_factory(seed=seed)
    tok = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    trashed_all = [r for r in acc.recordings if recording_visibility(r, now) == "trashed"]
    got = []
    for host in acc.hosts:
        items = walk(sb, f"/users/{host.id}/recordings", tok, "meetings", trash="true")
        got += items
        normal = walk(
            sb, f"/users/{host.id}/recordings", tok, "meetings", **window(sb, acc.start_date, now.date())
        )
        assert not {i["uuid"] for i in normal} & {r.meeting.uuid for r in trashed_all}
    assert sorted(i["uuid"] for i in got) == sorted(r.meeting.uuid for r in trashed_all)
    by_uuid = {r.meeting.uuid: r for r in trashed_all}
    for item in got:
        for f in item["recording_files"]:
            assert f["deleted_time"] == iso(trashed_at(by_uuid[item["uuid"]]))


def test_recording_appears_only_after_processing(sandbox):
    tok = sandbox.s2s_token()
    acc = account(sandbox)
    st = state(sandbox)
    rec = next(
        r for r in visible(acc, st.now()) if not r.passcode and not needs_double_encoding(r.meeting.uuid)
    )
    m = rec.meeting
    sandbox.admin(
        "clock", {"offset_seconds": int((m.end + timedelta(minutes=10) - st.clock_base).total_seconds())}
    )
    assert st.now() < rec.available_at
    r = sandbox.zoom_get(f"/meetings/{enc(m.uuid)}/recordings", tok)
    assert r.status_code == 404 and r.json() == NO_RECORDING_BODY
    assert dl(sandbox, rec.files[0].key, tok).status_code == 404
    day = m.start.date()
    listed = sandbox.zoom_get(f"/users/{m.host.id}/recordings", tok, **window(sandbox, day, day)).json()
    # listed while processing, as a 2021 capture shows: no size, no file type, no end yet
    processing = next(x for x in listed["meetings"] if x["uuid"] == m.uuid)
    assert processing["total_size"] == 0 and processing["recording_count"] == 0
    assert [(f["file_type"], f["recording_end"], f["file_size"]) for f in processing["recording_files"]] == [
        ("", "", 0)
    ]
    sandbox.admin("clock", {"advance_seconds": 15 * 60})
    assert sandbox.zoom_get(f"/meetings/{enc(m.uuid)}/recordings", tok).status_code == 200
    listed = sandbox.zoom_get(f"/users/{m.host.id}/recordings", tok, **window(sandbox, day, day)).json()
    done = next(x for x in listed["meetings"] if x["uuid"] == m.uuid)
    assert len(done["recording_files"]) == len(rec.files) and all(
        f["file_type"] for f in done["recording_files"]
    )


def test_meeting_recordings_detail_and_download_access_token(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    rec = next(r for r in visible(acc, now) if not needs_double_encoding(r.meeting.uuid))
    path = f"/meetings/{enc(rec.meeting.uuid)}/recordings"
    body = sandbox.zoom_get(path, tok).json()
    assert body["uuid"] == rec.meeting.uuid and "download_access_token" not in body
    assert body["password"] == (rec.password or "") and body["participant_audio_files"] == []
    assert body["recording_play_passcode"] == (rec.passcode or "")
    with_token = sandbox.zoom_get(path, tok, include_fields="download_access_token", ttl=600).json()
    dat = with_token["download_access_token"]
    f = rec.files[0]
    r = dl(sandbox, f.key, query_token=dat)
    assert r.status_code == 200 and len(r.content) == f.size
    assert sandbox.zoom_get(path, tok, ttl=604801, include_fields="download_access_token").status_code == 400
    # a meeting number resolves to the series' latest ended instance
    series = rec.meeting.series
    latest = [m for m in past(acc, now) if m.series is series][-1]
    r = sandbox.zoom_get(f"/meetings/{series.id}/recordings", tok)
    if latest.uuid in {x.meeting.uuid for x in visible(acc, now)}:
        assert r.status_code == 200 and r.json()["uuid"] == latest.uuid
    else:
        assert r.status_code == 404 and r.json() == NO_RECORDING_BODY


# ----------------------------------------------------------------------------- downloads
def test_download_bearer_query_and_range_resume(sandbox):
    tok = sandbox.s2s_token()
    acc, now = account(sandbox), now_of(sandbox)
    _rec, f = next(
        (r, f) for r in visible(acc, now) if not r.passcode for f in r.files if f.file_type == "MP4"
    )
    expected_sha = Account.content_sha256(f.size, f.content_seed)
    r = dl(sandbox, f.key, tok)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "video/mp4" and int(r.headers["Content-Length"]) == f.size
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    assert len(r.content) == f.size and hashlib.sha256(r.content).hexdigest() == expected_sha
    q = dl(sandbox, f.key, query_token=tok)
    assert q.status_code == 200 and hashlib.sha256(q.content).hexdigest() == expected_sha
    cut = f.size // 3
    part = dl(sandbox, f.key, tok, Range=f"bytes={cut}-")
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes {cut}-{f.size - 1}/{f.size}"
    assert hashlib.sha256(r.content[:cut] + part.content).hexdigest() == expected_sha
    none = dl(sandbox, f.key)
    assert none.status_code == 401 and none.json() == {"code": 124, "message": "Invalid access token."}
    assert dl(sandbox, f.key, "sbx_at_bogus").status_code == 401
    missing = dl(sandbox, "no-such-file", tok)
    assert missing.status_code == 404 and missing.json() == NO_RECORDING_BODY


def test_download_of_files_without_ids(sandbox_factory):
    seed = seed_where(
        lambda a, now: any(
            f.file_type in ("CC", "TIMELINE") for r in visible(a, now) if not r.passcode for f in r.files
        )
    )
    sb = sandbox_factory(seed=seed)
    tok = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    f = next(
        f for r in visible(acc, now) if not r.passcode for f in r.files if f.file_type in ("CC", "TIMELINE")
    )
    r = dl(sb, f.key, tok)
    assert r.status_code == 200 and len(r.content) == f.size
    assert r.headers["Content-Type"] == {"CC": "text/vtt", "TIMELINE": "application/json"}[f.file_type]
    assert hashlib.sha256(r.content).hexdigest() == Account.content_sha256(f.size, f.content_seed)


def test_passcode_protected_download_needs_user_token_or_download_token(sandbox_factory):
    seed = seed_where(
        lambda a, now: sum(1 for r in visible(a, now) if r.passcode) >= 1 and len(visible(a, now)) >= 2
    )
    sb = sandbox_factory(seed=seed)
    s2s = sb.s2s_token()
    acc, now = account(sb), now_of(sb)
    rec = next(r for r in visible(acc, now) if r.passcode)
    f = min(rec.files, key=lambda x: x.size)
    refused = dl(sb, f.key, s2s)
    assert refused.status_code == 403 and refused.json() == PASSCODE_BODY
    assert dl(sb, f.key, query_token=s2s).status_code == 403
    user, _ = user_token(sb)
    ok = dl(sb, f.key, user)
    assert ok.status_code == 200 and len(ok.content) == f.size
    dat = sb.zoom_get(
        f"/meetings/{enc(rec.meeting.uuid)}/recordings", s2s, include_fields="download_access_token"
    ).json()["download_access_token"]
    ok2 = dl(sb, f.key, query_token=dat)
    assert ok2.status_code == 200
    assert hashlib.sha256(ok2.content).hexdigest() == Account.content_sha256(f.size, f.content_seed)
    other = next(r for r in visible(acc, now) if r is not rec)
    assert dl(sb, other.files[0].key, query_token=dat).status_code == 401  # the token is per meeting


# ----------------------------------------------------------------------------- clock
def test_clock_advance_reveals_the_next_days_meetings(sandbox_factory):
    sb = sandbox_factory(enforce_rate_limits=False)
    tok = sb.s2s_token()
    acc = account(sb)
    today = now_of(sb).date()
    params = {"type": "past", **window(sb, today, today)}
    assert sb.zoom_get("/metrics/meetings", tok, **params).json()["total_records"] == 0
    sb.admin("clock", {"advance_days": 1})
    now = now_of(sb)
    assert now.date() == today + timedelta(days=1)
    expected = [
        m.uuid
        for m in acc.meetings
        if m.start.date() == today and len({s.person.key for s in attending(acc, m)}) > 1
    ]
    assert expected and all(m.end <= now for m in acc.meetings if m.start.date() == today)
    got = walk(sb, "/metrics/meetings", tok, "meetings", page_size=5, **params)
    assert [m["uuid"] for m in got] == expected
    new_recs = [
        r
        for r in acc.recordings
        if r.meeting.start.date() == today and recording_visibility(r, now) == "available"
    ]
    listed = []
    for host in acc.hosts:
        listed += [m["uuid"] for m in sb.zoom_get(f"/users/{host.id}/recordings", tok).json()["meetings"]]
    assert {r.meeting.uuid for r in new_recs} <= set(listed)


def test_access_token_expiry_by_use_and_on_demand(sandbox_factory):
    sb = sandbox_factory(token_lifetime_requests=2)
    tok = sb.s2s_token()
    assert [sb.zoom_get("/users", tok).status_code for _ in range(3)] == [200, 200, 401]
    assert sb.zoom_get("/users", tok).json() == {"code": 124, "message": "Access token is expired."}
    fresh = sb.s2s_token()
    assert sb.zoom_get("/users", fresh).status_code == 200
    assert sb.admin("expire_tokens", {})["expired"] >= 2
    assert sb.zoom_get("/users", fresh).status_code == 401
    assert sb.zoom_get("/users", sb.s2s_token()).status_code == 200
