"""What the sandbox serves against Zoom's published OpenAPI, endpoint by endpoint.

For every endpoint the project calls, the sandbox's answers (every page of every listing of a small
account, recordings still processing included) are flattened to field paths and compared with the
200 response schema of Zoom's spec (``tests/fixtures/zoom_openapi/``):

* every field the spec has is served, or listed in ``NOT_SERVED`` with why;
* every field served is in the spec, or listed in ``BEYOND_SPEC`` with the real payload it comes from;
* every served value has the spec's JSON type (``TYPE_EXCEPTIONS`` lists where real payloads differ);
* enumerated fields hold only the spec's values (Zoom's ``leave_reason`` values carry ``$name``).

A new field in the sandbox, a renamed one or an invented enum value fails here, whatever the
project's own client reads.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.sandbox import Scale
from pipelines.zoom.client import encode_meeting_id, month_windows

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures import openapi as oa
from tests.fixtures.sandbox_client import SandboxClient

ENDPOINTS = (
    "/users",
    "/users/{userId}/meetings",
    "/report/users",
    "/metrics/meetings",
    "/metrics/meetings/{meetingId}",
    "/metrics/meetings/{meetingId}/participants",
    "/metrics/meetings/{meetingId}/participants/qos",
    "/users/{userId}/recordings",
    "/meetings/{meetingId}/recordings",
    "/past_meetings/{meetingId}",
)

_NO_GROUPS = "the sandbox account has no groups, custom keys or tracking fields: always []"
_ON_PREM = "returned only for Zoom On-Premise accounts"
_NO_PER_PARTICIPANT_AUDIO = "'record a separate audio file of each participant' is off in the account: []"
NOT_SERVED: dict[str, dict[str, str]] = {
    "/users": {
        "users[].custom_attributes": "only with include_fields=custom_attributes (served then, as [])",
        "users[].custom_attributes[]": "the account defines no custom attributes",
        "users[].custom_attributes[].key": "the account defines no custom attributes",
        "users[].custom_attributes[].name": "the account defines no custom attributes",
        "users[].custom_attributes[].value": "the account defines no custom attributes",
        "users[].host_key": "only with include_fields=host_key (served then)",
        "users[].employee_unique_id": "SAML single sign-on accounts only (login_type 101)",
        "users[].division_ids": "accounts with divisions only",
        "users[].division_ids[]": "accounts with divisions only",
        "users[].license_info_list": "accounts with several subscription plans only",
        "users[].license_info_list[]": "accounts with several subscription plans only",
        "users[].license_info_list[].license_option": "accounts with several subscription plans only",
        "users[].license_info_list[].license_type": "accounts with several subscription plans only",
        "users[].license_info_list[].subscription_id": "accounts with several subscription plans only",
        "users[].plan_united_type": "Zoom United plans only",
        "users[].group_ids[]": _NO_GROUPS,
        "users[].im_group_ids[]": _NO_GROUPS,
    },
    "/users/{userId}/meetings": {
        "meetings[].pmi": "only for meetings scheduled with the personal meeting ID; none are listed",
    },
    "/report/users": {
        "users[].custom_attributes.key": "the account defines no custom attributes",
        "users[].custom_attributes.name": "the account defines no custom attributes",
        "users[].custom_attributes.value": "the account defines no custom attributes",
    },
    "/metrics/meetings": {
        "meetings[].custom_keys[]": _NO_GROUPS,
        "meetings[].custom_keys[].key": _NO_GROUPS,
        "meetings[].custom_keys[].value": _NO_GROUPS,
        "meetings[].tracking_fields[]": _NO_GROUPS,
        "meetings[].tracking_fields[].field": _NO_GROUPS,
        "meetings[].tracking_fields[].value": _NO_GROUPS,
    },
    "/metrics/meetings/{meetingId}": {
        "custom_keys[]": _NO_GROUPS,
        "custom_keys[].key": _NO_GROUPS,
        "custom_keys[].value": _NO_GROUPS,
    },
    "/metrics/meetings/{meetingId}/participants": {
        "participants[].aic_disclaimer": "AI Companion disclaimers: the account has AI Companion off",
        "participants[].zoom_thin_client_plugin_version": "VDI (thin client) participants only; none",
    },
    "/metrics/meetings/{meetingId}/participants/qos": {
        "participants[].zoom_thin_client_plugin_version": "VDI (thin client) participants only; none",
    },
    "/users/{userId}/recordings": {
        "meetings[].recording_files[].file_path": _ON_PREM,
    },
    "/meetings/{meetingId}/recordings": {
        "recording_files[].file_path": _ON_PREM,
        "recording_files[].deleted_time": "returned only for a trash query (the list endpoint serves it)",
        "participant_audio_files[]": _NO_PER_PARTICIPANT_AUDIO,
        **{
            f"participant_audio_files[].{f}": _NO_PER_PARTICIPANT_AUDIO
            for f in (
                "download_url",
                "file_name",
                "file_path",
                "file_size",
                "file_type",
                "id",
                "play_url",
                "recording_end",
                "recording_start",
                "status",
            )
        },
    },
}
_CAPTURES = "real payloads: ZoomNet#99 (2021) and a 2024 capture (zoom-spec-audit.md, CAP-2021/CAP-2024)"
_NEWER_SPEC = "Zoom's current recording schema (RIVET/KONFIG SDKs, zoom-spec-audit.md 3.5b)"
BEYOND_SPEC: dict[str, dict[str, str]] = {
    "/users/{userId}/recordings": {
        "meetings[].share_url": _CAPTURES,
        "meetings[].timezone": _CAPTURES,
        "meetings[].recording_files[].file_extension": _CAPTURES,
        "meetings[].auto_delete": _NEWER_SPEC,
        "meetings[].auto_delete_date": _NEWER_SPEC,
        "meetings[].recording_play_passcode": f"{_NEWER_SPEC}; also in the 2024 capture",
    },
    "/meetings/{meetingId}/recordings": {
        "share_url": _CAPTURES,
        "timezone": _CAPTURES,
        "recording_files[].file_extension": _CAPTURES,
        "auto_delete": _NEWER_SPEC,
        "auto_delete_date": _NEWER_SPEC,
    },
}
_REC_TYPES = {
    # in newer schemas than the 2022 one: zoom-api-facts.md 2.10 (RIVET, 2021 type lists) and
    # zoom-spec-audit.md #9 (the current spec's recording_type literals)
    "speaker_view": "RIVET / the 2021 type list",
    "summary": "the current spec (KONFIG literals) and the 2024 capture",
}
ENUM_EXTENSIONS: dict[str, dict[str, dict[str, str]]] = {
    "/users/{userId}/recordings": {"meetings[].recording_files[].recording_type": _REC_TYPES},
    "/meetings/{meetingId}/recordings": {"recording_files[].recording_type": _REC_TYPES},
}
TYPE_EXCEPTIONS: dict[str, dict[str, str]] = {
    "/users/{userId}/recordings": {"meetings[].type": "integer"},  # spec: string; payloads: integer
    "/meetings/{meetingId}/recordings": {"type": "integer"},
    # the 2022 schema declares one object; its description, the 2026 users spec and every client
    # treat custom_attributes as a list of {key, name, value}
    "/report/users": {"users[].custom_attributes": "array"},
}


# ----------------------------------------------------------------------------- what the sandbox serves
PINNED_NOW = "2026-12-02T00:00:00Z"


@pytest.fixture(scope="module")
def served() -> dict[str, list[dict]]:
    """Every answer of a small account, per spec path."""
    from pipelines.sandbox import SandboxConfig, SandboxServer

    # the clock pinned: which recordings sit in the trash (deleted_time) depends on the day
    server = SandboxServer(
        SandboxConfig.from_env(scale=Scale.named("small"), enforce_rate_limits=False, now=PINNED_NOW)
    ).start()
    try:
        yield _collect(SandboxClient(server))
    finally:
        server.stop()


def _collect(sb: Any) -> dict[str, list[dict]]:
    tok = sb.s2s_token()
    state = sb.server.state
    acc, now = state.account, state.now()
    out: dict[str, list[dict]] = {}

    def get(spec_path: str, path: str, listing: bool = True, **params: Any) -> None:
        token = ""
        while True:
            query = dict(params)
            if token:
                query["next_page_token"] = token
            resp = sb.zoom_get(path, tok, **query)
            if resp.status_code != 200:
                return
            body = resp.json()
            out.setdefault(spec_path, []).append(body)
            token = body.get("next_page_token") or ""
            if not listing or not token:
                return

    windows = month_windows(acc.start_date - timedelta(days=10), now.date())
    for status in ("active", "inactive", "pending"):
        get("/users", "/users", status=status, page_size=300)
    for u in acc.users:
        if u.status != "pending":
            get("/users/{userId}/meetings", f"/users/{u.id}/meetings", type="scheduled", page_size=300)
    for a, b in windows:
        span = {"from": a.isoformat(), "to": b.isoformat()}
        for kind in ("active", "inactive"):
            get("/report/users", "/report/users", type=kind, page_size=300, **span)
        get("/metrics/meetings", "/metrics/meetings", type="past", page_size=300, **span)
    past = [m for m in acc.meetings if m.end <= now]
    for m in past:
        enc = encode_meeting_id(m.uuid)
        get(
            "/metrics/meetings/{meetingId}/participants", f"/metrics/meetings/{enc}/participants", type="past"
        )
        get("/metrics/meetings/{meetingId}/participants/qos", f"/metrics/meetings/{enc}/participants/qos", type="past", page_size=10)  # fmt: skip
    for m in past[:10]:
        enc = encode_meeting_id(m.uuid)
        get("/metrics/meetings/{meetingId}", f"/metrics/meetings/{enc}", listing=False, type="past")
        get("/past_meetings/{meetingId}", f"/past_meetings/{enc}", listing=False)
    for u in acc.users:
        if u.status == "pending":
            continue
        for a, b in windows:
            get("/users/{userId}/recordings", f"/users/{u.id}/recordings", page_size=300, **{"from": a.isoformat(), "to": b.isoformat()})  # fmt: skip
        get("/users/{userId}/recordings", f"/users/{u.id}/recordings", page_size=300, trash="true")
    for r in acc.recordings:
        if r.available_at <= now and (r.trashed_at is None or r.trashed_at > now):
            get("/meetings/{meetingId}/recordings", f"/meetings/{encode_meeting_id(r.meeting.uuid)}/recordings", listing=False, include_fields="download_access_token")  # fmt: skip
    # a recording Zoom is still processing, five minutes after its meeting ended
    rec = max((r for r in acc.recordings if r.available_at <= now), key=lambda r: r.meeting.end)
    offset = state.config.faults.clock_offset
    state.set_clock(int((rec.meeting.end + timedelta(minutes=5) - state.clock_base).total_seconds()))
    day = rec.meeting.start.date().isoformat()
    get("/users/{userId}/recordings", f"/users/{rec.meeting.host.id}/recordings", **{"from": day, "to": day})
    state.set_clock(offset)
    return out


def _flat(bodies: list[dict]) -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for body in bodies:
        oa.served_fields(body, "", fields)
    return fields


# ----------------------------------------------------------------------------- the comparisons
@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_spec_field_is_served_or_listed_as_not_served(served: dict, path: str) -> None:
    assert served.get(path), f"nothing collected for {path}"
    spec, got = oa.response_fields(path), _flat(served[path])
    missing = set(spec) - set(got)
    assert missing == set(NOT_SERVED.get(path, {})), (
        f"{path}: spec fields not served and not explained: {sorted(missing - set(NOT_SERVED.get(path, {})))}; "
        f"explained but served after all: {sorted(set(NOT_SERVED.get(path, {})) - missing)}"
    )


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_served_field_is_in_the_spec_or_a_real_payload(served: dict, path: str) -> None:
    spec, got = oa.response_fields(path), _flat(served[path])
    beyond = set(got) - set(spec)
    assert beyond == set(BEYOND_SPEC.get(path, {})), f"{path}: served beyond the spec: {sorted(beyond)}"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_served_types_are_the_specs(served: dict, path: str) -> None:
    spec, got = oa.response_fields(path), _flat(served[path])
    exceptions = TYPE_EXCEPTIONS.get(path, {})
    wrong = {}
    for field, types in got.items():
        if field not in spec or not spec[field].types:
            continue
        allowed = set(spec[field].types) | ({"integer"} if "number" in spec[field].types else set())
        if field in exceptions:
            allowed = {exceptions[field]}
        if not types - {"null"} <= allowed:
            wrong[field] = (sorted(types), sorted(allowed))
    assert not wrong, f"{path}: types other than the spec's: {wrong}"


def _enum_matches(value: Any, allowed: list[Any]) -> bool:
    if value in allowed:
        return True
    if isinstance(value, str):  # Zoom's leave_reason values carry the display name: "$name left the meeting."
        for a in allowed:
            if isinstance(a, str) and "$name" in a:
                pattern = re.escape(a).replace(re.escape("$name"), ".+")
                if re.fullmatch(pattern, value):
                    return True
    return False


@pytest.mark.parametrize("path", ENDPOINTS)
def test_enumerated_fields_hold_only_the_specs_values(served: dict, path: str) -> None:
    spec = oa.response_fields(path)
    wrong = {}
    for field, f in spec.items():
        if not f.enum:
            continue
        values = {v for body in served[path] for v in oa.served_values(body, field) if v not in (None, "")}
        allowed = [*f.enum, *ENUM_EXTENSIONS.get(path, {}).get(field, {})]
        bad = sorted(str(v) for v in values if not _enum_matches(v, allowed))
        if bad:
            wrong[field] = bad[:5]
    assert not wrong, f"{path}: values outside the spec's enums: {wrong}"


def test_the_inconvenient_parts_are_served(served: dict) -> None:
    """The states the audit found missing are there: pending users without id, non-hosts,
    waiting rooms, every leave reason family, web-client and room-connector QoS, Wi-Fi and CPU
    pressure, recordings in progress, TIMELINE files with and without ids, SUMMARY files not in
    recording_count, hidden external emails."""
    users = [u for b in served["/users"] for u in b["users"]]
    assert any(u["status"] == "pending" and "id" not in u for u in users)
    assert any(u["type"] == 4 for u in users)
    parts = [p for b in served["/metrics/meetings/{meetingId}/participants"] for p in b["participants"]]
    assert {p["status"] for p in parts} == {"in_meeting", "in_waiting_room"}
    reasons = {p.get("leave_reason", "") for p in parts}
    assert any(r.endswith("got disconnected from the meeting.") for r in reasons)
    assert {"Network connection error.", "Leave waiting room.", "Host ended the meeting."} <= reasons
    external = [p for p in parts if not p["participant_user_id"]]
    hidden = sum(1 for p in external if p["email"] == "")
    assert hidden / len(external) > 0.6  # most external participants' emails are hidden, as on real accounts
    qos = [s for b in served["/metrics/meetings/{meetingId}/participants/qos"] for p in b["participants"] for s in p["user_qos"]]  # fmt: skip
    blocks = {k for s in qos for k in s}
    assert {"audio_device_from_rwg", "video_device_to_rwg", "audio_device_from_crc", "wifi_rssi", "cpu_pressure_level"} <= blocks  # fmt: skip
    assert any(isinstance(s["wifi_rssi"]["avg_rssi"], int) for s in qos if "wifi_rssi" in s)
    recs = [r for b in served["/users/{userId}/recordings"] for r in b["meetings"]]
    files = [f for r in recs for f in r["recording_files"]]
    assert any(f["file_type"] == "" and f["recording_end"] == "" for f in files)  # still processing
    timelines = [f for f in files if f["file_type"] == "TIMELINE"]
    assert any("id" in f for f in timelines) and any("id" not in f for f in timelines)
    assert any(f["file_type"] == "SUMMARY" for f in files)
    assert any(r["recording_count"] != len(r["recording_files"]) for r in recs if r["recording_count"])
