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

import base64
import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
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

    Minutes are handed to Arrow in batches of about ``BATCH`` (``pa.array`` infers the nested
    structure in C++, several times faster than a Python loop over ~100 values a minute) and the
    columns read off the inferred struct: unknown blocks and fields come out as columns by
    themselves, integers (``wifi_rssi``) and booleans are stringified like :func:`_as_text`. A batch
    Arrow cannot type as "objects of blocks of scalars" (a block sent as a bare string in some
    minutes and as an object in others, nested values, floats, invalid text) is retried meeting by
    meeting, and a meeting that still fails takes the exact per-value path (:class:`_RowColumns`),
    which gives the same table.
    """

    BATCH = 8_192

    def __init__(self) -> None:
        self._tables: list[pa.Table] = []
        self._meetings: list[tuple[int, int]] = []  # pending: (start, end) per add_participants call
        self._samples: list[Any] = []
        self._meeting_uuid: list[str] = []
        self._user_id: list[str | None] = []
        self.rows = 0

    def __len__(self) -> int:
        return self.rows

    def add_participants(self, meeting_uuid: str, participants: Iterable[Mapping[str, Any]]) -> int:
        """Append every minute of every participant session of one meeting; returns rows added."""
        start = len(self._samples)
        for participant in participants:
            minutes = participant.get("user_qos") or ()
            if not minutes:
                continue
            user_id = participant.get("user_id")
            self._user_id.extend([None if user_id is None else str(user_id)] * len(minutes))
            self._samples.extend(minutes)
        added = len(self._samples) - start
        if added:
            self._meeting_uuid.extend([meeting_uuid] * added)
            self._meetings.append((start, start + added))
            self.rows += added
            if len(self._samples) >= self.BATCH:
                self._convert()
        return added

    def _convert(self) -> None:
        """Pending minutes -> Arrow tables (whole batch, else per meeting, else per value)."""
        if not self._samples:
            return
        columns = _struct_columns(self._samples)
        if columns is not None:
            self._tables.append(self._keyed(columns, 0, len(self._samples)))
        else:
            for a, b in self._meetings:
                part = self._samples[a:b]
                columns = _struct_columns(part)
                if columns is None:
                    slow = _RowColumns()
                    slow.add_samples(part)
                    columns = slow.arrays()
                self._tables.append(self._keyed(columns, a, b))
        self._samples, self._meetings, self._meeting_uuid, self._user_id = [], [], [], []

    def _keyed(self, columns: dict[str, pa.Array], a: int, b: int) -> pa.Table:
        keys = {
            "meeting_uuid": pa.array(self._meeting_uuid[a:b], pa.string()),
            "user_id": pa.array([u or "" for u in self._user_id[a:b]], pa.string()),
        }
        return pa.table({**keys, **columns})

    @property
    def column_names(self) -> list[str]:
        """Value columns: the known ones, then those first seen in the data (sorted)."""
        self._convert()
        seen = {name for t in self._tables for name in t.column_names}
        seen.difference_update(("meeting_uuid", "user_id", "date_time"))
        return [*KNOWN_COLUMNS, *sorted(seen.difference(KNOWN_COLUMNS))]

    def to_arrow(self) -> pa.Table:
        """The accumulated rows as an Arrow table with a stable schema (keys first)."""
        names = self.column_names
        if self._tables:
            data = pa.concat_tables(self._tables, promote_options="default")
        else:
            data = pa.table({"meeting_uuid": pa.array([], pa.string()), "user_id": pa.array([], pa.string()),
                             "date_time": pa.array([], pa.string())})  # fmt: skip
        n = data.num_rows
        arrays: list[pa.Array | pa.ChunkedArray] = [
            data.column("meeting_uuid"),
            data.column("user_id"),
            _timestamps(data.column("date_time").combine_chunks()),
        ]
        fields = [pa.field(name, pa.string(), nullable=False) for name in KEY_COLUMNS[:2]]
        fields.append(pa.field("date_time", TIMESTAMP, nullable=False))
        have = set(data.column_names)
        for name in names:
            arrays.append(data.column(name) if name in have else pa.nulls(n, pa.string()))
            fields.append(pa.field(name, pa.string()))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields)).combine_chunks()

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


_TEXT_TYPES = frozenset((pa.string(), pa.int64(), pa.bool_(), pa.null()))


def _scalar_text(arr: pa.Array) -> pa.Array | None:
    """A column of scalars as text (``-63`` -> ``"-63"``, ``True`` -> ``"true"``); None for other types."""
    t = arr.type
    if t not in _TEXT_TYPES:
        return None
    return arr if t == pa.string() else arr.cast(pa.string())


_CONVERT_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


class _MinuteType:
    """The shape of the last minutes Arrow typed, to convert the next ones without inferring again.

    ``text`` is a struct of ``date_time`` and the blocks whose fields were all text: the next minutes
    are converted to it directly (Arrow's inference pass over every value is about 40% of the
    conversion). Blocks with other scalars (``wifi_rssi``'s integers) are ``side`` blocks, still
    inferred, one short list each: a typed integer field would take ``1.5`` as ``1``."""

    def __init__(self, text: pa.StructType, side: tuple[str, ...]) -> None:
        self.text, self.side = text, side

    @classmethod
    def learn(cls, arr: pa.StructArray) -> _MinuteType | None:
        fields, side = [], []
        for field in arr.type:
            if field.name == "date_time" and pa.types.is_string(field.type):
                fields.append(field)
            elif not pa.types.is_struct(field.type) or field.type.num_fields == 0:
                return None
            elif not {f.name for f in field.type} <= _KNOWN_SETS.get(field.name, frozenset()):
                return None  # only Zoom's published blocks and fields: new ones are inferred each time
            elif all(pa.types.is_string(f.type) for f in field.type):
                fields.append(field)
            elif all(f.type in _TEXT_TYPES and not pa.types.is_null(f.type) for f in field.type):
                side.append(field.name)
            else:
                return None
        return cls(pa.struct(fields), tuple(side))

    def convert(self, samples: list[Any]) -> list[tuple[str, pa.Array]] | None:
        """``(top-level key, array)`` for every key of the shape, or None unless the minutes hold
        exactly what the arrays hold: every key Zoom sent is one of the shape's, none is null.

        Arrow's conversion to a given type ignores keys it does not know, so that is checked by
        counting: keys of the minutes (``len`` of each) against non-null top-level values, and keys
        of their blocks (plus the length of ``date_time``, the one top-level string) against
        non-null block fields (plus ``date_time``'s length in Arrow). Equal counts leave no room for
        an unknown key or a null; anything else falls back to inferring the whole batch."""
        try:
            arr = pa.array(samples, self.text)
            top = sum(map(len, samples))
            inner = sum(map(len, chain.from_iterable(map(dict.values, samples))))
            if not set(map(type, chain.from_iterable(map(dict.values, samples)))) <= _BLOCK_TYPES:
                return None  # Arrow would take a list of pairs for a block; inference does not
            parts = [(f.name, arr.field(i)) for i, f in enumerate(self.text)]
            parts += [(name, pa.array([s.get(name) for s in samples])) for name in self.side]
        except _CONVERT_ERRORS:
            return None
        if arr.null_count:
            return None
        n = len(samples)
        parts = [(name, child) for name, child in parts if not pa.types.is_null(child.type)]  # absent
        top_arrow = inner_arrow = 0
        for name, child in parts:
            top_arrow += n - child.null_count
            if name == "date_time":
                inner_arrow += pc.sum(pc.utf8_length(child)).as_py() or 0
            elif not pa.types.is_struct(child.type):
                return None
            else:
                inner_arrow += sum(n - g.null_count for g in child.flatten())
        if top != top_arrow or inner != inner_arrow:
            return None
        return parts


_LAST_TYPE: _MinuteType | None = None
_BLOCK_TYPES = frozenset((dict, str))


def _struct_columns(samples: list[Any]) -> dict[str, pa.Array] | None:
    """Minutes -> ``{"date_time": ..., "<block>__<field>": ...}`` through Arrow's type inference, or
    None when the minutes are not all "objects of blocks of scalars" (then the per-value path runs).

    Minutes shaped like the last batch are converted to its type without inferring
    (:class:`_MinuteType`); the columns are the same either way."""
    global _LAST_TYPE
    shape = _LAST_TYPE
    parts = shape.convert(samples) if shape is not None else None
    if parts is not None:
        return _columns_of(parts, len(samples))
    try:
        arr = pa.array(samples)
    except _CONVERT_ERRORS:
        return None
    if not pa.types.is_struct(arr.type) or arr.null_count:
        return None
    out = _columns_of(
        [(arr.type.field(i).name, arr.field(i)) for i in range(arr.type.num_fields)], len(samples)
    )
    if out is not None:
        _LAST_TYPE = _MinuteType.learn(arr)
    return out


def _columns_of(parts: list[tuple[str, pa.Array]], n: int) -> dict[str, pa.Array] | None:
    """The columns of a minutes struct's top-level ``(key, array)`` pairs (None: not flat enough)."""
    out: dict[str, pa.Array] = {"date_time": pa.nulls(n, pa.string())}
    for key, child in parts:
        if key == "date_time":
            if not (pa.types.is_string(child.type) or pa.types.is_null(child.type)):
                return None
            out[key] = child.cast(pa.string())
        elif pa.types.is_struct(child.type):
            for j, grandchild in enumerate(child.flatten()):  # a block's null: null for each field
                name, text = f"{key}__{child.type.field(j).name}", _scalar_text(grandchild)
                if text is None or name in out:
                    return None
                out[name] = text
        elif key in KNOWN_BLOCKS:
            if not (pa.types.is_string(child.type) or pa.types.is_null(child.type)):
                return None  # a known block sent as neither an object nor a string
        else:
            text = _scalar_text(child)
            if text is None or key in out or key in KEY_COLUMNS:
                return None
            out[key] = text
    return out


class _RowColumns:
    """The exact per-value flattening (one list append per value): the fallback of
    :class:`QosColumns` for minutes Arrow cannot type."""

    def __init__(self) -> None:
        self.date_time: list[str | None] = []
        self.columns: dict[str, list[Any]] = {name: [] for name in KNOWN_COLUMNS}
        self.rows = 0

    def _new_column(self, name: str) -> list[Any]:
        column: list[Any] = [None] * self.rows
        self.columns[name] = column
        return column

    def add_samples(self, samples: Iterable[Any]) -> None:
        columns = self.columns
        for sample in samples:
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
            if appended != len(columns):
                self._pad()

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

    def arrays(self) -> dict[str, pa.Array]:
        out = {"date_time": pa.array([v or None for v in self.date_time], pa.string())}
        for name, values in self.columns.items():
            out[name] = _strings(values)
        return out


def _strings(values: list[Any]) -> pa.Array:
    """Raw values as a string column; the rare non-string value (a number in ``wifi_rssi``) is
    stringified, so the fast path stays a single C-level conversion."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_as_text(v) for v in values], pa.string())


def _timestamps(values: pa.Array) -> pa.Array:
    """Zoom's ``date_time`` strings -> UTC timestamps, vectorised; other ISO spellings parsed one by one."""
    raw = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values) if len(values) else values
    try:
        parsed = pc.strptime(raw, format=_ISO_FORMAT, unit="us", error_is_null=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([parse_zoom_timestamp(v) for v in values.to_pylist()], TIMESTAMP)
    return parsed.cast(TIMESTAMP)


def _as_text(value: Any) -> str | None:
    """Raw value as a string: QoS values are strings already; numbers (wifi_rssi) are stringified."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unique_minutes(table: pa.Table) -> tuple[pa.Table, int]:
    """``table`` with one row per key (the first), and how many repeats were dropped.

    The load declares ``participant_qos`` staging data deduplicated (dlt then skips a window over
    the whole load on every merge), so the source guarantees it: a meeting's details are fetched
    once per run, and a minute Zoom lists twice for a participant is kept once here.
    """
    if table.num_rows == 0:
        return table, 0
    keyed = table.select(list(KEY_COLUMNS)).append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    first = keyed.group_by(list(KEY_COLUMNS), use_threads=False).aggregate([("_row", "min")])
    if first.num_rows == table.num_rows:
        return table, 0
    keep = pc.sort_indices(first.column("_row_min"))
    return table.take(first.column("_row_min").take(keep)), table.num_rows - first.num_rows


DLT_LOAD_ID = "_dlt_load_id"
DLT_ID = "_dlt_id"


def dlt_ids(n: int) -> pa.Array:
    """``n`` random row ids for ``_dlt_id``, built in one go (dlt's normaliser makes them one Python
    string at a time): each the base64 of 12 random bytes, 16 characters, unique as dlt's own."""
    data = base64.b64encode(secrets.token_bytes(12 * n))
    offsets = pa.array(range(0, 16 * (n + 1), 16), pa.int32())
    return pa.StringArray.from_buffers(n, offsets.buffers()[1], pa.py_buffer(data))


def with_dlt_columns(table: pa.Table, load_id: str) -> pa.Table:
    """``table`` with dlt's ``_dlt_load_id`` (``load_id``; the extract step sets it again) and
    ``_dlt_id`` appended, in the order dlt's normaliser gives them. With both present and the
    columns in the stored schema's order, dlt's normalize step takes the extracted Parquet file as it
    is (``add_dlt_id`` off, see :func:`pipelines.zoom.pipeline._configure_dlt`) instead of reading
    and rewriting the widest table of the load to add them."""
    n = table.num_rows
    indices = pa.nulls(n, pa.int32()).fill_null(0)
    load_ids = pa.DictionaryArray.from_arrays(indices, pa.array([load_id], pa.string()))
    table = table.append_column(pa.field(DLT_LOAD_ID, load_ids.type, nullable=False), load_ids)
    return table.append_column(pa.field(DLT_ID, pa.string(), nullable=False), dlt_ids(n))


def flatten_qos(meeting_uuid: str, participants: Sequence[Mapping[str, Any]]) -> pa.Table:
    """One meeting's QoS participants (``participants[]`` of every page) -> Arrow table."""
    acc = QosColumns()
    acc.add_participants(meeting_uuid, participants)
    return acc.to_arrow()


def qos_row_count(participants: Iterable[Mapping[str, Any]]) -> int:
    """Minutes across participants (what ``flatten_qos`` will produce)."""
    return sum(len(p.get("user_qos") or ()) for p in participants)
