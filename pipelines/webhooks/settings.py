"""Settings of the webhook receiver: ``[zoom.webhooks]`` in ``.dlt/*.toml`` or ``ZOOM__WEBHOOKS__*``.

Resolved through dlt's providers like every other setting: env vars (``ZOOM__WEBHOOKS__SECRET_TOKEN``)
first, then ``.dlt/secrets.toml`` / ``.dlt/config.toml``, then the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTION = "zoom.webhooks"
DEFAULT_EVENTS = ("recording.completed", "meeting.ended")


class WebhookSettingsError(ValueError):
    """A receiver setting is missing or invalid; the message names the setting."""


@dataclass(frozen=True)
class WebhookSettings:
    secret_token: str = field(repr=False)
    max_skew_seconds: int = (
        300  # Zoom names no limit; 5 minutes is the usual replay window of signed webhooks
    )
    path: str = "/zoom/webhook"
    events: tuple[str, ...] = DEFAULT_EVENTS  # stored in the queue; other events are acknowledged only
    queue_path: Path | None = None  # default: paths.state_dir() / "webhooks.sqlite"


def _lookup(name: str, secret: bool = False) -> Any:
    import dlt

    source = dlt.secrets if secret else dlt.config
    try:
        return source.get(f"{SECTION}.{name}")
    except Exception:
        return None


def load_settings(**overrides: Any) -> WebhookSettings:
    """Resolve ``[zoom.webhooks]``; non-``None`` ``overrides`` win. Raises one clear error when the
    secret token is missing."""
    values: dict[str, Any] = {}
    for name in ("secret_token", "max_skew_seconds", "path", "events", "queue_path"):
        value = _lookup(name, secret=name == "secret_token")
        if value not in (None, ""):
            values[name] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not values.get("secret_token"):
        raise WebhookSettingsError(
            "the Zoom webhook secret token is not set: put it in .dlt/secrets.toml as [zoom.webhooks] "
            'secret_token = "..." (or the env var ZOOM__WEBHOOKS__SECRET_TOKEN). It is the app\'s '
            "'Secret Token' on its Features > Access page in the Zoom App Marketplace."
        )
    values["secret_token"] = str(values["secret_token"])
    try:
        values["max_skew_seconds"] = int(values.get("max_skew_seconds", 300))
    except (TypeError, ValueError) as exc:
        raise WebhookSettingsError(
            "zoom.webhooks.max_skew_seconds must be a whole number of seconds"
        ) from exc
    if values["max_skew_seconds"] < 1:
        raise WebhookSettingsError("zoom.webhooks.max_skew_seconds must be at least 1")
    path = str(values.get("path", "/zoom/webhook"))
    if not path.startswith("/"):
        raise WebhookSettingsError(f"zoom.webhooks.path must start with '/', got {path!r}")
    values["path"] = path
    events = values.get("events", DEFAULT_EVENTS)
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    values["events"] = tuple(events)
    if values.get("queue_path") is not None:
        values["queue_path"] = Path(values["queue_path"]).expanduser()
    settings = WebhookSettings(**values)
    from pipelines.api_client import DEFAULT_REDACTOR

    DEFAULT_REDACTOR.add(settings.secret_token)  # never in a log line, even by accident
    return settings
