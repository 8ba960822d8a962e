"""The dbt parsing macros (dbt_project/macros/*.sql), rendered with Jinja and run in DuckDB on edge cases.

The macros are plain Jinja (no dbt context needed), so they render here exactly as dbt renders them,
and the SQL runs in an in-memory DuckDB: no dbt invocation, milliseconds per test.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.sandbox.truth import _number as truth_number

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"


def _module(name: str):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string((MACROS / name).read_text()).module


PARSING = _module("qos_parsing.sql")
TIMESTAMPS = _module("timestamps.sql")
THRESHOLDS = _module("qos_thresholds.sql")


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect(":memory:")
    yield c
    c.close()


def _apply(con, sql_of_x: str, values: list, sql_type: str = "varchar") -> list:
    """Evaluate an expression over column x for each value, in order."""
    rows = con.execute(
        f"select {sql_of_x} from (select unnest(cast(? as {sql_type}[])) as x, "
        "generate_subscripts(cast(? as " + sql_type + "[]), 1) as i) order by i",
        [values, values],
    ).fetchall()
    return [r[0] for r in rows]


CASES = [
    ("20 ms", 20.0),
    ("126 ms", 126.0),
    ("0.3%", 0.3),
    ("0.0%", 0.0),  # measured zero is 0, not null
    ("4.9%", 4.9),
    ("1055 kbps", 1055.0),
    ("1,234 kbps", 1234.0),
    ("1,055.5 kbps", 1055.5),
    ("12 fps", 12.0),
    ("12fps", 12.0),
    ("  7 ms ", 7.0),
    ("80%", 80.0),
    ("", None),
    ("   ", None),
    ("-", None),
    ("N/A", None),
    ("n/a", None),
    ("nan", None),
    ("ms", None),
    (None, None),
]


def test_parse_qos_number_edge_cases(con):
    got = _apply(con, PARSING.parse_qos_number("x"), [c[0] for c in CASES])
    for (text, expected), value in zip(CASES, got, strict=True):
        assert value == expected, f"{text!r}: {value!r} != {expected!r}"


def test_parse_qos_number_returns_double(con):
    assert con.execute(f"select typeof({PARSING.parse_qos_number(repr('20 ms'))})").fetchone()[0] == "DOUBLE"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 5000).map(lambda n: f"{n} ms"),
            st.integers(0, 5000).map(lambda n: f"{n} kbps"),
            st.integers(0, 60).map(lambda n: f"{n} fps"),
            st.floats(0, 100, allow_nan=False).map(lambda f: f"{f:.1f}%"),
            st.just(""),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_parse_qos_number_agrees_with_the_sandbox_truth(values):
    """Whatever Zoom-style string the generator can produce, SQL and the truth parser agree exactly."""
    c = duckdb.connect(":memory:")
    try:
        got = _apply(c, PARSING.parse_qos_number("x"), values)
    finally:
        c.close()
    for text, value in zip(values, got, strict=True):
        assert value == truth_number(text), text


@pytest.mark.parametrize(
    ("text", "width", "height"),
    [
        ("1280*720", 1280, 720),
        ("640*360", 640, 360),
        ("0*0", 0, 0),
        ("1920x1080", 1920, 1080),
        ("1920X1080", 1920, 1080),
        ("", None, None),
        ("-", None, None),
        ("N/A", None, None),
        (None, None, None),
    ],
)
def test_parse_resolution(con, text, width, height):
    w = PARSING.parse_resolution("x", "width")
    h = PARSING.parse_resolution("x", "height")
    assert con.execute(f"select {w}, {h} from (select cast(? as varchar) as x)", [text]).fetchone() == (
        width,
        height,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("16:08", 968), ("03:55:08", 14108), ("00:45", 45), ("1:00:00", 3600), ("", None), (None, None)],
)
def test_parse_hms_duration(con, text, seconds):
    sql = PARSING.parse_hms_duration("x")
    assert con.execute(f"select {sql} from (select cast(? as varchar) as x)", [text]).fetchone()[0] == seconds


def test_timestamps_are_utc_whatever_the_session_time_zone(con):
    con.execute("set TimeZone = 'America/New_York'")
    try:
        to_utc = TIMESTAMPS.to_utc("x")
        got = con.execute(
            f"select {to_utc} from (select timestamptz '2025-12-02 17:29:28+00' as x)"
        ).fetchone()[0]
        assert got == datetime(2025, 12, 2, 17, 29, 28)
        got = con.execute(f"select {to_utc} from (select '2025-12-02T17:29:28Z' as x)").fetchone()[0]
        assert got == datetime(2025, 12, 2, 17, 29, 28)
        unix = TIMESTAMPS.unix_to_utc("x")
        assert con.execute(f"select {unix} from (select 1442860200 as x)").fetchone()[0] == datetime(
            2015, 9, 21, 18, 30
        )
        assert con.execute(f"select {unix} from (select null::bigint as x)").fetchone()[0] is None
    finally:
        con.execute("set TimeZone = 'UTC'")


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "expected"),
    [
        (151, ">", 150, True),
        (150, ">", 150, False),  # the truth compares strictly: exactly at the threshold is fine
        (150, ">=", 150, True),
        (9, "<", 10, True),
        (10, "<", 10, False),
        (10, "<=", 10, True),
        (None, ">", 150, None),  # not measured
        (151, None, None, None),  # no threshold
    ],
)
def test_violates(con, value, comparator, threshold, expected):
    sql = THRESHOLDS.violates("v", "c", "t")
    got = con.execute(
        f"select {sql} from (select cast(? as double) as v, cast(? as varchar) as c, cast(? as double) as t)",
        [value, comparator, threshold],
    ).fetchone()[0]
    assert got == expected
