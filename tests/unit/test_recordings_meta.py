"""meta.json documents (pure shaping, writer bookkeeping) and the auto-delete date windows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pytest

from pipelines.recordings import meta, plan
from pipelines.recordings.inventory import Inventory
from pipelines.recordings.model import ZOOM, PlannedFile

ROOT = "s3://bucket/archive"
FOLDER = "ana@example.edu/2026-11-20/0930_Weekly_sync_81234567890"


def zf(key: str, **kw) -> PlannedFile:
    base = {
        "source": ZOOM,
        "file_key": key,
        "meeting_uuid": "uuid-1",
        "meeting_id": "81234567890",
        "recording_id": key,
        "host_email": "ana@example.edu",
        "topic": "Weekly sync",
        "start_time": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "file_type": "MP4",
        "recording_type": "gallery_view",
        "file_extension": "MP4",
        "expected_size": 100,
        "relative_path": f"{FOLDER}/{key}.mp4",
        "meeting_meta": {
            "topic": "Weekly sync",
            "host_email": "ana@example.edu",
            "start_time": date(2026, 11, 20),
        },
    }
    base.update(kw)
    return PlannedFile(**base)


# ------------------------------------------------------------------------------ auto-delete windows
@pytest.mark.parametrize(
    ("auto_delete", "soon", "past"),
    [
        (date(2026, 11, 24), False, True),  # yesterday: Zoom trashed it at 00:00 UTC
        (date(2026, 11, 25), False, True),  # today: trashed at 00:00 UTC today, not "ahead"
        (date(2026, 11, 26), True, False),  # tomorrow
        (date(2026, 12, 2), True, False),  # the last day of the 7-day window
        (date(2026, 12, 3), False, False),  # beyond the window
        (None, False, False),  # never auto-deleted
    ],
)
def test_auto_delete_windows(auto_delete: date | None, soon: bool, past: bool) -> None:
    files = [zf("a", auto_delete_date=auto_delete)]
    today = date(2026, 11, 25)
    assert bool(plan.expiring_soon(files, today, 7)) is soon
    assert bool(plan.past_auto_delete(files, today)) is past


# ------------------------------------------------------------------------------ documents
def test_folder_of_and_relative_to() -> None:
    assert meta.relative_to(ROOT, f"{ROOT}/{FOLDER}/a.mp4") == f"{FOLDER}/a.mp4"
    assert meta.folder_of(ROOT, f"{ROOT}/{FOLDER}/a.mp4") == FOLDER
    assert meta.relative_to(ROOT, "s3://bucket/archive2/x/a.mp4") is None
    assert meta.folder_of(ROOT, f"{ROOT}/a.mp4") is None


def test_meeting_json_is_canonical() -> None:
    a = meta.meeting_json({"b": 1, "a": date(2026, 1, 2)})
    assert a == meta.meeting_json({"a": date(2026, 1, 2), "b": 1}) == '{"a": "2026-01-02", "b": 1}'


def test_digest_ignores_written_at_and_follows_the_files() -> None:
    doc = {"source": "zoom", "meeting": {}, "files": [{"name": "a.mp4", "status": "copied"}]}
    rendered = json.loads(meta.render(doc))
    assert rendered["written_at"] and {k: v for k, v in rendered.items() if k != "written_at"} == doc
    other = {**doc, "files": [{"name": "a.mp4", "status": "copied"}, {"name": "b.m4a", "status": "copied"}]}
    assert meta.digest(doc) == meta.digest(json.loads(json.dumps(doc))) != meta.digest(other)


# ------------------------------------------------------------------------------ the writer
class FakeDestination:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = False

    def put_small(self, relative: str, data: bytes) -> None:
        if self.fail:
            raise OSError("storage says no")
        self.objects[relative] = data


def _inventory(files: list[PlannedFile]) -> Inventory:
    inv = Inventory(duckdb.connect(":memory:"))
    inv.plan(files, ROOT, {f.key: f"{ROOT}/{f.relative_path}" for f in files})
    inv.plan_folders(ROOT, {FOLDER: (ZOOM, meta.meeting_json(files[0].meeting_meta))})
    return inv


def test_writer_writes_changed_folders_once_and_retries_failures() -> None:
    a, b = zf("a"), zf("b", recording_type="audio_only", file_type="M4A", file_extension="M4A")
    inv = _inventory([a, b])
    dest = FakeDestination()
    writer = meta.MetaWriter(dest, inv, ROOT)

    writer.all()  # only planned files: nothing to describe yet
    assert dest.objects == {}

    inv.copied(a.key, ROOT, size=100, sha256="ab" * 32, dest_url=f"{ROOT}/{a.relative_path}")
    dest.fail = True
    writer.folder(FOLDER)  # storage refuses: no digest is recorded, so the next pass tries again
    assert dest.objects == {} and writer.failed == 1
    dest.fail = False
    writer.all()
    doc = json.loads(dest.objects[f"{FOLDER}/meta.json"])
    assert doc["meeting"] == {
        "host_email": "ana@example.edu",
        "start_time": "2026-11-20",
        "topic": "Weekly sync",
    }
    assert [(f["name"], f["status"], f["sha256"]) for f in doc["files"]] == [
        ("a.mp4", "copied", "ab" * 32),
        ("b.mp4", "planned", None),
    ]

    dest.objects.clear()
    writer.all()  # unchanged: not rewritten
    writer.folder(FOLDER)
    assert dest.objects == {} and writer.written == 1

    inv.gone(b.key, ROOT, "deleted at the source")
    writer.all()  # changed: rewritten, the missing file says why
    doc = json.loads(dest.objects[f"{FOLDER}/meta.json"])
    assert doc["files"][1]["status"] == "gone" and doc["files"][1]["error"] == "deleted at the source"
