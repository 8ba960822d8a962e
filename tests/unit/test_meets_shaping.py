"""MEETS responses -> meets_raw rows: names, flattening, bridge tables, attendance numbering."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.meets import (
    TABLES,
    account_rows,
    attendance_rows,
    attendance_status_row,
    capped_max,
    course_user_rows,
    entity_rows,
    event_rows,
    shape,
    snake_case,
)
from pipelines.meets.client import Attendance, attendance_list, entity_map

RAW_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "raw_schema.md"


@pytest.mark.parametrize(
    ("api", "column"),
    [
        ("meetsIdUser_host", "meets_id_user_host"),
        ("ltiIdContext", "lti_id_context"),
        ("meetsIdConferencingEvent", "meets_id_conferencing_event"),
        ("nameFirst", "name_first"),
        ("wasHost", "was_host"),
        ("timeJoin", "time_join"),
        ("ip", "ip"),
        ("type", "type"),
        ("platformURL", "platform_url"),
        ("featureRecordings", "feature_recordings"),
    ],
)
def test_snake_case_matches_dlt_naming(api: str, column: str) -> None:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    assert snake_case(api) == column
    assert NamingConvention().normalize_identifier(api) == column


def test_shape_flattens_names_keeps_auxiliary_verbatim_and_drops_links() -> None:
    connection = {
        "meetsIdConnection": 1,
        "platformUrl": "https://lms.example.edu/",
        "settings": {"tlsRequired": True, "teacherScheduleOthers": False},
    }
    assert shape(connection) == {
        "meets_id_connection": 1,
        "platform_url": "https://lms.example.edu/",
        "settings": {"tls_required": True, "teacher_schedule_others": False},
    }
    course = {
        "meetsIdCourse": 5,
        "ltiIdContext": "abc",
        "auxiliary": {"camelKey": {"nestedKey": 1}},
        "x": [1],
    }
    row = shape(course, drop=["x"])
    assert row == {"meets_id_course": 5, "lti_id_context": "abc", "auxiliary": {"camelKey": {"nestedKey": 1}}}


def test_entity_rows_keep_courses_without_lti() -> None:
    rows = entity_rows([{"meetsIdCourse": 7, "meetsIdConnection": 2, "name": "No LTI"}])
    assert rows == [{"meets_id_course": 7, "meets_id_connection": 2, "name": "No LTI"}]


def test_event_rows_split_links_into_bridge_rows() -> None:
    events = [
        {
            "meetsIdConferencingEvent": 114,
            "name": "API Examples",
            "timeBegin": 1442860200,
            "timeEnd": 1442861100,
            "meetsIdUser_host": 2,
            "conferencingService": "webexmeetingcenter",
            "meetsIdConferencingAccount": 5,
            "meetsIdCourses": [3, 1, 3],
            "meetsIdUsers": [9],
        },
        {
            "meetsIdConferencingEvent": 117,
            "name": "Not registered yet",
            "timeBegin": 1,
            "timeEnd": 2,
            "meetsIdUser_host": 2,
            "conferencingService": "zoom",
            "meetsIdConferencingAccount": None,
            "meetsIdCourses": [],
            "meetsIdUser": [4],  # the manual spells the field both ways
        },
    ]
    rows, courses, users = event_rows(events)
    assert rows[0] == {
        "meets_id_conferencing_event": 114,
        "name": "API Examples",
        "time_begin": 1442860200,
        "time_end": 1442861100,
        "meets_id_user_host": 2,
        "conferencing_service": "webexmeetingcenter",
        "meets_id_conferencing_account": 5,
    }
    assert rows[1]["meets_id_conferencing_account"] is None
    assert all("meets_id_courses" not in r and "meets_id_users" not in r for r in rows)
    assert courses == [
        {"meets_id_conferencing_event": 114, "meets_id_course": 1},
        {"meets_id_conferencing_event": 114, "meets_id_course": 3},
    ]
    assert users == [
        {"meets_id_conferencing_event": 114, "meets_id_user": 9},
        {"meets_id_conferencing_event": 117, "meets_id_user": 4},
    ]


def test_account_rows_and_user_bridge() -> None:
    rows, links = account_rows(
        [
            {
                "meetsIdConferencingAccount": 5,
                "conferencingService": "zoom",
                "conferencingUsername": "t@example.edu",
                "meetsIdUsers": [2, "8"],
            }
        ]
    )
    assert rows == [
        {
            "meets_id_conferencing_account": 5,
            "conferencing_service": "zoom",
            "conferencing_username": "t@example.edu",
        }
    ]
    assert links == [
        {"meets_id_conferencing_account": 5, "meets_id_user": 2},
        {"meets_id_conferencing_account": 5, "meets_id_user": 8},
    ]


def test_course_user_rows_keep_only_membership_and_roles() -> None:
    users = [
        {
            "meetsIdUser": 10,
            "nameFirst": "Ada",
            "email": "ada@example.edu",
            "roles": {"administrator": False, "teacher": True, "student": False},
        },
        {"nameFirst": "no id"},
    ]
    assert course_user_rows(100, users) == [
        {
            "meets_id_course": 100,
            "meets_id_user": 10,
            "roles": {"administrator": False, "teacher": True, "student": False},
        }
    ]


def test_attendance_rows_are_numbered_in_meets_order_and_carry_is_final() -> None:
    entries = [
        {"wasHost": True, "attendeeName": "Host", "timeJoin": 10, "timeLeave": 90},
        {
            "wasHost": False,
            "attendeeName": "Jane",
            "emailAddress": "j@x",
            "ip": "::1",
            "timeJoin": 5,
            "timeLeave": 9,
        },
    ]
    rows = attendance_rows(Attendance(1538, entries, is_final=False))
    assert [r["row_number"] for r in rows] == [1, 2]
    assert rows[1] == {
        "meets_id_conferencing_event": 1538,
        "row_number": 2,
        "was_host": False,
        "attendee_name": "Jane",
        "email_address": "j@x",
        "ip": "::1",
        "time_join": 5,
        "time_leave": 9,
        "is_final": False,
    }
    status = attendance_status_row(Attendance(1538, entries, is_final=True), 1_700_000_000)
    assert status == {
        "meets_id_conferencing_event": 1538,
        "is_final": True,
        "fetched_at": datetime.fromtimestamp(1_700_000_000, UTC),
        "rows": 2,
    }
    assert attendance_rows(Attendance(1, [], is_final=True)) == []


def test_entity_map_ignores_map_order_and_tolerates_php_empty_arrays() -> None:
    page = {
        "status": 200,
        "conferenceRecordings": {
            "587": {"meetsIdConferenceRecording": 587},
            "53": {"meetsIdConferenceRecording": 53},
            "556": {"meetsIdConferenceRecording": 556},
        },
        "users": [],
    }
    assert [r["meetsIdConferenceRecording"] for r in entity_map(page, "conferenceRecordings")] == [
        53,
        556,
        587,
    ]
    assert entity_map(page, "users") == []
    assert entity_map(page, "admins") == []


def test_attendance_list_accepts_array_or_map() -> None:
    assert attendance_list({"attendance": [{"a": 1}, {"a": 2}]}) == [{"a": 1}, {"a": 2}]
    assert attendance_list({"attendance": {"10": {"a": 3}, "2": {"a": 2}}}) == [{"a": 2}, {"a": 3}]
    assert attendance_list({"attendance": []}) == []
    assert attendance_list({}) == []


def test_capped_max_never_passes_the_cap() -> None:
    f = capped_max(100)
    assert f((5, 50)) == 50
    assert f((5, 500)) == 100
    assert f((500,)) == 100
    assert f.__name__ == "capped_max"  # dlt logs the function's name


def _documented_meets_tables() -> dict[str, list[str]]:
    text = RAW_SCHEMA.read_text(encoding="utf-8")
    section = text.split("## `meets_raw`", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[str]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `([a-z_]+)` \| ([^|]+) \|", line)
        if m:
            tables[m.group(1)] = re.findall(r"`([a-z_]+)`", m.group(2))
    return tables


def test_tables_follow_the_raw_schema_contract() -> None:
    documented = _documented_meets_tables()
    assert set(documented) == set(TABLES)
    for table, keys in documented.items():
        assert TABLES[table]["primary_key"] == keys, table
        for key in keys:
            assert TABLES[table]["columns"][key]["nullable"] is False
    assert TABLES["attendance"]["merge_key"] == "meets_id_conferencing_event"
    assert TABLES["courses"]["columns"]["auxiliary"]["data_type"] == "json"
    assert TABLES["users"]["columns"]["auxiliary"]["data_type"] == "json"
