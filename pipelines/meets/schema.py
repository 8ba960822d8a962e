"""The ``meets_raw`` tables: primary keys, merge keys and typed columns (the raw contract of
``docs/raw_schema.md``).

Every column the dbt models read is declared with its type, so it exists even when MEETS never sent
the field (LTI ids, auxiliary data and names are often absent) or the entity has no rows (a domain
without course users or recordings yet): each run materialises every table's schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _cols(spec: Mapping[str, str], not_null: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    keys = set(not_null)
    return {
        name: {"data_type": dtype, "nullable": name not in keys}
        | ({"description": "free-form LTI auxiliary data, verbatim"} if dtype == "json" else {})
        for name, dtype in spec.items()
    }


_BOOL = "bool"
_INT = "bigint"
_TEXT = "text"

TABLES: dict[str, dict[str, Any]] = {
    "admins": {
        "primary_key": ["meets_id_admin"],
        "columns": _cols(
            {
                "meets_id_admin": _INT,
                "email": _TEXT,
                "name_first": _TEXT,
                "name_last": _TEXT,
                "permissions__manage_admins": _BOOL,
                "permissions__manage_connections": _BOOL,
                "permissions__view_data": _BOOL,
                "permissions__manage_conferencing_accounts": _BOOL,
                "permissions__manage_content": _BOOL,
            },
            ["meets_id_admin"],
        ),
    },
    "connections": {
        "primary_key": ["meets_id_connection"],
        "columns": _cols(
            {
                "meets_id_connection": _INT,
                "name": _TEXT,
                "platform_url": _TEXT,
                "platform_type": _TEXT,
                "settings__tls_required": _BOOL,
                "settings__teacher_schedule_others": _BOOL,
                "settings__teacher_substitute": _BOOL,
                "settings__students_host": _BOOL,
                "settings__feature_appointments": _BOOL,
                "settings__feature_recordings": _BOOL,
                "settings__feature_repository": _BOOL,
            },
            ["meets_id_connection"],
        ),
    },
    "courses": {
        "primary_key": ["meets_id_course"],
        "columns": _cols(
            {
                "meets_id_course": _INT,
                "meets_id_connection": _INT,
                "name": _TEXT,
                "lti_id_context": _TEXT,
                "auxiliary": "json",
            },
            ["meets_id_course"],
        ),
    },
    "course_users": {
        "primary_key": ["meets_id_course", "meets_id_user"],
        "merge_key": "meets_id_course",
        "columns": _cols(
            {
                "meets_id_course": _INT,
                "meets_id_user": _INT,
                "roles__administrator": _BOOL,
                "roles__teacher": _BOOL,
                "roles__student": _BOOL,
            },
            ["meets_id_course", "meets_id_user"],
        ),
    },
    "users": {
        "primary_key": ["meets_id_user"],
        "columns": _cols(
            {
                "meets_id_user": _INT,
                "meets_id_connection": _INT,
                "name_first": _TEXT,
                "name_last": _TEXT,
                "email": _TEXT,
                "lti_id_user": _TEXT,
                "auxiliary": "json",
            },
            ["meets_id_user"],
        ),
    },
    "conferencing_accounts": {
        "primary_key": ["meets_id_conferencing_account"],
        "columns": _cols(
            {
                "meets_id_conferencing_account": _INT,
                "conferencing_service": _TEXT,
                "conferencing_username": _TEXT,
            },
            ["meets_id_conferencing_account"],
        ),
    },
    "conferencing_account_users": {
        "primary_key": ["meets_id_conferencing_account", "meets_id_user"],
        "merge_key": "meets_id_conferencing_account",
        "columns": _cols(
            {"meets_id_conferencing_account": _INT, "meets_id_user": _INT},
            ["meets_id_conferencing_account", "meets_id_user"],
        ),
    },
    "conferencing_events": {
        "primary_key": ["meets_id_conferencing_event"],
        "columns": _cols(
            {
                "meets_id_conferencing_event": _INT,
                "name": _TEXT,
                "time_begin": _INT,
                "time_end": _INT,
                "meets_id_user_host": _INT,
                "conferencing_service": _TEXT,
                "meets_id_conferencing_account": _INT,
            },
            ["meets_id_conferencing_event"],
        ),
    },
    "conferencing_event_courses": {
        "primary_key": ["meets_id_conferencing_event", "meets_id_course"],
        "merge_key": "meets_id_conferencing_event",
        "columns": _cols(
            {"meets_id_conferencing_event": _INT, "meets_id_course": _INT},
            ["meets_id_conferencing_event", "meets_id_course"],
        ),
    },
    "conferencing_event_users": {
        "primary_key": ["meets_id_conferencing_event", "meets_id_user"],
        "merge_key": "meets_id_conferencing_event",
        "columns": _cols(
            {"meets_id_conferencing_event": _INT, "meets_id_user": _INT},
            ["meets_id_conferencing_event", "meets_id_user"],
        ),
    },
    "conference_recordings": {
        "primary_key": ["meets_id_conference_recording"],
        "columns": _cols(
            {
                "meets_id_conference_recording": _INT,
                "meets_id_conferencing_event": _INT,
                "time_added": _INT,
                "type": _TEXT,
            },
            ["meets_id_conference_recording"],
        ),
    },
    "attendance": {
        "primary_key": ["meets_id_conferencing_event", "row_number"],
        "merge_key": "meets_id_conferencing_event",
        "columns": _cols(
            {
                "meets_id_conferencing_event": _INT,
                "row_number": _INT,
                "was_host": _BOOL,
                "attendee_name": _TEXT,
                "email_address": _TEXT,
                "ip": _TEXT,
                "browser": _TEXT,
                "time_join": _INT,
                "time_leave": _INT,
                "is_final": _BOOL,
            },
            ["meets_id_conferencing_event", "row_number"],
        ),
    },
    "attendance_status": {
        "primary_key": ["meets_id_conferencing_event"],
        "columns": _cols(
            {
                "meets_id_conferencing_event": _INT,
                "is_final": _BOOL,
                "fetched_at": "timestamp",
                "rows": _INT,
            },
            ["meets_id_conferencing_event", "is_final"],
        ),
    },
}
