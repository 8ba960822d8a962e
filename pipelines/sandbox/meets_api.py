"""MEETS (CirQlive) SaaS API functions of the sandbox, per the MEETS SaaS API Usage Manual.

``handle(req, state, function)`` answers ``/meets/api/<function>`` after the server has counted the
request, checked the API token and applied faults. ``storage(req, state)`` is the third-party storage
host that ``download_conference_recording`` redirects to (the second port of the sandbox).

Documented behaviour reproduced here, including the inconvenient parts:

* Every function takes its parameters from the query string (GET) or from an
  ``application/x-www-form-urlencoded`` body (POST). **Input limits**: a value larger than 512 bytes
  in the query string, or 4096 bytes in a POST body, is silently ignored, as if it had not been sent.
  *Size* is measured on the value exactly as it arrived on the wire, i.e. its percent-encoded form in
  the raw query string / raw body (``%2C`` counts 3 bytes, a literal ``,`` counts 1). This is the
  strict reading: a client that keeps the *encoded* size under the limit is safe whichever way the
  real service measures. Examples: 100 comma-separated 4-digit ids are 499 bytes with literal commas
  (honoured by GET) but 697 bytes with ``%2C`` commas, which is what ``requests``/``urlencode`` send
  (ignored by GET); 150 such ids are 749/1047 bytes: over the GET limit, well under the POST limit.
  Query-string parameters of a POST keep the GET limit; body parameters override them (PHP's
  ``$_REQUEST`` order). A repeated parameter takes its last value (PHP semantics); an empty value is
  treated as absent.
* Every JSON body carries ``"status"`` equal to the HTTP status; errors add ``"error"``.
* List functions page by ascending id (``limit`` default and maximum 1000, above is refused with a
  400; ``startAfterId``, 0 = beginning) and answer entity maps keyed by the id as a string, plus the
  maps of the manual's reference chain holding exactly the entities referenced from this page.
  **Map order is not guaranteed**: every map and the top-level object are shuffled per request
  (seeded from the sandbox seed and a request counter, so a run is reproducible), and a map with
  several entries is never emitted in ascending id order, so clients cannot come to rely on it.
* Eventual consistency by the sandbox clock: a conference recording is listed only once
  ``time_added <= now``; a recording deleted at the conferencing service answers 500 on download
  and from then on is absent from ``list_conference_recordings`` (``state.meets_gone``).
* Attendance is final ``attendance_final_after`` seconds after the event's end; before that a partial
  set of rows is returned with ``isFinal: false``. Zoom attendance look-ups are limited per sandbox
  day (``zoom_attendance_daily_limit``), beyond which MEETS answers 429.
* ``download_conference_recording`` answers 303 to a signed, short-lived URL on the storage host,
  which refuses any request carrying MEETS credentials (the manual: do NOT re-authenticate).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import random
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import orjson

from pipelines.sandbox.account import Account, MeetsCourse, MeetsEvent, MeetsRecording, MeetsUser
from pipelines.sandbox.config import MEETS_TOKEN_HEADER
from pipelines.sandbox.http_types import Request, Response, meets_error
from pipelines.sandbox.state import SandboxState

GET_VALUE_LIMIT = 512
POST_VALUE_LIMIT = 4096
MAX_LIMIT = 1000
STORAGE_URL_LIFETIME = 900  # seconds of sandbox clock a redirect URL stays valid

CONFERENCING_SERVICES = (
    "bluejeans",
    "collaborate",
    "gotomeeting",
    "gototraining",
    "gotowebinar",
    "webexeventcenter",
    "webexmeetingcenter",
    "webextrainingcenter",
    "zoom",
    "zoomwebinars",
)
# "Please note that GotoMeeting and GoToWebinar do not support this feature" (list_conference_recordings)
NO_RECORDING_SERVICES = ("gotomeeting", "gotowebinar")
ZOOM_SERVICES = ("zoom", "zoomwebinars")
ROLES = ("administrator", "teacher", "student")
RECORDING_TYPES = ("original", "converted")

_INT_RE = re.compile(r"-?[0-9]+")
_ID_RE = re.compile(r"[0-9]+")
_request_seq = itertools.count()


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------- params
def _parse_pairs(raw: bytes, limit: int, out: dict[str, str]) -> None:
    """Decode ``a=1&b=2`` into ``out``, dropping any value whose raw (as sent) size exceeds ``limit``."""
    for part in raw.split(b"&"):
        if not part:
            continue
        key_raw, _, value_raw = part.partition(b"=")
        if len(value_raw) > limit:
            continue  # the documented behaviour: the parameter is ignored
        key = unquote_to_bytes(key_raw.replace(b"+", b" ")).decode("utf-8", "replace")
        out[key] = unquote_to_bytes(value_raw.replace(b"+", b" ")).decode("utf-8", "replace")


def parse_params(req: Request) -> dict[str, str]:
    """The parameters MEETS sees, after applying the input limits (see the module docstring)."""
    params: dict[str, str] = {}
    _parse_pairs(req.raw_query.encode("latin-1", "replace"), GET_VALUE_LIMIT, params)
    ctype = (req.headers.get("Content-Type") or "").lower()
    if req.method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
        _parse_pairs(req.raw_body, POST_VALUE_LIMIT, params)
    return {k: v for k, v in params.items() if v != ""}


class Params:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def has(self, name: str) -> bool:
        return name in self.values

    def string(self, name: str, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None and required:
            raise ApiError(400, f'Missing required parameter "{name}"')
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.string(name, required)
        if value is None:
            return None
        if not _INT_RE.fullmatch(value.strip()):
            raise ApiError(
                400, f'Invalid value for parameter "{name}": expected an integer, got "{value[:40]}"'
            )
        return int(value.strip())

    def ident(self, name: str, required: bool = False) -> int | None:
        value = self.string(name, required)
        if value is None:
            return None
        if not _ID_RE.fullmatch(value.strip()):
            raise ApiError(
                400, f'Invalid value for parameter "{name}": expected a numeric ID, got "{value[:40]}"'
            )
        return int(value.strip())

    def timestamp(self, name: str) -> int | None:
        value = self.string(name)
        if value is None:
            return None
        if not _INT_RE.fullmatch(value.strip()):
            raise ApiError(
                400, f'Invalid value for parameter "{name}": expected a UNIX timestamp (integer seconds)'
            )
        return int(value.strip())

    def id_list(self, name: str) -> set[int] | None:
        value = self.string(name)
        if value is None:
            return None
        out: set[int] = set()
        for item in value.split(","):
            item = item.strip()
            if not _ID_RE.fullmatch(item):
                raise ApiError(
                    400,
                    f'Invalid value for parameter "{name}": expected a comma-separated list of numeric IDs, '
                    f'got "{item[:40]}"',
                )
            out.add(int(item))
        return out

    def word_list(self, name: str, allowed: tuple[str, ...]) -> set[str] | None:
        value = self.string(name)
        if value is None:
            return None
        out: set[str] = set()
        for item in value.split(","):
            item = item.strip()
            if item not in allowed:
                raise ApiError(
                    400,
                    f'Invalid value for parameter "{name}": "{item[:40]}" is not one of {", ".join(allowed)}',
                )
            out.add(item)
        return out

    def page(self) -> tuple[int, int]:
        limit = self.integer("limit")
        if limit is None:
            limit = MAX_LIMIT
        if limit > MAX_LIMIT:
            raise ApiError(400, f"The limit may not exceed {MAX_LIMIT}; a limit of {limit} is refused")
        if limit < 1:
            raise ApiError(400, f"The limit must be at least 1; a limit of {limit} is refused")
        start_after = self.integer("startAfterId")
        if start_after is None:
            start_after = 0
        if start_after < 0:
            raise ApiError(400, 'Invalid value for parameter "startAfterId": expected 0 or a numeric ID')
        return limit, start_after


# ---------------------------------------------------------------------------------------------- index
@dataclass
class _Index:
    """Lookups over the account's MEETS part, built once per account."""

    admins: dict[int, dict]
    connections: dict[int, dict]
    users: dict[int, MeetsUser]
    courses: dict[int, MeetsCourse]
    accounts: dict[int, dict]
    events: dict[int, MeetsEvent]
    recordings: dict[int, MeetsRecording]
    course_members: dict[int, dict[int, dict]] = field(default_factory=dict)  # course -> user -> roles
    user_courses: dict[int, dict[int, dict]] = field(default_factory=dict)  # user -> course -> roles
    lti_context: dict[tuple[int, str], int] = field(default_factory=dict)
    lti_user: dict[tuple[int, str], int] = field(default_factory=dict)


_indexes: weakref.WeakKeyDictionary[Account, _Index] = weakref.WeakKeyDictionary()


def _index(account: Account) -> _Index:
    idx = _indexes.get(account)
    if idx is not None:
        return idx
    idx = _Index(
        admins={a["meetsIdAdmin"]: a for a in account.meets_admins},
        connections={c["meetsIdConnection"]: c for c in account.meets_connections},
        users={u.id: u for u in account.meets_users},
        courses={c.id: c for c in account.meets_courses},
        accounts={a["meetsIdConferencingAccount"]: a for a in account.meets_accounts},
        events={e.id: e for e in account.meets_events},
        recordings={r.id: r for r in account.meets_recordings},
    )
    for cu in account.meets_course_users:
        idx.course_members.setdefault(cu["meetsIdCourse"], {})[cu["meetsIdUser"]] = cu["roles"]
        idx.user_courses.setdefault(cu["meetsIdUser"], {})[cu["meetsIdCourse"]] = cu["roles"]
    for c in account.meets_courses:
        if c.lti_id_context:
            idx.lti_context[(c.connection_id, c.lti_id_context)] = c.id
    for u in account.meets_users:
        if u.lti_id_user:
            idx.lti_user[(u.connection_id, u.lti_id_user)] = u.id
    _indexes[account] = idx
    return idx


# ---------------------------------------------------------------------------------------------- entities
def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def user_entity(u: MeetsUser) -> dict:
    first, last = split_name(u.person.name)
    out = {
        "meetsIdUser": u.id,
        "meetsIdConnection": u.connection_id,
        "nameFirst": first,
        "nameLast": last,
        "email": u.person.email,
    }
    if u.lti_id_user:
        out["ltiIdUser"] = u.lti_id_user
        out["auxiliary"] = dict(u.auxiliary)
    return out


def course_entity(c: MeetsCourse) -> dict:
    out = {"meetsIdCourse": c.id, "meetsIdConnection": c.connection_id, "name": c.name}
    if c.lti_id_context:
        out["ltiIdContext"] = c.lti_id_context
        out["auxiliary"] = dict(c.auxiliary)
    return out


def event_entity(e: MeetsEvent) -> dict:
    return {
        "meetsIdConferencingEvent": e.id,
        "name": e.name,
        "timeBegin": e.time_begin,
        "timeEnd": e.time_end,
        "meetsIdUser_host": e.host_user_id,
        "conferencingService": e.service,
        "meetsIdConferencingAccount": e.account_id,
        "meetsIdCourses": list(e.course_ids),
        "meetsIdUsers": list(e.user_ids),
    }


def recording_entity(r: MeetsRecording) -> dict:
    return {
        "meetsIdConferenceRecording": r.id,
        "meetsIdConferencingEvent": r.event_id,
        "timeAdded": r.time_added,
        "type": r.type,
    }


def _copy(d: dict) -> dict:
    return orjson.loads(orjson.dumps(d))


# ---------------------------------------------------------------------------------------------- references
class _Refs:
    """Collects the cross-referenced ids of a page, following the manual's reference chain."""

    def __init__(self, idx: _Index, maps: tuple[str, ...]):
        self.idx = idx
        self.maps = maps
        self.ids: dict[str, set[int]] = {m: set() for m in maps}

    def _add(self, name: str, ident: int) -> None:
        if name in self.ids:  # main entities are walked for their references but not listed twice
            self.ids[name].add(ident)

    def event(self, e: MeetsEvent) -> None:
        self._add("conferencingEvents", e.id)
        self.user(e.host_user_id)
        for uid in e.user_ids:
            self.user(uid)
        for cid in e.course_ids:
            self.course(cid)
        if e.account_id is not None:
            self.account(e.account_id)

    def account(self, aid: int) -> None:
        self._add("conferencingAccounts", aid)
        for uid in self.idx.accounts[aid]["meetsIdUsers"]:
            self.user(uid)

    def user(self, uid: int) -> None:
        self._add("users", uid)
        self.connection(self.idx.users[uid].connection_id)

    def course(self, cid: int) -> None:
        self._add("courses", cid)
        self.connection(self.idx.courses[cid].connection_id)

    def connection(self, cid: int) -> None:
        self._add("connections", cid)

    def build(self) -> dict[str, dict[str, dict]]:
        makers: dict[str, Callable[[int], dict]] = {
            "conferencingEvents": lambda i: event_entity(self.idx.events[i]),
            "conferencingAccounts": lambda i: _copy(self.idx.accounts[i]),
            "users": lambda i: user_entity(self.idx.users[i]),
            "courses": lambda i: course_entity(self.idx.courses[i]),
            "connections": lambda i: _copy(self.idx.connections[i]),
        }
        return {m: {str(i): makers[m](i) for i in sorted(self.ids[m])} for m in self.maps}


# ---------------------------------------------------------------------------------------------- output
def _shuffle_map(d: dict, rng: random.Random) -> dict:
    keys = list(d)
    if len(keys) > 1:
        numeric = sorted(keys, key=lambda k: (len(k), k)) if all(k.isdigit() for k in keys) else None
        lexical = sorted(keys)
        for _ in range(6):
            rng.shuffle(keys)
            if keys != numeric and keys != lexical:
                break
        if keys == numeric:
            keys[0], keys[1] = keys[1], keys[0]
    return {k: d[k] for k in keys}


def _respond(body: dict, entity_maps: tuple[str, ...], state: SandboxState, function: str) -> Response:
    rng = random.Random(f"meets-order:{state.config.seed}:{function}:{next(_request_seq)}")
    for name in entity_maps:
        body[name] = _shuffle_map(body[name], rng)
    body = _shuffle_map(body, rng)
    return Response(200, orjson.dumps(body))


def _paginate(
    items: list, limit: int, start_after: int, key: Callable[[object], int]
) -> tuple[list, int | None]:
    """``items`` sorted ascending by ``key``: those after ``start_after``, at most ``limit``, and the next id."""
    after = [x for x in items if key(x) > start_after]
    page = after[:limit]
    next_id = key(page[-1]) if len(after) > limit else None
    return page, next_id


def _list(
    state: SandboxState,
    function: str,
    main: str,
    items: list,
    params: Params,
    key: Callable,
    entity: Callable[[object], dict],
    refs: _Refs | None,
    visit: Callable[[_Refs, object], None] | None = None,
) -> Response:
    limit, start_after = params.page()
    items = sorted(items, key=key)
    page, next_id = _paginate(items, limit, start_after, key)
    body: dict = {"status": 200, main: {str(key(x)): entity(x) for x in page}}
    maps: tuple[str, ...] = (main,)
    if refs is not None:
        if visit is not None:
            for x in page:
                visit(refs, x)
        body.update(refs.build())
        maps += refs.maps
    body["nextPageStartAfterId"] = next_id
    return _respond(body, maps, state, function)


# ---------------------------------------------------------------------------------------------- functions
def _now_ts(state: SandboxState) -> int:
    return int(state.now().timestamp())


def list_admins(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    return _list(
        state, "list_admins", "admins", list(idx.admins.values()), p, lambda a: a["meetsIdAdmin"], _copy, None
    )


def list_connections(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    return _list(
        state,
        "list_connections",
        "connections",
        list(idx.connections.values()),
        p,
        lambda c: c["meetsIdConnection"],
        _copy,
        None,
    )


def list_courses(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connections = p.id_list("meetsIdConnections")
    role_filters = [
        (p.id_list("meetsIdUsers_canAccess"), None),
        (p.id_list("meetsIdUsers_isAdministrator"), "administrator"),
        (p.id_list("meetsIdUsers_isTeacher"), "teacher"),
        (p.id_list("meetsIdUsers_isStudent"), "student"),
    ]

    def keep(c: MeetsCourse) -> bool:
        if connections is not None and c.connection_id not in connections:
            return False
        members = idx.course_members.get(c.id, {})
        for users, role in role_filters:
            if users is None:
                continue
            if not any(u in members and (role is None or members[u][role]) for u in users):
                return False
        return True

    items = [c for c in idx.courses.values() if keep(c)]
    refs = _Refs(idx, ("connections",))
    return _list(
        state,
        "list_courses",
        "courses",
        items,
        p,
        lambda c: c.id,
        course_entity,
        refs,
        lambda r, c: r.course(c.id),
    )


def list_users(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connections = p.id_list("meetsIdConnections")
    courses = p.id_list("meetsIdCourses")

    def keep(u: MeetsUser) -> bool:
        if connections is not None and u.connection_id not in connections:
            return False
        return courses is None or any(c in courses for c in idx.user_courses.get(u.id, {}))

    items = [u for u in idx.users.values() if keep(u)]
    refs = _Refs(idx, ("connections",))
    return _list(
        state, "list_users", "users", items, p, lambda u: u.id, user_entity, refs, lambda r, u: r.user(u.id)
    )


def list_course_users(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    course_id = p.ident("meetsIdCourse", required=True)
    roles = p.word_list("roles", ROLES)
    exclude = p.word_list("rolesExclude", ROLES)
    p.page()  # validate paging before answering 404
    course = idx.courses.get(course_id)  # type: ignore[arg-type]
    if course is None:
        raise ApiError(404, f'Course with ID "{course_id}" not found')
    members = idx.course_members.get(course.id, {})

    def keep(uid: int) -> bool:
        r = members[uid]
        if roles is not None and not any(r[x] for x in roles):
            return False
        return exclude is None or not any(r[x] for x in exclude)

    items = [uid for uid in members if keep(uid)]

    def entity(uid: int) -> dict:
        out = user_entity(idx.users[uid])
        out["roles"] = dict(members[uid])
        return out

    refs = _Refs(idx, ("courses", "connections"))
    refs.course(course.id)
    return _list(
        state,
        "list_course_users",
        "users",
        items,
        p,
        lambda uid: uid,
        entity,
        refs,
        lambda r, uid: r.user(uid),
    )


def _in_window(value: int, before: int | None, after: int | None) -> bool:
    return (before is None or value < before) and (after is None or value > after)


def list_conferencing_events(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connections = p.id_list("meetsIdConnections")
    courses = p.id_list("meetsIdCourses")
    hosts = p.id_list("meetsIdUsers_host")
    accounts = p.id_list("meetsIdConferencingAccounts")
    services = p.word_list("conferencingServices", CONFERENCING_SERVICES)
    begin = (p.timestamp("timeBeginBefore"), p.timestamp("timeBeginAfter"))
    end = (p.timestamp("timeEndBefore"), p.timestamp("timeEndAfter"))

    def keep(e: MeetsEvent) -> bool:
        return _event_matches(idx, e, connections, courses, hosts, accounts, services, begin, end)

    items = [e for e in idx.events.values() if keep(e)]
    refs = _Refs(idx, ("users", "courses", "connections", "conferencingAccounts"))
    return _list(
        state,
        "list_conferencing_events",
        "conferencingEvents",
        items,
        p,
        lambda e: e.id,
        event_entity,
        refs,
        lambda r, e: r.event(e),
    )


def _event_matches(
    idx: _Index,
    e: MeetsEvent,
    connections: set[int] | None,
    courses: set[int] | None,
    hosts: set[int] | None,
    accounts: set[int] | None,
    services: set[str] | None,
    begin: tuple[int | None, int | None],
    end: tuple[int | None, int | None],
) -> bool:
    if connections is not None and not any(idx.courses[c].connection_id in connections for c in e.course_ids):
        return False
    if courses is not None and not any(c in courses for c in e.course_ids):
        return False
    if hosts is not None and e.host_user_id not in hosts:
        return False
    if accounts is not None and e.account_id not in accounts:
        return False
    if services is not None and e.service not in services:
        return False
    return _in_window(e.time_begin, *begin) and _in_window(e.time_end, *end)


def visible_recordings(state: SandboxState) -> list[MeetsRecording]:
    """Recordings MEETS currently knows about: added by now and not learned to be deleted."""
    now = _now_ts(state)
    with state.lock:
        gone = set(state.meets_gone)
    return [r for r in state.account.meets_recordings if r.time_added <= now and r.id not in gone]


def list_conference_recordings(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connections = p.id_list("meetsIdConnections")
    courses = p.id_list("meetsIdCourses")
    events = p.id_list("meetsIdConferencingEvents")
    hosts = p.id_list("meetsIdUsers_host")
    accounts = p.id_list("meetsIdConferencingAccounts")
    rtype = p.word_list("type", RECORDING_TYPES)
    if rtype is not None and len(rtype) > 1:
        raise ApiError(400, 'Invalid value for parameter "type": expected either "original" or "converted"')
    services = p.word_list("conferencingServices", CONFERENCING_SERVICES)
    if services is not None and services & set(NO_RECORDING_SERVICES):
        bad = ", ".join(sorted(services & set(NO_RECORDING_SERVICES)))
        raise ApiError(
            400, f'Invalid value for parameter "conferencingServices": {bad} do not support recordings'
        )
    added = (p.timestamp("timeAddedBefore"), p.timestamp("timeAddedAfter"))
    begin = (p.timestamp("timeEventBeginBefore"), p.timestamp("timeEventBeginAfter"))
    end = (p.timestamp("timeEventEndBefore"), p.timestamp("timeEventEndAfter"))

    def keep(r: MeetsRecording) -> bool:
        if events is not None and r.event_id not in events:
            return False
        if rtype is not None and r.type not in rtype:
            return False
        if not _in_window(r.time_added, *added):
            return False
        e = idx.events[r.event_id]
        return _event_matches(idx, e, connections, courses, hosts, accounts, services, begin, end)

    items = [r for r in visible_recordings(state) if keep(r)]
    refs = _Refs(idx, ("conferencingEvents", "conferencingAccounts", "users", "courses", "connections"))
    return _list(
        state,
        "list_conference_recordings",
        "conferenceRecordings",
        items,
        p,
        lambda r: r.id,
        recording_entity,
        refs,
        lambda refs_, r: refs_.event(idx.events[r.event_id]),
    )


def get_conferencing_event_attendance(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    event_id = p.ident("meetsIdConferencingEvent", required=True)
    event = idx.events.get(event_id)  # type: ignore[arg-type]
    if event is None:
        raise ApiError(404, f'Conferencing event with ID "{event_id}" not found')
    now = _now_ts(state)
    if event.service in ZOOM_SERVICES:
        day = state.now().date().isoformat()
        limit = state.config.zoom_attendance_daily_limit
        with state.lock:
            if state.zoom_attendance_daily[day] >= limit:
                raise ApiError(
                    429,
                    f"Zoom attendance look-ups are limited to {limit} per day; the limit for {day} "
                    "has been reached, try again tomorrow",
                )
            state.zoom_attendance_daily[day] += 1
    if now < event.time_end:
        rows: list[dict] = []
        final = False
    else:
        final = now >= event.time_end + state.config.attendance_final_after
        rows = state.account.attendance(event, final)
    return Response(200, orjson.dumps({"status": 200, "attendance": rows, "isFinal": final}))


def get_conferencing_authentication_log(state: SandboxState, p: Params) -> Response:
    p.page()
    p.timestamp("timeAfter")
    p.timestamp("timeBefore")
    # MEETS keeps this log for conformance only; the sandbox's conferencing accounts never log in.
    return Response(
        200, orjson.dumps({"status": 200, "conferencingAuthenticationLog": [], "nextPageStartAfterId": None})
    )


def from_lti_id_context(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connection = p.ident("meetsIdConnection", required=True)
    context = p.string("ltiIdContext", required=True)
    if connection not in idx.connections:
        raise ApiError(404, f'Connection with ID "{connection}" not found')
    course_id = idx.lti_context.get((connection, context))  # type: ignore[arg-type]
    if course_id is None:
        raise ApiError(404, f'No course with LTI context ID "{context}" in connection "{connection}"')
    return Response(200, orjson.dumps({"status": 200, "meetsIdCourse": course_id}))


def from_lti_id_user(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    connection = p.ident("meetsIdConnection", required=True)
    lti_user = p.string("ltiIdUser", required=True)
    if connection not in idx.connections:
        raise ApiError(404, f'Connection with ID "{connection}" not found')
    user_id = idx.lti_user.get((connection, lti_user))  # type: ignore[arg-type]
    if user_id is None:
        raise ApiError(404, f'No user with LTI user ID "{lti_user}" in connection "{connection}"')
    return Response(200, orjson.dumps({"status": 200, "meetsIdUser": user_id}))


def download_conference_recording(state: SandboxState, p: Params) -> Response:
    idx = _index(state.account)
    rec_id = p.ident("meetsIdConferenceRecording", required=True)
    rec = idx.recordings.get(rec_id)  # type: ignore[arg-type]
    now = _now_ts(state)
    with state.lock:
        known = rec is not None and rec.time_added <= now and rec.id not in state.meets_gone
        if known and rec is not None and rec.gone:
            # MEETS learns about deleted recordings when one tries to access them.
            state.meets_gone.add(rec.id)
            raise ApiError(500, "The conference recording is no longer available on the remote host")
    if not known or rec is None:
        raise ApiError(404, f'Conference recording with ID "{rec_id}" not found')
    base = getattr(state, "storage_base_url", None)
    if not base:
        raise ApiError(500, "The storage host is not available")
    expires = now + STORAGE_URL_LIFETIME
    url = f"{base.rstrip('/')}/files/{rec.id}?expires={expires}&sig={_sign(state, rec.id, expires)}"
    return Response(303, orjson.dumps({"status": 303, "location": url}), {"Location": url})


FUNCTIONS: dict[str, Callable[[SandboxState, Params], Response]] = {
    "list_admins": list_admins,
    "list_connections": list_connections,
    "list_course_users": list_course_users,
    "list_courses": list_courses,
    "list_conferencing_events": list_conferencing_events,
    "list_conference_recordings": list_conference_recordings,
    "list_users": list_users,
    "get_conferencing_event_attendance": get_conferencing_event_attendance,
    "get_conferencing_authentication_log": get_conferencing_authentication_log,
    "from_lti_id_context": from_lti_id_context,
    "from_lti_id_user": from_lti_id_user,
    "download_conference_recording": download_conference_recording,
}


def handle(req: Request, state: SandboxState, function: str) -> Response:
    fn = FUNCTIONS.get(function)
    if fn is None:
        return meets_error(404, f'Unknown function "{function}"')
    if req.method not in ("GET", "HEAD", "POST"):
        return meets_error(405, f"Method {req.method} is not allowed; use GET or POST")
    try:
        return fn(state, Params(parse_params(req)))
    except ApiError as exc:
        return meets_error(exc.status, exc.message)


# ---------------------------------------------------------------------------------------------- storage host
def _sign(state: SandboxState, rec_id: int, expires: int) -> str:
    key = hashlib.sha256(f"meets-sandbox-storage:{state.config.seed}".encode()).digest()
    return hmac.new(key, f"{rec_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def _text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode(), {}, "text/plain; charset=utf-8")


_FILE_RE = re.compile(r"/files/([0-9]+)")
_RANGE_RE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def storage(req: Request, state: SandboxState) -> Response:
    """The third-party host a MEETS download redirects to: signed, expiring URLs, no MEETS credentials."""
    if any(req.headers.get(h) is not None for h in (MEETS_TOKEN_HEADER, "Authorization", "Cookie")):
        return _text(
            403, "Forbidden: this host does not accept credentials (do not re-authenticate redirects)"
        )
    if req.method not in ("GET", "HEAD"):
        return _text(405, "Method not allowed")
    m = _FILE_RE.fullmatch(req.path)
    if m is None:
        return _text(404, "Not found")
    rec_id = int(m.group(1))
    expires_raw = (req.query.get("expires") or [""])[0]
    sig = (req.query.get("sig") or [""])[0]
    if not expires_raw.isdigit() or not sig:
        return _text(403, "Forbidden: missing or malformed signature")
    expires = int(expires_raw)
    if not hmac.compare_digest(sig, _sign(state, rec_id, expires)):
        return _text(403, "Forbidden: signature does not match")
    if _now_ts(state) > expires:
        return _text(403, "Forbidden: this link has expired")
    rec = _index(state.account).recordings.get(rec_id)
    if rec is None or rec.gone:
        return _text(404, "Not found")
    size = rec.size
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="recording-{rec.id}.mp4"',
    }
    start, stop = 0, size  # [start, stop)
    status = 200
    range_header = req.headers.get("Range")
    if range_header:
        rm = _RANGE_RE.fullmatch(range_header.strip())
        if rm is not None and (rm.group(1) or rm.group(2)):  # multi-range or unknown units: full file
            first, last = rm.group(1), rm.group(2)
            if first:
                start = int(first)
                stop = min(size, int(last) + 1) if last else size
            else:  # suffix range: the last N bytes
                start = max(0, size - int(last))
            if start >= size or stop <= start:
                resp = _text(416, "Range not satisfiable")
                resp.headers["Content-Range"] = f"bytes */{size}"
                return resp
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return Response(
        status, _stream(size, rec.content_seed, start, stop), headers, "video/mp4", length=stop - start
    )


def _stream(size: int, seed: int, start: int, stop: int) -> Iterator[bytes]:
    remaining = stop - start
    for chunk in Account.content_chunks(size, seed, chunk_size=1 << 16, offset=start):
        if remaining <= 0:
            return
        piece = chunk[:remaining]
        remaining -= len(piece)
        yield piece
