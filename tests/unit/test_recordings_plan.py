"""Planning (filters, ordering, naming collisions, fresh-file matching) and the inventory state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import duckdb
import pytest

from pipelines.recordings import plan
from pipelines.recordings.inventory import Inventory
from pipelines.recordings.model import MEETS, ZOOM, PlannedFile

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def zf(key: str, **kw) -> PlannedFile:
    base = {
        "source": ZOOM,
        "file_key": key,
        "meeting_uuid": "uuid-1",
        "meeting_id": "81234567890",
        "recording_id": key,
        "host_email": "ana@example.edu",
        "topic": "Weekly sync",
        "start_time": T0,
        "file_type": "MP4",
        "recording_type": "gallery_view",
        "file_extension": "MP4",
        "expected_size": 100,
    }
    base.update(kw)
    return PlannedFile(**base)


def test_parse_types_aliases_and_video_only() -> None:
    assert plan.parse_types("mp4, transcript,cc") == {"MP4", "TRANSCRIPT", "CC"}
    assert plan.parse_types(["video", "audio"]) == {"MP4", "M4A"}
    assert plan.parse_types("chat", video_only=True) == {"MP4"}
    assert plan.parse_types(None) is None
    with pytest.raises(ValueError, match="unknown file type"):
        plan.parse_types("mp3")


def test_filter_by_type_user_date_trash_and_source() -> None:
    flt = plan.PlanFilter(
        types=frozenset({"MP4"}),
        users=frozenset({"ana@example.edu"}),
        date_from=date(2026, 11, 20),
        date_to=date(2026, 11, 20),
    )
    assert flt.accepts(zf("a"))
    assert not flt.accepts(zf("b", file_type="CHAT"))
    assert not flt.accepts(zf("c", host_email="bob@example.edu"))
    assert plan.PlanFilter(users=frozenset({"u123"})).accepts(
        zf("d", host_email=None), host_id="U123".lower()
    )
    assert not flt.accepts(zf("e", start_time=datetime(2026, 11, 21, 0, 0, tzinfo=UTC)))
    assert not flt.accepts(zf("f", is_trashed=True))
    assert replace(flt, include_trash=True).accepts(zf("f", is_trashed=True))
    assert not replace(flt, sources=frozenset({MEETS})).accepts(zf("g"))


def test_order_soonest_auto_delete_first_then_best_video() -> None:
    files = [
        zf("late", auto_delete_date=None),
        zf("audio", recording_type="audio_only", file_type="M4A", auto_delete_date=date(2026, 12, 1)),
        zf("speaker", recording_type="active_speaker", auto_delete_date=date(2026, 12, 1)),
        zf("gallery", recording_type="shared_screen_with_gallery_view", auto_delete_date=date(2026, 12, 1)),
        zf("soon", meeting_uuid="uuid-2", auto_delete_date=date(2026, 11, 28)),
    ]
    assert [f.file_key for f in plan.order(files)] == ["soon", "gallery", "speaker", "audio", "late"]


def test_expiring_soon() -> None:
    files = [
        zf("a", auto_delete_date=date(2026, 11, 27)),
        zf("b", auto_delete_date=date(2026, 12, 30)),
        zf("c"),
    ]
    assert [f.file_key for f in plan.expiring_soon(files, date(2026, 11, 25), 7)] == ["a"]


def test_paths_are_unique_and_stable() -> None:
    files = [
        zf("k1"),
        zf("k2"),  # same recording_type in the same meeting: a resumed recording's second segment
        zf("k3", meeting_uuid="uuid-other"),  # another instance, same minute/topic/number
        zf("k4", file_type="CC", recording_type=None, file_extension="VTT", recording_id=None),
    ]
    placed = {f.file_key: f.relative_path for f in plan.assign_paths(files)}
    assert len(set(placed.values())) == 4
    assert placed["k1"].endswith("/gallery_view.mp4")
    assert placed["k2"].endswith("/gallery_view_2.mp4")
    assert placed["k4"].endswith("/closed_caption.vtt")
    assert placed["k1"].rsplit("/", 1)[0] != placed["k3"].rsplit("/", 1)[0]
    assert placed["k1"].startswith("ana@example.edu/2026-11-20/0930_Weekly_sync_81234567890/")
    # a file already in the inventory keeps its path even if naming would now differ
    known = {(ZOOM, "k2"): "ana@example.edu/2026-11-20/old/gallery_view.mp4"}
    again = {f.file_key: f.relative_path for f in plan.assign_paths(files, known)}
    assert again["k2"] == known[(ZOOM, "k2")]
    assert again["k1"] == placed["k1"]


def test_fresh_file_matching_by_key_then_by_type_and_start() -> None:
    fresh = [
        {
            "id": "f-1",
            "file_type": "MP4",
            "recording_start": "2026-11-20T09:30:05Z",
            "download_url": "h/rec/download/f-1",
        },
        {
            "file_type": "TIMELINE",
            "recording_start": "2026-11-20T09:30:05Z",
            "download_url": "h/rec/download/new-path",
        },
    ]
    assert plan.match_fresh_file(zf("f-1"), fresh) is fresh[0]
    timeline = zf(
        "some-old-hash",
        file_type="TIMELINE",
        recording_type=None,
        recording_id=None,
        recording_start=datetime(2026, 11, 20, 9, 30, 5, tzinfo=UTC),
    )
    assert plan.match_fresh_file(timeline, fresh) is fresh[1]
    assert plan.match_fresh_file(zf("gone"), fresh) is None


def test_zoom_files_of_a_listing_item() -> None:
    item = {
        "uuid": "/abc//def==",
        "id": 81234567890,
        "host_id": "u1",
        "topic": "Lab",
        "start_time": "2026-11-20T09:30:00Z",
        "auto_delete_date": "2026-12-01",
        "recording_play_passcode": "secret",
        "recording_files": [
            {
                "id": "f1",
                "file_type": "MP4",
                "file_size": 123,
                "recording_type": "gallery_view",
                "status": "completed",
            },
            {"file_type": "CC", "file_extension": "VTT", "download_url": "https://zoom.us/rec/download/x"},
        ],
    }
    files = plan.zoom_files_of(item, "ana@example.edu")
    assert [f.expected_size for f in files] == [123, None]  # CC files declare no size
    assert files[0].file_key == "f1" and files[1].file_key != files[0].file_key
    assert files[0].auto_delete_date == date(2026, 12, 1)
    assert files[0].passcode_protected is True
    assert "secret" not in repr(files[0].meeting_meta)


def test_meets_file_shape() -> None:
    f = plan.meets_file(
        {"meetsIdConferenceRecording": 701, "meetsIdConferencingEvent": 5000, "type": "converted"},
        {"name": "Biology", "timeBegin": 1763631000},
        {"email": "t@example.edu"},
    )
    assert f.file_key == "meets:701" and f.meeting_id == "meets-5000"
    assert f.recording_type == "converted" and f.expected_size is None


def test_default_window_is_explicit() -> None:
    assert plan.default_window(date(2026, 11, 25), None, None) == (date(2025, 11, 25), date(2026, 11, 25))
    with pytest.raises(ValueError):
        plan.default_window(date(2026, 11, 25), date(2026, 12, 1), date(2026, 11, 1))


# ---------------------------------------------------------------------------------- inventory
def test_inventory_lifecycle() -> None:
    inv = Inventory(duckdb.connect(":memory:"))
    a, b = zf("a"), zf("b")
    root = "/dest"
    urls = {a.key: "/dest/x/a.mp4", b.key: "/dest/x/b.mp4"}
    inv.plan([a, b], root, urls)
    inv.plan([a], root, urls)  # idempotent
    assert inv.counts(root) == {"planned": 2}
    inv.start(a.key, root)
    inv.set_temporary(a.key, root, temp_url="/dest/x/.a.mp4.partial", upload_id=None)
    assert [r.file_key for r in inv.in_flight(root)] == ["a"]
    inv.copied(a.key, root, size=100, sha256="f" * 64, dest_url=urls[a.key])
    inv.start(b.key, root)
    inv.failed(b.key, root, "boom")
    rows = inv.rows(root)
    assert rows[a.key].status == "copied" and rows[a.key].temp_url is None and rows[a.key].attempts == 1
    assert rows[b.key].status == "failed" and rows[b.key].error == "boom"
    # re-planning never resets a verified file
    inv.plan([replace(a, expected_size=999)], root, urls)
    assert inv.rows(root)[a.key].status == "copied"
    assert inv.counts(root) == {"copied": 1, "failed": 1}
    assert inv.rows("/other") == {}


# ---------------------------------------------------------------------------------- settings
def test_settings_from_env_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.recordings.settings import load_settings

    monkeypatch.delenv("MW_RECORDINGS_DEST", raising=False)
    monkeypatch.setenv("RECORDINGS__DEST", "s3://bucket/archive")
    monkeypatch.setenv("RECORDINGS__S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("RECORDINGS__MAX_CONCURRENT", "4")
    s = load_settings()
    assert (s.dest, s.s3_endpoint_url, s.max_concurrent) == (
        "s3://bucket/archive",
        "http://127.0.0.1:9000",
        4,
    )
    assert load_settings(dest="/tmp/x", max_concurrent=1).dest == "/tmp/x"  # flags win
    monkeypatch.setenv("MW_RECORDINGS_DEST", "/srv/rec")
    assert load_settings().dest == "/srv/rec"
    with pytest.raises(ValueError, match="part_size_mb"):
        load_settings(part_size_mb=4)
    monkeypatch.setenv("RECORDINGS__CREDENTIALS__AWS_SECRET_ACCESS_KEY", "very-secret-value")
    monkeypatch.setenv("RECORDINGS__CREDENTIALS__AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    s = load_settings()
    assert s.aws_secret_access_key == "very-secret-value"
    assert "very-secret-value" not in repr(s) and "AKIAEXAMPLE" not in repr(s)
