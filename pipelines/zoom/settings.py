"""Configuration of the Zoom source, resolved through dlt's config injection (``sources.zoom.*``).

Every key can come from ``.dlt/config.toml`` / ``.dlt/secrets.toml`` (section ``[sources.zoom]``)
or from env vars (``SOURCES__ZOOM__CLIENT_SECRET``...), and be overridden per call
(``load_settings(lookback_days=5)``). ``account_id``, ``client_id`` and ``client_secret`` are
secrets: dlt keeps them out of traces, and they are registered with the shared redactor.

With no credentials at all the source harvests the embedded sandbox (:mod:`pipelines.embedded`)
and says so in one log line; base URLs are configuration so a real account can be reached through
a proxy.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from pipelines.api_client import DEFAULT_REDACTOR, RequestBudget, zoom_plan
from pipelines.paths import ledger_path, token_dir
from pipelines.settings_check import ZOOM, SettingProblem, SettingsError, check_section, require_valid
from pipelines.zoom.auth import TOKEN_FILE_NAME
from pipelines.zoom.client import MAX_PAGE_SIZE, MAX_QOS_PAGE_SIZE, earliest_allowed_date, utc_today

log = logging.getLogger("pipelines.zoom")

SECTIONS = ("sources", "zoom")
AUTH_MODES = ("auto", "s2s", "oauth")
MEETING_TYPES = ("past", "pastOne")
DEFAULT_API_BASE_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_BASE_URL = "https://zoom.us/oauth"
DEFAULT_DOWNLOAD_HOSTS = ("zoom.us",)


@configspec
class ZoomSourceConfiguration(BaseConfiguration):
    """What ``[sources.zoom]`` may hold (see ``.dlt/config.toml`` for the documented defaults)."""

    account_id: TSecretStrValue | None = None
    client_id: TSecretStrValue | None = None
    client_secret: TSecretStrValue | None = None
    auth: str = "auto"
    api_base_url: str = DEFAULT_API_BASE_URL
    oauth_base_url: str = DEFAULT_OAUTH_BASE_URL
    download_hosts: list[str] | None = None
    redirect_uri: str | None = None
    token_file: str | None = None
    plan: str = "business"
    daily_budget_share: float = 0.3
    daily_budget: int | None = None
    rate_safety: float = 0.8
    start_date: str | None = None
    lookback_days: int = 2
    page_size: int = MAX_PAGE_SIZE
    qos_page_size: int = MAX_QOS_PAGE_SIZE
    meeting_types: list[str] | None = None
    proactive_token_refresh: bool = True
    ledger_path: str | None = None
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class ZoomSettings:
    """Fully resolved settings of one run (no dlt types, safe to pass around)."""

    sandbox: bool
    api_base_url: str
    oauth_base_url: str
    download_hosts: tuple[str, ...]
    auth: str  # "s2s" | "oauth" (resolved from "auto")
    account_id: str = field(default="", repr=False)
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    redirect_uri: str | None = None
    token_file: Path = field(default_factory=lambda: token_dir() / TOKEN_FILE_NAME)
    plan: str = "business"
    daily_budget_share: float = 0.3
    daily_budget: int | None = None
    rate_safety: float = 0.8
    start_date: dt.date | None = None
    lookback_days: int = 2
    page_size: int = MAX_PAGE_SIZE
    qos_page_size: int = MAX_QOS_PAGE_SIZE
    meeting_types: tuple[str, ...] = ("past",)
    proactive_token_refresh: bool = True
    ledger_path: Path = field(default_factory=ledger_path)
    timeout_seconds: float = 60.0
    """Read timeout of one API request (a request past it is retried like a transient failure)."""

    def effective_start_date(self, today: dt.date | None = None) -> dt.date:
        """``start_date`` clamped to what Zoom serves (six months); the default is that limit."""
        earliest = earliest_allowed_date(today or utc_today())
        if self.start_date is None:
            return earliest
        if self.start_date < earliest:
            log.warning(
                "sources.zoom.start_date %s is older than Zoom's dashboard keeps (six months); starting at %s",
                self.start_date,
                earliest,
            )
            return earliest
        return self.start_date

    def budget(self) -> RequestBudget:
        """The persistent daily budget: ``daily_budget`` requests, else a share of the plan's cap."""
        if self.daily_budget is not None:
            return RequestBudget(self.ledger_path, heavy_daily_limit=self.daily_budget)
        return RequestBudget.for_zoom_plan(self.ledger_path, self.plan, fraction=self.daily_budget_share)

    def with_overrides(self, **overrides: Any) -> ZoomSettings:
        return replace(self, **overrides)


_OVERRIDABLE = {f.name for f in fields(ZoomSourceConfiguration) if not f.name.startswith("_")} | {"sandbox"}


def _parse_date(value: object) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"sources.zoom.start_date must be a date (yyyy-mm-dd), got {value!r}") from None


def _resolve() -> ZoomSourceConfiguration:
    """dlt's resolution; a value it cannot coerce becomes a one-line :class:`SettingsError`."""
    try:
        return resolve_configuration(ZoomSourceConfiguration(), sections=SECTIONS)
    except ConfigValueCannotBeCoercedException as exc:
        key = str(getattr(exc, "field_name", "") or "?")
        raise SettingsError(
            [
                SettingProblem(
                    f"{ZOOM}.{key}",
                    None,
                    f"cannot be read as {getattr(exc, 'hint', None) or 'the expected type'}",
                )
            ]
        ) from None


def load_settings(**overrides: Any) -> ZoomSettings:
    """Resolve ``sources.zoom.*`` and apply ``overrides`` (any config key, plus ``sandbox=True``).

    No credentials (neither ``account_id`` nor ``client_id``/``client_secret``) -> the embedded
    sandbox (started on first use, or ``MW_SANDBOX_URL``), announced in one log line.
    """
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(
            f"unknown Zoom setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(_OVERRIDABLE))}"
        )
    problems = check_section(ZOOM)  # every bad or misspelt sources.zoom.* setting, in the user's words
    if problems:
        raise SettingsError(problems)
    cfg = _resolve()
    values: dict[str, Any] = {f: getattr(cfg, f) for f in _OVERRIDABLE if f != "sandbox"}
    given = {k: v for k, v in overrides.items() if k != "sandbox"}
    values.update(given)
    values.update(require_valid(ZOOM, {k: v for k, v in given.items() if v is not None}))
    creds = {k: str(values[k] or "") for k in ("account_id", "client_id", "client_secret")}
    sandbox = overrides.get("sandbox")
    if sandbox is None:
        sandbox = not any(creds.values())

    if sandbox:
        from pipelines.embedded import sandbox_info

        info = sandbox_info()
        api = overrides.get("api_base_url") or info["zoom_api_base_url"]
        oauth = overrides.get("oauth_base_url") or info["zoom_oauth_base_url"]
        creds = {
            "account_id": info["account_id"],
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
        }
        values["plan"] = overrides.get("plan") or info.get("plan") or values["plan"]
        values["redirect_uri"] = overrides.get("redirect_uri") or info.get("redirect_uri")
        download_hosts = tuple(overrides.get("download_hosts") or (info["zoom_download_host"],))
        log.warning(
            "No Zoom credentials configured (sources.zoom.account_id/client_id/client_secret): "
            "harvesting the embedded sandbox at %s",
            api,
        )
    else:
        api, oauth = values["api_base_url"], values["oauth_base_url"]
        download_hosts = tuple(values.get("download_hosts") or DEFAULT_DOWNLOAD_HOSTS)
    DEFAULT_REDACTOR.add(creds["client_secret"])

    auth = str(values["auth"] or "auto").lower()
    if auth not in AUTH_MODES:
        raise ValueError(f"sources.zoom.auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
    if auth == "auto":
        auth = "s2s" if creds["account_id"] else "oauth"
    meeting_types = tuple(values.get("meeting_types") or ("past",))
    bad_types = set(meeting_types) - set(MEETING_TYPES)
    if bad_types:
        raise ValueError(
            f"sources.zoom.meeting_types may hold {', '.join(MEETING_TYPES)}, got {sorted(bad_types)}"
        )
    plan = zoom_plan(str(values["plan"])).name  # validated above
    lookback = int(values["lookback_days"])
    share = float(values["daily_budget_share"])
    page_size, qos_page_size = int(values["page_size"]), int(values["qos_page_size"])
    ledger = Path(values["ledger_path"]) if values.get("ledger_path") else ledger_path()
    return ZoomSettings(
        sandbox=bool(sandbox),
        api_base_url=str(api).rstrip("/"),
        oauth_base_url=str(oauth).rstrip("/"),
        download_hosts=download_hosts,
        auth=auth,
        account_id=creds["account_id"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        redirect_uri=values.get("redirect_uri") or None,
        token_file=Path(values["token_file"]) if values.get("token_file") else token_dir() / TOKEN_FILE_NAME,
        plan=plan,
        daily_budget_share=share,
        daily_budget=None if values.get("daily_budget") in (None, "") else int(values["daily_budget"]),
        rate_safety=float(values["rate_safety"]),
        start_date=_parse_date(values.get("start_date")),
        lookback_days=lookback,
        page_size=page_size,
        qos_page_size=qos_page_size,
        meeting_types=meeting_types,
        proactive_token_refresh=bool(values["proactive_token_refresh"]),
        ledger_path=ledger,
        timeout_seconds=float(values.get("timeout_seconds") or 60.0),
    )
