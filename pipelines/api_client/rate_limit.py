"""Client-side request pacing per rate-limit category.

Why: Zoom enforces per-second (and, for resource-intensive APIs, per-minute) quotas
*per account*, shared by every app installed on it. Hitting them costs 429s, and a
burst of 429s from us can starve other integrations. So we pace ourselves below the
published limits (``safety`` factor, default 80 %) instead of relying on retries.

Guarantee (the property the unit tests check): for a category limited to ``N``
requests per ``W`` seconds, no half-open window ``[t, t + W)`` of the limiter's clock
contains more than ``N`` grants.

Proof sketch: grants of one category are serialised by a lock and stamped with a
monotonic clock, so grant times ``g_1 <= g_2 <= ...`` are ordered. The limiter keeps
the last ``N`` grant times and only grants ``g_{k+N}`` once ``now >= g_k + W``. Hence
``g_{k+N} - g_k >= W`` for every ``k``; ``N + 1`` grants ``g_k .. g_{k+N}`` inside one
window would need ``g_{k+N} - g_k < W`` - impossible. (This bounds *grant* times; the
network adds jitter on top, which the safety factor absorbs.)

This is a sliding-window log rather than a token bucket: a token bucket with
capacity ``N`` refilled continuously allows ``2N - 1`` requests in some windows.

The limiter is in-process only. Processes running concurrently against the same
account (load + recordings) should each get a share of the rate, e.g. a lower
``safety``; the daily budget, by contrast, is shared through
:mod:`pipelines.api_client.budget`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Category names used by the Zoom source; MEETS and recording downloads have their own.
LIGHT = "light"
MEDIUM = "medium"
HEAVY = "heavy"
RESOURCE_INTENSIVE = "resource_intensive"
MEETS = "meets"
DOWNLOAD = "download"
ZOOM_CATEGORIES = (LIGHT, MEDIUM, HEAVY, RESOURCE_INTENSIVE)


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` requests in any ``per``-second sliding window."""

    limit: int
    per: float = 1.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.per <= 0:
            raise ValueError(f"invalid rate limit {self.limit}/{self.per}s")

    @classmethod
    def per_second(cls, n: int) -> RateLimit:
        return cls(n, 1.0)

    @classmethod
    def per_minute(cls, n: int) -> RateLimit:
        return cls(n, 60.0)

    def scaled(self, safety: float) -> RateLimit:
        """This limit times ``safety`` (rounded down, never below 1 per window)."""
        return RateLimit(max(1, math.floor(self.limit * safety + 1e-9)), self.per)


@dataclass(frozen=True)
class DailyCap:
    """A published daily quota shared by ``categories`` (resets 00:00 UTC)."""

    name: str
    categories: frozenset[str]
    limit: int


@dataclass(frozen=True)
class ZoomPlan:
    """Zoom's documented account-wide limits for one plan."""

    name: str
    rates: Mapping[str, RateLimit]
    daily_caps: tuple[DailyCap, ...] = field(default_factory=tuple)

    def daily_cap_for(self, category: str) -> DailyCap | None:
        return next((c for c in self.daily_caps if category in c.categories), None)


_HEAVY_GROUP = frozenset({HEAVY, RESOURCE_INTENSIVE})

_PRO = ZoomPlan(
    "pro",
    {
        LIGHT: RateLimit.per_second(30),
        MEDIUM: RateLimit.per_second(20),
        HEAVY: RateLimit.per_second(10),
        RESOURCE_INTENSIVE: RateLimit.per_minute(10),
    },
    (DailyCap("heavy_daily", _HEAVY_GROUP, 30_000),),
)
_BUSINESS = ZoomPlan(
    "business",
    {
        LIGHT: RateLimit.per_second(80),
        MEDIUM: RateLimit.per_second(60),
        HEAVY: RateLimit.per_second(40),
        RESOURCE_INTENSIVE: RateLimit.per_minute(20),
    },
    (DailyCap("heavy_daily", _HEAVY_GROUP, 60_000),),
)
_FREE = ZoomPlan(
    "free",
    {
        LIGHT: RateLimit.per_second(4),
        MEDIUM: RateLimit.per_second(2),
        HEAVY: RateLimit.per_second(1),
        RESOURCE_INTENSIVE: RateLimit.per_minute(10),
    },
    (
        DailyCap("light_daily", frozenset({LIGHT}), 6_000),
        DailyCap("medium_daily", frozenset({MEDIUM}), 2_000),
        DailyCap("heavy_daily", frozenset({HEAVY}), 1_000),
        DailyCap("resource_intensive_daily", frozenset({RESOURCE_INTENSIVE}), 30_000),
    ),
)

ZOOM_PLANS: dict[str, ZoomPlan] = {
    "free": _FREE,
    "pro": _PRO,
    "business": _BUSINESS,
    "education": _BUSINESS,
    "enterprise": _BUSINESS,
    "partner": _BUSINESS,
}


def zoom_plan(name: str) -> ZoomPlan:
    """Look up a plan by (case-insensitive) name with a helpful error."""
    try:
        return ZOOM_PLANS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Zoom plan {name!r}; expected one of {sorted(ZOOM_PLANS)}") from None


class _Window:
    __slots__ = ("limit", "lock", "paused_until", "per", "sends")

    def __init__(self, rate: RateLimit) -> None:
        self.limit = rate.limit
        self.per = rate.per
        self.sends: deque[float] = deque(maxlen=rate.limit)
        self.paused_until = float("-inf")
        self.lock = threading.Lock()


class RateLimiter:
    """Thread-safe sliding-window limiter, one window per category.

    ``clock`` must be monotonic; ``clock`` and ``sleep`` are injectable so tests can
    run with a fake clock.
    """

    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        *,
        safety: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < safety <= 1:
            raise ValueError("safety must be in (0, 1]")
        self.safety = safety
        self.limits: dict[str, RateLimit] = {cat: rate.scaled(safety) for cat, rate in limits.items()}
        self._windows = {cat: _Window(rate) for cat, rate in self.limits.items()}
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def for_zoom(
        cls,
        plan: str | ZoomPlan = "pro",
        *,
        safety: float = 0.8,
        meets_per_second: int = 10,
        download_per_second: int = 20,
        extra: Mapping[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateLimiter:
        """Limiter with Zoom's categories for ``plan`` plus ``meets`` and ``download``.

        One limiter should be shared by every client in the process that talks to the
        same Zoom account, because the quota is account-wide.
        """
        zp = plan if isinstance(plan, ZoomPlan) else zoom_plan(plan)
        limits: dict[str, RateLimit] = dict(zp.rates)
        limits[MEETS] = RateLimit.per_second(meets_per_second)
        limits[DOWNLOAD] = RateLimit.per_second(download_per_second)
        limits.update(extra or {})
        return cls(limits, safety=safety, clock=clock, sleep=sleep)

    def _window(self, category: str) -> _Window:
        try:
            return self._windows[category]
        except KeyError:
            raise ValueError(
                f"unknown rate-limit category {category!r}; configured: {sorted(self._windows)}"
            ) from None

    def acquire(self, category: str) -> float:
        """Block until a request in ``category`` may be sent; return the grant time.

        The grant time (on the limiter's clock) is what the window guarantee is about;
        tests use it to verify the property without scheduling noise.
        """
        window = self._window(category)
        while True:
            with window.lock:
                now = self._clock()
                wait = window.paused_until - now
                if wait <= 0:
                    if len(window.sends) < window.limit:
                        window.sends.append(now)
                        return now
                    wait = window.sends[0] + window.per - now
                    if wait <= 0:
                        window.sends.append(now)  # maxlen drops the oldest
                        return now
            self._sleep(wait)

    def penalize(self, category: str, seconds: float) -> None:
        """Pause ``category`` for ``seconds`` (e.g. after a 429 with ``Retry-After``).

        Every thread waiting on the category honours the pause, not only the one that
        got the 429; pauses never shorten an existing longer pause.
        """
        if seconds <= 0:
            return
        window = self._window(category)
        with window.lock:
            window.paused_until = max(window.paused_until, self._clock() + seconds)

    def paused_for(self, category: str) -> float:
        """Seconds the category remains paused (0 if not paused)."""
        window = self._window(category)
        with window.lock:
            return max(0.0, window.paused_until - self._clock())
