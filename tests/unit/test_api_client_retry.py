"""Retry policy pieces: Retry-After parsing, Zoom's daily-limit marker, full-jitter backoff."""

from __future__ import annotations

import datetime as dt

import pytest
from requests.structures import CaseInsensitiveDict

from pipelines.api_client.retry import (
    RetryPolicy,
    is_daily_limit,
    is_transient_exception,
    parse_retry_after,
    retry_after_datetime,
)

NOW = dt.datetime(2026, 11, 25, 23, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),  # never negative
        ("2026-11-26T00:00:00Z", 3600.0),  # Zoom daily limit style
        ("2026-11-26T01:00:00+01:00", 3600.0),
        ("2026-11-26T00:00:00", 3600.0),  # naive ISO taken as UTC
        ("Thu, 26 Nov 2026 00:00:00 GMT", 3600.0),  # HTTP-date
        ("2026-11-25T22:00:00Z", 0.0),  # already past
    ],
)
def test_parse_retry_after(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "NaN", "inf", "Thu, 99 Foo 2026"])
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_datetime_is_absolute_utc() -> None:
    assert retry_after_datetime("2026-11-26T00:00:00Z", NOW) == dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    assert retry_after_datetime("30", NOW) == NOW + dt.timedelta(seconds=30)


def test_is_daily_limit() -> None:
    assert is_daily_limit(CaseInsensitiveDict({"x-ratelimit-type": "Daily-limit"}))
    assert is_daily_limit({"X-RateLimit-Type": "daily_limit"})
    assert not is_daily_limit({"X-RateLimit-Type": "QPS"})
    assert not is_daily_limit({})


def test_full_jitter_backoff_bounds() -> None:
    top = RetryPolicy(rand=lambda: 1.0)
    assert [top.backoff(a) for a in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert RetryPolicy(rand=lambda: 0.0).backoff(5) == 0.0
    half = RetryPolicy(rand=lambda: 0.5, base_delay=0.1, max_delay=1.0)
    assert half.backoff(1) == pytest.approx(0.05)
    assert half.backoff(10) == pytest.approx(0.5)
    # Real randomness stays within [0, ceiling].
    policy = RetryPolicy()
    assert all(0.0 <= policy.backoff(3) <= 2.0 for _ in range(500))


def test_delay_prefers_retry_after_and_attempt_budget() -> None:
    policy = RetryPolicy(max_attempts=3, rand=lambda: 1.0)
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(2, None) == 1.0
    assert policy.can_retry(2) and not policy.can_retry(3)
    assert policy.should_retry_status(503) and not policy.should_retry_status(501)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_transient_exception_classification() -> None:
    import requests

    assert is_transient_exception(requests.ConnectionError("reset"))
    assert is_transient_exception(requests.exceptions.ReadTimeout("slow"))
    assert is_transient_exception(requests.exceptions.ChunkedEncodingError("cut"))
    assert not is_transient_exception(requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    assert not is_transient_exception(requests.exceptions.InvalidURL("bad"))
