"""The ``zoom_raw`` tables: primary keys and typed columns (the raw contract of ``docs/raw_schema.md``).

Every column the dbt models read is declared here with its type, so it exists in the warehouse
even when Zoom never sent the field (optional fields are often absent on real accounts) or the
entity had no rows at all (each run materialises every table's schema, empty or not). The same
hints are the quarantine checks' idea of a valid record (:mod:`pipelines.quarantine`). Columns not
listed here are still loaded as Zoom sends them; they are just not part of the contract.
"""

from __future__ import annotations

from typing import Any

from dlt.common.schema.typing import TTableSchemaColumns

from pipelines.zoom.qos import KNOWN_COLUMNS as QOS_VALUE_COLUMNS


def _ts(nullable: bool = True) -> dict[str, Any]:
    return {"data_type": "timestamp", "timezone": True, "nullable": nullable}


def _text(nullable: bool = True) -> dict[str, Any]:
    return {"data_type": "text", "nullable": nullable}


def _bigint(nullable: bool = True) -> dict[str, Any]:
    return {"data_type": "bigint", "nullable": nullable}


def _bool(nullable: bool = True) -> dict[str, Any]:
    return {"data_type": "bool", "nullable": nullable}


def _json() -> dict[str, Any]:
    return {"data_type": "json", "nullable": True}


def _date(nullable: bool = True) -> dict[str, Any]:
    return {"data_type": "date", "nullable": nullable}


def _texts(*names: str) -> dict[str, dict[str, Any]]:
    return {name: _text() for name in names}


USERS_COLUMNS: TTableSchemaColumns = {
    # Zoom sends no ``id`` for pending users (spec: "The API does not return this value for users
    # with the pending status"): the key is the id, else ``email:<lower-cased email>``.
    "user_key": _text(False),
    "id": _text(),
    "email": _text(),
    **_texts("first_name", "last_name", "display_name", "status", "role_id", "dept", "timezone"),
    "type": _bigint(),
    "pmi": _bigint(),
    "verified": _bigint(),
    "created_at": _ts(),  # 2026 spec: when the user's latest login type was created
    "user_created_at": _ts(),  # when the user was created
    "last_login_time": _ts(),
    "group_ids": _json(),
    "im_group_ids": _json(),
    "custom_attributes": _json(),
}
ACTIVE_HOSTS_COLUMNS: TTableSchemaColumns = {
    "id": _text(False),
    "report_from": _date(False),
    "report_to": _date(),
    **_texts("email", "user_name", "dept"),
    "type": _bigint(),
    "meetings": _bigint(),
    "participants": _bigint(),
    "meeting_minutes": _bigint(),
    "custom_attributes": _json(),
}
SERIES_COLUMNS: TTableSchemaColumns = {
    "id": _bigint(False),
    **_texts("uuid", "host_id", "topic", "timezone", "join_url"),
    "type": _bigint(),
    "start_time": _ts(),
    "duration": _bigint(),
    "created_at": _ts(),
    "recurrence__type": _bigint(),
    "recurrence__repeat_interval": _bigint(),
    "recurrence__weekly_days": _text(),
}
MEETINGS_COLUMNS: TTableSchemaColumns = {
    "uuid": _text(False),
    "id": _bigint(),
    **_texts("topic", "host", "email", "user_type", "dept"),
    "start_time": _ts(),
    "end_time": _ts(),
    "duration": _text(),  # "hh:mm:ss" / "mm:ss", parsed in staging
    "participants": _bigint(),
    **{
        flag: _bool()
        for flag in (
            "has_pstn",
            "has_voip",
            "has_3rd_party_audio",
            "has_video",
            "has_screen_share",
            "has_recording",
            "has_sip",
            "has_archiving",
        )
    },
    **_texts("audio_quality", "video_quality", "screen_share_quality"),
    "custom_keys": _json(),
    "tracking_fields": _json(),
    "dashboard_type": _text(),
}
SESSIONS_COLUMNS: TTableSchemaColumns = {
    "meeting_uuid": _text(False),
    "user_id": _text(False),
    **_texts(
        "id",  # deprecated by Zoom in favour of participant_user_id
        "participant_user_id",
        "participant_uuid",
        "user_name",
        "email",
        "role",
        "status",  # in_meeting | in_waiting_room
        "device",
        "os",
        "os_version",
        "client",
        "version",
        "ip_address",
        "location",
        "data_center",
        "network_type",
        "connection_type",
        "leave_reason",
    ),
    "join_time": _ts(),
    "leave_time": _ts(),
    "internal_ip_addresses": _json(),
    "audio_call": _json(),
}
QOS_COLUMNS: TTableSchemaColumns = {
    "meeting_uuid": _text(False),
    "user_id": _text(False),
    "date_time": _ts(False),
    **{name: _text() for name in QOS_VALUE_COLUMNS},
}
FETCH_LOG_COLUMNS: TTableSchemaColumns = {
    "meeting_uuid": _text(False),
    "end_time": _ts(),
    "fetched_at": _ts(),
    "status": _text(),
    "participant_sessions": _bigint(),
    "qos_rows": _bigint(),
}
RECORDINGS_COLUMNS: TTableSchemaColumns = {
    "uuid": _text(False),
    "id": _bigint(),
    **_texts("account_id", "host_id", "topic", "timezone", "share_url"),
    "type": _bigint(),
    "start_time": _ts(),
    "duration": _bigint(),
    "total_size": _bigint(),
    "recording_count": _bigint(),
    "auto_delete": _bool(),
    "auto_delete_date": _date(),
    "has_passcode": _bool(False),
    "is_trashed": _bool(False),
}
RECORDING_FILES_COLUMNS: TTableSchemaColumns = {
    "file_key": _text(False),
    **_texts(
        "id",
        "meeting_uuid",
        "recording_uuid",
        "file_type",
        "file_extension",
        "download_url",
        "play_url",
        "status",
        "recording_type",
    ),
    "recording_start": _ts(),
    "recording_end": _ts(),
    "file_size": _bigint(),
    "deleted_time": _ts(),
    "is_trashed": _bool(False),
}

TABLES: dict[str, dict[str, Any]] = {
    "users": {"primary_key": ["user_key"], "columns": USERS_COLUMNS},
    "active_hosts": {"primary_key": ["id", "report_from"], "columns": ACTIVE_HOSTS_COLUMNS},
    "meeting_series": {"primary_key": ["id"], "columns": SERIES_COLUMNS},
    "meetings": {"primary_key": ["uuid"], "columns": MEETINGS_COLUMNS},
    "participant_sessions": {"primary_key": ["meeting_uuid", "user_id"], "columns": SESSIONS_COLUMNS},
    "participant_qos": {
        "primary_key": ["meeting_uuid", "user_id", "date_time"],
        "columns": QOS_COLUMNS,
        "table_hints": {
            # the source hands over each key once per load (pipelines.zoom.qos.unique_minutes), so the
            # merge skips dlt's de-duplication window over the staged rows (the widest table by far)
            "x-stage-data-deduplicated": True,
            # on the DuckDB file: merged file by file into the table, no staging copy, the delete
            # bounded by the file's date_time range (pipelines.zoom.destination)
            "x-merge-in-place": True,
            "x-merge-in-place-range": "date_time",
        },
    },
    "meeting_fetch_log": {"primary_key": ["meeting_uuid"], "columns": FETCH_LOG_COLUMNS},
    "recordings": {"primary_key": ["uuid"], "columns": RECORDINGS_COLUMNS},
    "recording_files": {"primary_key": ["file_key"], "columns": RECORDING_FILES_COLUMNS},
}
"""Every ``zoom_raw`` table the models read, in load order (``quarantine`` is described by
:mod:`pipelines.quarantine`)."""
