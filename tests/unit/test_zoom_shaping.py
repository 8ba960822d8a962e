"""Shaping of Zoom payloads into raw rows: secrets dropped, file keys, estimates."""

from __future__ import annotations

from pipelines.zoom import (
    qos_requests_for,
    recording_file_key,
    series_fingerprint,
    shape_meeting,
    shape_recording,
    shape_series,
    shape_session,
    strip_secret_query,
)

RECORDING = {
    "uuid": "/abc//def==",
    "id": 81234567890,
    "host_id": "h1",
    "topic": "Genetics Lab",
    "start_time": "2026-11-20T10:00:05Z",
    "duration": 47,
    "total_size": 1234,
    "recording_count": 3,
    "share_url": "https://zoom.example/rec/share/AbC?pwd=s3cretPwd&startTime=1",
    "recording_play_passcode": "PLAYPASSCODEsecret123",
    "password": "975310",
    "download_access_token": "DAT-secret-token",
    "auto_delete": True,
    "auto_delete_date": "2026-12-20",
    "recording_files": [
        {
            "id": "f-1",
            "meeting_id": "/abc//def==",
            "recording_start": "2026-11-20T10:00:10Z",
            "recording_end": "2026-11-20T10:47:00Z",
            "file_type": "MP4",
            "file_extension": "MP4",
            "file_size": 1000,
            "play_url": "https://zoom.example/rec/play/f-1",
            "download_url": "https://zoom.example/rec/download/f-1?access_token=LEAKED",
            "status": "completed",
            "recording_type": "gallery_view",
        },
        {
            "meeting_id": "/abc//def==",
            "recording_start": "2026-11-20T10:00:10Z",
            "recording_end": "",
            "file_type": "CC",
            "file_extension": "VTT",
            "download_url": "https://zoom.example/rec/download/cc-key",
        },
        {
            "meeting_id": "/abc//def==",
            "recording_start": "2026-11-20T10:00:10Z",
            "recording_end": "2026-11-20T10:47:00Z",
            "file_type": "TIMELINE",
            "file_extension": "JSON",
            "download_url": "https://zoom.example/rec/download/tl-key",
        },
    ],
}


def test_recording_row_keeps_presence_of_passcode_but_never_its_value() -> None:
    row, files = shape_recording(RECORDING, trashed=False)
    assert row["has_passcode"] is True
    assert row["is_trashed"] is False
    for key in ("recording_play_passcode", "password", "download_access_token", "recording_files"):
        assert key not in row
    assert "pwd" not in row["share_url"] and "s3cretPwd" not in row["share_url"]
    assert "startTime=1" in row["share_url"]
    text = repr((row, files))
    for secret in ("PLAYPASSCODEsecret123", "975310", "DAT-secret-token", "s3cretPwd", "LEAKED"):
        assert secret not in text


def test_recording_without_passcode() -> None:
    item = {k: v for k, v in RECORDING.items() if k not in ("recording_play_passcode", "password")}
    row, _ = shape_recording(item, trashed=True)
    assert row["has_passcode"] is False
    assert row["is_trashed"] is True


def test_recording_files_keys_and_links() -> None:
    _, files = shape_recording(RECORDING, trashed=True)
    assert [f["file_type"] for f in files] == ["MP4", "CC", "TIMELINE"]
    assert files[0]["file_key"] == "f-1"
    assert files[1]["file_key"] != files[2]["file_key"]
    assert all(len(f["file_key"]) == 32 for f in files[1:])
    assert all(f["meeting_uuid"] == "/abc//def==" and f["recording_uuid"] == "/abc//def==" for f in files)
    assert all(f["is_trashed"] is True for f in files)
    assert files[1]["recording_end"] is None  # "" while in progress -> null, not a text variant
    assert "file_size" not in files[1]
    assert files[0]["download_url"] == "https://zoom.example/rec/download/f-1"


def test_file_key_is_stable_and_depends_on_the_rule_inputs() -> None:
    cc = RECORDING["recording_files"][1]
    key = recording_file_key(cc, "/abc//def==")
    assert key == recording_file_key(dict(cc), "/abc//def==")
    assert key != recording_file_key(cc, "other")
    assert key != recording_file_key({**cc, "file_type": "TIMELINE"}, "/abc//def==")
    assert key != recording_file_key({**cc, "recording_start": "2026-11-20T10:00:11Z"}, "/abc//def==")
    assert key != recording_file_key(
        {**cc, "download_url": "https://zoom.example/rec/download/x"}, "/abc//def=="
    )
    # the URL's query (a token) is not part of the key
    assert key == recording_file_key(
        {**cc, "download_url": cc["download_url"] + "?access_token=t"}, "/abc//def=="
    )


def test_strip_secret_query() -> None:
    assert strip_secret_query("https://z/j/1?pwd=abc") == "https://z/j/1"
    assert strip_secret_query("https://z/j/1?a=1&TK=x&b=2") == "https://z/j/1?a=1&b=2"
    assert strip_secret_query("https://z/j/1") == "https://z/j/1"
    assert strip_secret_query(None) is None


def test_sessions_meetings_series_rows() -> None:
    session = shape_session(
        "u==", {"user_id": 16778240, "join_time": "2026-11-20T10:00:00Z", "leave_time": ""}
    )
    assert session == {
        "user_id": "16778240",
        "join_time": "2026-11-20T10:00:00Z",
        "leave_time": None,
        "meeting_uuid": "u==",
    }
    meeting = shape_meeting({"uuid": "u", "end_time": "", "start_time": "2026-11-20T10:00:00Z"}, "past")
    assert meeting["end_time"] is None and meeting["dashboard_type"] == "past"
    series = shape_series(
        {"id": 1, "type": 8, "join_url": "https://z/j/1?pwd=x", "start_url": "https://z/s/1?zak=secret"},
        {"recurrence": {"type": 2, "weekly_days": "2,4"}, "password": "p"},
    )
    assert series == {
        "id": 1,
        "type": 8,
        "join_url": "https://z/j/1",
        "recurrence": {"type": 2, "weekly_days": "2,4"},
    }


def test_series_fingerprint_changes_with_content_only() -> None:
    a = {"id": 1, "topic": "A", "type": 8}
    assert series_fingerprint(a) == series_fingerprint(dict(reversed(list(a.items()))))
    assert series_fingerprint(a) != series_fingerprint({**a, "topic": "B"})


def test_qos_requests_estimate() -> None:
    assert qos_requests_for(0) == 2
    assert qos_requests_for(10) == 2
    assert qos_requests_for(11) == 3
    assert qos_requests_for(301) == 2 + 31
    assert qos_requests_for(None) == 2
