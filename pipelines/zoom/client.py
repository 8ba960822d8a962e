"""Zoom REST endpoints on top of the shared :class:`~pipelines.api_client.ApiClient`.

What lives here and why:

* **paging** with ``next_page_token`` at the maximum page size, restarted from the first page when
  Zoom says the token is invalid or expired (tokens live 15 minutes, and a restart is the only
  safe recovery: the token encodes an offset into a result set we can no longer address);
* **UUID encoding**: Zoom's rule is to URL-encode a meeting UUID twice when it begins with ``/`` or
  contains ``//`` (a single encoding is decoded by Zoom's router into a path separator);
* **date windows**: the dashboard and report APIs reject ``from``/``to`` spans over one month, and
  the recordings list silently truncates them, so every dated call goes through
  :func:`month_windows` (calendar months, never more than 30 days from ``from`` to ``to``);
* the **rate-limit category** of every endpoint (Zoom's published labels), so the shared limiter
  and the daily budget count each call where Zoom counts it.

Everything returns plain JSON objects (dicts) exactly as Zoom sent them; shaping for the warehouse
happens in the source.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipelines import clock
from pipelines.api_client import HEAVY, LIGHT, MEDIUM, RESOURCE_INTENSIVE, ApiClient, ApiError

log = logging.getLogger("pipelines.zoom")

MAX_PAGE_SIZE = 300
"""Largest ``page_size`` Zoom accepts on list endpoints (users, dashboard, reports, recordings)."""
MAX_QOS_PAGE_SIZE = 10
"""Largest ``page_size`` of ``/metrics/meetings/{id}/participants/qos``."""
MAX_WINDOW_DAYS = 30
"""``to - from`` of a dated request never exceeds this (Zoom: "one month")."""
HISTORY_DAYS = 182
"""How far back the dashboard/report APIs go ("the last six months"), with one day of margin."""

EXPIRED_PAGE_TOKEN_CODE = 300
HOSTING_NOT_ALLOWED_CODE = 3161
"""``GET /users/{id}/meetings`` answers HTTP 400 with this code for a user who may not host or
schedule meetings (a role without the privilege, or type 4 "Unassigned without Meetings Basic")."""
EXPIRED_PAGE_TOKEN_MARKERS = ("next page token", "next_page_token")

USER_STATUSES = ("active", "inactive", "pending")


# ----------------------------------------------------------------------------- pure helpers
def needs_double_encoding(uuid: str) -> bool:
    """Zoom's rule: UUIDs that begin with ``/`` or contain ``//`` must be URL-encoded twice."""
    return uuid.startswith("/") or "//" in uuid


def encode_meeting_id(meeting_id: str | int) -> str:
    """A meeting UUID (or number) as a path segment, double-encoded when Zoom requires it.

    ``/ajXp112QmuoKj4854875==`` -> ``%252FajXp112QmuoKj4854875%253D%253D``;
    ``abc+def/ghi==`` -> ``abc%2Bdef%2Fghi%3D%3D`` (single encoding suffices).
    """
    text = str(meeting_id)
    once = quote(text, safe="")
    return quote(once, safe="") if needs_double_encoding(text) else once


def month_windows(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Split ``[start, end]`` (inclusive dates) into calendar-month windows.

    Calendar months satisfy every reading of Zoom's "one month" limit (both ends in the same month,
    at most 30 days apart) and give stable report windows (``active_hosts`` keys) from run to run.
    Returns ``[]`` when ``end < start``.
    """
    windows: list[tuple[dt.date, dt.date]] = []
    cursor = start
    while cursor <= end:
        month_end = _last_day_of_month(cursor)
        last = min(month_end, end)
        windows.append((cursor, last))
        cursor = last + dt.timedelta(days=1)
    return windows


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _last_day_of_month(day: dt.date) -> dt.date:
    first_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first_next - dt.timedelta(days=1)


def earliest_allowed_date(today: dt.date) -> dt.date:
    """The oldest ``from`` the dashboard/report APIs accept (six months, one day of margin)."""
    return today - dt.timedelta(days=HISTORY_DAYS)


def utc_today() -> dt.date:
    return clock.today()


def zoom_error_of(exc: ApiError) -> tuple[int | None, str]:
    """``(code, message)`` of a Zoom error body carried by an :class:`ApiError`."""
    body = exc.body or ""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, body
    if not isinstance(payload, dict):
        return None, body
    code = payload.get("code")
    message = payload.get("message")
    return (code if isinstance(code, int) else None), (message if isinstance(message, str) else "")


def is_hosting_not_allowed(exc: ApiError) -> bool:
    """Zoom's 400/3161: "Meeting hosting and scheduling capabilities are not allowed for your user account"."""
    return exc.status == 400 and zoom_error_of(exc)[0] == HOSTING_NOT_ALLOWED_CODE


def is_expired_page_token(exc: ApiError) -> bool:
    """Zoom's "The next page token is invalid or expired" (HTTP 400/code 300)."""
    if exc.status != 400:
        return False
    code, message = zoom_error_of(exc)
    text = message.lower()
    return code in (EXPIRED_PAGE_TOKEN_CODE, None) and any(m in text for m in EXPIRED_PAGE_TOKEN_MARKERS)


def parse_dashboard_duration(value: str | None) -> int | None:
    """Dashboard ``duration`` (``hh:mm:ss``, hours dropped when 0: ``"16:08"``) -> seconds.

    Kept raw in the warehouse (staging parses it); used here for estimates and summaries.
    """
    if not value:
        return None
    parts = value.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


# ----------------------------------------------------------------------------- client
class PageTokenExpired(ApiError):
    """Pagination kept failing with an expired ``next_page_token`` after every restart."""


@dataclass(frozen=True)
class Endpoint:
    path: str
    category: str
    items_key: str
    max_page_size: int = MAX_PAGE_SIZE


USERS = Endpoint("users", MEDIUM, "users")
USER_MEETINGS = Endpoint("users/{user}/meetings", MEDIUM, "meetings")
MEETING = Endpoint("meetings/{meeting}", LIGHT, "")
PAST_MEETING = Endpoint("past_meetings/{meeting}", LIGHT, "")
REPORT_USERS = Endpoint("report/users", HEAVY, "users")
DASHBOARD_MEETINGS = Endpoint("metrics/meetings", RESOURCE_INTENSIVE, "meetings")
DASHBOARD_PARTICIPANTS = Endpoint("metrics/meetings/{meeting}/participants", HEAVY, "participants")
DASHBOARD_QOS = Endpoint(
    "metrics/meetings/{meeting}/participants/qos", HEAVY, "participants", MAX_QOS_PAGE_SIZE
)
USER_RECORDINGS = Endpoint("users/{user}/recordings", MEDIUM, "meetings")

PageHook = Callable[[str, int, Mapping[str, Any]], None]
"""``hook(path, page_number, body)`` called after every page (progress, tests, benchmarks); ``path``
is the path actually requested (meeting UUIDs encoded as sent)."""


class ZoomClient:
    """The Zoom endpoints the source needs, each returning complete, restart-safe result lists."""

    def __init__(
        self,
        api: ApiClient,
        *,
        page_size: int = MAX_PAGE_SIZE,
        qos_page_size: int = MAX_QOS_PAGE_SIZE,
        max_restarts: int = 3,
        on_page: PageHook | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        if not 1 <= qos_page_size <= MAX_QOS_PAGE_SIZE:
            raise ValueError(f"qos_page_size must be within 1..{MAX_QOS_PAGE_SIZE}")
        self.api = api
        self.page_size = page_size
        self.qos_page_size = qos_page_size
        self.max_restarts = max_restarts
        self.on_page = on_page

    # ------------------------------------------------------------------ paging
    def pages(
        self, endpoint: Endpoint, *, path: str | None = None, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict]:
        """Every page body of one listing, in order (no restart: see :meth:`collect`)."""
        wanted = self.qos_page_size if endpoint.max_page_size <= MAX_QOS_PAGE_SIZE else self.page_size
        size = min(wanted, endpoint.max_page_size)
        query: dict[str, Any] = {**(params or {}), "page_size": size}
        target = path or endpoint.path
        token = ""
        number = 0
        while True:
            if token:
                query["next_page_token"] = token
            body = self.api.get_json(target, category=endpoint.category, params=query)
            if not isinstance(body, dict):
                raise ApiError(
                    f"GET {endpoint.path} returned {type(body).__name__} instead of a JSON object; "
                    "the API (or a proxy in front of it) is misbehaving. Rerun later.",
                    endpoint=endpoint.path,
                )
            number += 1
            if self.on_page is not None:
                self.on_page(target, number, body)
            yield body
            token = body.get("next_page_token") or ""
            if not token:
                return

    def collect(
        self, endpoint: Endpoint, *, path: str | None = None, params: Mapping[str, Any] | None = None
    ) -> tuple[list[dict], dict]:
        """All items of a listing plus the first page's top-level fields (``from``, ``to``...).

        When Zoom reports the ``next_page_token`` invalid or expired, the listing starts over from
        the first page (up to ``max_restarts`` times): partial results are discarded, so callers
        never see a half-listed result set.
        """
        restarts = 0
        while True:
            items: list[dict] = []
            head: dict = {}
            try:
                for number, body in enumerate(self.pages(endpoint, path=path, params=params), start=1):
                    if number == 1:
                        head = {k: v for k, v in body.items() if k != endpoint.items_key}
                    items.extend(body.get(endpoint.items_key) or ())
                return items, head
            except ApiError as exc:
                if not is_expired_page_token(exc):
                    raise
                if restarts >= self.max_restarts:
                    raise PageTokenExpired(
                        f"GET {endpoint.path}: the next_page_token expired {restarts + 1} times in a row "
                        "(Zoom keeps page tokens for 15 minutes). The listing was restarted each time "
                        "without success; check for long pauses (rate-limit waits, a slow network) "
                        "and rerun.",
                        status=exc.status,
                        endpoint=endpoint.path,
                        body=exc.body,
                    ) from exc
                restarts += 1
                log.info(
                    "GET %s: next_page_token expired after %d items; restarting the listing (%d/%d)",
                    endpoint.path,
                    len(items),
                    restarts,
                    self.max_restarts,
                )

    # ------------------------------------------------------------------ endpoints
    def users(self, status: str) -> list[dict]:
        """``GET /users?status=`` (Medium)."""
        return self.collect(USERS, params={"status": status})[0]

    def user_meetings(self, user_id: str) -> list[dict]:
        """``GET /users/{id}/meetings?type=scheduled`` (Medium): the user's scheduled series."""
        path = USER_MEETINGS.path.format(user=quote(user_id, safe=""))
        return self.collect(USER_MEETINGS, path=path, params={"type": "scheduled"})[0]

    def meeting(self, meeting_id: int | str) -> dict:
        """``GET /meetings/{id}`` (Light): series detail (recurrence)."""
        path = MEETING.path.format(meeting=encode_meeting_id(meeting_id))
        body = self.api.get_json(path, category=MEETING.category)
        return body if isinstance(body, dict) else {}

    def past_meeting(self, meeting_uuid: str) -> dict:
        """``GET /past_meetings/{uuid}`` (Light): one ended instance (404/3001 when Zoom has none)."""
        path = PAST_MEETING.path.format(meeting=encode_meeting_id(meeting_uuid))
        body = self.api.get_json(path, category=PAST_MEETING.category)
        return body if isinstance(body, dict) else {}

    def active_hosts(self, first: dt.date, last: dt.date) -> tuple[list[dict], dict]:
        """``GET /report/users?type=active&from&to`` (Heavy), one window of at most a month."""
        _check_window(first, last)
        params = {"type": "active", "from": first.isoformat(), "to": last.isoformat()}
        return self.collect(REPORT_USERS, params=params)

    def dashboard_meetings(self, first: dt.date, last: dt.date, kind: str = "past") -> list[dict]:
        """``GET /metrics/meetings?type=past&from&to`` (Resource-intensive), one window."""
        _check_window(first, last)
        params = {"type": kind, "from": first.isoformat(), "to": last.isoformat()}
        return self.collect(DASHBOARD_MEETINGS, params=params)[0]

    def participants(self, meeting_uuid: str, kind: str = "past") -> list[dict]:
        """``GET /metrics/meetings/{uuid}/participants?type=past`` (Heavy): one item per session."""
        path = DASHBOARD_PARTICIPANTS.path.format(meeting=encode_meeting_id(meeting_uuid))
        return self.collect(DASHBOARD_PARTICIPANTS, path=path, params={"type": kind})[0]

    def participants_qos(self, meeting_uuid: str, kind: str = "past") -> list[dict]:
        """``GET /metrics/meetings/{uuid}/participants/qos?type=past`` (Heavy), 10 sessions a page."""
        path = DASHBOARD_QOS.path.format(meeting=encode_meeting_id(meeting_uuid))
        qos_kind = "past" if kind == "pastOne" else kind  # the QoS list knows past and live only
        return self.collect(DASHBOARD_QOS, path=path, params={"type": qos_kind})[0]

    def user_recordings(self, user_id: str, first: dt.date, last: dt.date) -> list[dict]:
        """``GET /users/{id}/recordings?from&to`` (Medium), one window of at most a month."""
        _check_window(first, last)
        path = USER_RECORDINGS.path.format(user=quote(user_id, safe=""))
        items, head = self.collect(
            USER_RECORDINGS, path=path, params={"from": first.isoformat(), "to": last.isoformat()}
        )
        # Zoom silently narrows spans it dislikes; a narrowed window would lose recordings.
        echoed = head.get("from")
        if echoed and echoed != first.isoformat():
            raise ApiError(
                f"GET {USER_RECORDINGS.path}: Zoom narrowed the window {first}..{last} to start at "
                f"{echoed}; recordings before that would be missed. Use shorter windows.",
                endpoint=USER_RECORDINGS.path,
            )
        return items

    def user_trash(self, user_id: str) -> list[dict]:
        """``GET /users/{id}/recordings?trash=true`` (Medium): trashed recordings, no date filter."""
        path = USER_RECORDINGS.path.format(user=quote(user_id, safe=""))
        params = {"trash": "true", "trash_type": "meeting_recordings"}
        return self.collect(USER_RECORDINGS, path=path, params=params)[0]


def _check_window(first: dt.date, last: dt.date) -> None:
    if last < first or (last - first).days > MAX_WINDOW_DAYS:
        raise ValueError(f"window {first}..{last} is not within one month; split it with month_windows()")
