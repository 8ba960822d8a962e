"""``[orchestrate]`` settings (``.dlt/config.toml``, env ``ORCHESTRATE__<NAME>``): clocks, switches, sink.

Read through dlt's config providers like every other setting of the project, so a value can live in
``.dlt/config.toml``, in ``.dlt/secrets.toml`` (the notification URL carries a token: put it there)
or in the environment. A bad value is one error naming the setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from pipelines.paths import ROOT

DEFAULTS: dict[str, object] = {
    "load_cron": "0 * * * *",  # loads (Zoom + MEETS) hourly; the transform follows each successful load
    "recordings_cron": "*/10 * * * *",  # recordings copy + transcripts + snapshot
    "doctor_cron": "30 5 * * *",  # the daily full check
    "timezone": "UTC",
    "schedules_running": True,  # schedules and sensors start with the daemon (false: switch them on in the UI)
    "webhook_interval_seconds": 30,  # how often the webhook sensor reads the queue
    "webhook_batch": 200,  # events read per sensor tick
    "notify_url": "",  # Slack/Teams incoming-webhook URL for run failures; empty = off
    "port": 3000,  # webserver port on 127.0.0.1
    "stop_timeout_seconds": 5,  # SIGTERM -> SIGKILL grace for the stack's processes
}


class OrchestrateSettingsError(ValueError):
    """A bad ``[orchestrate]`` value; the message names the setting and what to write instead."""


@dataclass(frozen=True)
class OrchestrateSettings:
    load_cron: str
    recordings_cron: str
    doctor_cron: str
    timezone: str
    schedules_running: bool
    webhook_interval_seconds: int
    webhook_batch: int
    notify_url: str
    port: int
    stop_timeout_seconds: int


def _bool(name: str, value: object) -> bool:
    from pipelines.settings_check import parse_bool

    try:
        return parse_bool(value)
    except ValueError:
        raise OrchestrateSettingsError(f"orchestrate.{name} = {value!r}: must be true or false") from None


def _int(name: str, value: object, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise OrchestrateSettingsError(f"orchestrate.{name} = {value!r}: must be a whole number >= {minimum}")
    return number


def _cron(name: str, value: object) -> str:
    from dagster._utils.schedules import is_valid_cron_string

    text = str(value).strip()
    if not is_valid_cron_string(text):
        raise OrchestrateSettingsError(
            f"orchestrate.{name} = {value!r}: not a cron expression (e.g. '0 * * * *' for hourly)"
        )
    return text


def _raw(name: str) -> object:
    import dlt

    os.environ.setdefault("DLT_PROJECT_DIR", str(ROOT))
    for getter in (dlt.config.get, dlt.secrets.get):
        try:
            value = getter(f"orchestrate.{name}")
        except Exception:
            value = None
        if value is not None and value != "":
            return value
    return DEFAULTS[name]


def load_settings(**overrides: object) -> OrchestrateSettings:
    """The ``[orchestrate]`` settings, ``overrides`` first, then dlt config/secrets/env, then defaults."""
    values = {
        f.name: overrides[f.name] if f.name in overrides else _raw(f.name)
        for f in fields(OrchestrateSettings)
    }
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(values["timezone"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OrchestrateSettingsError(
            f"orchestrate.timezone = {values['timezone']!r}: not an IANA time zone (e.g. 'UTC')"
        ) from exc
    url = str(values["notify_url"] or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise OrchestrateSettingsError(
            "orchestrate.notify_url: must be an http(s) URL (or empty to switch it off)"
        )
    return OrchestrateSettings(
        load_cron=_cron("load_cron", values["load_cron"]),
        recordings_cron=_cron("recordings_cron", values["recordings_cron"]),
        doctor_cron=_cron("doctor_cron", values["doctor_cron"]),
        timezone=str(values["timezone"]),
        schedules_running=_bool("schedules_running", values["schedules_running"]),
        webhook_interval_seconds=_int("webhook_interval_seconds", values["webhook_interval_seconds"], 1),
        webhook_batch=_int("webhook_batch", values["webhook_batch"], 1),
        notify_url=url,
        port=_int("port", values["port"], 0),
        stop_timeout_seconds=_int("stop_timeout_seconds", values["stop_timeout_seconds"], 1),
    )
