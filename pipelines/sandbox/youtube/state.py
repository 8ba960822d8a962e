"""What the YouTube emulator knows: the channel, its videos (bytes as SHA-256 + size, metadata),
upload sessions, playlists, the project's quota per Pacific-time day, and the fault knobs.

Shapes and rules, each from Google's published pages:

* Resources (``youtube#video``, ``youtube#playlist``, ``youtube#playlistItem``,
  ``youtube#channel``) and list envelopes (``kind``, ``etag``, ``nextPageToken``, ``pageInfo``,
  ``items``): YouTube Data API v3 reference, https://developers.google.com/youtube/v3/docs/videos,
  .../docs/playlists, .../docs/playlistItems, .../docs/channels (and the bundled discovery document
  ``googleapiclient/discovery_cache/documents/youtube.v3.json``).
* Title at most 100 characters, description at most 5000 bytes, neither may contain ``<`` or
  ``>``; ``privacyStatus`` is ``public`` when omitted: the ``videos`` resource reference
  (``snippet.title`` / ``snippet.description`` / ``status.privacyStatus``) and the errors page
  (``invalidTitle``, ``invalidDescription``), https://developers.google.com/youtube/v3/docs/errors.
* Resumable uploads: initiate with ``POST .../upload/youtube/v3/videos?uploadType=resumable`` and
  ``X-Upload-Content-Length`` / ``-Type``, answer ``200`` with ``Location``; ``PUT`` the bytes with
  ``Content-Range: bytes a-b/N``; ``308 Resume Incomplete`` with ``Range: bytes=0-k`` until the last
  byte, then ``200`` (or ``201``) with the video resource; ``Content-Range: bytes */N`` with an
  empty body asks for the status: https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol
  An unknown or expired session answers ``404`` and must be restarted from the beginning.
* Quota: each project has a daily budget (10,000 units by default) that resets at midnight Pacific
  time; ``videos.insert`` costs 1,600 units in the quota-cost table
  (https://developers.google.com/youtube/v3/determine_quota_cost), lists 1, playlist and playlist
  item inserts 50. Over budget: ``403`` with ``reason: quotaExceeded`` (domain ``youtube.quota``);
  too fast: ``403`` ``rateLimitExceeded`` (domain ``usageLimits``), per the errors page.
* Uploads from unverified API projects created after 28 July 2020 are locked to private
  (https://developers.google.com/youtube/v3/docs/videos/insert, "all videos uploaded via the
  videos.insert endpoint from unverified API projects ... will be restricted to private").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pipelines import clock

PACIFIC = ZoneInfo("America/Los_Angeles")

# Public test credentials of the emulator (sandbox only, like the Zoom sandbox's).
CLIENT_ID = "sandbox-youtube-client.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-youtube-client-secret"
REFRESH_TOKEN = "sandbox-youtube-refresh-token"

COSTS = {
    "videos.insert": 1600,
    "videos.list": 1,
    "channels.list": 1,
    "playlists.list": 1,
    "playlists.insert": 50,
    "playlistItems.list": 1,
    "playlistItems.insert": 50,
}

QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
    "quota</a>."
)
RATE_MESSAGE = "The request cannot be completed because you have exceeded your rate limit."


@dataclass
class Faults:
    """Fault knobs. Chunk and call numbers count from 1 over the emulator's life."""

    daily_quota: int = 10_000
    rate_limited_calls: set[int] = field(default_factory=set)  # API calls answered 403 rateLimitExceeded
    failing_chunks: set[int] = field(default_factory=set)  # chunk PUTs answered 503, nothing stored
    cut_chunks: set[int] = field(default_factory=set)  # chunk PUTs cut off halfway (connection closed)
    session_lifetime_s: float = 7 * 86400
    unverified_project: bool = False  # uploads forced to private
    # seeded pause points for crash tests: ("initiation"|"chunk"|"video", n) -> the n-th such event
    # stores its effect, then waits for release() before answering
    pause_at: tuple[str, int] | None = None


@dataclass
class Session:
    upload_id: str
    size: int | None
    content_type: str
    metadata: dict
    parts: list[str]
    created_mono: float
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    video_id: str | None = None
    expired: bool = False


def _rand_id(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits + "-_") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


class QuotaError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class YouTubeState:
    """Thread-safe state; the HTTP layer (``server.py``) only parses and formats."""

    def __init__(self, faults: Faults | None = None, seed: int = 17) -> None:
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self.lock = threading.RLock()
        self.channel_id = "UC" + _rand_id(self._rng, 22)
        self.uploads_playlist = "UU" + self.channel_id[2:]
        self.videos: dict[str, dict] = {}  # id -> resource (+ "_sha256", "_size")
        self.sessions: dict[str, Session] = {}
        self.playlists: dict[str, dict] = {}
        self.playlist_items: dict[str, dict] = {}
        self.access_tokens: set[str] = set()
        self.codes: dict[str, str] = {}  # authorization code -> scope (installed-app consent)
        self.quota_used: dict[str, int] = {}  # Pacific date -> units charged
        self.calls: dict[str, int] = {}  # method -> calls answered (any status)
        self.counters = {"calls": 0, "chunks": 0, "initiation": 0, "chunk": 0, "video": 0}
        self.clock_offset = dt.timedelta(0)
        self.paused = threading.Event()
        self._release = threading.Event()
        self.requests_seen: list[dict] = []  # method, path, header names (secret checks)

    # ------------------------------------------------------------------ clock and quota
    def now(self) -> dt.datetime:
        return clock.now() + self.clock_offset

    def pacific_day(self) -> str:
        return self.now().astimezone(PACIFIC).date().isoformat()

    def charge(self, method: str) -> None:
        """Count one call of ``method``; raise :class:`QuotaError` (nothing charged) when refused."""
        with self.lock:
            self.counters["calls"] += 1
            self.calls[method] = self.calls.get(method, 0) + 1
            if self.counters["calls"] in self.faults.rate_limited_calls:
                raise QuotaError("rateLimitExceeded")
            day = self.pacific_day()
            cost = COSTS[method]
            if self.quota_used.get(day, 0) + cost > self.faults.daily_quota:
                raise QuotaError("quotaExceeded")
            self.quota_used[day] = self.quota_used.get(day, 0) + cost

    def quota_total(self) -> int:
        return sum(self.quota_used.values())

    # ------------------------------------------------------------------ pause points
    def maybe_pause(self, kind: str) -> None:
        with self.lock:
            self.counters[kind] += 1
            hit = self.faults.pause_at == (kind, self.counters[kind])
        if hit:
            self.paused.set()
            self._release.wait()

    def release(self) -> None:
        self.faults.pause_at = None
        self._release.set()

    # ------------------------------------------------------------------ tokens
    def issue_token(self) -> str:
        with self.lock:
            token = "ya29.sandbox-" + _rand_id(self._rng, 40, string.ascii_letters + string.digits)
            self.access_tokens.add(token)
            return token

    def issue_code(self, scope: str) -> str:
        with self.lock:
            code = "4/sandbox-" + _rand_id(self._rng, 30, string.ascii_letters + string.digits)
            self.codes[code] = scope
            return code

    def redeem_code(self, code: str) -> str | None:
        """The scope an authorization code grants (a code works once); ``None`` when unknown."""
        with self.lock:
            return self.codes.pop(code, None)

    # ------------------------------------------------------------------ uploads
    def new_session(self, size: int | None, content_type: str, metadata: dict, parts: list[str]) -> Session:
        import time

        with self.lock:
            upload_id = "AEnB2U" + _rand_id(self._rng, 60, string.ascii_letters + string.digits)
            s = Session(upload_id, size, content_type, metadata, parts, time.monotonic())
            self.sessions[upload_id] = s
            return s

    def session(self, upload_id: str) -> Session | None:
        import time

        with self.lock:
            s = self.sessions.get(upload_id)
            if s is None or s.expired:
                return None
            if time.monotonic() - s.created_mono > self.faults.session_lifetime_s:
                s.expired = True
                return None
            return s

    def expire_sessions(self) -> None:
        with self.lock:
            for s in self.sessions.values():
                s.expired = True

    def finish(self, s: Session) -> dict:
        """All bytes arrived: the video exists (idempotent for a session)."""
        with self.lock:
            if s.video_id:
                return self.videos[s.video_id]
            video_id = _rand_id(self._rng, 11)
            snippet = dict(s.metadata.get("snippet") or {})
            status = dict(s.metadata.get("status") or {})
            privacy = status.get("privacyStatus") or "public"  # the documented default when omitted
            if self.faults.unverified_project:
                privacy = "private"
            resource = {
                "kind": "youtube#video",
                "etag": _rand_id(self._rng, 27),
                "id": video_id,
                "snippet": {
                    "publishedAt": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "channelId": self.channel_id,
                    "title": snippet.get("title", ""),
                    "description": snippet.get("description", ""),
                    "tags": list(snippet.get("tags") or []),
                    "categoryId": str(snippet.get("categoryId") or "22"),
                    "liveBroadcastContent": "none",
                },
                "status": {
                    "uploadStatus": "uploaded",
                    "privacyStatus": privacy,
                    "license": status.get("license", "youtube"),
                    "embeddable": status.get("embeddable", True),
                    "publicStatsViewable": status.get("publicStatsViewable", True),
                    "selfDeclaredMadeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
                },
                "_sha256": s.hasher.hexdigest(),
                "_size": s.received,
                "_privacy_asked": status.get("privacyStatus"),
            }
            self.videos[video_id] = resource
            s.video_id = video_id
            self.playlist_items["UPL" + video_id] = {
                "playlistId": self.uploads_playlist,
                "videoId": video_id,
                "at": len(self.playlist_items),
            }
            return resource

    # ------------------------------------------------------------------ playlists
    def add_playlist(self, title: str, description: str, privacy: str) -> dict:
        with self.lock:
            pid = "PL" + _rand_id(self._rng, 32)
            self.playlists[pid] = {
                "kind": "youtube#playlist",
                "etag": _rand_id(self._rng, 27),
                "id": pid,
                "snippet": {
                    "publishedAt": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "channelId": self.channel_id,
                    "title": title,
                    "description": description,
                },
                "status": {"privacyStatus": privacy or "public"},
            }
            return self.playlists[pid]

    def add_playlist_item(self, playlist_id: str, video_id: str) -> dict | None:
        with self.lock:
            if playlist_id not in self.playlists or video_id not in self.videos:
                return None
            item_id = _rand_id(self._rng, 40)
            self.playlist_items[item_id] = {
                "playlistId": playlist_id,
                "videoId": video_id,
                "at": len(self.playlist_items),
            }
            return self.playlist_item_resource(item_id)

    def playlist_item_resource(self, item_id: str) -> dict:
        item = self.playlist_items[item_id]
        video = self.videos[item["videoId"]]
        position = sorted(
            (k for k, v in self.playlist_items.items() if v["playlistId"] == item["playlistId"]),
            key=lambda k: self.playlist_items[k]["at"],
        ).index(item_id)
        return {
            "kind": "youtube#playlistItem",
            "etag": "e" + item_id[:26],
            "id": item_id,
            "snippet": {
                "publishedAt": video["snippet"]["publishedAt"],
                "channelId": self.channel_id,
                "title": video["snippet"]["title"],
                "description": video["snippet"]["description"],
                "playlistId": item["playlistId"],
                "position": position,
                "resourceId": {"kind": "youtube#video", "videoId": item["videoId"]},
            },
        }

    # ------------------------------------------------------------------ truth
    def truth(self) -> dict:
        """Which videos exist with which bytes and metadata; the quota charged per Pacific day."""
        with self.lock:
            return {
                "channel_id": self.channel_id,
                "videos": [
                    {
                        "id": v["id"],
                        "sha256": v["_sha256"],
                        "size": v["_size"],
                        "title": v["snippet"]["title"],
                        "description": v["snippet"]["description"],
                        "tags": v["snippet"]["tags"],
                        "category_id": v["snippet"]["categoryId"],
                        "privacy_status": v["status"]["privacyStatus"],
                        "privacy_asked": v["_privacy_asked"],
                    }
                    for v in self.videos.values()
                ],
                "playlists": {p["id"]: p["snippet"]["title"] for p in self.playlists.values()},
                "playlist_items": [
                    dict(v) for v in self.playlist_items.values() if v["playlistId"] != self.uploads_playlist
                ],
                "quota_used": dict(self.quota_used),
                "calls": dict(self.calls),
                "sessions": len(self.sessions),
            }
