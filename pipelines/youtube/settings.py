"""Settings of the publish stage: ``[youtube]`` in ``.dlt/config.toml`` / ``YOUTUBE__*`` env vars.

Secrets (``client_secret``, ``refresh_token``) come from ``.dlt/secrets.toml`` / env vars or, for
the refresh token, the file ``python -m pipelines authorize youtube`` writes in the git-ignored
token folder (0600). A channel is *configured* when a client id, its secret and a refresh token
are all known; without one, ``python -m pipelines publish`` publishes to the embedded emulator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipelines import paths

SECTION = "youtube"
PRIVACY = ("private", "unlisted", "public")
PLAYLISTS = ("none", "series", "course")
GOOGLE_API = "https://youtube.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
SCOPE_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
SCOPE_YOUTUBE = "https://www.googleapis.com/auth/youtube"
CHUNK_UNIT = 256 * 1024  # non-final chunks must be multiples of 256 KiB (resumable upload protocol)


class YouTubeConfigError(ValueError):
    """A ``[youtube]`` setting is invalid: the message names it and says what is allowed."""


@dataclass(frozen=True)
class YouTubeSettings:
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    api_endpoint: str = GOOGLE_API
    token_uri: str = GOOGLE_TOKEN_URI
    auth_uri: str = GOOGLE_AUTH_URI  # consent page of `authorize youtube`
    ca_certs: str | None = None  # a CA bundle to trust (the emulator's; a proxy's)
    privacy_status: str = "private"
    category_id: str = "27"  # Education
    tags: tuple[str, ...] = ("meetings-warehouse",)
    playlists: str = "none"  # none | series | course
    chunk_size_kib: int = 8192
    daily_quota_units: int = 10_000
    cost_videos_insert: int = 1600
    cost_list: int = 1
    cost_playlists_insert: int = 50
    cost_playlist_items_insert: int = 50
    max_attempts: int = 5  # per file and run, for 5xx / cut-off chunks / rate limits
    notify_subscribers: bool = False

    def __post_init__(self) -> None:
        if self.privacy_status not in PRIVACY:
            raise YouTubeConfigError(
                f"youtube.privacy_status = {self.privacy_status!r}: must be one of {PRIVACY}"
            )
        if self.playlists not in PLAYLISTS:
            raise YouTubeConfigError(f"youtube.playlists = {self.playlists!r}: must be one of {PLAYLISTS}")
        if self.chunk_size_kib <= 0 or (self.chunk_size_kib * 1024) % CHUNK_UNIT:
            raise YouTubeConfigError(
                f"youtube.chunk_size_kib = {self.chunk_size_kib}: must be a positive multiple of 256 "
                "(YouTube's resumable uploads take chunks in multiples of 256 KiB)"
            )
        for name in ("daily_quota_units", "cost_videos_insert", "cost_list", "cost_playlists_insert"):
            if getattr(self, name) < 0:
                raise YouTubeConfigError(f"youtube.{name} = {getattr(self, name)}: must be >= 0")
        if self.max_attempts < 1:
            raise YouTubeConfigError("youtube.max_attempts must be >= 1")
        for name in ("api_endpoint", "token_uri", "auth_uri"):
            if not getattr(self, name).startswith("https://"):
                raise YouTubeConfigError(f"youtube.{name} = {getattr(self, name)!r}: must be an https:// URL")

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)

    @property
    def scopes(self) -> list[str]:
        return [SCOPE_UPLOAD] + ([SCOPE_YOUTUBE] if self.playlists != "none" else [])

    @property
    def chunk_size(self) -> int:
        return self.chunk_size_kib * 1024

    def cost(self, method: str) -> int:
        if method == "videos.insert":
            return self.cost_videos_insert
        if method == "playlists.insert":
            return self.cost_playlists_insert
        if method == "playlistItems.insert":
            return self.cost_playlist_items_insert
        return self.cost_list

    def __repr__(self) -> str:  # secrets never printed
        shown = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("client_secret", "refresh_token")
        }
        return f"YouTubeSettings({shown})"


def token_file() -> Path:
    return paths.token_dir() / "youtube_refresh_token"


def _lookup(name: str, secret: bool = False) -> Any:
    import dlt

    try:
        return (dlt.secrets if secret else dlt.config).get(f"{SECTION}.{name}")
    except Exception:
        return None


def load_settings(**overrides: Any) -> YouTubeSettings:
    """Resolve ``[youtube]`` (env vars, toml files) and apply non-``None`` overrides."""
    os.environ.setdefault("DLT_PROJECT_DIR", str(paths.ROOT))
    values: dict[str, Any] = {}
    for f in fields(YouTubeSettings):
        secret = f.name in ("client_secret", "refresh_token")
        value = _lookup(f.name, secret=secret)
        if value is None and secret:
            value = _lookup(f.name)
        if value is not None and value != "":
            values[f.name] = value
    if "refresh_token" not in values and token_file().is_file():
        values["refresh_token"] = token_file().read_text(encoding="utf-8").strip() or None
    values.update({k: v for k, v in overrides.items() if v is not None})
    ints = ("chunk_size_kib", "daily_quota_units", "cost_videos_insert", "cost_list")
    for name in (*ints, "cost_playlists_insert", "cost_playlist_items_insert", "max_attempts"):
        if name in values:
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise YouTubeConfigError(
                    f"youtube.{name} = {values[name]!r}: must be a whole number"
                ) from None
    if isinstance(values.get("tags"), str):
        values["tags"] = [t.strip() for t in values["tags"].split(",") if t.strip()]
    if "tags" in values:
        values["tags"] = tuple(values["tags"])
    if "notify_subscribers" in values:
        from pipelines.settings_check import parse_bool

        try:
            values["notify_subscribers"] = parse_bool(values["notify_subscribers"])
        except ValueError:
            raise YouTubeConfigError(
                f"youtube.notify_subscribers = {values['notify_subscribers']!r}: must be true or false"
            ) from None
    for name in ("category_id", "client_id"):
        if name in values:
            values[name] = str(values[name])
    settings = YouTubeSettings(**values)
    from pipelines.api_client import DEFAULT_REDACTOR

    DEFAULT_REDACTOR.add(settings.client_secret, settings.refresh_token)
    return settings


def with_overrides(settings: YouTubeSettings, **changes: Any) -> YouTubeSettings:
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
