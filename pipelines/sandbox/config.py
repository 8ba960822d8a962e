"""Sandbox settings: the generated account's size and the fault knobs (all faults off by default).

Every knob can be set from the CLI (``python -m pipelines sandbox serve --p429 0.3``), from env vars
(``SANDBOX_P429=0.3``) or at run time over the admin endpoint (``POST /_sandbox/faults``).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields

from pipelines import clock
from pipelines.sandbox.account import Scale
from pipelines.sandbox.profiles import Profile

# Fixed, public test credentials of the sandbox. They are not secrets: they only open the sandbox.
SANDBOX_ACCOUNT_ID = "sandbox-account-0001"
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-not-a-real-secret"
SANDBOX_MEETS_TOKEN = "sandbox-meets-token-not-a-real-secret"
SANDBOX_REDIRECT_URI = "http://127.0.0.1:8765/redirect"
MEETS_TOKEN_HEADER = "X-MEETS-API-Token"
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret-not-a-real-secret"  # the Zoom app's "Secret Token"

# Zoom's published per-account limits (see shared/reference/zoom-api-facts.md section 5.1).
PLANS: dict[str, dict] = {
    "free": {
        "per_second": {"light": 4, "medium": 2, "heavy": 1},
        "per_minute": {"resource_intensive": 10},
        "daily": {"light": 6000, "medium": 2000, "heavy": 1000, "resource_intensive": 30000},
        "daily_shared": None,
    },
    "pro": {
        "per_second": {"light": 30, "medium": 20, "heavy": 10},
        "per_minute": {"resource_intensive": 10},
        "daily": {},
        "daily_shared": 30000,  # heavy + resource_intensive together
    },
    "business": {
        "per_second": {"light": 80, "medium": 60, "heavy": 40},
        "per_minute": {"resource_intensive": 20},
        "daily": {},
        "daily_shared": 60000,
    },
}


@dataclass
class Faults:
    """Fault knobs. Probabilities are per request; all default to off."""

    p429: float = 0.0  # extra per-second 429s with Retry-After, on top of the real limits
    p5xx: float = 0.0  # JSON 503s
    p500_nonjson: float = 0.0  # 500 with an HTML body (MEETS' "temporary, unknown error")
    latency_ms: int = 0  # added to every response
    slow_probability: float = 0.0  # share of requests delayed by slow_seconds (past a client timeout)
    slow_seconds: float = 0.0
    p_cutoff: float = 0.0  # body cut off mid-way (Content-Length promises more than is sent)
    p_invalid_json: float = 0.0  # complete but invalid JSON body
    token_lifetime: int = 3599  # access token lifetime in seconds
    # When > 0, an access token is also refused as expired (401/124) once it has authorized this many
    # API requests: the same expiry mid-run as token_lifetime, but independent of machine speed (a 1 s
    # lifetime could run out again between a refresh and its retry on a loaded machine). Tests only.
    token_lifetime_requests: int = 0
    page_token_lifetime: int = 900  # next_page_token lifetime in seconds (Zoom: 15 minutes)
    clock_offset: int = 0  # seconds added to the sandbox clock (negative: the past)
    # Headers of a daily-cap 429: "full" (X-RateLimit-Type: Daily-limit + ISO Retry-After, what Zoom
    # sends since its changelog added them), "retry-after" (ISO Retry-After only) or "none" (only
    # category/limit/remaining, as users captured it in 2020-2021)
    daily_limit_headers: str = "full"
    enforce_rate_limits: bool = True
    fault_seed: int = 7

    def update(self, values: dict) -> None:
        names = {f.name: f.type for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown fault knob {key!r}; known: {', '.join(names)}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value) if not isinstance(current, bool) else _as_bool(value))


def default_clock_base(config: SandboxConfig | None = None) -> dt.datetime:
    """Where a sandbox clock starts: the configured ``now``, else ``SANDBOX_NOW``/``MW_NOW``, else
    today 00:00 UTC (real time)."""
    if config is not None and config.now is not None:
        return config.now
    pinned = clock.pinned("SANDBOX_NOW") or clock.pinned()
    if pinned is not None:
        return pinned
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass
class SandboxConfig:
    seed: int = 42
    scale: Scale = field(default_factory=Scale)
    # the Zoom account id S2S tokens are minted for (another id = another account: ``SANDBOX_ACCOUNT_ID``)
    account_id: str = SANDBOX_ACCOUNT_ID
    # the scopes its tokens carry (None: every scope the project needs; ``SANDBOX_SCOPES``)
    scopes: str | None = None
    plan: str = "business"
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    storage_port: int = 0  # MEETS' third-party storage host (redirect target)
    faults: Faults = field(default_factory=Faults)
    attendance_final_after: int = 24 * 3600  # MEETS: attendance final a full day after the event
    zoom_attendance_daily_limit: int = 2000  # MEETS: Zoom attendance look-ups per day
    bad_inputs: list = field(default_factory=list)  # record mutations (see pipelines/sandbox/bad_inputs.py)
    # Where the frozen clock starts: ``SANDBOX_NOW``, else ``MW_NOW`` (the project's pinned clock),
    # else today 00:00 UTC. The generated account's history ends there, so pinning it pins the account.
    now: dt.datetime | None = None
    # how records are served: full, or sparse / with emptied entities (see profiles.py)
    profile: Profile = field(default_factory=Profile)
    # Zoom webhooks: where the sandbox POSTs signed meeting.ended / recording.completed notifications
    # as its clock passes them (None: no webhooks), the secret token it signs with, and the delays of
    # its retries (Zoom's: 5, 20 and 60 minutes; see pipelines/sandbox/webhooks.py)
    webhook_url: str | None = None
    webhook_secret: str = SANDBOX_WEBHOOK_SECRET
    webhook_retry_delays: str | None = None  # "300,1200,3600"; None: Zoom's delays

    @classmethod
    def from_env(cls, **overrides: object) -> SandboxConfig:
        """Build from ``SANDBOX_*`` env vars (e.g. ``SANDBOX_SCALE=default``, ``SANDBOX_P429=0.3``)."""
        cfg = cls()
        env = os.environ
        if "SANDBOX_SEED" in env:
            cfg.seed = int(env["SANDBOX_SEED"])
        if "SANDBOX_SCALE" in env:
            cfg.scale = Scale.named(env["SANDBOX_SCALE"])
        pinned = clock.pinned("SANDBOX_NOW") or clock.pinned()
        if pinned is not None:
            cfg.now = pinned
        if env.get("SANDBOX_SCOPES"):
            cfg.scopes = env["SANDBOX_SCOPES"]
        if env.get("SANDBOX_ACCOUNT_ID"):
            cfg.account_id = env["SANDBOX_ACCOUNT_ID"]
        if "SANDBOX_PLAN" in env:
            cfg.plan = env["SANDBOX_PLAN"]
        if env.get("SANDBOX_BAD_INPUTS"):
            from pipelines.sandbox.bad_inputs import load_corpus

            cfg.bad_inputs = load_corpus(env["SANDBOX_BAD_INPUTS"])
        cfg.profile = Profile.from_env(cfg.seed)
        for knob in ("webhook_url", "webhook_secret", "webhook_retry_delays"):
            if env.get(f"SANDBOX_{knob.upper()}"):
                setattr(cfg, knob, env[f"SANDBOX_{knob.upper()}"])
        for f in fields(Faults):
            key = f"SANDBOX_{f.name.upper()}"
            if key in env:
                cfg.faults.update({f.name: env[key]})
        for key, value in overrides.items():
            if value is None:
                continue
            if hasattr(cfg.faults, key):
                cfg.faults.update({key: value})
            elif key == "now" and isinstance(value, str):
                cfg.now = clock.parse_instant(value, "now")
            else:
                setattr(cfg, key, value)
        if cfg.plan not in PLANS:
            raise ValueError(f"unknown Zoom plan {cfg.plan!r}; choose one of {', '.join(PLANS)}")
        return cfg
