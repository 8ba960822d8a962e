"""Contract of the sandbox's MEETS API over real HTTP, checked against the generated account.

Expected entities are built here from the account independently of ``meets_api`` so that a bug in
the emulator cannot hide behind the same helper on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import requests

from pipelines.sandbox.account import Account, MeetsCourse, MeetsEvent, MeetsRecording, MeetsUser

TOKEN_HEADER = "X-MEETS-API-Token"


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture
def client(sandbox):
    if not getattr(sandbox.server.state, "storage_base_url", None):
        sandbox.server.state.storage_base_url = sandbox.server.storage_url
    return sandbox


def acct(client) -> Account:
    return client.server.state.account


def now_ts(client) -> int:
    return int(client.server.state.now().timestamp())


def call(client, function: str, method: str = "GET", expect: int = 200, **params) -> dict:
    r = client.meets(function, method, **params)
    assert r.status_code == expect, (function, params, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == r.status_code
    if r.status_code >= 400:
        assert set(body) == {"status", "error"} and isinstance(body["error"], str) and body["error"]
    return body


def ids(m: dict) -> list[int]:
    return sorted(int(k) for k in m)


def x_user(u: MeetsUser) -> dict:
    first, _, last = u.person.name.partition(" ")
    return {
        "meetsIdUser": u.id,
        "meetsIdConnection": u.connection_id,
        "nameFirst": first,
        "nameLast": last,
        "email": u.person.email,
        "ltiIdUser": u.lti_id_user,
        "auxiliary": u.auxiliary,
    }


def x_course(c: MeetsCourse) -> dict:
    return {
        "meetsIdCourse": c.id,
        "meetsIdConnection": c.connection_id,
        "name": c.name,
        "ltiIdContext": c.lti_id_context,
        "auxiliary": c.auxiliary,
    }


def x_event(e: MeetsEvent) -> dict:
    return {
        "meetsIdConferencingEvent": e.id,
        "name": e.name,
        "timeBegin": e.time_begin,
        "timeEnd": e.time_end,
        "meetsIdUser_host": e.host_user_id,
        "conferencingService": e.service,
        "meetsIdConferencingAccount": e.account_id,
        "meetsIdCourses": e.course_ids,
        "meetsIdUsers": e.user_ids,
    }


def x_recording(r: MeetsRecording) -> dict:
    return {
        "meetsIdConferenceRecording": r.id,
        "meetsIdConferencingEvent": r.event_id,
        "timeAdded": r.time_added,
        "type": r.type,
    }


def visible_recordings(client) -> list[MeetsRecording]:
    st = client.server.state
    return [
        r
        for r in acct(client).meets_recordings
        if r.time_added <= now_ts(client) and r.id not in st.meets_gone
    ]


class Expect:
    """The account's MEETS entities as the API must show them, and their reference chains."""

    def __init__(self, a: Account):
        self.a = a
        self.users = {u.id: u for u in a.meets_users}
        self.courses = {c.id: c for c in a.meets_courses}
        self.events = {e.id: e for e in a.meets_events}
        self.accounts = {x["meetsIdConferencingAccount"]: x for x in a.meets_accounts}
        self.connections = {x["meetsIdConnection"]: x for x in a.meets_connections}

    def refs(self, function: str, page: dict, course_id: int | None = None) -> dict[str, dict]:
        want: dict[str, set[int]] = {}
        users: set[int] = set()
        courses: set[int] = set()
        accounts: set[int] = set()
        events: set[int] = set()
        if function == "list_conference_recordings":
            events = {r["meetsIdConferencingEvent"] for r in page.values()}
        if function == "list_conferencing_events":
            events = {int(k) for k in page}
        for eid in events:
            e = self.events[eid]
            users |= {e.host_user_id, *e.user_ids}
            courses |= set(e.course_ids)
            if e.account_id is not None:
                accounts.add(e.account_id)
        for aid in accounts:
            users |= set(self.accounts[aid]["meetsIdUsers"])
        if function in ("list_users", "list_course_users"):
            users |= {int(k) for k in page}
        if function == "list_courses":
            courses |= {int(k) for k in page}
        if course_id is not None:
            courses.add(course_id)
        connections = {self.users[u].connection_id for u in users} | {
            self.courses[c].connection_id for c in courses
        }
        chain = {
            "list_admins": (),
            "list_connections": (),
            "list_courses": ("connections",),
            "list_users": ("connections",),
            "list_course_users": ("courses", "connections"),
            "list_conferencing_events": ("users", "courses", "connections", "conferencingAccounts"),
            "list_conference_recordings": (
                "conferencingEvents",
                "conferencingAccounts",
                "users",
                "courses",
                "connections",
            ),
        }[function]
        sets = {
            "users": users,
            "courses": courses,
            "connections": connections,
            "conferencingAccounts": accounts,
            "conferencingEvents": events,
        }
        makers: dict[str, Callable[[int], dict]] = {
            "users": lambda i: x_user(self.users[i]),
            "courses": lambda i: x_course(self.courses[i]),
            "connections": lambda i: self.connections[i],
            "conferencingAccounts": lambda i: self.accounts[i],
            "conferencingEvents": lambda i: x_event(self.events[i]),
        }
        for name in chain:
            want[name] = sets[name]
        return {name: {str(i): makers[name](i) for i in sorted(s)} for name, s in want.items()}


def paginate(client, function: str, main: str, method: str = "GET", **params) -> tuple[dict, list[dict]]:
    """Follow nextPageStartAfterId to the end; returns every main entity (each id once) and the pages."""
    seen: dict = {}
    pages: list[dict] = []
    start = 0
    for _ in range(1000):
        body = call(client, function, method, startAfterId=start, **params)
        pages.append(body)
        page = body[main]
        for k, v in page.items():
            assert k not in seen, f"{function}: id {k} returned twice"
            seen[k] = v
        page_ids = ids(page)
        assert all(i > start for i in page_ids)
        nxt = body["nextPageStartAfterId"]
        if nxt is None:
            break
        assert nxt == page_ids[-1]
        start = nxt
    else:  # pragma: no cover
        pytest.fail("pagination never ended")
    return seen, pages


# ------------------------------------------------------------------------------------------ basics
def test_api_token_missing_or_wrong_is_401_json(client):
    url = f"{client.base}/meets/api/list_connections"
    for headers in ({}, {TOKEN_HEADER: "wrong"}, {"Authorization": "Bearer " + client.info["meets_token"]}):
        r = requests.get(url, headers=headers, timeout=30)
        assert r.status_code == 401
        body = r.json()
        assert body["status"] == 401 and body["error"]


def test_unknown_function_is_404_json(client):
    body = call(client, "list_recordings", expect=404)
    assert "list_recordings" in body["error"]


def test_non_json_500_fault_is_html(sandbox_factory):
    client = sandbox_factory(p500_nonjson=1.0)
    r = client.meets("list_connections")
    assert r.status_code == 500
    assert r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_admins_and_connections_exact(client):
    a = acct(client)
    body = call(client, "list_admins")
    assert set(body) == {"status", "admins", "nextPageStartAfterId"}
    assert body["admins"] == {str(x["meetsIdAdmin"]): x for x in a.meets_admins}
    assert body["nextPageStartAfterId"] is None
    for adm in body["admins"].values():
        assert set(adm) == {"meetsIdAdmin", "email", "nameFirst", "nameLast", "permissions"}
        assert set(adm["permissions"]) == {
            "manageAdmins",
            "manageConnections",
            "viewData",
            "manageConferencingAccounts",
            "manageContent",
        }
    body = call(client, "list_connections", "POST")
    assert set(body) == {"status", "connections", "nextPageStartAfterId"}
    assert body["connections"] == {str(x["meetsIdConnection"]): x for x in a.meets_connections}
    for conn in body["connections"].values():
        assert set(conn) == {"meetsIdConnection", "name", "platformUrl", "platformType", "settings"}


def test_authentication_log_shape(client):
    body = call(client, "get_conferencing_authentication_log", limit=10, timeAfter=0)
    assert body == {"status": 200, "conferencingAuthenticationLog": [], "nextPageStartAfterId": None}
    call(client, "get_conferencing_authentication_log", expect=400, timeAfter="yesterday")


# ------------------------------------------------------------------------------------------ pagination
def _course_with_most_users(a: Account) -> int:
    counts: dict[int, int] = {}
    for cu in a.meets_course_users:
        counts[cu["meetsIdCourse"]] = counts.get(cu["meetsIdCourse"], 0) + 1
    return max(counts, key=lambda c: counts[c])


@pytest.mark.parametrize(
    "function,main",
    [
        ("list_admins", "admins"),
        ("list_connections", "connections"),
        ("list_courses", "courses"),
        ("list_users", "users"),
        ("list_course_users", "users"),
        ("list_conferencing_events", "conferencingEvents"),
        ("list_conference_recordings", "conferenceRecordings"),
    ],
)
def test_pagination_limit_7_returns_each_entity_once_with_exact_cross_references(client, function, main):
    a = acct(client)
    x = Expect(a)
    params: dict = {"limit": 7}
    course_id = None
    if function == "list_course_users":
        course_id = _course_with_most_users(a)
        params["meetsIdCourse"] = course_id
    expected: dict[str, dict] = {
        "list_admins": {str(v["meetsIdAdmin"]): v for v in a.meets_admins},
        "list_connections": {str(v["meetsIdConnection"]): v for v in a.meets_connections},
        "list_courses": {str(c.id): x_course(c) for c in a.meets_courses},
        "list_users": {str(u.id): x_user(u) for u in a.meets_users},
        "list_conferencing_events": {str(e.id): x_event(e) for e in a.meets_events},
        "list_conference_recordings": {str(r.id): x_recording(r) for r in visible_recordings(client)},
    }.get(function, {})
    if function == "list_course_users":
        expected = {
            str(cu["meetsIdUser"]): {**x_user(x.users[cu["meetsIdUser"]]), "roles": cu["roles"]}
            for cu in a.meets_course_users
            if cu["meetsIdCourse"] == course_id
        }
    assert expected  # the account must have something to list
    seen, pages = paginate(client, function, main, **params)
    assert seen == expected
    n = len(expected)
    assert len(pages) == max(1, -(-n // 7))
    for body in pages:
        assert len(body[main]) <= 7
        refs = x.refs(function, body[main], course_id)
        assert set(body) == {"status", main, "nextPageStartAfterId", *refs}
        for name, want in refs.items():
            assert body[name] == want, f"{function}: cross-referenced {name} differ"
    if n > 7:
        assert all(len(b[main]) == 7 for b in pages[:-1])


def test_limit_bounds(client):
    assert "refused" in call(client, "list_users", expect=400, limit=1001)["error"]
    call(client, "list_users", "POST", expect=400, limit=1001)
    call(client, "list_users", expect=400, limit=0)
    call(client, "list_users", expect=400, limit="ten")
    call(client, "list_users", expect=400, startAfterId="x")
    body = call(client, "list_users", limit=1000)
    assert ids(body["users"]) == sorted(u.id for u in acct(client).meets_users)
    assert body["nextPageStartAfterId"] is None
    # startAfterId beyond the last id: an empty page, not an error
    body = call(client, "list_users", startAfterId=10**9)
    assert body["users"] == {} and body["connections"] == {} and body["nextPageStartAfterId"] is None


def test_maps_are_not_in_id_order(client):
    unordered = 0
    for _ in range(3):
        for function, main in (("list_users", "users"), ("list_conferencing_events", "conferencingEvents")):
            body = call(client, function, limit=20)
            keys = list(body[main])
            assert len(keys) == 20
            if keys != [str(i) for i in sorted(int(k) for k in keys)]:
                unordered += 1
    assert unordered >= 1
    # and two identical requests do not promise the same order either
    orders = {tuple(call(client, "list_users")["users"]) for _ in range(4)}
    assert len(orders) > 1


# ------------------------------------------------------------------------------------------ filters
def test_event_filters(client):
    a = acct(client)
    events = a.meets_events
    for c in a.meets_courses[:4]:
        body = call(client, "list_conferencing_events", meetsIdCourses=c.id)
        assert ids(body["conferencingEvents"]) == sorted(e.id for e in events if c.id in e.course_ids)
    c1, c2 = a.meets_courses[0].id, a.meets_courses[1].id
    body = call(client, "list_conferencing_events", meetsIdCourses=f"{c1},{c2}")
    assert ids(body["conferencingEvents"]) == sorted(e.id for e in events if {c1, c2} & set(e.course_ids))
    # time window, strict on both ends
    t1, t2 = events[5].time_begin, events[25].time_begin
    body = call(client, "list_conferencing_events", timeBeginAfter=t1, timeBeginBefore=t2)
    got = ids(body["conferencingEvents"])
    assert got == sorted(e.id for e in events if t1 < e.time_begin < t2)
    assert events[5].id not in got and events[25].id not in got and got
    t3 = events[10].time_end
    body = call(client, "list_conferencing_events", "POST", timeEndAfter=t3)
    assert ids(body["conferencingEvents"]) == sorted(e.id for e in events if e.time_end > t3)
    body = call(client, "list_conferencing_events", timeEndBefore=t3)
    assert ids(body["conferencingEvents"]) == sorted(e.id for e in events if e.time_end < t3)
    # host, service, account, connection (ANDed)
    host = events[0].host_user_id
    body = call(client, "list_conferencing_events", meetsIdUsers_host=host, conferencingServices="zoom")
    assert ids(body["conferencingEvents"]) == sorted(
        e.id for e in events if e.host_user_id == host and e.service == "zoom"
    )
    body = call(client, "list_conferencing_events", meetsIdConferencingAccounts=a.webex_account_id)
    webex = sorted(e.id for e in events if e.account_id == a.webex_account_id)
    assert ids(body["conferencingEvents"]) == webex and webex
    # the account's users are referenced through the account, even when they host none of these events
    for name, want in Expect(a).refs("list_conferencing_events", body["conferencingEvents"]).items():
        assert body[name] == want, name
    hosts = {e.host_user_id for e in events if e.account_id == a.webex_account_id}
    assert set(body["users"]) - {str(h) for h in hosts}
    course_conn = {c.id: c.connection_id for c in a.meets_courses}
    body = call(client, "list_conferencing_events", meetsIdConnections=2)
    assert ids(body["conferencingEvents"]) == sorted(
        e.id for e in events if any(course_conn[c] == 2 for c in e.course_ids)
    )
    # malformed values
    call(client, "list_conferencing_events", expect=400, meetsIdCourses="100,abc")
    call(client, "list_conferencing_events", expect=400, timeBeginAfter="1.5")
    call(client, "list_conferencing_events", expect=400, timeEndBefore="2026-01-01")
    call(client, "list_conferencing_events", expect=400, conferencingServices="skype")


def test_recording_filters(client):
    a = acct(client)
    visible = visible_recordings(client)
    by_event: dict[int, list[int]] = {}
    for r in visible:
        by_event.setdefault(r.event_id, []).append(r.id)
    chosen = sorted(by_event)[:3]
    body = call(client, "list_conference_recordings", meetsIdConferencingEvents=",".join(map(str, chosen)))
    assert ids(body["conferenceRecordings"]) == sorted(i for e in chosen for i in by_event[e])
    assert ids(body["conferencingEvents"]) == chosen
    for name, want in Expect(a).refs("list_conference_recordings", body["conferenceRecordings"]).items():
        assert body[name] == want, name
    body = call(client, "list_conference_recordings", type="converted")
    assert ids(body["conferenceRecordings"]) == sorted(r.id for r in visible if r.type == "converted")
    t = sorted(r.time_added for r in visible)[len(visible) // 2]
    body = call(client, "list_conference_recordings", timeAddedAfter=t)
    assert ids(body["conferenceRecordings"]) == sorted(r.id for r in visible if r.time_added > t)
    ev = {e.id: e for e in a.meets_events}
    course = ev[chosen[0]].course_ids[0]
    body = call(
        client, "list_conference_recordings", meetsIdCourses=course, timeEventEndBefore=now_ts(client)
    )
    assert ids(body["conferenceRecordings"]) == sorted(
        r.id
        for r in visible
        if course in ev[r.event_id].course_ids and ev[r.event_id].time_end < now_ts(client)
    )
    call(client, "list_conference_recordings", expect=400, type="mp4")
    call(client, "list_conference_recordings", expect=400, conferencingServices="gotomeeting")
    call(client, "list_conference_recordings", expect=400, meetsIdConferencingEvents="5000;5001")


def test_course_user_and_role_filters(client):
    a = acct(client)
    members: dict[int, dict[int, dict]] = {}
    for cu in a.meets_course_users:
        members.setdefault(cu["meetsIdCourse"], {})[cu["meetsIdUser"]] = cu["roles"]
    teacher = next(u for c, m in members.items() for u, r in m.items() if r["teacher"])
    student = next(u for c, m in members.items() for u, r in m.items() if r["student"])
    for param, role, user in (
        ("meetsIdUsers_isTeacher", "teacher", teacher),
        ("meetsIdUsers_isStudent", "student", student),
        ("meetsIdUsers_canAccess", None, student),
        ("meetsIdUsers_isAdministrator", "administrator", teacher),
    ):
        body = call(client, "list_courses", **{param: user})
        want = sorted(c for c, m in members.items() if user in m and (role is None or m[user][role]))
        assert ids(body["courses"]) == want
    body = call(client, "list_courses", meetsIdConnections=1, meetsIdUsers_canAccess=f"{teacher},{student}")
    conn = {c.id: c.connection_id for c in a.meets_courses}
    assert ids(body["courses"]) == sorted(
        c for c, m in members.items() if conn[c] == 1 and (teacher in m or student in m)
    )
    course = _course_with_most_users(a)
    body = call(client, "list_users", meetsIdCourses=course)
    assert ids(body["users"]) == sorted(members[course])
    body = call(client, "list_course_users", meetsIdCourse=course, roles="teacher")
    assert ids(body["users"]) == sorted(u for u, r in members[course].items() if r["teacher"])
    assert ids(body["courses"]) == [course]
    body = call(client, "list_course_users", meetsIdCourse=course, rolesExclude="teacher")
    assert ids(body["users"]) == sorted(u for u, r in members[course].items() if not r["teacher"])
    call(client, "list_course_users", expect=400)
    call(client, "list_course_users", expect=400, meetsIdCourse=course, roles="dean")
    call(client, "list_course_users", expect=404, meetsIdCourse=99999)


# ------------------------------------------------------------------------------------------ input limits
def _raw_get(client, function: str, query: str) -> dict:
    r = requests.get(
        f"{client.base}/meets/api/{function}?{query}",
        headers={TOKEN_HEADER: client.info["meets_token"]},
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    return r.json()


def _raw_post(client, function: str, body: str) -> dict:
    r = requests.post(
        f"{client.base}/meets/api/{function}",
        data=body.encode(),
        headers={
            TOKEN_HEADER: client.info["meets_token"],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    return r.json()


def _padded_filter(real: list[int], n_total: int) -> list[int]:
    fakes = [1000 + k for k in range(n_total - len(real))]  # 4-digit ids that are no event's
    return real + fakes


def test_input_limits_get_512_post_4096(client):
    visible = visible_recordings(client)
    every = sorted(r.id for r in visible)
    events = sorted({r.event_id for r in visible})[:2]
    subset = sorted(r.id for r in visible if r.event_id in events)
    assert 0 < len(subset) < len(every)
    value = ",".join(map(str, _padded_filter(events, 150)))
    assert 512 < len(value) < 4096
    # GET: over 512 bytes -> the filter is ignored, everything comes back
    body = call(client, "list_conference_recordings", meetsIdConferencingEvents=value)
    assert ids(body["conferenceRecordings"]) == every
    # POST: honoured
    body = call(client, "list_conference_recordings", "POST", meetsIdConferencingEvents=value)
    assert ids(body["conferenceRecordings"]) == subset
    # POST over 4096 bytes -> ignored
    huge = ",".join(map(str, _padded_filter(events, 900)))
    assert len(huge) > 4096
    body = call(client, "list_conference_recordings", "POST", meetsIdConferencingEvents=huge)
    assert ids(body["conferenceRecordings"]) == every


def _value_of_size(real: list[int], size: int) -> str:
    """Comma-separated ids (literal commas) of exactly ``size`` bytes, padding one fake id with zeros."""
    ids_ = list(real)
    k = 0
    while len(",".join(map(str, [*ids_, 1000 + k]))) <= size:
        ids_.append(1000 + k)
        k += 1
    value = ",".join(map(str, ids_))
    missing = size - len(value)
    assert 0 <= missing < 6
    head, _, tail = value.rpartition(",")
    return f"{head},{'0' * missing}{tail}"


def test_input_limit_boundary_is_measured_as_sent(client):
    visible = visible_recordings(client)
    every = sorted(r.id for r in visible)
    events = sorted({r.event_id for r in visible})[:2]
    subset = sorted(r.id for r in visible if r.event_id in events)
    for size, want in ((512, subset), (513, every)):
        value = _value_of_size(events, size)
        assert len(value) == size
        body = _raw_get(client, "list_conference_recordings", f"meetsIdConferencingEvents={value}")
        assert ids(body["conferenceRecordings"]) == want, size
    for size, want in ((4096, subset), (4097, every)):
        value = _value_of_size(events, size)
        body = _raw_post(client, "list_conference_recordings", f"meetsIdConferencingEvents={value}")
        assert ids(body["conferenceRecordings"]) == want, size
    # 100 four-digit ids: 499 bytes with literal commas (honoured by GET), 697 percent-encoded (ignored)
    value = ",".join(map(str, _padded_filter(events, 100)))
    assert len(value) == 499
    body = _raw_get(client, "list_conference_recordings", f"meetsIdConferencingEvents={value}")
    assert ids(body["conferenceRecordings"]) == subset
    body = _raw_get(
        client, "list_conference_recordings", f"meetsIdConferencingEvents={value.replace(',', '%2C')}"
    )
    assert ids(body["conferenceRecordings"]) == every
    # an ignored required parameter is a missing one
    r = client.meets("get_conferencing_event_attendance", meetsIdConferencingEvent="0" * 600 + "5000")
    assert r.status_code == 400 and r.json()["status"] == 400


# ------------------------------------------------------------------------------------------ attendance
def test_attendance_becomes_final_a_day_after_the_event(client):
    a = acct(client)
    now = now_ts(client)
    recent = [
        e
        for e in a.meets_events
        if e.meeting is not None
        and now - 86400 < e.time_end <= now
        and len(a.attendance(e, False)) < len(a.attendance(e, True))
    ]
    assert recent, "the account should have an event that ended within the last day"
    e = recent[0]
    body = call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=e.id)
    assert set(body) == {"status", "attendance", "isFinal"}
    assert body["isFinal"] is False
    assert body["attendance"] == a.attendance(e, False)
    partial = len(body["attendance"])
    for row in body["attendance"]:
        assert set(row) == {
            "wasHost",
            "attendeeName",
            "emailAddress",
            "ip",
            "browser",
            "timeJoin",
            "timeLeave",
        }
    client.admin("clock", {"advance_days": 1})
    body = call(client, "get_conferencing_event_attendance", "POST", meetsIdConferencingEvent=e.id)
    assert body["isFinal"] is True
    assert body["attendance"] == a.attendance(e, True)
    assert len(body["attendance"]) > partial


def test_attendance_edge_cases(client):
    a = acct(client)
    now = now_ts(client)
    future = next(e for e in a.meets_events if e.time_end > now)
    assert call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=future.id) == {
        "status": 200,
        "attendance": [],
        "isFinal": False,
    }
    old = next(e for e in a.meets_events if e.meeting is not None and e.time_end + 86400 <= now)
    body = call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=old.id)
    assert body["isFinal"] is True and body["attendance"] == a.attendance(old, True) and body["attendance"]
    never = next(
        e for e in a.meets_events if e.meeting is None and e.service == "zoom" and e.time_end + 86400 <= now
    )
    body = call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=never.id)
    assert body == {"status": 200, "attendance": [], "isFinal": True}
    webex = next(e for e in a.meets_events if e.extra_attendance_seed and e.time_end + 86400 <= now)
    body = call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=webex.id)
    assert body["attendance"] == a.attendance(webex, True) and body["attendance"]
    body = call(client, "get_conferencing_event_attendance", expect=404, meetsIdConferencingEvent=322)
    assert body == {"status": 404, "error": 'Conferencing event with ID "322" not found'}
    call(client, "get_conferencing_event_attendance", expect=400)
    call(client, "get_conferencing_event_attendance", expect=400, meetsIdConferencingEvent="abc")


def test_zoom_attendance_daily_limit(sandbox_factory):
    client = sandbox_factory(zoom_attendance_daily_limit=3)
    a = acct(client)
    zoom = [e for e in a.meets_events if e.service == "zoom"]
    webex = next(e for e in a.meets_events if e.service == "webexmeetingcenter")
    for e in zoom[:3]:
        call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=e.id)
    body = call(client, "get_conferencing_event_attendance", expect=429, meetsIdConferencingEvent=zoom[3].id)
    assert body["status"] == 429
    call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=webex.id)  # not Zoom: no limit
    client.admin("clock", {"advance_days": 1})
    call(client, "get_conferencing_event_attendance", meetsIdConferencingEvent=zoom[3].id)


# ------------------------------------------------------------------------------------------ from_*
def test_from_lti_ids_round_trip(client):
    a = acct(client)
    for c in a.meets_courses:
        body = call(
            client, "from_lti_id_context", meetsIdConnection=c.connection_id, ltiIdContext=c.lti_id_context
        )
        assert body == {"status": 200, "meetsIdCourse": c.id}
    for u in a.meets_users:
        body = call(
            client, "from_lti_id_user", "POST", meetsIdConnection=u.connection_id, ltiIdUser=u.lti_id_user
        )
        assert body == {"status": 200, "meetsIdUser": u.id}
    c, u = a.meets_courses[0], a.meets_users[0]
    other = 3 - c.connection_id
    call(client, "from_lti_id_context", expect=404, meetsIdConnection=other, ltiIdContext=c.lti_id_context)
    call(client, "from_lti_id_context", expect=404, meetsIdConnection=1, ltiIdContext="nope")
    call(
        client, "from_lti_id_user", expect=404, meetsIdConnection=3 - u.connection_id, ltiIdUser=u.lti_id_user
    )
    call(client, "from_lti_id_user", expect=400, meetsIdConnection=1)
    call(client, "from_lti_id_context", expect=400, ltiIdContext=c.lti_id_context)
    call(client, "from_lti_id_context", expect=400, meetsIdConnection="one", ltiIdContext=c.lti_id_context)


# ------------------------------------------------------------------------------------------ downloads
def test_download_redirects_to_storage_host_without_credentials(client):
    rec = next(r for r in visible_recordings(client) if not r.gone)
    r = client.meets("download_conference_recording", meetsIdConferenceRecording=rec.id)
    assert r.status_code == 303
    body = r.json()
    location = r.headers["Location"]
    assert body == {"status": 303, "location": location}
    storage_url = client.server.storage_url
    assert location.startswith(f"{storage_url}/files/{rec.id}?")
    assert not location.startswith(client.base)
    client.server.state.storage_requests.clear()

    plain = requests.get(location, timeout=60)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "video/mp4"
    assert int(plain.headers["Content-Length"]) == rec.size == len(plain.content)
    assert hashlib.sha256(plain.content).hexdigest() == Account.content_sha256(rec.size, rec.content_seed)

    token = {TOKEN_HEADER: client.info["meets_token"]}
    assert requests.get(location, headers=token, timeout=30).status_code == 403
    assert requests.get(location, headers={"Authorization": "Bearer x"}, timeout=30).status_code == 403
    assert requests.get(location, headers={"Cookie": "session=1"}, timeout=30).status_code == 403

    arrived = client.server.state.storage_requests
    assert len(arrived) == 4
    lowered = [{k.lower() for k in req["headers"]} for req in arrived]
    assert TOKEN_HEADER.lower() not in lowered[0] and "authorization" not in lowered[0]
    assert TOKEN_HEADER.lower() in lowered[1]
    assert "authorization" in lowered[2]
    assert "cookie" in lowered[3]
    assert all(req["path"] == f"/files/{rec.id}" for req in arrived)

    # resuming with a Range
    offset = rec.size // 3
    part = requests.get(location, headers={"Range": f"bytes={offset}-"}, timeout=60)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes {offset}-{rec.size - 1}/{rec.size}"
    assert part.content == plain.content[offset:]

    # a tampered URL fails
    assert requests.get(location.replace("sig=", "sig=0"), timeout=30).status_code == 403
    other = next(r for r in acct(client).meets_recordings if r.id != rec.id)
    assert (
        requests.get(location.replace(f"/files/{rec.id}?", f"/files/{other.id}?"), timeout=30).status_code
        == 403
    )

    # POST works too; the URL is short-lived by the sandbox clock
    r = client.meets("download_conference_recording", "POST", meetsIdConferenceRecording=rec.id)
    assert r.status_code == 303 and r.json()["location"] == r.headers["Location"]
    client.admin("clock", {"advance_days": 1})
    assert requests.get(location, timeout=30).status_code == 403


def test_gone_recording_is_500_then_disappears(client):
    gone = next(r for r in visible_recordings(client) if r.gone)
    listed = call(client, "list_conference_recordings", meetsIdConferencingEvents=gone.event_id)
    assert str(gone.id) in listed["conferenceRecordings"]
    body = call(client, "download_conference_recording", expect=500, meetsIdConferenceRecording=gone.id)
    assert body == {
        "status": 500,
        "error": "The conference recording is no longer available on the remote host",
    }
    assert gone.id in client.server.state.meets_gone
    listed = call(client, "list_conference_recordings", meetsIdConferencingEvents=gone.event_id)
    assert str(gone.id) not in listed["conferenceRecordings"]
    everything, _ = paginate(client, "list_conference_recordings", "conferenceRecordings", limit=1000)
    assert str(gone.id) not in everything
    call(client, "download_conference_recording", expect=404, meetsIdConferenceRecording=gone.id)


def test_recordings_appear_only_once_meets_learns_of_them(client):
    a = acct(client)
    now = now_ts(client)
    late = min((r for r in a.meets_recordings if r.time_added > now), key=lambda r: r.time_added)
    listed = call(client, "list_conference_recordings", limit=1000)["conferenceRecordings"]
    assert str(late.id) not in listed
    assert ids(listed) == sorted(r.id for r in a.meets_recordings if r.time_added <= now)
    call(client, "download_conference_recording", expect=404, meetsIdConferenceRecording=late.id)
    client.admin("clock", {"advance_seconds": late.time_added - now - 1})
    listed = call(client, "list_conference_recordings", limit=1000)["conferenceRecordings"]
    assert str(late.id) not in listed
    client.admin("clock", {"advance_seconds": 1})
    listed = call(client, "list_conference_recordings", limit=1000)["conferenceRecordings"]
    assert str(late.id) in listed
    assert listed[str(late.id)] == x_recording(late)
    call(
        client,
        "download_conference_recording",
        expect=303 if not late.gone else 500,
        meetsIdConferenceRecording=late.id,
    )
    call(client, "download_conference_recording", expect=404, meetsIdConferenceRecording=1)
    call(client, "download_conference_recording", expect=400)
