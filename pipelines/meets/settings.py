"""MEETS source settings, from dlt's config injection (``[sources.meets]`` / ``SOURCES__MEETS__*``).

Why a frozen value object: the pipeline, the source and the ad-hoc LTI look-ups all need the same
resolved settings (and the same sandbox fallback decision), so it is resolved once and passed on.

Without an API token the embedded sandbox (:func:`pipelines.embedded.sandbox_info`) is used, and one
log line says so. A base URL configured without a token is a mistake, not a reason to harvest the
sandbox, so it raises instead.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import dlt
import requests
from dlt.common.configuration import with_config
from dlt.common.typing import TSecretStrValue

from pipelines import clock
from pipelines.settings_check import MEETS, SettingsError, check_section, require_valid

log = logging.getLogger("pipelines.meets")

DEFAULT_TOKEN_HEADER = "X-MEETS-API-Token"
DEFAULT_LOOKBACK_DAYS = 2.0
DEFAULT_REQUESTS_PER_SECOND = 10
DEFAULT_ZOOM_ATTENDANCE_DAILY_LIMIT = 2000
DEFAULT_ATTENDANCE_RECHECK_DAYS = 7.0
SANDBOX_API_SUFFIX = "/meets/api"

_announce_lock = threading.Lock()
_announced = False


class MeetsConfigError(ValueError):
    """The MEETS configuration is incomplete or contradictory (message says what to set)."""


class MeetsSettingsError(SettingsError, MeetsConfigError):
    """A ``sources.meets.*`` value is invalid (one line per setting: name, value, what is allowed)."""


@dataclass(frozen=True)
class MeetsSettings:
    """Everything the MEETS source needs, resolved.

    ``clock_url`` is for the sandbox only: an endpoint answering ``{"now": ISO-8601}`` whose time
    decides which events have ended (the sandbox's clock is frozen); ``None`` means the real clock.
    """

    base_url: str
    api_token: str = field(repr=False)
    token_header: str = DEFAULT_TOKEN_HEADER
    lookback_days: float = DEFAULT_LOOKBACK_DAYS
    requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND
    page_limit: int = 1000
    zoom_attendance_daily_limit: int = DEFAULT_ZOOM_ATTENDANCE_DAILY_LIMIT
    attendance_recheck_days: float = DEFAULT_ATTENDANCE_RECHECK_DAYS
    timeout_seconds: float = 60.0
    sandbox: bool = False
    clock_url: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MeetsConfigError(
                f"sources.meets.base_url must be an http(s) URL such as "
                f"https://<client>.meets.cirqlive.com/api, got {self.base_url!r}"
            )
        if not self.api_token:
            raise MeetsConfigError("sources.meets.api_token is empty")
        if not self.token_header:
            raise MeetsConfigError("sources.meets.token_header is empty")
        if self.lookback_days < 0 or self.attendance_recheck_days < 0:
            raise MeetsConfigError("lookback_days and attendance_recheck_days must be >= 0")
        if self.requests_per_second < 1:
            raise MeetsConfigError("requests_per_second must be >= 1")
        if not 1 <= self.page_limit <= 1000:
            raise MeetsConfigError("page_limit must be within 1..1000 (MEETS refuses more)")
        if self.zoom_attendance_daily_limit < 0:
            raise MeetsConfigError("zoom_attendance_daily_limit must be >= 0")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def lookback_seconds(self) -> int:
        return int(self.lookback_days * 86400)

    def now(self) -> int:
        """Current UNIX time as MEETS sees it: the sandbox clock when ``clock_url`` is set."""
        if not self.clock_url:
            return int(clock.timestamp())
        resp = requests.get(self.clock_url, timeout=30)
        resp.raise_for_status()
        return int(datetime.fromisoformat(resp.json()["now"].replace("Z", "+00:00")).timestamp())

    def with_overrides(self, **changes: Any) -> MeetsSettings:
        return replace(self, **changes)

    @classmethod
    def from_sandbox_info(cls, info: dict, **overrides: Any) -> MeetsSettings:
        """Settings that point at a sandbox, from its ``info()`` / ``/_sandbox/info``."""
        base_url = str(info["meets_base_url"]).rstrip("/")
        root = base_url[: -len(SANDBOX_API_SUFFIX)] if base_url.endswith(SANDBOX_API_SUFFIX) else None
        values: dict[str, Any] = {
            "base_url": base_url,
            "api_token": info["meets_token"],
            "token_header": info.get("meets_token_header") or DEFAULT_TOKEN_HEADER,
            "sandbox": True,
            "clock_url": f"{root}/_sandbox/clock" if root else None,
        }
        values.update(overrides)
        return cls(**values)


@with_config(sections=("sources", "meets"))
def _configured(
    api_token: TSecretStrValue | None = dlt.secrets.value,
    base_url: str | None = dlt.config.value,
    token_header: str = DEFAULT_TOKEN_HEADER,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND,
    page_limit: int = 1000,
    zoom_attendance_daily_limit: int = DEFAULT_ZOOM_ATTENDANCE_DAILY_LIMIT,
    attendance_recheck_days: float = DEFAULT_ATTENDANCE_RECHECK_DAYS,
    timeout_seconds: float = 60.0,
) -> dict[str, Any]:
    return {
        "api_token": api_token,
        "base_url": base_url,
        "token_header": token_header,
        "lookback_days": lookback_days,
        "requests_per_second": requests_per_second,
        "page_limit": page_limit,
        "zoom_attendance_daily_limit": zoom_attendance_daily_limit,
        "attendance_recheck_days": attendance_recheck_days,
        "timeout_seconds": timeout_seconds,
    }


def load_settings(**overrides: Any) -> MeetsSettings:
    """Resolve ``sources.meets.*`` (toml or env), apply ``overrides``, fall back to the sandbox.

    Keys: ``api_token`` (secret), ``base_url``, ``token_header``, ``lookback_days``,
    ``requests_per_second``, ``page_limit``, ``zoom_attendance_daily_limit``,
    ``attendance_recheck_days``, ``timeout_seconds``.
    """
    problems = check_section(MEETS)  # every bad or misspelt sources.meets.* setting, in the user's words
    if problems:
        raise MeetsSettingsError(problems)
    values = _configured()
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        given.update(require_valid(MEETS, given))
    except SettingsError as exc:
        raise MeetsSettingsError(exc.problems) from None
    values.update(given)
    token = str(values.pop("api_token") or "").strip()
    base_url = str(values.pop("base_url") or "").strip()
    if token and base_url:
        return MeetsSettings(base_url=base_url.rstrip("/"), api_token=token, **values)
    if base_url and not token:
        raise MeetsConfigError(
            f"sources.meets.base_url is set ({base_url}) but no API token is configured. Put the token from "
            "the MEETS administration panel in .dlt/secrets.toml ([sources.meets] api_token = ...) or in "
            "the env var SOURCES__MEETS__API_TOKEN; remove base_url to use the embedded sandbox."
        )
    if token and not base_url:
        raise MeetsConfigError(
            "sources.meets.api_token is set but sources.meets.base_url is not. Set it to your MEETS API "
            "base, e.g. https://<client>.meets.cirqlive.com/api (env SOURCES__MEETS__BASE_URL)."
        )
    from pipelines.embedded import sandbox_info

    info = sandbox_info()
    settings = MeetsSettings.from_sandbox_info(
        info, **{k: v for k, v in values.items() if k != "token_header"}
    )
    _announce_sandbox(settings)
    return settings


def _announce_sandbox(settings: MeetsSettings) -> None:
    global _announced
    with _announce_lock:
        if _announced:
            return
        _announced = True
    log.warning(
        "MEETS: no API token configured (sources.meets.api_token); loading the embedded sandbox at %s instead",
        settings.base_url,
    )
