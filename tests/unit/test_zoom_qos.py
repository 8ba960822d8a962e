"""QoS flattening: one Arrow row per participant session-minute, raw strings kept."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from pipelines.zoom import qos as qos_module
from pipelines.zoom.qos import (
    KNOWN_COLUMNS,
    QosColumns,
    flatten_qos,
    parse_zoom_timestamp,
    qos_row_count,
    unique_minutes,
)


def _block(kind: str, **over: str) -> dict[str, str]:
    base = {
        "bitrate": "48 kbps",
        "latency": "20 ms",
        "jitter": "3 ms",
        "avg_loss": "0.1%",
        "max_loss": "0.5%",
    }
    if kind != "audio":
        base |= {"resolution": "1280*720", "frame_rate": "25 fps"}
    return base | over


def _sample(minute: str, **over: object) -> dict:
    sample: dict = {
        "date_time": minute,
        "audio_input": _block("audio"),
        "audio_output": _block("audio"),
        "video_input": _block("video"),
        "video_output": _block("video", resolution="0*0", frame_rate=""),
        "as_input": _block("share"),
        "as_output": _block("share"),
        "cpu_usage": {
            "zoom_min_cpu_usage": "2%",
            "zoom_avg_cpu_usage": "12%",
            "zoom_max_cpu_usage": "20%",
            "system_max_cpu_usage": "40%",
        },
    }
    sample.update(over)
    return sample


def test_flatten_gives_one_row_per_minute_with_raw_strings() -> None:
    participants = [
        {
            "user_id": "16778240",
            "user_qos": [_sample("2026-11-24T10:00:00Z"), _sample("2026-11-24T10:01:00Z")],
        },
        {"user_id": "16779264", "user_qos": [_sample("2026-11-24T10:00:00Z")]},
    ]
    table = flatten_qos("uuid/==", participants)
    assert table.num_rows == 3 == qos_row_count(participants)
    assert table.column_names[:3] == ["meeting_uuid", "user_id", "date_time"]
    assert table.column_names[3:] == list(KNOWN_COLUMNS)
    rows = table.to_pylist()
    assert rows[0]["meeting_uuid"] == "uuid/=="
    assert rows[2]["user_id"] == "16779264"
    assert rows[1]["date_time"] == dt.datetime(2026, 11, 24, 10, 1, tzinfo=dt.UTC)
    assert rows[0]["audio_input__latency"] == "20 ms"
    assert rows[0]["audio_input__avg_loss"] == "0.1%"
    assert rows[0]["video_output__resolution"] == "0*0"
    assert rows[0]["video_output__frame_rate"] == ""
    assert rows[0]["cpu_usage__zoom_avg_cpu_usage"] == "12%"
    assert "audio_input__resolution" not in table.column_names


def test_schema_types_and_non_null_keys() -> None:
    table = flatten_qos("m", [{"user_id": "1", "user_qos": [_sample("2026-11-24T10:00:00Z")]}])
    assert table.schema.field("date_time").type == pa.timestamp("us", tz="UTC")
    for key in ("meeting_uuid", "user_id", "date_time"):
        assert not table.schema.field(key).nullable
    assert all(table.schema.field(c).type == pa.string() for c in KNOWN_COLUMNS)


def test_blocks_sent_as_strings_or_missing_become_nulls() -> None:
    sample = _sample("2026-11-24T10:00:00Z", as_input="", cpu_usage=None)
    del sample["video_input"]
    row = flatten_qos("m", [{"user_id": "1", "user_qos": [sample]}]).to_pylist()[0]
    assert row["as_input__bitrate"] is None
    assert row["cpu_usage__zoom_avg_cpu_usage"] is None
    assert row["video_input__latency"] is None
    assert row["audio_input__latency"] == "20 ms"


def test_new_blocks_and_fields_become_columns_and_are_backfilled() -> None:
    first = _sample("2026-11-24T10:00:00Z")
    second = _sample(
        "2026-11-24T10:01:00Z",
        wifi_rssi={"max_rssi": -40, "avg_rssi": -50, "min_rssi": -60, "rssi_unit": "dBm"},
        audio_input=_block("audio", mos="4.2"),
    )
    acc = QosColumns()
    acc.add_participants("m", [{"user_id": "1", "user_qos": [first, second]}])
    acc.add_participants("n", [{"user_id": "2", "user_qos": [_sample("2026-11-24T10:02:00Z")]}])
    table = acc.to_arrow()
    assert table.num_rows == 3
    rows = table.to_pylist()
    assert [r["wifi_rssi__avg_rssi"] for r in rows] == [None, "-50", None]
    assert [r["wifi_rssi__rssi_unit"] for r in rows] == [None, "dBm", None]
    assert [r["audio_input__mos"] for r in rows] == [None, "4.2", None]
    assert (
        acc.column_names[-2:] == ["audio_input__mos", "wifi_rssi__rssi_unit"][-2:]
        or "audio_input__mos" in acc.column_names
    )


def _exact(meeting_uuid: str, participants: list[dict]) -> pa.Table:
    """The per-value path alone (what the Arrow fast path must equal)."""
    acc = QosColumns()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(qos_module, "_struct_columns", lambda samples: None)
        acc.add_participants(meeting_uuid, participants)
    return acc.to_arrow()


@pytest.mark.parametrize(
    "minutes",
    [
        [_sample("2026-11-24T10:00:00Z"), _sample("2026-11-24T10:01:00Z", cpu_usage=None)],
        [
            _sample(
                "2026-11-24T10:00:00Z",
                wifi_rssi={"max_rssi": -40, "avg_rssi": -50, "min_rssi": -60, "rssi_unit": "dBm"},
            ),
            _sample(
                "2026-11-24T10:01:00Z", audio_input=_block("audio", mos="4.2"), gpu={"load": "3%", "on": True}
            ),
            _sample("2026-11-24T10:02:00Z", flag=True, as_input=""),
        ],
        # a block sent as a bare string in one minute and as an object in another: the exact path
        [_sample("2026-11-24T10:00:00Z", as_input=""), _sample("2026-11-24T10:01:00Z")],
        # a float and a nested list: the exact path (stringified as Python does)
        [_sample("2026-11-24T10:00:00Z", cpu_usage={"zoom_avg_cpu_usage": 1.5}, extra=[1, 2])],
        [_sample("")],
    ],
)
def test_arrow_fast_path_equals_the_per_value_path(minutes: list[dict]) -> None:
    participants = [{"user_id": "7", "user_qos": minutes}, {"user_id": 8, "user_qos": minutes[:1]}]
    fast = flatten_qos("m", participants)
    assert fast.equals(_exact("m", participants))
    assert fast.num_rows == len(minutes) + 1


_WIFI = {"max_rssi": -40, "avg_rssi": -50, "min_rssi": -60, "rssi_unit": "dBm"}


@pytest.mark.parametrize(
    ("minutes", "typed"),
    [
        ([_sample("2026-11-24T10:02:00Z", wifi_rssi=_WIFI), _sample("2026-11-24T10:03:00Z")], True),
        ([_sample("2026-11-24T10:02:00Z", audio_input=_block("audio", mos="4.2"))], False),  # new field
        ([_sample("2026-11-24T10:02:00Z", gpu={"load": "3%"})], False),  # new block
        ([_sample("2026-11-24T10:02:00Z", flag="on")], False),  # new top-level scalar
        ([_sample("2026-11-24T10:02:00Z", audio_input=_block("audio", jitter=None))], False),  # a null
        ([_sample("2026-11-24T10:02:00Z", cpu_usage=None)], False),  # a null block
        # wifi_rssi is inferred apart: a float goes the per-value way, a boolean is "true"
        ([_sample("2026-11-24T10:02:00Z", wifi_rssi={**_WIFI, "avg_rssi": -50.5})], True),
        ([_sample("2026-11-24T10:02:00Z", wifi_rssi={**_WIFI, "avg_rssi": True})], True),
        ([_sample("2026-11-24T10:02:00Z", wifi_rssi="")], False),  # a block as a bare string
        ([_sample("2026-11-24T10:02:00Z", as_input="")], True),  # Arrow: an empty object, nulls
        ([_sample("2026-11-24T10:02:00Z", as_input=[["bitrate", "1"]])], False),  # pairs: not an object
        ([_sample("2026-11-24T10:02:00Z", video_input=_block("video", frame_rate=25))], False),
        ([{"audio_input": _block("audio")}], True),  # no date_time: a null key, as inferred
    ],
)
def test_minutes_converted_to_the_last_type_equal_the_per_value_path(
    minutes: list[dict], typed: bool
) -> None:
    """After a batch of every block (``wifi_rssi`` with integers), the next minutes are converted to
    its type without inferring; anything the type cannot hold exactly (a new block or field, a
    null, a float where integers were) is noticed and inferred instead: the table is the same."""
    learned = [
        _sample("2026-11-24T10:00:00Z", wifi_rssi=_WIFI),
        _sample("2026-11-24T10:01:00Z", wifi_rssi=_WIFI),
    ]
    qos_module._LAST_TYPE = None
    flatten_qos("m", [{"user_id": "7", "user_qos": learned}])
    shape = qos_module._LAST_TYPE
    assert shape is not None and shape.side == ("wifi_rssi",)
    assert (shape.convert(minutes) is not None) is typed
    participants = [{"user_id": "7", "user_qos": minutes}]
    assert flatten_qos("m", participants).equals(_exact("m", participants))


def test_participants_without_minutes_add_nothing() -> None:
    acc = QosColumns()
    assert acc.add_participants("m", [{"user_id": "1", "user_qos": []}, {"user_id": "2"}]) == 0
    table = acc.to_arrow()
    assert table.num_rows == 0
    assert table.column_names[:3] == ["meeting_uuid", "user_id", "date_time"]


def test_missing_user_id_becomes_empty_key() -> None:
    table = flatten_qos("m", [{"user_qos": [_sample("2026-11-24T10:00:00Z")]}])
    assert table.column("user_id").to_pylist() == [""]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T10:00:00Z", dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)),
        ("2026-11-24T10:00:00+01:00", dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)),
        ("2026-11-24T10:00:00.500Z", dt.datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=dt.UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_zoom_timestamp(text: str | None, expected: dt.datetime | None) -> None:
    assert parse_zoom_timestamp(text) == expected


def test_timestamps_in_other_iso_spellings_fall_back_to_exact_parsing() -> None:
    participants = [
        {"user_id": "1", "user_qos": [_sample("2026-11-24T10:00:00Z"), _sample("2026-11-24T11:01:00+01:00")]}
    ]
    got = flatten_qos("m", participants).column("date_time").to_pylist()
    assert got == [
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 24, 10, 1, tzinfo=dt.UTC),
    ]


def test_unique_minutes_keeps_the_first_of_a_repeated_key() -> None:
    minute = _sample("2026-11-24T10:00:00Z")
    again = _sample("2026-11-24T10:00:00Z", audio_input=_block("audio", latency="99 ms"))
    table = flatten_qos("m", [{"user_id": "1", "user_qos": [minute, _sample("2026-11-24T10:01:00Z"), again]}])
    kept, dropped = unique_minutes(table)
    assert (kept.num_rows, dropped) == (2, 1)
    assert kept.column("audio_input__latency").to_pylist() == ["20 ms", "20 ms"]
    assert unique_minutes(kept) == (kept, 0)
