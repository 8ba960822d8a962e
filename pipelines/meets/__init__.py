"""dlt source for MEETS (CirQlive): every list function, attendance until final, into ``meets_raw``.

The tables and keys are the ``meets_raw`` contract in ``docs/raw_schema.md``. Why it is shaped so:

* **One place per entity.** A list response carries the requested entity map plus cross-referenced
  maps. Each table is loaded from the list function of its own entity (complete), never from
  cross-references (partial, and possibly differently shaped). Conferencing accounts have no list
  function, so they (and only they) come from the cross-referenced maps of
  ``list_conferencing_events``, de-duplicated.
* **Links are bridge tables**, not JSON: ``meetsIdCourses`` / ``meetsIdUsers`` of events and
  ``meetsIdUsers`` of accounts. Bridges are merged with the owner's id as merge key, so a re-listed
  event's links replace its old ones. ``auxiliary`` objects stay JSON (free-form LMS data).
* **Incremental with a lookback.** Events by ``timeEnd``, recordings by ``timeAdded``, through
  ``dlt.sources.incremental`` and MEETS' ``...After`` filters. The stored cursor is capped at
  ``now - lookback`` (see :func:`capped_max`): MEETS is eventually consistent and learns about
  recordings late, and events scheduled months ahead must not push the cursor past events that
  have yet to happen. So every run re-lists what ended within the lookback plus everything to come.
* **Attendance until final, then never again.** Ended events are fetched; an answer with
  ``isFinal: false`` is kept pending in the resource state and fetched again on later runs until it
  is final (or ``attendance_recheck_days`` have passed). Each fetch *replaces* the event's rows
  (merge key ``meets_id_conferencing_event``, delete-insert); ``attendance_status`` records the
  outcome. Zoom attendance is limited by MEETS to 2000 look-ups a day: we count them per day in the
  state and stop at the limit (also on MEETS' own 429), resuming on a later run. A 404 on one event
  is reported and skipped.
* Raw values stay raw (UNIX seconds as integers); names become dlt's snake_case.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from pipelines import clock
from pipelines import quarantine as q
from pipelines.meets import settings as defaults
from pipelines.meets.client import (
    ENTITY_ID_KEYS,
    ZOOM_SERVICES,
    Attendance,
    MeetsClient,
    MeetsNotFound,
    ZoomAttendanceLimitReached,
    keyed_entities,
)
from pipelines.meets.schema import TABLES

log = logging.getLogger("pipelines.meets")

JSON_FIELDS = frozenset({"auxiliary"})
LIST_ENTITY = {
    "list_admins": "admins",
    "list_connections": "connections",
    "list_courses": "courses",
    "list_users": "users",
}
EVENT_LINKS = ("meetsIdCourses", "meetsIdUsers", "meetsIdUser")  # the manual spells the users one both ways
ACCOUNT_LINKS = ("meetsIdUsers",)
ATTENDANCE_PAGE_EVENTS = 200  # events per yielded attendance page
CHILD_TABLES = {"courses": ("course_users",)}
"""Tables of transformers, declared by their parent resource."""


# ---------------------------------------------------------------------------------------------- tables
TABLES["quarantine"] = {
    # records MEETS sent that fail their table's contract (pipelines/quarantine.py writes them)
    "primary_key": list(q.PRIMARY_KEY),
    "columns": q.COLUMNS,
}


def table_hints(table: str) -> Any:
    """dlt hints for one ``meets_raw`` table (merge on its primary key, typed columns)."""
    spec = TABLES[table]
    return dlt.mark.make_hints(
        table_name=table,
        write_disposition="merge",
        primary_key=spec["primary_key"],
        merge_key=spec.get("merge_key"),
        columns=spec["columns"],
    )


def to_table(table: str, rows: Any) -> Any:
    """Mark ``rows`` (a page, or ``materialize_table_schema()``) for ``table`` with its hints."""
    return dlt.mark.with_hints(rows, table_hints(table), create_table_variant=True)


# ---------------------------------------------------------------------------------------------- shaping
_CAMEL_1 = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``meetsIdUser_host`` -> ``meets_id_user_host``, ``ltiIdContext`` -> ``lti_id_context``."""
    return _CAMEL_1.sub("_", _CAMEL_2.sub("_", name)).lower()


def shape(entity: Mapping[str, Any], *, drop: Iterable[str] = ()) -> dict[str, Any]:
    """A MEETS entity as a row: snake_case names, nested objects kept nested (dlt flattens them
    to ``settings__tls_required``), ``auxiliary`` verbatim (a JSON column), ``drop`` keys removed."""
    skip = set(drop)
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key in skip:
            continue
        name = snake_case(key)
        if name in JSON_FIELDS:
            out[name] = value
        elif isinstance(value, Mapping):
            out[name] = shape(value)
        else:
            out[name] = value
    return out


def _id(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _links(entity: Mapping[str, Any], keys: Sequence[str]) -> list[int]:
    out: list[int] = []
    for key in keys:
        value = entity.get(key)
        if isinstance(value, list):
            out.extend(i for i in (_id(v) for v in value) if i is not None)
    return sorted(set(out))


def entity_rows(entities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for plain entities (admins, connections, courses, users, recordings)."""
    return [shape(e) for e in entities]


def event_rows(
    events: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, int]], list[dict[str, int]]]:
    """``(events, event-course links, event-user links)`` of conferencing events."""
    rows: list[dict[str, Any]] = []
    courses: list[dict[str, int]] = []
    users: list[dict[str, int]] = []
    for e in events:
        row = shape(e, drop=EVENT_LINKS)
        rows.append(row)
        eid = _id(e.get("meetsIdConferencingEvent"))
        if eid is None:
            continue
        courses += [
            {"meets_id_conferencing_event": eid, "meets_id_course": c} for c in _links(e, ["meetsIdCourses"])
        ]
        users += [
            {"meets_id_conferencing_event": eid, "meets_id_user": u}
            for u in _links(e, ["meetsIdUsers", "meetsIdUser"])
        ]
    return rows, courses, users


def account_rows(
    accounts: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, int]]]:
    """``(accounts, account-user links)`` of conferencing accounts."""
    rows: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    for a in accounts:
        rows.append(shape(a, drop=ACCOUNT_LINKS))
        aid = _id(a.get("meetsIdConferencingAccount"))
        if aid is not None:
            links += [
                {"meets_id_conferencing_account": aid, "meets_id_user": u} for u in _links(a, ACCOUNT_LINKS)
            ]
    return rows, links


def course_user_rows(course_id: int, users: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Membership rows of one course: the user id and the per-course ``roles`` only (user details
    come from ``list_users``, the complete source)."""
    rows = []
    for u in users:
        uid = _id(u.get("meetsIdUser"))
        if uid is None:
            continue
        roles = u.get("roles") if isinstance(u.get("roles"), Mapping) else {}
        rows.append({"meets_id_course": int(course_id), "meets_id_user": uid, "roles": shape(roles)})
    return rows


def attendance_rows(att: Attendance) -> list[dict[str, Any]]:
    """One row per join/leave entry, numbered from 1 in MEETS' order, with the answer's ``isFinal``."""
    return [
        {
            "meets_id_conferencing_event": att.event_id,
            "row_number": n,
            **shape(entry),
            "is_final": att.is_final,
        }
        for n, entry in enumerate(att.rows, start=1)
    ]


def attendance_status_row(att: Attendance, fetched_at: int) -> dict[str, Any]:
    return {
        "meets_id_conferencing_event": att.event_id,
        "is_final": att.is_final,
        "fetched_at": datetime.fromtimestamp(fetched_at, UTC),
        "rows": len(att.rows),
    }


def capped_max(cap: int) -> Callable[[Sequence[Any]], Any]:
    """``max`` that never exceeds ``cap``: the incremental cursor stays at or before ``now - lookback``.

    With it, dlt keeps every row at or after the stored value (so the lookback window and future
    events are re-loaded) and a far-future event cannot move the cursor past today.
    """

    def capped_max(values: Sequence[Any]) -> Any:
        return min(max(values), cap)

    return capped_max


# ---------------------------------------------------------------------------------------------- checks
COURSE_USER_ID = {"data_type": "bigint", "nullable": False}
RECORDING_TYPES = ("original", "converted")
ENTITY_TABLES = {
    "admins": "admins",
    "connections": "connections",
    "courses": "courses",
    "users": "users",
    "conferencingAccounts": "conferencing_accounts",
    "conferencingEvents": "conferencing_events",
    "conferenceRecordings": "conference_recordings",
}


def check_entity_row(table: str, row: Mapping[str, Any]) -> q.Problem | None:
    """A shaped row against its ``meets_raw`` table contract (plus the rules the models rely on)."""
    problem = q.check_row(row, TABLES[table]["columns"])
    if problem is not None:
        return problem
    if table == "conference_recordings":
        return q.check_enum(row, "type", RECORDING_TYPES)
    if table == "conferencing_events":
        return q.check_order(row, "time_begin", "time_end", timestamps=False)
    if table == "attendance":
        return q.check_order(row, "time_join", "time_leave", timestamps=False)
    return None


def check_event(event: Mapping[str, Any]) -> q.Problem | None:
    return q.first(
        *(q.check_list(event, key) for key in EVENT_LINKS),
        check_entity_row("conferencing_events", shape(event, drop=EVENT_LINKS)),
    )


class _Checks:
    """Quarantine bookkeeping of one MEETS run (shared by every resource)."""

    def __init__(self, report: MeetsRunReport) -> None:
        self.quarantine = q.Quarantine("meets")
        self.report = report

    def add(self, function: str, table: str, rid: Any, problem: q.Problem, payload: Any) -> None:
        self.quarantine.add(function, table, rid, problem, payload)
        self.report.quarantined = self.quarantine.total

    def hook(self, function: str, name: str, entity: dict, field: str, reason: str) -> None:
        """``MeetsClient.list_entities(on_problem=...)``: map-key and duplicate problems."""
        self.add(
            function,
            ENTITY_TABLES.get(name, name) if function != "list_course_users" else "course_users",
            entity.get(ENTITY_ID_KEYS.get(name, "")),
            q.Problem(field, reason),
            entity,
        )

    def valid(self, function: str, table: str, id_key: str, entities: list[dict]) -> list[dict]:
        """Shaped rows of the entities that pass their table's checks."""
        good = []
        for entity in entities:
            row = shape(entity)
            problem = check_entity_row(table, row)
            if problem is None:
                good.append(row)
            else:
                self.add(function, table, entity.get(id_key), problem, entity)
        return good

    def drain(self) -> Iterator[Any]:
        item = self.quarantine.drain()
        if item is not None:
            yield item


# ---------------------------------------------------------------------------------------------- report
@dataclass
class MeetsRunReport:
    """What a run did beyond row counts; filled by the resources, read by the run summary."""

    now: int | None = None
    events_time_end_after: int | None = None
    recordings_time_added_after: int | None = None
    attendance_requested: int = 0
    attendance_final: int = 0
    attendance_not_final: int = 0
    attendance_pending_after_run: int = 0
    attendance_not_found: list[dict[str, Any]] = field(default_factory=list)
    attendance_given_up: list[int] = field(default_factory=list)
    zoom_attendance_lookups_today: int = 0
    zoom_attendance_limit: int | None = None
    zoom_attendance_limit_reached: bool = False
    zoom_attendance_deferred: int = 0
    quarantined: int = 0
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------- source
@dlt.source(name="meets")
def meets_source(
    client: MeetsClient | None = None,
    now: int | None = None,
    lookback_days: float | None = None,
    zoom_attendance_daily_limit: int | None = None,
    attendance_recheck_days: float | None = None,
    attendance_event_ids: Sequence[int] | None = None,
    report: MeetsRunReport | None = None,
) -> list[DltResource]:
    """All ``meets_raw`` resources.

    Args:
        client: the :class:`MeetsClient` to use; built from ``load_settings()`` when omitted (then
            ``now`` and the limits below also default to those settings).
        now: UNIX time that decides which events have ended (default: the settings' clock, i.e.
            the sandbox clock in sandbox mode; with an explicit client, the real clock).
        lookback_days / zoom_attendance_daily_limit / attendance_recheck_days: default from
            ``sources.meets.*`` (dlt injects them), else the documented defaults.
        attendance_event_ids: fetch the attendance of exactly these events (ad-hoc re-fetch, tests);
            the ended-events scan and its watermark are skipped.
        report: collects what the run did (attendance outcome, 404s, the Zoom limit).
    """
    if client is None:
        from pipelines.meets.pipeline import build_client

        resolved = defaults.load_settings()
        client = build_client(resolved)
        now = now if now is not None else resolved.now()
        lookback_days = resolved.lookback_days if lookback_days is None else lookback_days
        zoom_attendance_daily_limit = (
            resolved.zoom_attendance_daily_limit
            if zoom_attendance_daily_limit is None
            else zoom_attendance_daily_limit
        )
        attendance_recheck_days = (
            resolved.attendance_recheck_days if attendance_recheck_days is None else attendance_recheck_days
        )
    now = int(now if now is not None else clock.timestamp())
    lookback = int((defaults.DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days) * 86400)
    zoom_limit = (
        defaults.DEFAULT_ZOOM_ATTENDANCE_DAILY_LIMIT
        if zoom_attendance_daily_limit is None
        else int(zoom_attendance_daily_limit)
    )
    recheck = int(
        (
            defaults.DEFAULT_ATTENDANCE_RECHECK_DAYS
            if attendance_recheck_days is None
            else attendance_recheck_days
        )
        * 86400
    )
    report = report if report is not None else MeetsRunReport()
    report.now = now
    report.zoom_attendance_limit = zoom_limit
    meets = client
    checks = _Checks(report)

    def plain(table: str, function: str) -> DltResource:
        TABLES[table]

        name = LIST_ENTITY[function]

        def pages() -> Iterator[Any]:
            yield to_table(table, dlt.mark.materialize_table_schema())
            for child in CHILD_TABLES.get(table, ()):  # a transformer with no parent rows never runs
                yield to_table(child, dlt.mark.materialize_table_schema())
            for page in meets.list_entities(function, on_problem=checks.hook):
                rows = checks.valid(function, table, ENTITY_ID_KEYS[name], page)
                if rows:
                    yield to_table(table, rows)
                yield from checks.drain()

        # table hints in a variant (to_table), none on the resource: they would leak into the
        # resource's ``quarantine`` variant
        return dlt.resource(pages, name=table, write_disposition="merge")

    admins = plain("admins", "list_admins")
    connections = plain("connections", "list_connections")
    courses = plain("courses", "list_courses")
    users = plain("users", "list_users")

    def course_users_of(course_page: list[dict[str, Any]]) -> Iterator[Any]:
        if q.is_quarantine_page(course_page):
            return
        for course in course_page:
            cid = _id(course.get("meets_id_course"))
            if cid is None:
                continue
            rows: list[dict[str, Any]] = []
            function = "list_course_users"
            for page in meets.list_entities(function, {"meetsIdCourse": cid}, on_problem=checks.hook):
                for user in page:
                    shaped = course_user_rows(cid, [user])
                    problem = q.first(
                        q.check_row(
                            {"meets_id_user": user.get("meetsIdUser")}, {"meets_id_user": COURSE_USER_ID}
                        ),
                        q.text_problem(user),
                        q.check_row(shaped[0], TABLES["course_users"]["columns"]) if shaped else None,
                    )
                    if problem is None:
                        rows += shaped
                    else:
                        checks.add(
                            function, "course_users", f"{cid}/{user.get('meetsIdUser')}", problem, user
                        )
            if rows:
                yield to_table("course_users", rows)
            yield from checks.drain()

    course_users = dlt.transformer(
        course_users_of, data_from=courses, name="course_users", write_disposition="merge"
    )

    # primary_key=(): no boundary de-duplication; rows at the cursor are meant to be re-loaded.
    # on_cursor_value_missing="include": the bridge/account rows of this resource have no time_end.
    events_cursor = dlt.sources.incremental(
        "time_end",
        last_value_func=capped_max(now - lookback),
        primary_key=(),
        on_cursor_value_missing="include",
    )
    recordings_cursor = dlt.sources.incremental(
        "time_added",
        last_value_func=capped_max(now - lookback),
        primary_key=(),
        on_cursor_value_missing="include",  # quarantine rows have no time_added
    )

    @dlt.resource(name="conferencing_events", write_disposition="merge")
    def conferencing_events(time_end: dlt.sources.incremental[int] = events_cursor) -> Iterator[Any]:
        """Events (by ``timeEnd``), their course/user links, and the conferencing accounts they cross-reference."""
        params: dict[str, Any] = {}
        if time_end.last_value is not None:
            params["timeEndAfter"] = int(time_end.last_value) - 1  # MEETS' "after" is exclusive
            report.events_time_end_after = params["timeEndAfter"]
        for table in (
            "conferencing_events",
            "conferencing_event_courses",
            "conferencing_event_users",
            "conferencing_accounts",
            "conferencing_account_users",
        ):
            yield to_table(table, dlt.mark.materialize_table_schema())
        seen_accounts: set[int] = set()
        seen_events: set[int] = set()
        function = "list_conferencing_events"
        for page in meets.iter_pages(function, params):
            events = []
            for key, event in keyed_entities(page, "conferencingEvents"):
                eid = event.get("meetsIdConferencingEvent")
                problem = check_event(event)
                if problem is None and key is not None and str(key) != str(eid):
                    problem = q.Problem("meetsIdConferencingEvent", f"is {eid} but the map key is {key!r}")
                if problem is None and eid in seen_events:
                    problem = q.Problem(
                        "meetsIdConferencingEvent", "duplicate id across pages; first copy kept"
                    )
                if problem is not None:
                    checks.add(function, "conferencing_events", eid, problem, event)
                    continue
                seen_events.add(eid)
                events.append(event)
            rows, event_courses, event_users = event_rows(events)
            accounts = []
            for key, account in keyed_entities(page, "conferencingAccounts"):
                aid = account.get("meetsIdConferencingAccount")
                if _id(aid) in seen_accounts:
                    continue
                problem = q.first(
                    q.check_list(account, "meetsIdUsers"),
                    check_entity_row("conferencing_accounts", shape(account, drop=ACCOUNT_LINKS)),
                )
                if problem is None and key is not None and str(key) != str(aid):
                    problem = q.Problem("meetsIdConferencingAccount", f"is {aid} but the map key is {key!r}")
                if problem is not None:
                    checks.add(function, "conferencing_accounts", aid, problem, account)
                    continue
                accounts.append(account)
            seen_accounts.update(
                i for i in (_id(a.get("meetsIdConferencingAccount")) for a in accounts) if i is not None
            )
            account_table, account_users = account_rows(accounts)
            for table, items in (
                ("conferencing_events", rows),
                ("conferencing_event_courses", event_courses),
                ("conferencing_event_users", event_users),
                ("conferencing_accounts", account_table),
                ("conferencing_account_users", account_users),
            ):
                if items:
                    yield to_table(table, items)
            yield from checks.drain()

    @dlt.resource(name="conference_recordings", write_disposition="merge")
    def conference_recordings(
        time_added: dlt.sources.incremental[int] = recordings_cursor,
    ) -> Iterator[list[dict[str, Any]]]:
        """Recording metadata by ``timeAdded`` (when MEETS learned of it, hours after the event)."""
        params: dict[str, Any] = {}
        if time_added.last_value is not None:
            params["timeAddedAfter"] = int(time_added.last_value) - 1
            report.recordings_time_added_after = params["timeAddedAfter"]
        function = "list_conference_recordings"
        yield to_table("conference_recordings", dlt.mark.materialize_table_schema())
        for page in meets.list_entities(function, params, on_problem=checks.hook):
            rows = checks.valid(function, "conference_recordings", "meetsIdConferenceRecording", page)
            if rows:
                yield to_table("conference_recordings", rows)
            yield from checks.drain()

    @dlt.resource(name="attendance", write_disposition="merge")
    def attendance() -> Iterator[Any]:
        """Attendance of ended events until final; ``attendance_status`` per fetched event."""
        yield to_table("attendance", dlt.mark.materialize_table_schema())
        yield to_table("attendance_status", dlt.mark.materialize_table_schema())
        yield from _attendance_pages(
            meets,
            dlt.current.resource_state(),
            now=now,
            lookback=lookback,
            zoom_limit=zoom_limit,
            recheck=recheck,
            explicit_ids=attendance_event_ids,
            report=report,
            checks=checks,
        )

    return [
        admins,
        connections,
        courses,
        course_users,
        users,
        conferencing_events,
        conference_recordings,
        attendance,
    ]


def _attendance_pages(
    client: MeetsClient,
    state: dict[str, Any],
    *,
    now: int,
    lookback: int,
    zoom_limit: int,
    recheck: int,
    explicit_ids: Sequence[int] | None,
    report: MeetsRunReport,
    checks: _Checks | None = None,
) -> Iterator[Any]:
    """Fetch attendance for ended events that are not final yet; keep the bookkeeping in ``state``.

    State (JSON, ids as strings): ``final`` {id: time_end} of final events still inside the listing
    window (pruned after), ``pending`` {id: {time_end, service, fetched}} of events to (re)fetch,
    ``watermark`` (``now`` of the last completed scan) and ``zoom_lookups`` {UTC day: count}.
    """
    final: dict[str, int] = state.setdefault("final", {})
    pending: dict[str, dict[str, Any]] = state.setdefault("pending", {})
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    lookups: dict[str, int] = {day: int(state.get("zoom_lookups", {}).get(day, 0))}
    state["zoom_lookups"] = lookups

    candidates: dict[str, dict[str, Any]] = {}
    if explicit_ids is not None:
        for eid in explicit_ids:
            candidates[str(int(eid))] = {
                "time_end": None,
                "service": None,
                "fetched": False,
                "explicit": True,
            }
    else:
        watermark = state.get("watermark")
        params: dict[str, Any] = {"timeEndBefore": now + 1}
        if watermark is not None:
            params["timeEndAfter"] = int(watermark) - lookback - 1
        checks = checks or _Checks(report)
        function = "list_conferencing_events"
        hook = {"on_problem": checks.hook} if isinstance(client, MeetsClient) else {}
        for page in client.list_entities(function, params, **hook):
            for event in page:
                problem = check_event(event)
                if problem is not None:  # quarantined (not loaded), so no attendance either
                    checks.add(
                        function, "conferencing_events", event.get("meetsIdConferencingEvent"), problem, event
                    )
                    continue
                eid = _id(event.get("meetsIdConferencingEvent"))
                time_end = _id(event.get("timeEnd"))
                if eid is None or time_end is None or time_end > now or str(eid) in final:
                    continue
                known = pending.get(str(eid), {})
                candidates[str(eid)] = {
                    "time_end": time_end,
                    "service": event.get("conferencingService"),
                    "fetched": bool(known.get("fetched")),
                }
        for key, info in pending.items():
            candidates.setdefault(key, dict(info))

    order = sorted(candidates, key=lambda k: (candidates[k].get("time_end") or 0, int(k)))
    rows: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    limit_logged = False

    def remember(key: str, info: Mapping[str, Any], fetched: bool) -> None:
        if info.get("explicit"):
            return
        pending[key] = {"time_end": info.get("time_end"), "service": info.get("service"), "fetched": fetched}

    for key in order:
        info = candidates[key]
        time_end = info.get("time_end")
        if (
            not info.get("explicit")
            and info.get("fetched")
            and time_end is not None
            and time_end < now - recheck
        ):
            pending.pop(key, None)
            report.attendance_given_up.append(int(key))
            continue
        service = info.get("service")
        is_zoom = service is None or service in ZOOM_SERVICES  # unknown service: count it, to be safe
        if is_zoom and (report.zoom_attendance_limit_reached or lookups[day] >= zoom_limit):
            if not limit_logged:
                limit_logged = True
                report.zoom_attendance_limit_reached = True
                message = (
                    f"MEETS: {lookups[day]} Zoom attendance look-ups used on {day} (MEETS allows "
                    f"{zoom_limit} per day); the remaining Zoom events are deferred to a later run."
                )
                report.messages.append(message)
                log.warning(message)
            report.zoom_attendance_deferred += 1
            remember(key, info, bool(info.get("fetched")))
            continue
        if is_zoom:
            lookups[day] += 1
        report.attendance_requested += 1
        try:
            att = client.get_attendance(int(key))
        except MeetsNotFound as exc:
            report.attendance_not_found.append(
                {"meets_id_conferencing_event": int(key), "error": exc.meets_message}
            )
            log.warning("MEETS: attendance of event %s not found (%s); skipped", key, exc.meets_message)
            remember(key, info, True)
            continue
        except ZoomAttendanceLimitReached as exc:
            report.zoom_attendance_limit_reached = True
            report.zoom_attendance_deferred += 1
            report.messages.append(str(exc))
            if not limit_logged:
                limit_logged = True
                log.warning("%s", exc)
            remember(key, info, bool(info.get("fetched")))
            continue
        if att.problem is not None:
            checks = checks or _Checks(report)
            checks.add(
                "get_conferencing_event_attendance",
                "attendance",
                int(key),
                q.Problem("attendance", att.problem),
                {"meetsIdConferencingEvent": int(key), "isFinal": att.is_final},
            )
            remember(key, info, True)  # asked again next run: MEETS may answer properly then
            continue
        checks = checks or _Checks(report)
        for row in attendance_rows(att):
            problem = check_entity_row("attendance", row)
            if problem is None:
                rows.append(row)
            else:
                checks.add(
                    "get_conferencing_event_attendance",
                    "attendance",
                    f"{key}/{row['row_number']}",
                    problem,
                    row,
                )
        statuses.append(attendance_status_row(att, now))
        if att.is_final:
            report.attendance_final += 1
            pending.pop(key, None)
            if not info.get("explicit"):
                final[key] = int(time_end if time_end is not None else now)
        else:
            report.attendance_not_final += 1
            remember(key, info, True)
        if len(statuses) >= ATTENDANCE_PAGE_EVENTS:
            yield from _flush(rows, statuses)
            rows, statuses = [], []
            if checks is not None:
                yield from checks.drain()
    yield from _flush(rows, statuses)
    if checks is not None:
        yield from checks.drain()

    if explicit_ids is None:
        state["watermark"] = now
        horizon = now - lookback - 1
        for key in [k for k, te in final.items() if te < horizon]:
            del final[key]
    report.zoom_attendance_lookups_today = lookups[day]
    report.attendance_pending_after_run = len(pending)


def _flush(rows: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> Iterator[Any]:
    if rows:
        yield to_table("attendance", rows)
    if statuses:
        yield to_table("attendance_status", statuses)


__all__ = [
    "TABLES",
    "MeetsRunReport",
    "account_rows",
    "attendance_rows",
    "attendance_status_row",
    "capped_max",
    "course_user_rows",
    "entity_rows",
    "event_rows",
    "meets_source",
    "shape",
    "snake_case",
    "table_hints",
]
