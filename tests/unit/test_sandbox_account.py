"""Pure checks of the sandbox's account generator and the Zoom emulator's helpers (no HTTP)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from pipelines.sandbox.account import Account, needs_double_encoding
from pipelines.sandbox.zoom_api import decode_meeting_segment, recording_visibility, trashed_at

START = date(2026, 3, 2)


def test_account_is_deterministic():
    a, b = Account(7, start_date=START), Account(7, start_date=START)
    assert [m.uuid for m in a.meetings] == [m.uuid for m in b.meetings]
    m = a.meetings[3]
    s_a, s_b = a.sessions[m.uuid][0], b.sessions[m.uuid][0]
    assert a.qos(s_a) == b.qos(s_b)
    assert [f.key for r in a.recordings for f in r.files] == [f.key for r in b.recordings for f in r.files]
    assert [m.uuid for m in Account(8, start_date=START).meetings] != [m.uuid for m in a.meetings]


def test_account_contains_the_inconvenient_parts():
    acc = Account(42, start_date=START)
    assert any(needs_double_encoding(m.uuid) for m in acc.meetings)
    assert {m.type for m in acc.meetings} >= {1, 2, 4, 8}
    assert any(r.passcode for r in acc.recordings) and any(r.trashed_at for r in acc.recordings)
    files = [f for r in acc.recordings for f in r.files]
    assert all(f.id is None for f in files if f.file_type == "CC")
    assert all(f.id is not None for f in files if f.file_type not in ("CC", "TIMELINE"))
    timelines = [f for f in files if f.file_type == "TIMELINE"]  # both forms occur in real payloads
    assert any(f.id is None for f in timelines) and any(f.id is not None for f in timelines)
    assert any(r.recording_count < len(r.files) for r in acc.recordings)  # SUMMARY files are not counted
    sessions = [s for m in acc.meetings for s in acc.sessions[m.uuid]]
    attendance = [s for s in sessions if s.in_meeting]
    assert len(attendance) > len({(s.meeting.uuid, s.person.key) for s in attendance})  # rejoins
    assert any(s.status == "in_waiting_room" for s in sessions)
    assert any(s.dropped and "got disconnected" in s.leave_reason for s in sessions)
    assert {s.connector for s in sessions} == {"", "rwg", "crc"}
    assert {u.type for u in acc.users} == {1, 2, 4} and any(u.status == "pending" for u in acc.users)
    assert any(u.login_type_created_at != u.created_at for u in acc.users)


def test_qos_has_one_string_sample_per_minute():
    acc = Account(42, start_date=START)
    for s in acc.sessions[acc.meetings[0].uuid]:
        samples = acc.qos(s)
        assert len(samples) == len(s.minutes)
        for sample in samples:
            for name, block in sample.items():
                if isinstance(block, dict):  # Zoom's strings; Wi-Fi signal levels are integers
                    want = (int, str) if name == "wifi_rssi" else str
                    assert all(isinstance(v, want) for v in block.values())


def test_content_chunks_resume_at_any_offset():
    size, seed = 3 * (1 << 20) + 12345, 99
    whole = b"".join(Account.content_chunks(size, seed))
    assert len(whole) == size
    assert hashlib.sha256(whole).hexdigest() == Account.content_sha256(size, seed)
    for offset in (1, (1 << 20) - 1, 1 << 20, size - 1):
        assert b"".join(Account.content_chunks(size, seed, offset=offset)) == whole[offset:]


def test_meeting_segment_decoding_rule():
    uuid = "/ajXp112QmuoKj4854875=="
    assert decode_meeting_segment(quote(quote(uuid, safe=""), safe="")) == (uuid, True)
    assert decode_meeting_segment(quote(uuid, safe="")) == (uuid, False)
    assert decode_meeting_segment("abc%2Bdef%3D%3D") == ("abc+def==", False)


def test_recording_visibility_over_time():
    acc = Account(42, start_date=START)
    rec = next(r for r in acc.recordings if r.trashed_at is not None)
    assert recording_visibility(rec, rec.meeting.end) == "processing"
    assert recording_visibility(rec, rec.available_at) == "available"
    assert recording_visibility(rec, rec.trashed_at - timedelta(seconds=1)) == "available"
    assert recording_visibility(rec, rec.trashed_at) == "trashed"
    assert recording_visibility(rec, rec.trashed_at + timedelta(days=400)) == "trashed"  # default rules


def test_recording_visibility_with_retention_rules():
    acc = Account(42, start_date=START)
    rec = next(r for r in acc.recordings if r.trashed_at is not None)
    gone = trashed_at(rec, retention=True)
    assert gone is not None and gone <= rec.trashed_at
    assert recording_visibility(rec, gone, retention=True) == "trashed"
    assert recording_visibility(rec, gone + timedelta(days=30), retention=True) == "deleted"
    auto = next(r for r in acc.recordings if r.auto_delete and r.trashed_at is None)
    midnight = datetime.combine(auto.auto_delete_date, datetime.min.time(), UTC)
    assert recording_visibility(auto, midnight - timedelta(seconds=1), retention=True) == "available"
    assert recording_visibility(auto, midnight, retention=True) == "trashed"
    assert recording_visibility(auto, midnight) == "available"
