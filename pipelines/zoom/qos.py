"""Flatten Zoom's per-minute QoS pages into one Arrow table (one row per participant session-minute).

Why Arrow and not dicts: a QoS page is deeply nested (participant -> minute -> stream -> metric) and
dlt's row normaliser handles ~15k such rows/s per core, while an Arrow table goes straight to
Parquet (toolchain probe, section 5). Raw strings are kept exactly as Zoom sends them (``"20 ms"``,
``"0.3%"``, ``"1280*720"``, ``""``): parsing belongs to dbt staging.

Columns follow ``docs/raw_schema.md``: ``meeting_uuid``, ``user_id``, ``date_time`` (UTC timestamp,
the key) and ``<block>__<field>`` for every nested block of a sample (``audio_input__latency``,
``cpu_usage__zoom_avg_cpu_usage``). Every block of Zoom's published QoS schema is a column group
whether or not a page holds it: the six classic streams, their web-client (``*_device_{from,to}_rwg``)
and Cloud Room Connector (``*_device_{from,to}_crc``) counterparts, ``cpu_usage``,
``cpu_pressure_level`` and ``wifi_rssi`` (integers in Zoom's payload, stringified here like every
raw value). Blocks the spec does not know yet are picked up as they appear. A column Zoom omitted for
a sample is null; a block sent as a bare string (Zoom does that for whole blocks now and then) gives
nulls for its fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

STREAMS = ("audio_input", "audio_output", "video_input", "video_output", "as_input", "as_output")
BASE_METRICS = ("bitrate", "latency", "jitter", "avg_loss", "max_loss")
PICTURE_METRICS = ("resolution", "frame_rate")
CPU_FIELDS = ("zoom_min_cpu_usage", "zoom_avg_cpu_usage", "zoom_max_cpu_usage", "system_max_cpu_usage")
CPU_PRESSURE_FIELDS = (
    "system_min_cpu_pressure_level",
    "system_avg_cpu_pressure_level",
    "system_max_cpu_pressure_level",
)
WIFI_FIELDS = ("max_rssi", "avg_rssi", "min_rssi", "rssi_unit")
CONNECTOR_KINDS = ("rwg", "crc")
"""Web client (``rwg``) and Cloud Room Connector (``crc``) blocks carry a stream's metrics for
participants who joined that way: ``<kind>_device_from_<c>`` is what the participant sent (the
classic ``*_input``), ``<kind>_device_to_<c>`` what they received (``*_output``)."""
CONNECTOR_STREAMS: dict[str, tuple[str, str]] = {
    f"{kind}_device_{way}_{c}": (f"{stream_kind}_{'input' if way == 'from' else 'output'}", c)
    for stream_kind, kind in (("audio", "audio"), ("video", "video"), ("as", "as"))
    for way in ("from", "to")
    for c in CONNECTOR_KINDS
}
"""Connector block -> (classic stream it stands for, connector kind)."""

KEY_COLUMNS = ("meeting_uuid", "user_id", "date_time")


def _known_blocks() -> dict[str, tuple[str, ...]]:
    blocks: dict[str, tuple[str, ...]] = {}
    for stream in STREAMS:
        audio = stream.startswith("audio")
        blocks[stream] = BASE_METRICS if audio else BASE_METRICS + PICTURE_METRICS
    for block, (stream, _) in CONNECTOR_STREAMS.items():
        blocks[block] = blocks[stream]
    blocks["cpu_usage"] = CPU_FIELDS
    blocks["cpu_pressure_level"] = CPU_PRESSURE_FIELDS
    blocks["wifi_rssi"] = WIFI_FIELDS
    return blocks


KNOWN_BLOCKS: dict[str, tuple[str, ...]] = _known_blocks()
"""Blocks every QoS table has, in this column order, even when a page did not contain them."""

KNOWN_COLUMNS: tuple[str, ...] = tuple(f"{b}__{f}" for b, fields in KNOWN_BLOCKS.items() for f in fields)
_KNOWN_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    b: tuple((f, f"{b}__{f}") for f in fields) for b, fields in KNOWN_BLOCKS.items()
}
_KNOWN_SETS: dict[str, frozenset[str]] = {b: frozenset(fields) for b, fields in KNOWN_BLOCKS.items()}

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMESTAMP = pa.timestamp("us", tz="UTC")
"""Microseconds: what DuckDB's ``TIMESTAMPTZ`` holds (a coarser unit makes dlt warn about precision)."""


def parse_zoom_timestamp(value: str | None) -> dt.datetime | None:
    """``2026-11-24T13:05:00Z`` (Zoom's format) -> aware UTC datetime; ``""``/``None`` -> ``None``.

    Other ISO 8601 spellings (offsets, fractions) are accepted too, so a format change upstream
    does not silently drop minutes.
    """
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, _ISO_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


class QosColumns:
    """Column-wise accumulator: append participants of any number of meetings, then ``to_arrow``.

    Building columns directly (instead of a list of flat dicts) keeps memory and time low: one list
    append per value, no per-row dict.
    """

    def __init__(self) -> None:
        self.meeting_uuid: list[str] = []
        self.user_id: list[str | None] = []
        self.date_time: list[str | None] = []
        self.columns: dict[str, list[str | None]] = {name: [] for name in KNOWN_COLUMNS}
        self.rows = 0

    def __len__(self) -> int:
        return self.rows

    def _new_column(self, name: str) -> list[str | None]:
        column: list[str | None] = [None] * self.rows
        self.columns[name] = column
        return column

    def add_participants(self, meeting_uuid: str, participants: Iterable[Mapping[str, Any]]) -> int:
        """Append every minute of every participant session of one meeting; returns rows added."""
        added = 0
        columns = self.columns
        for participant in participants:
            user_id = participant.get("user_id")
            user_id = None if user_id is None else str(user_id)
            for sample in participant.get("user_qos") or ():
                self.meeting_uuid.append(meeting_uuid)
                self.user_id.append(user_id)
                self.date_time.append(sample.get("date_time"))
                appended = 0
                for key, value in sample.items():
                    if key == "date_time":
                        continue
                    names = _KNOWN_NAMES.get(key)
                    if names is None:
                        appended += self._add_unknown(key, value)
                        continue
                    if isinstance(value, Mapping):
                        for field, name in names:
                            columns[name].append(value.get(field))
                        if value.keys() != _KNOWN_SETS[key]:
                            appended += self._add_unknown_fields(key, value)
                    else:
                        for _, name in names:
                            columns[name].append(None)
                    appended += len(names)
                self.rows += 1
                added += 1
                if appended != len(columns):
                    self._pad()
        return added

    def _add_unknown(self, key: str, value: Any) -> int:
        """A block (or scalar) that is not one of the known QoS blocks; returns columns appended."""
        if isinstance(value, Mapping):
            return self._add_unknown_fields(key, value)
        column = self.columns.get(key)
        if column is None:
            column = self._new_column(key)
        column.append(value)
        return 1

    def _add_unknown_fields(self, block: str, value: Mapping[str, Any]) -> int:
        known = _KNOWN_SETS.get(block, frozenset())
        n = 0
        for field, field_value in value.items():
            if field in known:
                continue
            name = f"{block}__{field}"
            column = self.columns.get(name)
            if column is None:
                column = self._new_column(name)
            column.append(field_value)
            n += 1
        return n

    def _pad(self) -> None:
        """Columns first seen after earlier rows, or absent from this row, get a null."""
        n = self.rows
        for column in self.columns.values():
            if len(column) < n:
                column.append(None)

    def to_arrow(self) -> pa.Table:
        """The accumulated rows as an Arrow table with a stable schema (keys first)."""
        arrays: list[pa.Array] = [
            pa.array(self.meeting_uuid, pa.string()),
            pa.array([u or "" for u in self.user_id], pa.string()),
            _timestamps(self.date_time),
        ]
        fields = [
            pa.field(name, arr.type, nullable=False) for name, arr in zip(KEY_COLUMNS, arrays, strict=True)
        ]
        extra = sorted(n for n in self.columns if n not in KNOWN_COLUMNS)
        for name in (*KNOWN_COLUMNS, *extra):
            arrays.append(_strings(self.columns[name]))
            fields.append(pa.field(name, pa.string()))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


def _strings(values: list[Any]) -> pa.Array:
    """Raw values as a string column; the rare non-string value (a number in ``wifi_rssi``) is
    stringified, so the fast path stays a single C-level conversion."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_as_text(v) for v in values], pa.string())


def _timestamps(values: list[str | None]) -> pa.Array:
    """Zoom's ``date_time`` strings -> UTC timestamps, vectorised; other ISO spellings parsed one by one."""
    raw = pa.array([v or None for v in values], pa.string())
    try:
        parsed = pc.strptime(raw, format=_ISO_FORMAT, unit="us", error_is_null=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([parse_zoom_timestamp(v) for v in values], TIMESTAMP)
    return parsed.cast(TIMESTAMP)


def _as_text(value: Any) -> str | None:
    """Raw value as a string: QoS values are strings already; numbers (wifi_rssi) are stringified."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten_qos(meeting_uuid: str, participants: Sequence[Mapping[str, Any]]) -> pa.Table:
    """One meeting's QoS participants (``participants[]`` of every page) -> Arrow table."""
    acc = QosColumns()
    acc.add_participants(meeting_uuid, participants)
    return acc.to_arrow()


def qos_row_count(participants: Iterable[Mapping[str, Any]]) -> int:
    """Minutes across participants (what ``flatten_qos`` will produce)."""
    return sum(len(p.get("user_qos") or ()) for p in participants)
