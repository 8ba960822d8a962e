"""Mutable sandbox state: the clock, OAuth tokens, page tokens, request counters and rate limits.

Everything is guarded by one lock; the sandbox serves a test load, not production traffic.
"""

from __future__ import annotations

import bisect
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipelines.sandbox.account import Account
from pipelines.sandbox.bad_inputs import BadInputs
from pipelines.sandbox.config import PLANS, SandboxConfig, default_clock_base

CATEGORY_LABEL = {
    "light": "Light",
    "medium": "Medium",
    "heavy": "Heavy",
    "resource_intensive": "Resource-intensive",
}


@dataclass
class AccessToken:
    value: str
    kind: str  # "s2s" (account credentials) or "user" (authorization code / refresh token)
    expires_at: float  # time.monotonic()
    grant_id: str | None = None
    uses: int = 0  # API requests authorized so far (Faults.token_lifetime_requests)


@dataclass
class PageToken:
    signature: str
    offset: int
    created_at: float  # time.monotonic()


@dataclass
class Counters:
    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected_429: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faults: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_endpoint: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def as_dict(self) -> dict:
        return {
            "received": dict(self.received),
            "rejected_429": dict(self.rejected_429),
            "faults": dict(self.faults),
            "by_endpoint": dict(self.by_endpoint),
            "max_per_second": {c: _max_in_window(ts, 1.0) for c, ts in self.times.items()},
            "max_per_minute": {c: _max_in_window(ts, 60.0) for c, ts in self.times.items()},
        }


def _max_in_window(times: list[float], window: float) -> int:
    """Largest number of requests that arrived within any window of ``window`` seconds."""
    best = 0
    for i, t in enumerate(times):
        j = bisect.bisect_left(times, t + window - 1e-9, lo=i)
        best = max(best, j - i)
    return best


class SandboxState:
    def __init__(
        self, config: SandboxConfig, account: Account | None = None, clock_base: datetime | None = None
    ):
        self.config = config
        self.lock = threading.RLock()
        if clock_base is None:
            clock_base = default_clock_base(config)
        self.clock_base = clock_base
        self.account = account or Account(
            config.seed, config.scale, start_date=clock_base.date() - timedelta(days=config.scale.days)
        )
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id (only the newest per grant)
        self.auth_codes: dict[str, tuple[str, float]] = {}  # code -> (redirect_uri, expires monotonic)
        self.page_tokens: dict[str, PageToken] = {}
        self.download_tokens: dict[str, tuple[str, float]] = {}  # token -> (meeting uuid, expires monotonic)
        self.counters = Counters()
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self.daily: dict[tuple[str, str], int] = defaultdict(int)  # (utc date, category) -> count
        self.meets_gone: set[int] = set()  # recordings MEETS learned were deleted (on download)
        self.zoom_attendance_daily: dict[str, int] = defaultdict(int)
        self.storage_requests: list[dict] = []  # what the third-party storage host received
        self.bad_inputs = BadInputs(config.bad_inputs)  # record mutations served on request
        self.storage_base_url: str | None = None  # set by the server once its storage port is bound
        self._fault_rng_seed = config.faults.fault_seed
        import random

        self.fault_rng = random.Random(self._fault_rng_seed)

    # ---------------------------------------------------------------- clock
    def now(self) -> datetime:
        return self.clock_base + timedelta(seconds=self.config.faults.clock_offset)

    def set_clock(self, offset_seconds: int) -> None:
        with self.lock:
            self.config.faults.clock_offset = int(offset_seconds)

    # ---------------------------------------------------------------- OAuth
    def mint_access_token(self, kind: str, grant_id: str | None = None) -> AccessToken:
        with self.lock:
            tok = AccessToken(
                value="sbx_at_" + secrets.token_urlsafe(24),
                kind=kind,
                expires_at=time.monotonic() + self.config.faults.token_lifetime,
                grant_id=grant_id,
            )
            self.tokens[tok.value] = tok
            return tok

    def mint_refresh_token(self, grant_id: str) -> str:
        """Rotation: a new refresh token invalidates every earlier one of the same grant."""
        with self.lock:
            for old in [t for t, g in self.refresh_tokens.items() if g == grant_id]:
                del self.refresh_tokens[old]
            value = "sbx_rt_" + secrets.token_urlsafe(32)
            self.refresh_tokens[value] = grant_id
            return value

    def check_access_token(self, value: str | None) -> tuple[AccessToken | None, str | None]:
        """Returns (token, None) when valid, else (None, Zoom's 401 message)."""
        if not value:
            return None, "Invalid access token."
        limit = self.config.faults.token_lifetime_requests
        with self.lock:
            tok = self.tokens.get(value)
            if tok is None:
                return None, "Invalid access token."
            if time.monotonic() >= tok.expires_at or (limit > 0 and tok.uses >= limit):
                return None, "Access token is expired."
            tok.uses += 1
        return tok, None

    def expire_access_tokens(self) -> int:
        """Expire every access token issued so far (refresh tokens stay valid); returns how many."""
        with self.lock:
            now = time.monotonic()
            for tok in self.tokens.values():
                tok.expires_at = min(tok.expires_at, now)
            return len(self.tokens)

    # ---------------------------------------------------------------- pagination
    def new_page_token(self, signature: str, offset: int) -> str:
        with self.lock:
            if len(self.page_tokens) > 10_000:  # long soak runs: forget tokens that can only be expired
                cutoff = time.monotonic() - self.config.faults.page_token_lifetime
                self.page_tokens = {k: v for k, v in self.page_tokens.items() if v.created_at >= cutoff}
            value = secrets.token_urlsafe(24)
            self.page_tokens[value] = PageToken(signature, offset, time.monotonic())
            return value

    def read_page_token(self, value: str, signature: str) -> int | None:
        """Offset for a valid token of the same query; None when invalid, expired or reused elsewhere."""
        with self.lock:
            tok = self.page_tokens.get(value)
        if tok is None or tok.signature != signature:
            return None
        if time.monotonic() - tok.created_at > self.config.faults.page_token_lifetime:
            return None
        return tok.offset

    # ---------------------------------------------------------------- counting and limits
    def count(self, category: str, endpoint: str) -> None:
        with self.lock:
            self.counters.received[category] += 1
            self.counters.by_endpoint[endpoint] += 1
            self.counters.times[category].append(time.monotonic())

    def rate_limit(self, category: str) -> tuple[bool, dict[str, str], str | None]:
        """Apply the plan's limits to one Zoom request.

        Returns (allowed, headers, limit type "QPS"/"Daily-limit" when refused).
        """
        plan = PLANS[self.config.plan]
        label = CATEGORY_LABEL.get(category, category)
        today = self.now().date().isoformat()
        with self.lock:
            shared = category in ("heavy", "resource_intensive") and plan["daily_shared"]
            if shared:
                day_limit = plan["daily_shared"]
                used = self.daily[(today, "heavy")] + self.daily[(today, "resource_intensive")]
            else:
                day_limit = plan["daily"].get(category)
                used = self.daily[(today, category)]
            headers = {"X-RateLimit-Category": label}
            if day_limit:
                headers["X-RateLimit-Limit"] = str(day_limit)
                headers["X-RateLimit-Remaining"] = str(max(0, day_limit - used - 1))
            if not self.config.faults.enforce_rate_limits:
                self.daily[(today, category)] += 1
                return True, headers, None
            if day_limit and used >= day_limit:
                reset = datetime.combine(self.now().date() + timedelta(days=1), datetime.min.time(), UTC)
                headers["X-RateLimit-Remaining"] = "0"
                form = self.config.faults.daily_limit_headers
                if form == "full":
                    headers["X-RateLimit-Type"] = "Daily-limit"
                if form in ("full", "retry-after"):
                    headers["Retry-After"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
                self.counters.rejected_429[category] += 1
                return False, headers, "Daily-limit"
            per_second = plan["per_second"].get(category)
            per_minute = plan["per_minute"].get(category)
            limit, window = (per_second, 1.0) if per_second else (per_minute, 60.0)
            if limit:
                q = self._windows[category]
                now = time.monotonic()
                while q and now - q[0] >= window:
                    q.popleft()
                if len(q) >= limit:
                    retry = max(1, int(window - (now - q[0]) + 0.999))
                    headers.update({"X-RateLimit-Type": "QPS", "Retry-After": str(retry)})
                    self.counters.rejected_429[category] += 1
                    return False, headers, "QPS"
                q.append(now)
            self.daily[(today, category)] += 1
            return True, headers, None

    def reset_counters(self) -> None:
        with self.lock:
            self.counters = Counters()
            self._windows.clear()
            self.storage_requests.clear()
