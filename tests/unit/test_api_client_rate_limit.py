"""The limiter's core promise: never more than N grants in any W-second window.

Checked three ways: a property test over random arrival patterns (single thread,
fake clock), many threads on a fake clock, and many threads on the real clock.
All checks use the grant times returned by ``acquire`` (the limiter's own
timeline), so thread scheduling noise cannot make them flaky.
"""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.api_client.rate_limit import (
    ZOOM_PLANS,
    RateLimit,
    RateLimiter,
    zoom_plan,
)


class FakeClock:
    """Monotonic fake time; ``sleep`` advances it (thread-safe)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += max(0.0, seconds)
        time.sleep(0)  # let other threads interleave

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


def max_in_window(times: list[float], window: float) -> int:
    """Largest number of grants inside any half-open window ``[t, t + window)``.

    Two grants ``a <= b`` share such a window iff ``b < a + window`` (the same float
    expression the limiter uses, so rounding cannot create false alarms).
    """
    times = sorted(times)
    best = 0
    i = 0
    for j, t in enumerate(times):
        while not t < times[i] + window:
            i += 1
        best = max(best, j - i + 1)
    return best


def test_max_in_window_helper_detects_violations() -> None:
    # The checker itself must be able to fail.
    assert max_in_window([0.0, 0.5, 0.99], 1.0) == 3
    assert max_in_window([0.0, 0.5, 1.0], 1.0) == 2
    assert max_in_window([0.0, 0.1, 0.2, 5.0], 1.0) == 3


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=12),
    per=st.sampled_from([0.1, 1.0, 60.0]),
    gaps=st.lists(st.floats(min_value=0, max_value=2.0, allow_nan=False), min_size=1, max_size=120),
)
def test_window_property_and_liveness_single_thread(limit: int, per: float, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter({"c": RateLimit(limit, per)}, safety=1.0, clock=clock, sleep=clock.sleep)
    grants: list[float] = []
    for gap in gaps:
        clock.advance(gap * per)
        arrival = clock()
        granted = limiter.acquire("c")
        grants.append(granted)
        # Liveness: not delayed more than necessary - granted at arrival, or exactly when
        # the grant `limit` positions back leaves the window.
        earliest = arrival if len(grants) <= limit else max(arrival, grants[-limit - 1] + per)
        assert granted == pytest.approx(earliest, abs=1e-9)
    assert max_in_window(grants, per) <= limit


def test_many_threads_fake_clock_never_exceed_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        {"heavy": RateLimit(10, 1.0), "resource_intensive": RateLimit(3, 60.0)},
        safety=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    grants: dict[str, list[float]] = {"heavy": [], "resource_intensive": []}
    lock = threading.Lock()

    def worker(category: str, n: int) -> None:
        for _ in range(n):
            t = limiter.acquire(category)
            with lock:
                grants[category].append(t)

    threads = [threading.Thread(target=worker, args=("heavy", 40)) for _ in range(24)]
    threads += [threading.Thread(target=worker, args=("resource_intensive", 4)) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert all(not th.is_alive() for th in threads)
    assert len(grants["heavy"]) == 24 * 40
    assert len(grants["resource_intensive"]) == 24
    assert max_in_window(grants["heavy"], 1.0) <= 10
    assert max_in_window(grants["resource_intensive"], 60.0) <= 3
    # And the windows were actually used (not a limiter that serialises to 1/s).
    assert max_in_window(grants["heavy"], 1.0) == 10


def test_many_threads_real_clock_limit_and_throughput() -> None:
    limit, per, total = 20, 0.2, 160
    limiter = RateLimiter({"light": RateLimit(limit, per)}, safety=1.0)
    grants: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            t = limiter.acquire("light")
            with lock:
                grants.append(t)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    elapsed = time.monotonic() - started
    assert len(grants) == total
    assert max_in_window(grants, per) <= limit
    # 160 grants at 20 per 0.2 s need at least 7 full windows after the first burst.
    assert elapsed >= (total / limit - 1) * per - 0.01
    assert elapsed < (total / limit) * per + 1.5  # and the limiter is not needlessly slow


def test_penalize_pauses_category_for_all_callers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        {"heavy": RateLimit(100, 1.0), "light": RateLimit(100, 1.0)},
        safety=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    start = clock()
    limiter.penalize("heavy", 5.0)
    limiter.penalize("heavy", 2.0)  # a shorter pause never shortens the longer one
    assert limiter.paused_for("heavy") == pytest.approx(5.0)
    assert limiter.acquire("light") == start  # other categories unaffected
    assert limiter.acquire("heavy") >= start + 5.0
    assert limiter.paused_for("heavy") == 0.0


def test_zoom_plans_with_safety() -> None:
    pro = RateLimiter.for_zoom("pro")
    assert {k: (v.limit, v.per) for k, v in pro.limits.items()} == {
        "light": (24, 1.0),
        "medium": (16, 1.0),
        "heavy": (8, 1.0),
        "resource_intensive": (8, 60.0),
        "meets": (8, 1.0),
        "download": (16, 1.0),
    }
    business = RateLimiter.for_zoom("Business", safety=1.0, meets_per_second=5)
    assert business.limits["light"] == RateLimit(80, 1.0)
    assert business.limits["resource_intensive"] == RateLimit(20, 60.0)
    assert business.limits["meets"] == RateLimit(5, 1.0)
    free = RateLimiter.for_zoom("free")
    assert free.limits["heavy"] == RateLimit(1, 1.0)  # never rounded down to zero
    assert free.limits["medium"] == RateLimit(1, 1.0)
    assert ZOOM_PLANS["enterprise"] is ZOOM_PLANS["business"]
    assert zoom_plan("pro").daily_cap_for("resource_intensive").limit == 30_000  # type: ignore[union-attr]
    assert zoom_plan("business").daily_cap_for("heavy").limit == 60_000  # type: ignore[union-attr]
    assert zoom_plan("free").daily_cap_for("light").limit == 6_000  # type: ignore[union-attr]
    assert zoom_plan("pro").daily_cap_for("light") is None


def test_unknown_category_and_bad_config_fail_loudly() -> None:
    limiter = RateLimiter({"light": RateLimit(1, 1.0)})
    with pytest.raises(ValueError, match="unknown rate-limit category 'ligth'"):
        limiter.acquire("ligth")
    with pytest.raises(ValueError):
        zoom_plan("platinum")
    with pytest.raises(ValueError):
        RateLimit(0, 1.0)
    with pytest.raises(ValueError):
        RateLimiter({"light": RateLimit(1, 1.0)}, safety=1.5)
