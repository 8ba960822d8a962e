"""What to copy: recording files from the warehouse (or from the APIs), filtered, named and ordered.

Two ways to plan:

* **warehouse** (the normal case after ``make load``): ``zoom_raw.recordings`` /
  ``zoom_raw.recording_files`` / ``zoom_raw.users`` and ``meets_raw.conference_recordings`` /
  ``conferencing_events`` / ``users``. No API request is spent on planning. Stored download URLs
  may be stale, so the run resolves fresh ones per meeting right before downloading.
* **api** (run alone): ``GET /users`` then ``GET /users/{id}/recordings`` in explicit calendar-month
  windows from ``--from`` to ``--to`` (never Zoom's one-day default), ``trash=true`` with
  ``--include-trash``; MEETS ``list_conference_recordings`` with its cross-referenced events and users.

The plan is ordered by ``auto_delete_date`` (soonest first: those files vanish first), then by
meeting start, then by video priority (the best video of a meeting before its other files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from pipelines.recordings import naming
from pipelines.recordings.model import FILE_TYPES, MEETS, VIDEO_FILE_TYPES, ZOOM, PlannedFile

log = logging.getLogger("pipelines.recordings")

# Best video first (seed 003 / dbt seed recording_type_priority.csv); other files after videos.
RECORDING_TYPE_PRIORITY = {
    "shared_screen_with_gallery_view": 1,
    "gallery_view": 2,
    "active_speaker": 3,
    "speaker_view": 3,
    "shared_screen_with_speaker_view": 4,
    "shared_screen": 5,
}
TYPE_ALIASES = {
    "video": "MP4",
    "mp4": "MP4",
    "audio": "M4A",
    "m4a": "M4A",
    "chat": "CHAT",
    "transcript": "TRANSCRIPT",
    "captions": "CC",
    "caption": "CC",
    "cc": "CC",
    "timeline": "TIMELINE",
    "poll": "CSV",
    "csv": "CSV",
    "summary": "SUMMARY",
}


# ------------------------------------------------------------------------------------ filters
@dataclass(frozen=True)
class PlanFilter:
    """User-facing selection: ``--types``, ``--video-only``, ``--users``, ``--from/--to``,
    ``--include-trash``, ``--sources``."""

    types: frozenset[str] | None = None  # Zoom file types (MP4, M4A, ...); None = all
    users: frozenset[str] | None = None  # lower-case e-mails or user ids; None = all
    date_from: date | None = None  # meeting start date (UTC), inclusive
    date_to: date | None = None
    include_trash: bool = False
    sources: frozenset[str] = frozenset({ZOOM, MEETS})
    meetings: tuple[str, ...] | None = None  # ``--meetings``: only these Zoom meeting instances (UUIDs)

    def accepts(self, f: PlannedFile, host_id: str | None = None) -> bool:
        if f.source not in self.sources:
            return False
        if self.types is not None and f.file_type.upper() not in self.types:
            return False
        if self.users is not None:
            who = {(f.host_email or "").lower(), (host_id or "").lower()} - {""}
            if not who & self.users:
                return False
        day = naming.as_utc(f.start_time).date()
        if self.date_from is not None and day < self.date_from:
            return False
        if self.date_to is not None and day > self.date_to:
            return False
        return self.include_trash or not f.is_trashed


def parse_types(value: str | Sequence[str] | None, video_only: bool = False) -> frozenset[str] | None:
    """``--types mp4,transcript,cc`` -> ``{"MP4", "TRANSCRIPT", "CC"}``; ``--video-only`` -> ``{"MP4"}``."""
    if video_only:
        return frozenset(VIDEO_FILE_TYPES)
    if not value:
        return None
    items = value.split(",") if isinstance(value, str) else [x for v in value for x in v.split(",")]
    out: set[str] = set()
    for item in (i.strip() for i in items):
        if not item:
            continue
        kind = TYPE_ALIASES.get(item.lower(), item.upper())
        if kind not in FILE_TYPES:
            known = ", ".join(sorted({*FILE_TYPES, *TYPE_ALIASES}))
            raise ValueError(f"unknown file type {item!r} in --types; known: {known}")
        out.add(kind)
    return frozenset(out) or None


def parse_meetings(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--meetings UUID[,UUID...]`` -> the UUIDs in order, once each (Zoom UUIDs hold no commas)."""
    if not value:
        return None
    items = value.split(",") if isinstance(value, str) else [x for v in value for x in v.split(",")]
    uuids = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    return uuids or None


def parse_users(value: str | Sequence[str] | None) -> frozenset[str] | None:
    if not value:
        return None
    items = value.split(",") if isinstance(value, str) else [x for v in value for x in v.split(",")]
    users = frozenset(i.strip().lower() for i in items if i.strip())
    return users or None


# ------------------------------------------------------------------------------------ keys
def zoom_file_key(meeting_uuid: str, f: dict) -> str:
    """The warehouse key of a Zoom recording file (``zoom_raw.recording_files.file_key``): the Zoom
    source's own rule (Zoom's ``id``, or a stable hash for CC/TIMELINE files that have none)."""
    from pipelines.zoom import recording_file_key

    return recording_file_key(f, meeting_uuid)


def match_fresh_file(planned: PlannedFile, fresh: list[dict]) -> dict | None:
    """The file of a fresh ``GET /meetings/{uuid}/recordings`` that is ``planned``.

    By key first; files without an id (CC, TIMELINE) fall back to type + recording start, since
    their key involves the download URL, which Zoom does not promise to keep.
    """
    uuid = planned.meeting_uuid or ""
    for f in fresh:
        if zoom_file_key(uuid, f) == planned.file_key:
            return f
    if planned.recording_id is None:
        start = planned.recording_start
        candidates = [
            f
            for f in fresh
            if not f.get("id")
            and str(f.get("file_type") or "").upper() == planned.file_type.upper()
            and (start is None or _parse_ts(f.get("recording_start")) == start)
        ]
        if len(candidates) == 1:
            return candidates[0]
    return None


def _parse_ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return naming.as_utc(value)
    try:
        return naming.as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def _parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------ shaping
def zoom_files_of(meeting: dict, host_email: str | None, *, trashed: bool = False) -> list[PlannedFile]:
    """Planned files of one ``meetings[]`` item of a recordings listing (API planning)."""
    uuid = str(meeting.get("uuid") or "")
    start = _parse_ts(meeting.get("start_time")) or datetime(1970, 1, 1, tzinfo=UTC)
    meta = {
        "topic": meeting.get("topic"),
        "meeting_id": meeting.get("id"),
        "uuid": uuid,
        "host_id": meeting.get("host_id"),
        "start_time": meeting.get("start_time"),
        "timezone": meeting.get("timezone"),
        "duration": meeting.get("duration"),
        "total_size": meeting.get("total_size"),
        "recording_count": meeting.get("recording_count"),
        "share_url": meeting.get("share_url"),
        "auto_delete_date": meeting.get("auto_delete_date"),
    }
    out = []
    for f in meeting.get("recording_files") or []:
        out.append(
            PlannedFile(
                source=ZOOM,
                file_key=zoom_file_key(uuid, f),
                meeting_uuid=uuid,
                meeting_id=str(meeting.get("id") or ""),
                recording_id=str(f["id"]) if f.get("id") else None,
                host_email=host_email,
                topic=meeting.get("topic"),
                start_time=start,
                file_type=str(f.get("file_type") or ""),
                recording_type=f.get("recording_type"),
                file_extension=f.get("file_extension"),
                expected_size=_int(f.get("file_size")) if f.get("id") else None,
                download_url=f.get("download_url"),
                recording_start=_parse_ts(f.get("recording_start")),
                auto_delete_date=_parse_date(meeting.get("auto_delete_date")),
                is_trashed=trashed or bool(f.get("deleted_time")),
                passcode_protected=bool(meeting.get("recording_play_passcode")) or None,
                file_status=f.get("status"),
                meeting_meta={**meta, "host_email": host_email},
            )
        )
    return out


def meets_file(recording: dict, event: dict | None, host: dict | None) -> PlannedFile:
    rid = str(recording.get("meetsIdConferenceRecording"))
    event = event or {}
    begin = _int(event.get("timeBegin"))
    start = datetime.fromtimestamp(begin, UTC) if begin is not None else datetime(1970, 1, 1, tzinfo=UTC)
    email = (host or {}).get("email")
    event_id = recording.get("meetsIdConferencingEvent")
    return PlannedFile(
        source=MEETS,
        file_key=f"meets:{rid}",
        meeting_uuid=None,
        meeting_id=f"meets-{event_id}",
        recording_id=rid,
        host_email=email,
        topic=event.get("name"),
        start_time=start,
        file_type="MP4",
        recording_type=str(recording.get("type") or "recording"),
        file_extension="mp4",
        expected_size=None,
        meeting_meta={
            "source": MEETS,
            "meetsIdConferencingEvent": event_id,
            "name": event.get("name"),
            "timeBegin": event.get("timeBegin"),
            "timeEnd": event.get("timeEnd"),
            "conferencingService": event.get("conferencingService"),
            "host_email": email,
        },
    )


# ------------------------------------------------------------------------------------ naming
def assign_paths(
    files: Iterable[PlannedFile], known: dict[tuple[str, str], str] | None = None
) -> list[PlannedFile]:
    """Give every file its relative path; files already in the inventory keep theirs.

    Two meeting instances landing in the same folder (same host, minute, topic and meeting number)
    get the later uuid's folder suffixed with a short hash of its uuid; two files of one meeting
    with the same name get ``_2``, ``_3``... (see :func:`naming.disambiguate`).
    """
    files = list(files)
    known = known or {}
    # folder per meeting instance
    instance_of = {f.key: (f.source, f.meeting_uuid or f.meeting_id) for f in files}
    folders: dict[tuple[str, str], str] = {}
    by_folder: dict[str, set[tuple[str, str]]] = {}
    for f in files:
        inst = instance_of[f.key]
        if inst in folders:
            continue
        folder = naming.meeting_folder(f.host_email, f.start_time, f.topic, f.meeting_id)
        folders[inst] = folder
        by_folder.setdefault(folder, set()).add(inst)
    for folder, instances in by_folder.items():
        for inst in sorted(instances)[1:]:
            folders[inst] = f"{folder}_{naming.short_hash(inst[1])}"
    # names within each instance folder
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for f in files:
        name = naming.file_name(f.recording_type, f.file_type, f.file_extension)
        wanted.setdefault(instance_of[f.key], []).append((f.file_key, name))
    names: dict[tuple[str, str], dict[str, str]] = {
        inst: naming.disambiguate(w) for inst, w in wanted.items()
    }
    out = []
    for f in files:
        inst = instance_of[f.key]
        relative = known.get(f.key) or f"{folders[inst]}/{names[inst][f.file_key]}"
        out.append(f.with_path(relative))
    return out


def order(files: Iterable[PlannedFile]) -> list[PlannedFile]:
    """Soonest auto-deletion first, then meeting start, then the best video of each meeting."""

    def key(f: PlannedFile) -> tuple:
        priority = RECORDING_TYPE_PRIORITY.get(f.recording_type or "", 50 if f.is_video else 90)
        return (
            f.auto_delete_date or date.max,
            naming.as_utc(f.start_time),
            f.source,
            f.meeting_uuid or f.meeting_id,
            priority,
            f.file_key,
        )

    return sorted(files, key=key)


def expiring_soon(files: Iterable[PlannedFile], today: date, days: int) -> list[PlannedFile]:
    """Files whose recording Zoom auto-deletes within the next ``days`` days (inclusive).

    Only dates still ahead: Zoom moves a recording to the trash at 00:00 UTC of its
    ``auto_delete_date``, so a date of today or earlier is not "will be deleted" but "past" (see
    :func:`past_auto_delete`).
    """
    limit = today + timedelta(days=days)
    return [f for f in files if f.auto_delete_date is not None and today < f.auto_delete_date <= limit]


def past_auto_delete(files: Iterable[PlannedFile], today: date) -> list[PlannedFile]:
    """Files whose recording's ``auto_delete_date`` has come (Zoom may have trashed it already)."""
    return [f for f in files if f.auto_delete_date is not None and f.auto_delete_date <= today]


# ------------------------------------------------------------------------------------ warehouse
def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _col(cols: set[str], alias: str, name: str, as_name: str | None = None) -> str:
    """``alias.name`` when the column exists (dlt creates no column that was always null)."""
    target = as_name or name
    return f"{alias}.{name} as {target}" if name in cols else f"null as {target}"


def warehouse_has_recordings(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    return {
        ZOOM: bool(_columns(con, "zoom_raw", "recording_files"))
        and bool(_columns(con, "zoom_raw", "recordings")),
        MEETS: bool(_columns(con, "meets_raw", "conference_recordings")),
    }


def plan_from_warehouse(con: duckdb.DuckDBPyConnection, flt: PlanFilter) -> list[PlannedFile]:
    """Planned files from the raw tables (filters applied, unordered, without paths)."""
    have = warehouse_has_recordings(con)
    out: list[PlannedFile] = []
    if ZOOM in flt.sources and have[ZOOM]:
        out.extend(_zoom_from_warehouse(con, flt))
    if MEETS in flt.sources and have[MEETS]:
        out.extend(_meets_from_warehouse(con, flt))
    return out


def _zoom_from_warehouse(con: duckdb.DuckDBPyConnection, flt: PlanFilter) -> list[PlannedFile]:
    fc = _columns(con, "zoom_raw", "recording_files")
    rc = _columns(con, "zoom_raw", "recordings")
    uc = _columns(con, "zoom_raw", "users")
    user_join = "left join zoom_raw.users u on u.id = r.host_id" if {"id", "email"} <= uc else ""
    email = "u.email as host_email" if user_join else "null as host_email"
    sql = f"""
        select
            f.file_key, {_col(fc, "f", "id", "file_id")}, f.meeting_uuid,
            {_col(fc, "f", "file_type")}, {_col(fc, "f", "file_extension")}, {_col(fc, "f", "file_size")},
            {_col(fc, "f", "download_url")}, {_col(fc, "f", "recording_type")},
            {_col(fc, "f", "recording_start")}, {_col(fc, "f", "status", "file_status")},
            {_col(fc, "f", "is_trashed", "file_trashed")}, {_col(fc, "f", "deleted_time")},
            {_col(rc, "r", "id", "meeting_id")}, {_col(rc, "r", "topic")}, {_col(rc, "r", "start_time")},
            {_col(rc, "r", "host_id")}, {_col(rc, "r", "auto_delete_date")},
            {_col(rc, "r", "is_trashed", "recording_trashed")}, {_col(rc, "r", "has_passcode")},
            {_col(rc, "r", "timezone")}, {_col(rc, "r", "duration")}, {_col(rc, "r", "share_url")},
            {email}
        from zoom_raw.recording_files f
        join zoom_raw.recordings r on r.uuid = f.meeting_uuid
        {user_join}
    """
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        start = _parse_ts(row["start_time"]) or datetime(1970, 1, 1, tzinfo=UTC)
        trashed = bool(row["file_trashed"] or row["recording_trashed"] or row["deleted_time"])
        f = PlannedFile(
            source=ZOOM,
            file_key=str(row["file_key"]),
            meeting_uuid=str(row["meeting_uuid"]),
            meeting_id=str(row["meeting_id"] or ""),
            recording_id=str(row["file_id"]) if row["file_id"] else None,
            host_email=row["host_email"],
            topic=row["topic"],
            start_time=start,
            file_type=str(row["file_type"] or ""),
            recording_type=row["recording_type"],
            file_extension=row["file_extension"],
            expected_size=_int(row["file_size"]) if row["file_id"] else None,
            download_url=row["download_url"],
            recording_start=_parse_ts(row["recording_start"]),
            auto_delete_date=_parse_date(row["auto_delete_date"]),
            is_trashed=trashed,
            passcode_protected=row["has_passcode"],
            file_status=row["file_status"],
            meeting_meta={
                "source": ZOOM,
                "uuid": row["meeting_uuid"],
                "meeting_id": row["meeting_id"],
                "topic": row["topic"],
                "start_time": start.isoformat(),
                "timezone": row["timezone"],
                "duration": row["duration"],
                "host_id": row["host_id"],
                "host_email": row["host_email"],
                "share_url": row["share_url"],
                "auto_delete_date": str(row["auto_delete_date"]) if row["auto_delete_date"] else None,
            },
        )
        if flt.accepts(f, host_id=row["host_id"]):
            out.append(f)
    return out


def _meets_from_warehouse(con: duckdb.DuckDBPyConnection, flt: PlanFilter) -> list[PlannedFile]:
    ec = _columns(con, "meets_raw", "conferencing_events")
    uc = _columns(con, "meets_raw", "users")
    event_join = (
        "left join meets_raw.conferencing_events e on e.meets_id_conferencing_event = cr.meets_id_conferencing_event"
        if "meets_id_conferencing_event" in ec
        else ""
    )
    user_join = (
        "left join meets_raw.users u on u.meets_id_user = e.meets_id_user_host"
        if event_join and {"meets_id_user", "email"} <= uc and "meets_id_user_host" in ec
        else ""
    )
    sql = f"""
        select cr.meets_id_conference_recording, cr.meets_id_conferencing_event, cr.type,
            {_col(ec, "e", "name") if event_join else "null as name"},
            {_col(ec, "e", "time_begin") if event_join else "null as time_begin"},
            {_col(ec, "e", "time_end") if event_join else "null as time_end"},
            {_col(ec, "e", "conferencing_service") if event_join else "null as conferencing_service"},
            {"u.email" if user_join else "null"} as email
        from meets_raw.conference_recordings cr
        {event_join}
        {user_join}
    """
    out = []
    for rid, event_id, rtype, name, begin, end, service, email in con.execute(sql).fetchall():
        f = meets_file(
            {"meetsIdConferenceRecording": rid, "meetsIdConferencingEvent": event_id, "type": rtype},
            {"name": name, "timeBegin": begin, "timeEnd": end, "conferencingService": service},
            {"email": email},
        )
        if flt.accepts(f):
            out.append(f)
    return out


# ------------------------------------------------------------------------------------ APIs
def default_window(today: date, date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Explicit listing window: ``--from`` (default a year back, as seed 003 recommends) to ``--to``
    (default today)."""
    last = date_to or today
    first = date_from or (last - timedelta(days=365))
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    return first, last


def plan_zoom_from_api(zoom: Any, flt: PlanFilter, today: date) -> tuple[list[PlannedFile], int]:
    """Plan by listing Zoom (``zoom`` is a :class:`pipelines.zoom.client.ZoomClient`).

    Returns the files and the number of listing calls made.
    """
    from pipelines.zoom.client import month_windows

    first, last = default_window(today, flt.date_from, flt.date_to)
    calls = 0
    users: list[dict] = []
    for status in ("active", "inactive"):
        users.extend(zoom.users(status))
        calls += 1
    out: list[PlannedFile] = []
    for user in users:
        uid, email = str(user.get("id") or ""), user.get("email")
        if flt.users is not None and not ({uid.lower(), (email or "").lower()} & flt.users):
            continue
        for window_first, window_last in month_windows(first, last):
            for meeting in zoom.user_recordings(uid, window_first, window_last):
                out.extend(f for f in zoom_files_of(meeting, email) if flt.accepts(f, uid))
            calls += 1
        if flt.include_trash:
            for meeting in zoom.user_trash(uid):
                out.extend(f for f in zoom_files_of(meeting, email, trashed=True) if flt.accepts(f, uid))
            calls += 1
    return _dedupe(out), calls


def host_emails_from_warehouse(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Zoom user id -> e-mail from ``zoom_raw.users`` (empty when the warehouse has none)."""
    if not {"id", "email"} <= _columns(con, "zoom_raw", "users"):
        return {}
    rows = con.execute("select id, email from zoom_raw.users where email is not null").fetchall()
    return {str(uid): str(email) for uid, email in rows}


def plan_zoom_meetings(
    zoom: Any, flt: PlanFilter, host_emails: dict[str, str]
) -> tuple[list[PlannedFile], int, list[str]]:
    """Plan the files of the ``--meetings`` instances: ``GET /meetings/{uuid}/recordings`` each
    (Light; UUIDs double-encoded when Zoom requires it). Host e-mails (they name the folders, as in
    a full run) come from ``host_emails`` (the warehouse), else from one ``GET /users`` listing.

    Returns the files, the number of API calls, and the UUIDs Zoom has no recording for (404:
    never recorded, still processing, trashed or deleted).
    """
    from pipelines.api_client import LIGHT, NotFound
    from pipelines.zoom.client import encode_meeting_id

    calls = 0
    found: list[dict] = []
    missing: list[str] = []
    for uuid in flt.meetings or ():
        try:
            body = zoom.api.get_json(f"meetings/{encode_meeting_id(uuid)}/recordings", category=LIGHT)
        except NotFound:
            missing.append(uuid)
            body = None
        calls += 1
        if isinstance(body, dict) and body.get("uuid"):
            found.append(body)
    emails = dict(host_emails)
    if any(str(m.get("host_id") or "") not in emails for m in found):
        for status in ("active", "inactive"):
            emails.update({str(u.get("id")): u.get("email") for u in zoom.users(status) if u.get("email")})
            calls += 1
    out: list[PlannedFile] = []
    for meeting in found:
        host_id = str(meeting.get("host_id") or "")
        out.extend(f for f in zoom_files_of(meeting, emails.get(host_id)) if flt.accepts(f, host_id))
    return _dedupe(out), calls, missing


def plan_meets_from_api(meets: Any, flt: PlanFilter, today: date) -> tuple[list[PlannedFile], int]:
    """Plan by listing MEETS recordings (``meets`` is a :class:`pipelines.meets.client.MeetsClient`)."""
    from pipelines.meets.client import entity_map

    first, last = default_window(today, flt.date_from, flt.date_to)
    begin_after = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) - 1
    end = last + timedelta(days=1)
    begin_before = int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())
    params = {"timeEventBeginAfter": begin_after, "timeEventBeginBefore": begin_before}
    out: list[PlannedFile] = []
    calls = 0
    for page in meets.iter_pages("list_conference_recordings", params):
        calls += 1
        events = {str(e.get("meetsIdConferencingEvent")): e for e in entity_map(page, "conferencingEvents")}
        users = {str(u.get("meetsIdUser")): u for u in entity_map(page, "users")}
        for rec in entity_map(page, "conferenceRecordings"):
            event = events.get(str(rec.get("meetsIdConferencingEvent")))
            host = users.get(str((event or {}).get("meetsIdUser_host")))
            f = meets_file(rec, event, host)
            if flt.accepts(f):
                out.append(f)
    return _dedupe(out), calls


def _dedupe(files: list[PlannedFile]) -> list[PlannedFile]:
    seen: dict[tuple[str, str], PlannedFile] = {}
    for f in files:
        seen.setdefault(f.key, f)
    return list(seen.values())
