"""Zoom REST endpoints of the sandbox (``/v2/...``) and cloud-recording downloads (``/rec/download/...``).

The shapes, parameters, page sizes, windows, categories and error bodies follow
``shared/reference/zoom-api-facts.md`` sections 2-5. What the API shows is decided by the sandbox
clock (``state.now()``):

* a meeting instance is *past* (visible to ``type=past`` and ``/past_meetings``) once ``end <= now``
  and *live* while ``start <= now < end``;
* a cloud recording is listed once ``available_at <= now`` (Zoom processes recordings for a while)
  and moves to the trash at ``trashed_at``. With ``APPLY_RETENTION`` on, it also goes to the trash at
  00:00 UTC of its ``auto_delete_date`` and is purged ``TRASH_RETENTION`` after reaching the trash
  (see :func:`recording_visibility`).

Counting rules (Zoom does not document them; the sandbox picks one and sticks to it):

* ``participants`` on ``/metrics/meetings``, ``participants`` on ``/report/users`` and
  ``participants_count`` on ``/past_meetings/{id}`` count participant **sessions** (joins): a person
  who dropped and rejoined counts twice, like the dashboard's join-based numbers. The number of
  distinct people is ``len({session.person.key})``.
* ``type=past`` on ``/metrics/meetings`` lists meetings with at least two distinct people;
  ``type=pastOne`` lists the one-person meetings (facts section 4: one-participant meetings need
  ``pastOne``).
* Integer ``duration`` fields (past meetings, recordings) are whole minutes, rounded half up, at
  least 1; ``meeting_minutes`` on ``/report/users`` sums those; ``total_minutes`` on
  ``/past_meetings`` sums the sessions' attendance minutes the same way.

Meeting UUIDs in paths follow Zoom's double-encoding rule (see :func:`decode_meeting_segment`).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
import secrets
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote, urlencode

from pipelines.sandbox.account import (
    Account,
    Meeting,
    Recording,
    RecordingFile,
    Series,
    Session,
    ZoomUser,
    iso,
    needs_double_encoding,
    zoom_duration,
)
from pipelines.sandbox.config import SANDBOX_ACCOUNT_ID
from pipelines.sandbox.http_types import Request, Response, json_response, zoom_error
from pipelines.sandbox.state import AccessToken, SandboxState

# ----------------------------------------------------------------------------- limits and constants
MAX_WINDOW_DAYS = 30  # "one month": ``to - from`` may be at most this many days
LOOKBACK_DAYS = 183  # "last six months": ``from`` may be at most this many days before today
RECORDINGS_DEFAULT_DAYS = 1  # /users/{id}/recordings without from/to: from = today - 1 day, to = today
TRASH_RETENTION = timedelta(days=30)  # trashed recordings are purged after this
# Zoom's retention rules (auto-delete to trash, trash purged after 30 days). Off by default so the
# served API matches ``truth.py``, which counts a recording as trashed exactly when ``trashed_at <= now``.
APPLY_RETENTION = False
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 300
QOS_DEFAULT_PAGE_SIZE = 1
QOS_MAX_PAGE_SIZE = 10
DOWNLOAD_TOKEN_DEFAULT_TTL = 86400
DOWNLOAD_TOKEN_MAX_TTL = 604800
PLAY_BASE = "https://zoom.example/rec/play/"
JOIN_BASE = "https://zoom.example/j/"
START_BASE = "https://zoom.example/s/"

WINDOW_MESSAGE = "The request can only be queried for a month that falls within the last six months."
PAGE_TOKEN_MESSAGE = "The next page token is invalid or expired."
DATE_FORMAT_MESSAGE = "Invalid date format for from/to: expected yyyy-mm-dd."
DATES_REQUIRED_MESSAGE = "The from and to parameters are required (yyyy-mm-dd)."
DATE_ORDER_MESSAGE = "The to date must not be earlier than the from date."
PASSCODE_MESSAGE = (
    "This recording is passcode protected. Download it with a user-level OAuth token (General app) "
    "or the meeting's download_access_token."
)
RECORDING_MISSING_MESSAGE = "This recording does not exist."
HOSTING_NOT_ALLOWED_CODE = 3161
HOSTING_NOT_ALLOWED_MESSAGE = (
    "Meeting hosting and scheduling capabilities are not allowed for your user account."
)

CONTENT_TYPES = {
    "MP4": "video/mp4",
    "M4A": "audio/mp4",
    "CHAT": "text/plain",
    "TRANSCRIPT": "text/vtt",
    "CC": "text/vtt",
    "TIMELINE": "application/json",
    "CSV": "text/csv",
    "SUMMARY": "application/json",
}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE_RE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]  # matched (fullmatch) against the raw path after "/v2"
    category: str  # light | medium | heavy | resource_intensive
    endpoint: str  # a stable name for counters, e.g. "metrics/meetings"
    handler: Callable[[Request, SandboxState, re.Match[str], AccessToken], Response]


# ----------------------------------------------------------------------------- lazy indexes
class _Index:
    """Cheap lookups over one generated account, built once per account on first use."""

    def __init__(self, account: Account):
        self.account = account
        self.user_by_id = {u.id: u for u in account.users}
        self.user_by_email = {u.email.lower(): u for u in account.users}
        self.meetings = account.meetings  # sorted by (start, seq)
        self.starts = [m.start for m in self.meetings]
        self.by_host: dict[str, list[Meeting]] = defaultdict(list)
        self.by_series: dict[int, list[Meeting]] = defaultdict(list)
        for m in self.meetings:
            self.by_host[m.host.id].append(m)
            self.by_series[m.series.id].append(m)
        self.series_by_id: dict[int, Series] = {}
        for s in account.series:
            self.series_by_id.setdefault(s.id, s)
        self.host_series: dict[str, list[Series]] = defaultdict(list)
        for s in account.series:
            if s.listed:
                self.host_series[s.host_id].append(s)
        for lst in self.host_series.values():
            lst.sort(key=lambda s: (s.created_at, s.id))
        self.host_starts = {h: [m.start for m in ms] for h, ms in self.by_host.items()}
        self.recordings = sorted(account.recordings, key=lambda r: (r.meeting.start, r.meeting.seq))
        self.recordings_by_host: dict[str, list[Recording]] = defaultdict(list)
        for r in self.recordings:
            self.recordings_by_host[r.meeting.host.id].append(r)
        self._people: dict[str, int] = {}

    def people(self, m: Meeting) -> int:
        """Distinct people (not sessions) in a meeting; waiting-room stints do not count."""
        n = self._people.get(m.uuid)
        if n is None:
            n = len({s.person.key for s in self.account.sessions[m.uuid] if s.in_meeting})
            self._people[m.uuid] = n
        return n

    def meetings_starting(self, first: date, last: date) -> Sequence[Meeting]:
        """Meetings whose UTC start date is within [first, last]."""
        lo = bisect.bisect_left(self.starts, datetime.combine(first, datetime.min.time(), UTC))
        hi = bisect.bisect_left(
            self.starts, datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        )
        return self.meetings[lo:hi]


_INDEXES: weakref.WeakKeyDictionary[Account, _Index] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def _index(state: SandboxState) -> _Index:
    account = state.account
    with _INDEX_LOCK:
        idx = _INDEXES.get(account)
        if idx is None:
            idx = _Index(account)
            _INDEXES[account] = idx
        return idx


# ----------------------------------------------------------------------------- shared helpers
def _minutes(seconds: float) -> int:
    """Whole minutes, rounded half up, at least 1 (Zoom's integer ``duration``)."""
    return max(1, (int(seconds) + 30) // 60)


def _is_past(m: Meeting, now: datetime) -> bool:
    return m.end <= now


def _is_live(m: Meeting, now: datetime) -> bool:
    return m.start <= now < m.end


def _not_found(meeting_id: str) -> Response:
    return zoom_error(404, 3001, f"Meeting does not exist: {meeting_id}.")


def _bad(message: str) -> Response:
    return zoom_error(400, 300, message)


def _hash_int(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _base_url(req: Request, state: SandboxState) -> str:
    host = req.headers.get("Host")
    if host:
        return f"http://{host}"
    return f"http://{state.config.host}:{state.config.port}"


def decode_meeting_segment(raw: str) -> tuple[str, bool]:
    """Decode a meeting-id path segment: returns (candidate id, whether it was double-encoded).

    The segment is decoded once; when the result still holds ``%`` it was double-encoded and is
    decoded once more.
    """
    once = unquote(raw)
    if "%" in once:
        return unquote(once), True
    return once, False


def _resolve_instance(state: SandboxState, raw: str, accept: Callable[[Meeting], bool]) -> Meeting | Response:
    """A meeting instance from a path segment (UUID with Zoom's encoding rule, or a meeting number).

    A UUID that needs double encoding is found only when it was double-encoded (with single encoding
    the real router splits the path at the decoded ``/``). A meeting number resolves to the latest
    instance of the series that ``accept`` admits.
    """
    idx = _index(state)
    candidate, double = decode_meeting_segment(raw)
    if candidate.isdigit():
        instances = [m for m in idx.by_series.get(int(candidate), []) if accept(m)]
        if not instances:
            return _not_found(candidate)
        return instances[-1]
    m = state.account.meeting_by_uuid.get(candidate)
    if m is None or (needs_double_encoding(m.uuid) and not double) or not accept(m):
        return _not_found(candidate)
    return m


def _find_user(state: SandboxState, raw: str) -> ZoomUser | Response:
    idx = _index(state)
    ident = unquote(raw)
    if ident == "me":  # the app owner / authorizing user: the account's first host
        return state.account.hosts[0]
    user = idx.user_by_id.get(ident) or idx.user_by_email.get(ident.lower())
    if user is None:
        return zoom_error(404, 1001, f"User does not exist: {ident}.")
    return user


def _parse_date(value: str) -> date | None:
    if not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _window(req: Request, state: SandboxState) -> tuple[date, date] | Response:
    """Required ``from``/``to`` within one month that falls within the last six months."""
    raw_from, raw_to = req.arg("from"), req.arg("to")
    if not raw_from or not raw_to:
        return _bad(DATES_REQUIRED_MESSAGE)
    first, last = _parse_date(raw_from), _parse_date(raw_to)
    if first is None or last is None:
        return _bad(DATE_FORMAT_MESSAGE)
    if last < first:
        return _bad(DATE_ORDER_MESSAGE)
    today = state.now().date()
    if (last - first).days > MAX_WINDOW_DAYS or first < today - timedelta(days=LOOKBACK_DAYS):
        return _bad(WINDOW_MESSAGE)
    return first, last


@dataclass
class _Page:
    items: Sequence
    page_size: int
    total: int
    next_token: str

    @property
    def page_count(self) -> int:
        return -(-self.total // self.page_size) if self.total else 0

    def keys(self) -> dict:
        return {
            "page_count": self.page_count,
            "page_size": self.page_size,
            "total_records": self.total,
            "next_page_token": self.next_token,
        }


def _paginate(
    req: Request,
    state: SandboxState,
    items: Sequence,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> _Page | Response:
    """Zoom's ``page_size`` + opaque ``next_page_token`` pagination over a deterministic list.

    A token is bound to the path and every query parameter except ``page_size`` and
    ``next_page_token`` (so the page size may change between pages, the query may not).
    """
    raw_size = req.arg("page_size")
    if raw_size in (None, ""):
        size = default_size
    else:
        try:
            size = int(raw_size)
        except ValueError:
            return _bad(f"Invalid field: page_size {raw_size!r}.")
        size = default_size if size < 1 else min(size, max_size)
    signature = (
        req.path
        + "?"
        + urlencode(
            sorted(
                (k, v) for k, vs in req.query.items() if k not in ("next_page_token", "page_size") for v in vs
            )
        )
    )
    offset = 0
    token = req.arg("next_page_token")
    if token:
        read = state.read_page_token(token, signature)
        if read is None:
            return _bad(PAGE_TOKEN_MESSAGE)
        offset = read
    page = items[offset : offset + size]
    end = offset + len(page)
    next_token = state.new_page_token(signature, end) if end < len(items) else ""
    return _Page(page, size, len(items), next_token)


def _quality(profiles: Sequence[str]) -> str:
    """Meeting-level quality label from the sessions' network profiles."""
    if not profiles:
        return ""
    n = len(profiles)
    bad = profiles.count("bad") / n
    fair = profiles.count("fair") / n
    if bad > 0.3:
        return "poor"
    if bad + fair > 0.3:
        return "fair"
    return "good"


SESSION_QUALITY = {"good": "good", "fair": "fair", "bad": "poor"}


def _meeting_type(
    value: str | None, allowed: tuple[str, ...] = ("past", "pastOne", "live")
) -> str | Response:
    kind = value or "live"
    if kind not in allowed:
        return _bad(f"Invalid field: type {kind!r}.")
    return kind


def _dashboard_accept(kind: str, now: datetime) -> Callable[[Meeting], bool]:
    if kind == "live":
        return lambda m: _is_live(m, now)
    return lambda m: _is_past(m, now)


# ----------------------------------------------------------------------------- users
def _last_login(idx: _Index, u: ZoomUser, now: datetime) -> datetime:
    hosted = idx.by_host.get(u.id, [])
    k = bisect.bisect_right(idx.host_starts.get(u.id, []), now)
    if k:
        return hosted[k - 1].start - timedelta(minutes=10)
    return min(now, u.created_at + timedelta(days=_hash_int("login", u.id) % 90, minutes=37))


def _user_item(idx: _Index, u: ZoomUser, now: datetime, include: set[str]) -> dict:
    h = _hash_int("client", u.id)
    item: dict = {"id": u.id} if u.status != "pending" else {}  # spec: no id for pending users
    item.update(
        {
            "email": u.email,
            "type": u.type,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "display_name": u.display_name,
            "status": u.status,
            "role_id": u.role_id,
            "dept": u.dept,
            "timezone": u.timezone,
            "pmi": u.pmi,
            "verified": 0 if u.status == "pending" else 1,
            "created_at": iso(u.login_type_created_at or u.created_at),  # latest login type (2026)
            "user_created_at": iso(u.created_at),
            "group_ids": [],
            "im_group_ids": [],
        }
    )
    if u.status != "pending":  # pending users never signed in
        item["last_login_time"] = iso(_last_login(idx, u, now))
        item["last_client_version"] = (
            f"6.{h % 4}.{h % 13}.{1000 + h % 9000}({'mac' if h % 3 == 0 else 'win'})"
        )
    if "custom_attributes" in include:
        item["custom_attributes"] = []
    if "host_key" in include:
        item["host_key"] = f"{h % 1_000_000:06d}"
    return item


def list_users(req: Request, state: SandboxState, match: re.Match[str], token: AccessToken) -> Response:
    status = req.arg("status") or "active"
    if status not in ("active", "inactive", "pending"):
        return _bad(f"Invalid field: status {status!r}.")
    role_id = req.arg("role_id")
    users = [u for u in state.account.users if u.status == status and (not role_id or u.role_id == role_id)]
    page = _paginate(req, state, users)
    if isinstance(page, Response):
        return page
    idx, now = _index(state), state.now()
    include = set(filter(None, (req.arg("include_fields") or "").split(",")))
    body = {**page.keys(), "page_number": 1}
    body["users"] = [_user_item(idx, u, now, include) for u in page.items]
    return json_response(200, body)


# ----------------------------------------------------------------------------- meetings (series)
def _series_uuid(idx: _Index, s: Series) -> str:
    """The series' scheduling UUID: its first instance's UUID (Zoom reuses it), else a stable hash."""
    instances = idx.by_series.get(s.id)
    if instances:
        return instances[0].uuid
    return base64.b64encode(hashlib.sha256(f"series:{s.id}".encode()).digest()[:16]).decode()


def _series_start(idx: _Index, s: Series) -> datetime | None:
    if s.start_time is not None:
        return s.start_time
    instances = idx.by_series.get(s.id)
    return instances[0].scheduled_start if instances and s.type == 8 else None


def _series_item(idx: _Index, s: Series) -> dict:
    item: dict = {
        "uuid": _series_uuid(idx, s),
        "id": s.id,
        "host_id": s.host_id,
        "topic": s.topic,
        "type": s.type,
    }
    start = _series_start(idx, s)
    if start is not None:
        item["start_time"] = iso(start)
    item.update(
        {
            "duration": s.duration,
            "timezone": s.timezone,
            "created_at": iso(s.created_at),
            "join_url": f"{JOIN_BASE}{s.id}",
            "agenda": f"{s.topic}: weekly session" if s.type == 8 else "",
        }
    )
    return item


def list_user_meetings(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    user = _find_user(state, match["user"])
    if isinstance(user, Response):
        return user
    kind = req.arg("type") or "scheduled"
    if kind not in ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"):
        return _bad(f"Invalid field: type {kind!r}.")
    if not user.may_host:  # the 2022 spec's documented 400 for users without hosting rights
        return zoom_error(400, HOSTING_NOT_ALLOWED_CODE, HOSTING_NOT_ALLOWED_MESSAGE)
    idx, now = _index(state), state.now()
    series = [s for s in idx.host_series.get(user.id, []) if s.created_at <= now]
    if kind == "live":
        series = [s for s in series if any(_is_live(m, now) for m in idx.by_series.get(s.id, []))]
    elif kind in ("upcoming", "upcoming_meetings"):
        series = [s for s in series if s.type == 8 or (s.start_time is not None and s.start_time >= now)]
    elif kind == "previous_meetings":
        series = [s for s in series if s.type == 2 and s.start_time is not None and s.start_time < now]
    page = _paginate(req, state, series)
    if isinstance(page, Response):
        return page
    body = {**page.keys(), "page_number": 1, "meetings": [_series_item(idx, s) for s in page.items]}
    return json_response(200, body)


def get_meeting(req: Request, state: SandboxState, match: re.Match[str], token: AccessToken) -> Response:
    """Series detail by meeting number. Instant meetings cannot be looked up (seed 000)."""
    idx, now = _index(state), state.now()
    ident = unquote(match["mid"])
    s = idx.series_by_id.get(int(ident)) if ident.isdigit() else None
    if s is None or s.type == 1 or s.created_at > now:
        return _not_found(ident)
    host = idx.user_by_id[s.host_id]
    body = _series_item(idx, s)
    body.update(
        {
            "host_email": host.email,
            "assistant_id": "",
            "status": "waiting",
            "agenda": "",
            "start_url": f"{START_BASE}{s.id}",
            "pre_schedule": False,
            "settings": {
                "host_video": True,
                "participant_video": s.type != 4,
                "join_before_host": s.type == 4,
                "mute_upon_entry": s.type == 8,
                "waiting_room": s.type == 4,
                "approval_type": 2,
                "audio": "both",
                "auto_recording": "cloud" if s.type == 8 else "none",
            },
        }
    )
    if s.type == 8 and s.recurrence is not None:
        body["recurrence"] = dict(s.recurrence)
    return json_response(200, body)


# ----------------------------------------------------------------------------- reports
def report_users(req: Request, state: SandboxState, match: re.Match[str], token: AccessToken) -> Response:
    """Active hosts (hosted >= 1 past meeting that started in the window) or inactive users.

    Inactive users are the non-pending users who hosted nothing in the window.
    """
    win = _window(req, state)
    if isinstance(win, Response):
        return win
    kind = req.arg("type") or "active"
    if kind not in ("active", "inactive"):
        return _bad(f"Invalid field: type {kind!r}.")
    first, last = win
    idx, now = _index(state), state.now()
    stats: dict[str, list[int]] = {}
    for m in idx.meetings_starting(first, last):
        if not _is_past(m, now):
            continue
        row = stats.setdefault(m.host.id, [0, 0, 0])
        row[0] += 1
        row[1] += sum(1 for s in state.account.sessions[m.uuid] if s.in_meeting)
        row[2] += _minutes(m.duration_seconds)
    if kind == "active":
        users = [u for u in state.account.users if u.id in stats]
    else:
        users = [u for u in state.account.users if u.id not in stats and u.status != "pending"]
    page = _paginate(req, state, users)
    if isinstance(page, Response):
        return page
    body: dict = {"from": first.isoformat(), "to": last.isoformat(), **page.keys(), "page_number": 1}
    body["total_meetings"] = sum(stats.get(u.id, [0, 0, 0])[0] for u in users)
    body["total_participants"] = sum(stats.get(u.id, [0, 0, 0])[1] for u in users)
    body["total_meeting_minutes"] = sum(stats.get(u.id, [0, 0, 0])[2] for u in users)
    out = []
    for u in page.items:
        meetings, participants, minutes = stats.get(u.id, [0, 0, 0])
        out.append(
            {
                "id": u.id,
                "email": u.email,
                "user_name": u.display_name,
                "type": u.type,
                "dept": u.dept,
                "meetings": meetings,
                "participants": participants,
                "meeting_minutes": minutes,
                "custom_attributes": [],
            }
        )
    body["users"] = out
    return json_response(200, body)


# ----------------------------------------------------------------------------- dashboard
def _dashboard_item(state: SandboxState, m: Meeting, now: datetime) -> dict:
    sessions = [s for s in state.account.sessions[m.uuid] if s.join <= now and s.in_meeting]
    rec = state.account.recording_by_uuid.get(m.uuid)
    live = not _is_past(m, now)
    video_profiles = [s.profile for s in sessions if s.video and s.device != "Phone"]
    share_profiles = [s.profile for s in sessions] if any(s.shares for s in sessions) else []
    item: dict = {
        "uuid": m.uuid,
        "id": m.id,
        "topic": m.topic,
        "host": m.host.display_name,
        "email": m.host.email,
        "user_type": "Licensed" if m.host.type == 2 else "Basic",
        "dept": m.host.dept,
        "start_time": iso(m.start),
    }
    if not live:
        item["end_time"] = iso(m.end)
    item.update(
        {
            "duration": zoom_duration(int(((now if live else m.end) - m.start).total_seconds())),
            "participants": len(sessions),
            "has_pstn": any(s.device == "Phone" for s in sessions),
            "has_voip": any(s.device not in ("Phone", "H.323/SIP") for s in sessions),
            "has_3rd_party_audio": False,
            "has_video": bool(video_profiles),
            "has_screen_share": any(s.shares for s in sessions),
            "has_recording": m.has_recording,
            "has_sip": any(s.device == "H.323/SIP" for s in sessions),
            "has_archiving": False,
            "has_manual_captions": False,
            "has_automated_captions": rec is not None and any(f.file_type == "CC" for f in rec.files),
            "audio_quality": _quality([s.profile for s in sessions]),
            "video_quality": _quality(video_profiles),
            "screen_share_quality": _quality(share_profiles),
            "custom_keys": [],
            "tracking_fields": [],
            "session_key": "",
            "has_poll": False,
            "has_qa": False,
            "has_survey": False,
            "avg_jointime_cost": round(sum(_jointime_cost(s) for s in sessions) / len(sessions), 2)
            if sessions
            else 0.0,
        }
    )
    return item


def _jointime_cost(s: Session) -> float:
    """Seconds the client took to join (the dashboard's ``total_jointime_cost``), stable per session."""
    return round(1.5 + (_hash_int("join", s.meeting.uuid, s.user_id) % 600) / 100, 2)


def list_dashboard_meetings(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    """``type=live`` (default): meetings in progress now; ``past``: ended meetings with >= 2 people
    that started (UTC date) within [from, to]; ``pastOne``: the same for one-person meetings."""
    kind = _meeting_type(req.arg("type"))
    if isinstance(kind, Response):
        return kind
    win = _window(req, state)
    if isinstance(win, Response):
        return win
    first, last = win
    idx, now = _index(state), state.now()
    if kind == "live":
        meetings = [m for m in idx.meetings if _is_live(m, now)]
    else:
        want_one = kind == "pastOne"
        meetings = [
            m
            for m in idx.meetings_starting(first, last)
            if _is_past(m, now) and (idx.people(m) == 1) == want_one
        ]
    page = _paginate(req, state, meetings)
    if isinstance(page, Response):
        return page
    body = {"from": first.isoformat(), "to": last.isoformat(), **page.keys()}
    body["meetings"] = [_dashboard_item(state, m, now) for m in page.items]
    return json_response(200, body)


def get_dashboard_meeting(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    kind = _meeting_type(req.arg("type"))
    if isinstance(kind, Response):
        return kind
    now = state.now()
    m = _resolve_instance(state, match["mid"], _dashboard_accept(kind, now))
    if isinstance(m, Response):
        return m
    item = _dashboard_item(state, m, now)
    for key in ("audio_quality", "video_quality", "screen_share_quality", "session_key", "tracking_fields"):
        item.pop(key, None)  # in the list's items, not in the detail's published schema
    item["in_room_participants"] = 0
    item["has_meeting_summary"] = False
    return json_response(200, item)


def _machine(s: Session) -> dict:
    """Per-person machine facts (stable across that person's meetings on the same device)."""
    if s.device in ("Phone", "H.323/SIP"):
        return {"mac_addr": "", "pc_name": "", "domain": "", "harddisk_id": ""}
    h = hashlib.sha256(f"machine:{s.person.key}:{s.device}".encode()).hexdigest()
    first = s.person.name.split()[0]
    first_ascii = "".join(ch for ch in first if ch.isascii() and ch.isalnum()) or "user"
    staff = s.person.zoom_user_id != ""
    return {
        "mac_addr": "-".join(h[i : i + 2] for i in range(0, 12, 2)).upper(),
        "pc_name": f"{first_ascii.upper()}-{s.device.upper()}-{h[12:16].upper()}",
        "domain": "university.example.edu" if staff and s.device == "Windows" else "",
        "harddisk_id": h[16:48] if s.device in ("Windows", "Mac", "Linux") else "",
    }


def _devices(s: Session) -> dict:
    if s.device == "Phone":
        return {"microphone": "", "speaker": "", "camera": ""}
    if s.device in ("iOS", "Android"):
        mic, spk = "iPhone Microphone" if s.device == "iOS" else "Built-in Microphone", "Speaker"
    elif s.device == "Mac":
        mic, spk = "MacBook Pro Microphone", "MacBook Pro Speakers"
    elif s.device == "H.323/SIP":
        mic, spk = "Room Microphone", "Room Speaker"
    else:
        mic, spk = "Microphone Array (Realtek(R) Audio)", "Speakers (Realtek(R) Audio)"
    return {"microphone": mic, "speaker": spk, "camera": "Integrated Camera" if s.video else ""}


def shown_email(s: Session) -> str:
    """Zoom's email display rule: account members' emails are shown, external participants' only
    in the documented exceptions (registered, authenticated...), else ``""``."""
    p = s.person
    return p.email if (p.zoom_user_id or p.zoom_email_visible) else ""


def _participant_item(s: Session, now: datetime) -> dict:
    m = s.meeting
    item: dict = {
        "id": s.person.zoom_user_id,  # deprecated by Zoom in favour of participant_user_id
        "user_id": s.user_id,
        "participant_user_id": s.person.zoom_user_id,
        "participant_uuid": s.person.participant_uuid,
        "user_name": s.person.name,
        "email": shown_email(s),
        "registrant_id": "",
        "join_time": iso(s.join),
    }
    if s.leave <= now:
        item["leave_time"] = iso(s.leave)
        item["leave_reason"] = s.leave_reason
    item.update(
        {
            "status": s.status,
            "role": "host" if s.is_host else "attendee",
            "device": s.device,
            "os": s.os,
            "os_version": s.os_version,
            **_browser(s),
            "client": s.client,
            "version": s.version,
            "ip_address": s.ip_address,
            "internal_ip_addresses": _internal_ips(s),
            "location": s.location,
            "data_center": s.data_center,
            "full_data_center": f"{s.data_center};",  # the spec's example: "United States (SC Top);"
            "network_type": s.network_type,
            "connection_type": s.connection_type,
            **_machine(s),
            **_devices(s),
            "audio_quality": SESSION_QUALITY[s.profile],
            "video_quality": SESSION_QUALITY[s.profile] if s.video and s.device != "Phone" else "",
            "screen_share_quality": SESSION_QUALITY[s.profile] if s.shares else "",
            "share_application": False,
            "share_desktop": s.shares,
            "share_whiteboard": False,
            "recording": s.is_host and m.has_recording,
            "has_archiving": False,
            "optional_archiving": "no optional archiving",
            "in_room_participants": 0,
            "bo_mtg_id": "",
            "audio_call": _audio_call(s),
            "customer_key": "",
            "groupId": "",
            "total_jointime_cost": _jointime_cost(s),
            **_connection_details(s),
        }
    )
    return item


def _internal_ips(s: Session) -> list[str]:
    """The computer's LAN address(es): app users on a computer only."""
    if s.device not in ("Windows", "Mac") or s.connector:
        return []
    h = _hash_int("lan", s.person.key)
    return [f"192.168.{h % 250}.{(h >> 8) % 250 + 2}"]


def _audio_call(s: Session) -> list[dict]:
    """Dial-in details of a phone participant (the spec's ``audio_call`` items)."""
    if s.device != "Phone":
        return []
    return [{"call_number": f"+1617555{_hash_int('pstn', s.person.key) % 10000:04d}", "call_type": "call-in",
             "zoom_number": "+16465588656"}]  # fmt: skip


def _connection_details(s: Session) -> dict:
    """Per-stream connection types, SIP URIs of room systems, device names of phones and tablets."""
    out: dict = {}
    if s.video:
        out["video_connection_type"] = s.connection_type
    if s.shares:
        out["as_connection_type"] = s.connection_type
    if s.device == "H.323/SIP":
        out["sip_uri"] = f"room-{_hash_int('sip', s.person.key) % 1000}@rooms.university.example.edu"
        out["from_sip_uri"] = out["sip_uri"]
    if s.device in ("iOS", "Android"):
        out["device_name"] = "iPhone 15" if s.device == "iOS" else "Pixel 8"
    return out


def _browser(s: Session) -> dict:
    """``browser_name`` / ``browser_version``: participants who joined in the browser only."""
    return {"browser_name": s.browser, "browser_version": "133"} if s.browser else {}


def _meeting_sessions(
    req: Request, state: SandboxState, match: re.Match[str]
) -> tuple[list[Session], datetime, Meeting] | Response:
    kind = _meeting_type(req.arg("type"))
    if isinstance(kind, Response):
        return kind
    now = state.now()
    m = _resolve_instance(state, match["mid"], _dashboard_accept(kind, now))
    if isinstance(m, Response):
        return m
    return [s for s in state.account.sessions[m.uuid] if s.join <= now], now, m


def list_dashboard_participants(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    """One item per participant **session**. The default ``type=live`` hides past meetings (404)."""
    found = _meeting_sessions(req, state, match)
    if isinstance(found, Response):
        return found
    sessions, now, m = found
    page = _paginate(req, state, sessions)
    if isinstance(page, Response):
        return page
    return json_response(
        200,
        {
            **page.keys(),
            "meeting_number": str(m.id),
            "participants": [_participant_item(s, now) for s in page.items],
        },
    )


def list_dashboard_qos(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    """Per-minute QoS per session; page_size default 1, max 10. QoS is generated per page only.
    Waiting-room stints are not listed: nothing flows in the waiting room."""
    found = _meeting_sessions(req, state, match)
    if isinstance(found, Response):
        return found
    sessions, now, m = found
    sessions = [s for s in sessions if s.in_meeting]
    page = _paginate(req, state, sessions, QOS_DEFAULT_PAGE_SIZE, QOS_MAX_PAGE_SIZE)
    if isinstance(page, Response):
        return page
    out = []
    for s in page.items:
        item: dict = {
            "id": s.person.zoom_user_id,
            "user_id": s.user_id,
            "user_name": s.person.name,
            "email": shown_email(s),
            "participant_uuid": s.person.participant_uuid,
            "device": s.device,
            "os": s.os,
            "os_version": s.os_version,
            **_browser(s),
            "client": s.client,
            "version": s.version,
            "ip_address": s.ip_address,
            "internal_ip_addresses": _internal_ips(s),
            "location": s.location,
            "network_type": s.network_type,
            "connection_type": s.connection_type,
            "data_center": s.data_center,
            "full_data_center": f"{s.data_center};",
            **_machine(s),
            **{k: v for k, v in _connection_details(s).items() if not k.endswith("sip_uri")},
            "share_application": False,
            "share_desktop": s.shares,
            "share_whiteboard": False,
            "recording": s.is_host and s.meeting.has_recording,
            "has_archiving": False,
            "optional_archiving": "no optional archiving",
            "groupId": "",
            "health": {"good": "Good", "fair": "Warning", "bad": "Critical"}[s.profile],
            "issue_list": ["High network latency"] if s.profile == "bad" else [],
            "total_jointime_cost": _jointime_cost(s),
            "join_time": iso(s.join),
        }
        if s.leave <= now:
            item["leave_time"] = iso(s.leave)
        qos = state.account.qos(s)
        if s.leave > now:  # live: only the minutes that have passed
            qos = [q for q in qos if q["date_time"] < iso(now)]
        item["user_qos"] = qos
        out.append(item)
    return json_response(200, {**page.keys(), "meeting_number": str(m.id), "participants": out})


# ----------------------------------------------------------------------------- past meetings
def get_past_meeting(req: Request, state: SandboxState, match: re.Match[str], token: AccessToken) -> Response:
    now = state.now()
    m = _resolve_instance(state, match["mid"], lambda x: _is_past(x, now))
    if isinstance(m, Response):
        return m
    sessions = [s for s in state.account.sessions[m.uuid] if s.in_meeting]
    body = {
        "uuid": m.uuid,
        "id": m.id,
        "host_id": m.host.id,
        "type": m.type,
        "topic": m.topic,
        "user_name": m.host.display_name,
        "user_email": m.host.email,
        "start_time": iso(m.start),
        "end_time": iso(m.end),
        "duration": _minutes(m.duration_seconds),
        "total_minutes": sum(_minutes((s.leave - s.join).total_seconds()) for s in sessions),
        "participants_count": len(sessions),
        "dept": m.host.dept,
        "source": "Zoom",
    }
    return json_response(200, body)


# ----------------------------------------------------------------------------- recordings
def trashed_at(rec: Recording, retention: bool | None = None) -> datetime | None:
    """When the recording went to the trash: ``trashed_at``, or (with retention rules) 00:00 UTC of
    its ``auto_delete_date`` if that comes first."""
    moments = []
    if rec.trashed_at is not None:
        moments.append(rec.trashed_at)
    retention = APPLY_RETENTION if retention is None else retention
    if retention and rec.auto_delete and rec.auto_delete_date is not None:
        moments.append(datetime.combine(rec.auto_delete_date, datetime.min.time(), UTC))
    return min(moments) if moments else None


def recording_visibility(rec: Recording, now: datetime, retention: bool | None = None) -> str:
    """``processing`` (not yet available), ``available``, ``trashed`` or (with retention rules)
    ``deleted`` (purged from the trash) at ``now``. ``retention`` defaults to ``APPLY_RETENTION``."""
    retention = APPLY_RETENTION if retention is None else retention
    if rec.available_at > now:
        return "processing"
    gone = trashed_at(rec, retention)
    if gone is None or gone > now:
        return "available"
    if retention and now >= gone + TRASH_RETENTION:
        return "deleted"
    return "trashed"


def _file_item(f: RecordingFile, base: str, deleted: datetime | None) -> dict:
    item: dict = {}
    if f.has_id:
        item["id"] = f.id
    item.update(
        {
            "meeting_id": f.meeting_uuid,
            "recording_start": iso(f.recording_start),
            "recording_end": iso(f.recording_end),
            "file_type": f.file_type,
            "file_extension": f.file_extension,
        }
    )
    if f.has_id:  # CC (and some TIMELINE) files carry no id, status, file_size or recording_type
        item["file_size"] = f.size
    if f.has_play_url:
        item["play_url"] = f"{PLAY_BASE}{f.key}"
    item["download_url"] = f"{base}/rec/download/{f.key}"
    if f.has_id:
        item["status"] = "completed"
        item["recording_type"] = f.recording_type
    if deleted is not None:
        item["deleted_time"] = iso(deleted)
    return item


def _recording_head(rec: Recording, total_size: int, recording_count: int) -> dict:
    m = rec.meeting
    return {
        "uuid": m.uuid,
        "id": m.id,
        "account_id": SANDBOX_ACCOUNT_ID,
        "host_id": m.host.id,
        "topic": m.topic,
        "type": m.type,
        "start_time": iso(m.start),
        "timezone": m.series.timezone,
        "duration": _minutes(m.duration_seconds),
        "total_size": total_size,
        "recording_count": recording_count,
        "share_url": rec.share_url,
    }


def _recording_item(rec: Recording, base: str, trash: bool) -> dict:
    deleted = trashed_at(rec) if trash else None
    item = _recording_head(rec, sum(f.size for f in rec.files), rec.recording_count)
    if rec.passcode:
        item["recording_play_passcode"] = rec.passcode
    item["auto_delete"] = rec.auto_delete
    if rec.auto_delete and rec.auto_delete_date is not None:
        item["auto_delete_date"] = rec.auto_delete_date.isoformat()
    item["recording_files"] = [_file_item(f, base, deleted) for f in rec.files]
    return item


def _processing_item(rec: Recording, base: str) -> dict:
    """A recording Zoom is still processing, as a 2021 capture shows it: listed already, with no
    size, ``recording_count`` 0 and one file whose type, extension and end are empty."""
    f = next((x for x in rec.files if x.has_id), rec.files[0])
    return {
        **_recording_head(rec, 0, 0),
        "recording_files": [
            {
                "id": f.id or _uuid_from(f.key),
                "meeting_id": f.meeting_uuid,
                "recording_start": iso(f.recording_start),
                "recording_end": "",
                "file_type": "",
                "file_extension": "",
                "file_size": 0,
                "play_url": f"{PLAY_BASE}{f.key}",
                "download_url": f"{base}/rec/download/{f.key}",
            }
        ],
    }


def _uuid_from(key: str) -> str:
    h = hashlib.sha256(key.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def list_user_recordings(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    """Cloud recordings of one user by meeting start date (UTC).

    Without from/to only ``[today - 1 day, today]``; a span over ``MAX_WINDOW_DAYS`` silently moves
    ``from`` to ``to - MAX_WINDOW_DAYS`` (echoed in the body). ``trash=true`` lists the trashed
    recordings regardless of dates, with ``deleted_time`` on the files.
    """
    user = _find_user(state, match["user"])
    if isinstance(user, Response):
        return user
    now = state.now()
    today = now.date()
    raw_from, raw_to = req.arg("from"), req.arg("to")
    first = _parse_date(raw_from) if raw_from else None
    last = _parse_date(raw_to) if raw_to else None
    if (raw_from and first is None) or (raw_to and last is None):
        return _bad(DATE_FORMAT_MESSAGE)
    if last is None:
        last = today if first is None or first <= today else first
    if first is None:
        first = last - timedelta(days=RECORDINGS_DEFAULT_DAYS)
    if last < first:
        return _bad(DATE_ORDER_MESSAGE)
    if (last - first).days > MAX_WINDOW_DAYS:
        first = last - timedelta(days=MAX_WINDOW_DAYS)
    trash = (req.arg("trash") or "false").lower() == "true"
    trash_type = req.arg("trash_type") or "meeting_recordings"
    if trash_type not in ("meeting_recordings", "recording_file"):
        return _bad(f"Invalid field: trash_type {trash_type!r}.")
    mine = _index(state).recordings_by_host.get(user.id, [])
    if trash:
        # whole recordings go to the trash in this account; no single file is trashed on its own
        recs = (
            [r for r in mine if recording_visibility(r, now) == "trashed"]
            if trash_type == "meeting_recordings"
            else []
        )
    else:
        recs = [
            r
            for r in mine
            if first <= r.meeting.start.date() <= last
            and r.meeting.start <= now
            and recording_visibility(r, now) in ("available", "processing")
        ]
    page = _paginate(req, state, recs)
    if isinstance(page, Response):
        return page
    base = _base_url(req, state)
    body = {"from": first.isoformat(), "to": last.isoformat(), **page.keys()}
    body["meetings"] = [
        _processing_item(r, base)
        if recording_visibility(r, now) == "processing"
        else _recording_item(r, base, trash)
        for r in page.items
    ]
    return json_response(200, body)


def get_meeting_recordings(
    req: Request, state: SandboxState, match: re.Match[str], token: AccessToken
) -> Response:
    """One meeting's recording by UUID, or by meeting number (the latest ended instance)."""
    now = state.now()
    m = _resolve_instance(state, match["mid"], lambda x: _is_past(x, now))
    if isinstance(m, Response):
        return m
    rec = state.account.recording_by_uuid.get(m.uuid)
    if rec is None or recording_visibility(rec, now) != "available":
        return zoom_error(404, 3301, RECORDING_MISSING_MESSAGE)
    include = set(filter(None, (req.arg("include_fields") or "").split(",")))
    ttl = DOWNLOAD_TOKEN_DEFAULT_TTL
    raw_ttl = req.arg("ttl")
    if raw_ttl not in (None, ""):
        try:
            ttl = int(raw_ttl)
        except ValueError:
            return _bad(f"Invalid field: ttl {raw_ttl!r}.")
        if not 0 <= ttl <= DOWNLOAD_TOKEN_MAX_TTL:
            return _bad(f"Invalid field: ttl must be between 0 and {DOWNLOAD_TOKEN_MAX_TTL}.")
    body = _recording_item(rec, _base_url(req, state), trash=False)
    files = body.pop("recording_files")
    body["password"] = rec.password or ""
    body["recording_play_passcode"] = rec.passcode or ""
    body["recording_files"] = files
    body["participant_audio_files"] = []
    if "download_access_token" in include:
        value = "sbx_dat_" + secrets.token_urlsafe(32)
        with state.lock:
            state.download_tokens[value] = (m.uuid, time.monotonic() + ttl)
        body["download_access_token"] = value
    return json_response(200, body)


# ----------------------------------------------------------------------------- downloads
def _limited(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    left = n
    for chunk in chunks:
        if left <= 0:
            return
        piece = chunk[:left]
        left -= len(piece)
        yield piece


def _filename(rec: Recording, f: RecordingFile) -> str:
    stamp = f.recording_start.strftime("%Y%m%d-%H%M%S")
    kind = f.recording_type or f.file_type.lower()
    return f"GMT{stamp}_Recording_{kind}.{f.file_extension.lower()}"


def download(req: Request, state: SandboxState, key: str) -> Response:
    """``GET /rec/download/<file key>``: Bearer access token, or ``?access_token=`` holding an access
    token or the meeting's ``download_access_token``. Streams deterministic bytes; ``Range: bytes=N-``
    resumes with 206."""
    header = req.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    presented = bearer or req.arg("access_token")
    tok: AccessToken | None = None
    download_meeting: str | None = None
    if not presented:
        return zoom_error(401, 124, "Invalid access token.")
    with state.lock:
        dat = state.download_tokens.get(presented) if bearer is None else None
    if dat is not None:
        if time.monotonic() >= dat[1]:
            return zoom_error(401, 124, "Access token is expired.")
        download_meeting = dat[0]
    else:
        tok, problem = state.check_access_token(presented)
        if tok is None:
            return zoom_error(401, 124, problem or "Invalid access token.")
    found = state.account.file_by_key.get(key)
    if found is None:
        return zoom_error(404, 3301, RECORDING_MISSING_MESSAGE)
    rec, f = found
    if recording_visibility(rec, state.now()) != "available":
        return zoom_error(404, 3301, RECORDING_MISSING_MESSAGE)
    if download_meeting is not None and download_meeting != rec.meeting.uuid:
        return zoom_error(401, 124, "Invalid access token.")
    if rec.passcode and download_meeting is None and (tok is None or tok.kind != "user"):
        return zoom_error(403, 300, PASSCODE_MESSAGE)
    size = f.size
    headers = {
        "Content-Disposition": f'attachment; filename="{_filename(rec, f)}"',
        "Accept-Ranges": "bytes",
    }
    ctype = CONTENT_TYPES.get(f.file_type, "application/octet-stream")
    rng = _RANGE_RE.fullmatch((req.headers.get("Range") or "").strip())
    if rng:
        start = int(rng[1])
        end = min(int(rng[2]), size - 1) if rng[2] else size - 1
        if start >= size or end < start:
            headers["Content-Range"] = f"bytes */{size}"
            return zoom_error(416, 416, "Requested range not satisfiable.", headers)
        length = end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        body = _limited(Account.content_chunks(size, f.content_seed, offset=start), length)
        return Response(206, body, headers, ctype, length)
    return Response(200, Account.content_chunks(size, f.content_seed), headers, ctype, size)


# ----------------------------------------------------------------------------- routes
_ID = r"(?P<mid>[^/]+)"
_USER = r"(?P<user>[^/]+)"

ROUTES: list[Route] = [
    Route("GET", re.compile(r"/users"), "medium", "users", list_users),
    Route("GET", re.compile(rf"/users/{_USER}/meetings"), "medium", "users/meetings", list_user_meetings),
    Route(
        "GET", re.compile(rf"/users/{_USER}/recordings"), "medium", "users/recordings", list_user_recordings
    ),
    Route("GET", re.compile(rf"/meetings/{_ID}"), "light", "meetings", get_meeting),
    Route(
        "GET",
        re.compile(rf"/meetings/{_ID}/recordings"),
        "light",
        "meetings/recordings",
        get_meeting_recordings,
    ),
    Route("GET", re.compile(r"/report/users"), "heavy", "report/users", report_users),
    Route(
        "GET",
        re.compile(r"/metrics/meetings"),
        "resource_intensive",
        "metrics/meetings",
        list_dashboard_meetings,
    ),
    Route(
        "GET", re.compile(rf"/metrics/meetings/{_ID}"), "heavy", "metrics/meetings/get", get_dashboard_meeting
    ),
    Route(
        "GET",
        re.compile(rf"/metrics/meetings/{_ID}/participants"),
        "heavy",
        "metrics/meetings/participants",
        list_dashboard_participants,
    ),
    Route(
        "GET",
        re.compile(rf"/metrics/meetings/{_ID}/participants/qos"),
        "heavy",
        "metrics/meetings/participants/qos",
        list_dashboard_qos,
    ),
    Route("GET", re.compile(rf"/past_meetings/{_ID}"), "light", "past_meetings", get_past_meeting),
]
