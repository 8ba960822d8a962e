"""The attendance bookkeeping (pending until final, give-up horizon, Zoom allowance) without HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pipelines.meets import MeetsRunReport, _attendance_pages
from pipelines.meets.client import Attendance, MeetsNotFound

DAY = 86400
NOW = int(datetime(2026, 11, 25, tzinfo=UTC).timestamp())


class FakeMeets:
    def __init__(self, events: list[dict], final: set[int], missing: set[int] = frozenset()) -> None:
        self.events = events
        self.final = final
        self.missing = missing
        self.asked: list[int] = []
        self.listed: list[dict] = []

    def list_entities(self, function: str, params: dict) -> Iterator[list[dict]]:
        assert function == "list_conferencing_events"
        self.listed.append(params)
        after = params.get("timeEndAfter", -1)
        yield [e for e in self.events if after < e["timeEnd"] < params["timeEndBefore"]]

    def get_attendance(self, event_id: int) -> Attendance:
        self.asked.append(event_id)
        if event_id in self.missing:
            raise MeetsNotFound(
                "404", meets_message=f'Conferencing event with ID "{event_id}" not found', status=404
            )
        return Attendance(
            event_id, [{"attendeeName": "A", "timeJoin": 1, "timeLeave": 2}], event_id in self.final
        )


def event(eid: int, time_end: int, service: str = "zoom") -> dict:
    return {"meetsIdConferencingEvent": eid, "timeEnd": time_end, "conferencingService": service}


def run(client: FakeMeets, state: dict, now: int = NOW, **kw: Any) -> tuple[list[Any], MeetsRunReport]:
    report = MeetsRunReport()
    args = {"lookback": 2 * DAY, "zoom_limit": 2000, "recheck": 7 * DAY, "explicit_ids": None} | kw
    items = list(_attendance_pages(client, state, now=now, report=report, **args))
    return items, report


def test_pending_until_final_then_never_again() -> None:
    client = FakeMeets([event(1, NOW - 36 * 3600), event(2, NOW - 3600), event(3, NOW + 3600)], final={1})
    state: dict = {}
    _, report = run(client, state)
    assert client.asked == [1, 2]  # not the future event
    assert set(state["pending"]) == {"2"} and set(state["final"]) == {"1"}
    assert report.attendance_final == 1 and report.attendance_not_final == 1
    assert client.listed[0] == {"timeEndBefore": NOW + 1}

    client.final = {1, 2, 3}
    client.asked.clear()
    _, report = run(client, state, now=NOW + DAY)
    assert client.asked == [2, 3]  # event 1 is listed again (lookback) but is final: not asked
    assert state["pending"] == {} and client.listed[1]["timeEndAfter"] == NOW - 2 * DAY - 1
    # event 1 ended before the next run's listing window, so its final mark is pruned
    assert set(state["final"]) == {"2", "3"}


def test_attendance_that_never_becomes_final_is_given_up_after_the_horizon() -> None:
    client = FakeMeets([event(5, NOW - 3600)], final=set())
    state: dict = {}
    run(client, state)
    assert state["pending"]["5"]["fetched"] is True
    client.asked.clear()
    _, report = run(client, state, now=NOW + 8 * DAY)
    assert client.asked == [] and report.attendance_given_up == [5] and state["pending"] == {}


def test_zoom_allowance_is_counted_per_day_and_other_services_go_on() -> None:
    events = [event(i, NOW - DAY - i) for i in range(1, 6)] + [event(9, NOW - DAY, "webexmeetingcenter")]
    client = FakeMeets(events, final={1, 2, 3, 4, 5, 9})
    state: dict = {"zoom_lookups": {"2026-11-20": 1999}}
    _, report = run(client, state, zoom_limit=2)
    assert sorted(client.asked) == [4, 5, 9]  # the two oldest Zoom events + the Webex one
    assert report.zoom_attendance_limit_reached and report.zoom_attendance_deferred == 3
    assert state["zoom_lookups"] == {"2026-11-25": 2}
    assert {k for k, v in state["pending"].items() if not v["fetched"]} == {"1", "2", "3"}
    assert report.messages and "deferred" in report.messages[0]


def test_explicit_ids_do_not_touch_the_state_and_404s_are_reported() -> None:
    client = FakeMeets([], final={7}, missing={8})
    state: dict = {}
    items, report = run(client, state, explicit_ids=[7, 8])
    assert client.asked == [7, 8] and client.listed == []
    assert report.attendance_not_found == [
        {"meets_id_conferencing_event": 8, "error": 'Conferencing event with ID "8" not found'}
    ]
    assert state["pending"] == {} and state["final"] == {} and "watermark" not in state
    assert len(items) == 2  # one attendance page, one status page
