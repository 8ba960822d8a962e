"""The unit of work of the recordings pipeline: one file of one recording, from Zoom or MEETS."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

ZOOM = "zoom"
MEETS = "meets"

# inventory statuses
PLANNED = "planned"
COPIED = "copied"
FAILED = "failed"
GONE = "gone"
SKIPPED = "skipped"
STATUSES = (PLANNED, COPIED, FAILED, GONE, SKIPPED)

VIDEO_FILE_TYPES = frozenset({"MP4"})
# Zoom file types (recording_files[].file_type) the pipeline knows; MEETS recordings are MP4.
FILE_TYPES = ("MP4", "M4A", "CHAT", "CHAT_MESSAGE", "TRANSCRIPT", "CC", "TIMELINE", "CSV", "SUMMARY", "TB")


@dataclass(frozen=True)
class PlannedFile:
    """One file to copy. ``file_key`` is stable across runs (the inventory's key).

    Zoom: ``file_key`` is the warehouse's ``recording_files.file_key`` (Zoom's file ``id``, or a
    stable hash for CC/TIMELINE files that have none); ``meeting_uuid`` identifies the instance.
    MEETS: ``file_key`` is ``meets:<meetsIdConferenceRecording>``; ``meeting_id`` is
    ``meets-<meetsIdConferencingEvent>``.
    """

    source: str
    file_key: str
    meeting_uuid: str | None
    meeting_id: str
    recording_id: str | None
    host_email: str | None
    topic: str | None
    start_time: datetime
    file_type: str
    recording_type: str | None
    file_extension: str | None
    expected_size: int | None  # declared by the API (Zoom file_size); None when unknown
    download_url: str | None = None  # as listed; may be stale, resolved again before downloading
    recording_start: datetime | None = None
    auto_delete_date: date | None = None
    is_trashed: bool = False
    passcode_protected: bool | None = None
    file_status: str | None = None  # Zoom recording file status (completed, processing, ...)
    meeting_meta: dict = field(default_factory=dict, compare=False, hash=False)
    relative_path: str = ""  # assigned by naming (``<user>/<date>/<folder>/<name>``)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.file_key)

    @property
    def is_video(self) -> bool:
        return self.file_type.upper() in VIDEO_FILE_TYPES

    @property
    def folder(self) -> str:
        return self.relative_path.rsplit("/", 1)[0]

    def with_path(self, relative_path: str) -> PlannedFile:
        return replace(self, relative_path=relative_path)
