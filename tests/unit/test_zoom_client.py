"""Pure helpers of the Zoom client: UUID encoding, date windows, error recognition, durations."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.api_client import ApiError
from pipelines.zoom.client import (
    MAX_WINDOW_DAYS,
    earliest_allowed_date,
    encode_meeting_id,
    is_expired_page_token,
    month_windows,
    needs_double_encoding,
    parse_dashboard_duration,
    zoom_error_of,
)

D = dt.date


# ----------------------------------------------------------------------------- UUID encoding
def test_double_encoding_example_from_zoom_docs() -> None:
    assert encode_meeting_id("/ajXp112QmuoKj4854875==") == "%252FajXp112QmuoKj4854875%253D%253D"


@pytest.mark.parametrize(
    ("uuid", "double"),
    [
        ("/abc==", True),
        ("ab//cd==", True),
        ("ab/cd==", False),
        ("abc+def==", False),
        ("plainUUID123456789012==", False),
    ],
)
def test_needs_double_encoding(uuid: str, double: bool) -> None:
    assert needs_double_encoding(uuid) is double


def test_single_encoding_escapes_every_reserved_character() -> None:
    assert encode_meeting_id("abc+d/ef==") == "abc%2Bd%2Fef%3D%3D"
    assert encode_meeting_id(12345678901) == "12345678901"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=1))
def test_encoding_round_trips_like_zoom_decodes_it(uuid: str) -> None:
    encoded = encode_meeting_id(uuid)
    assert "/" not in encoded
    once = unquote(encoded)
    decoded = unquote(once) if needs_double_encoding(uuid) else once
    assert decoded == uuid
    if needs_double_encoding(uuid):
        assert "/" not in once  # a router that decodes once still sees a single path segment


# ----------------------------------------------------------------------------- windows
def test_month_windows_split_at_calendar_months() -> None:
    assert month_windows(D(2026, 5, 27), D(2026, 8, 3)) == [
        (D(2026, 5, 27), D(2026, 5, 31)),
        (D(2026, 6, 1), D(2026, 6, 30)),
        (D(2026, 7, 1), D(2026, 7, 31)),
        (D(2026, 8, 1), D(2026, 8, 3)),
    ]


def test_month_windows_single_day_and_empty() -> None:
    assert month_windows(D(2026, 2, 28), D(2026, 2, 28)) == [(D(2026, 2, 28), D(2026, 2, 28))]
    assert month_windows(D(2026, 3, 2), D(2026, 3, 1)) == []


def test_month_windows_handle_leap_february_and_year_end() -> None:
    assert month_windows(D(2028, 2, 10), D(2028, 3, 1)) == [
        (D(2028, 2, 10), D(2028, 2, 29)),
        (D(2028, 3, 1), D(2028, 3, 1)),
    ]
    assert month_windows(D(2026, 12, 30), D(2027, 1, 2)) == [
        (D(2026, 12, 30), D(2026, 12, 31)),
        (D(2027, 1, 1), D(2027, 1, 2)),
    ]


@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 1, 1)),
    st.integers(min_value=0, max_value=800),
)
def test_month_windows_cover_the_range_exactly_within_zoom_limits(start: dt.date, days: int) -> None:
    end = start + dt.timedelta(days=days)
    windows = month_windows(start, end)
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for (a, b), nxt in zip(windows, [*windows[1:], None], strict=True):
        assert a <= b
        assert (b - a).days <= MAX_WINDOW_DAYS
        assert (a.year, a.month) == (b.year, b.month)
        if nxt is not None:
            assert nxt[0] == b + dt.timedelta(days=1)


def test_earliest_allowed_date_is_within_six_months() -> None:
    today = D(2026, 11, 25)
    earliest = earliest_allowed_date(today)
    assert (today - earliest).days == 182


# ----------------------------------------------------------------------------- errors
def _err(status: int, body: object) -> ApiError:
    return ApiError("x", status=status, body=json.dumps(body))


def test_expired_page_token_is_recognised() -> None:
    assert is_expired_page_token(
        _err(400, {"code": 300, "message": "The next page token is invalid or expired."})
    )


@pytest.mark.parametrize(
    "exc",
    [
        _err(
            400,
            {
                "code": 300,
                "message": "The request can only be queried for a month that falls within the last six months.",
            },
        ),
        _err(404, {"code": 300, "message": "The next page token is invalid or expired."}),
        ApiError("x", status=400, body="<html>bad gateway</html>"),
        ApiError("x", status=None),
    ],
)
def test_other_errors_are_not_expired_tokens(exc: ApiError) -> None:
    assert not is_expired_page_token(exc)


def test_zoom_error_of_tolerates_non_json() -> None:
    assert zoom_error_of(_err(400, {"code": 124, "message": "Invalid access token."})) == (
        124,
        "Invalid access token.",
    )
    assert zoom_error_of(ApiError("x", body="[1, 2]")) == (None, "[1, 2]")


# ----------------------------------------------------------------------------- durations
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("16:08", 968),
        ("03:55:08", 14108),
        ("00:59", 59),
        ("1:00:00", 3600),
        ("", None),
        (None, None),
        ("abc", None),
    ],
)
def test_parse_dashboard_duration(text: str | None, seconds: int | None) -> None:
    assert parse_dashboard_duration(text) == seconds
