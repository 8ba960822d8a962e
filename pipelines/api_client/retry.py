"""Retry policy: which failures are worth another attempt, and how long to wait.

Why hand-written rather than ``tenacity``: the decision depends on HTTP details
(``Retry-After`` in two formats, Zoom's ``X-RateLimit-Type: Daily-limit`` that must
*not* be retried, a one-off token refresh on 401, limiter penalties shared across
threads). Expressed as tenacity predicates that logic gets scattered; here the
policy is a small value object and the loop lives in :class:`ApiClient.request`.

Backoff is exponential with *full jitter* (AWS architecture blog, "Exponential
Backoff And Jitter"): ``sleep = uniform(0, min(cap, base * 2**(attempt-1)))``, which
spreads concurrent retriers out instead of having them hammer the API in lockstep.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import requests

from pipelines import clock

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Failures that happen while *reading the body*: worth retrying, and if they persist
# the caller gets BadResponse rather than a generic transport error.
BODY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,  # includes ConnectTimeout
    requests.exceptions.Timeout,  # ReadTimeout
    *BODY_EXCEPTIONS,
)


def _utcnow() -> dt.datetime:
    return clock.now()


def is_transient_exception(exc: BaseException) -> bool:
    """True for network hiccups worth retrying; certificate failures are config errors."""
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return False
    return isinstance(exc, TRANSIENT_EXCEPTIONS)


def retry_after_datetime(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """Parse ``Retry-After`` into an absolute UTC time.

    Accepts delta-seconds (``"2"``, ``"1.5"``), ISO 8601 (``2026-11-26T00:00:00Z``,
    what Zoom sends with its daily limit) and HTTP-dates (``Wed, 26 Nov 2026
    00:00:00 GMT``). Returns ``None`` when absent or unparseable, so callers fall back
    to their own backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    now = now or _utcnow()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        return now + dt.timedelta(seconds=max(0.0, seconds))
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:  # HTTP-dates are GMT; naive ISO values are taken as UTC
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait from ``now`` (never negative), or ``None``."""
    now = now or _utcnow()
    when = retry_after_datetime(value, now)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also works on plain dicts (tests)."""
    if name in headers:
        return headers[name]
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


DAILY_LIMIT_TEXT = "daily rate limit"
"""Zoom's daily-cap 429 body says "You have reached the maximum daily rate limit for this API"."""


def is_daily_limit(headers: Mapping[str, str], body: str | None = None) -> bool:
    """A daily-cap 429: ``X-RateLimit-Type: Daily-limit`` or, where Zoom sends no such header
    (older answers carry only category, limit and remaining), the daily-limit text of the body."""
    value = header(headers, "X-RateLimit-Type")
    if value is not None and value.strip().lower().replace("_", "-") == "daily-limit":
        return True
    return bool(body) and DAILY_LIMIT_TEXT in body.lower()


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how long to wait between tries.

    ``max_attempts`` counts every send (8 = first try + 7 retries). A
    ``Retry-After`` longer than ``max_retry_after`` seconds is not slept through: the
    client raises so the run can stop cleanly instead of hanging. ``sleep``,
    ``rand`` and ``now`` are injectable for tests.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rand: Callable[[], float] = field(default=random.random, compare=False)
    now: Callable[[], dt.datetime] = field(default=_utcnow, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay after the ``attempt``-th failed try (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return self.rand() * ceiling

    def should_retry_status(self, status: int) -> bool:
        return status in self.retry_statuses

    def can_retry(self, attempt: int) -> bool:
        """Whether another send is allowed after ``attempt`` sends."""
        return attempt < self.max_attempts

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before the next try: the server's ``Retry-After`` if given, else backoff."""
        return retry_after if retry_after is not None else self.backoff(attempt)
