"""The YouTube side: google-api-python-client with its bundled discovery document, google-auth
credentials, one ``httplib2.Http`` that charges the quota ledger before each API call.

Facts this module relies on (checked against google-api-python-client 2.202.0):

* ``build('youtube', 'v3', static_discovery=True)`` reads the bundled ``youtube.v3.json``: no
  network for discovery. ``client_options.api_endpoint`` swaps only the host and keeps ``https``.
* httplib2 follows 308 as a redirect by default; a resumable upload's ``308 Resume Incomplete`` is
  not one, so 308 is dropped from ``redirect_codes``.
* ``next_chunk(num_retries>0)`` re-sends an already consumed chunk after a 5xx; so every call here
  is ``num_retries=0`` and retries happen in :meth:`Uploader.upload`'s loop, which asks YouTube where
  the upload stands (``Content-Range: bytes */N``) before sending anything again.
* httplib2 re-sends a request after a dropped connection (whatever ``RETRIES`` says, for a
  ``BadStatusLine`` on the first try); a streamed chunk body would be drained by then, so each chunk
  is read into memory (one chunk: ``chunk_size_kib``) before it is sent.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httplib2

from pipelines.youtube.settings import YouTubeSettings
from pipelines.youtube.state import QuotaExhausted, QuotaLedger

log = logging.getLogger("pipelines.youtube")

RETRY_STATUS = (500, 502, 503, 504)


class PublishError(RuntimeError):
    """One file could not be published (the message says why); the next run retries it."""


class SessionExpired(RuntimeError):
    """The upload session is gone (404/410): a new one must start from byte 0."""


def method_of(uri: str, verb: str) -> str | None:
    """The Data API method a request calls (what the quota is charged for); ``None`` for chunk
    PUTs, status probes and the token endpoint, which cost nothing."""
    path = urlsplit(uri).path
    if path.endswith("/upload/youtube/v3/videos"):
        return "videos.insert" if verb == "POST" else None
    if "/youtube/v3/" in path:
        resource = path.rsplit("/", 1)[-1]
        return f"{resource}.{'list' if verb == 'GET' else 'insert' if verb == 'POST' else verb.lower()}"
    return None


def session_host_allowed(session_uri: str, api_endpoint: str) -> bool:
    """May the access token go to this upload session URI? Only to the configured API host (or,
    for Google's own endpoint, another ``*.googleapis.com`` host): a session URI read back from the
    warehouse or a ``Location`` header never sends credentials anywhere else."""
    got, want = urlsplit(session_uri), urlsplit(api_endpoint)
    if got.scheme != "https":
        return False
    if got.netloc == want.netloc:
        return True
    return bool(want.hostname and want.hostname.endswith(".googleapis.com")) and bool(
        got.hostname and got.hostname.endswith(".googleapis.com") and got.port in (None, 443)
    )


def error_reason(content: bytes | str | None) -> str:
    """``errors[0].reason`` of Google's JSON error envelope ('' when absent)."""
    try:
        body = json.loads(content or b"{}")
        return str(((body.get("error") or {}).get("errors") or [{}])[0].get("reason") or "")
    except (ValueError, AttributeError, TypeError):
        return ""


class LedgerHttp(httplib2.Http):
    """httplib2 with the ledger in front: charge, send, refund when YouTube refused for quota or
    rate; and the session URI handed to ``on_session`` before any byte of the file is sent."""

    def __init__(
        self, ledger: QuotaLedger, ca_certs: str | None, api_endpoint: str, timeout: float = 120
    ) -> None:
        super().__init__(ca_certs=ca_certs, timeout=timeout)
        self.api_endpoint = api_endpoint
        self.redirect_codes = self.redirect_codes - {308}
        self.ledger = ledger
        self.on_session: Callable[[str], None] | None = None
        self.on_units: Callable[[int], None] | None = None

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):  # type: ignore[override]
        api_method = method_of(uri, method)
        charged = self.ledger.charge(api_method) if api_method else None
        if charged and self.on_units:
            self.on_units(charged[1])
        if hasattr(body, "read"):
            # a chunk as a stream slice: read it (one chunk in memory) so that httplib2's own
            # re-send after a dropped connection sends the whole chunk again, not a drained stream
            body = body.read()
        resp, content = super().request(uri, method, body, headers, *args, **kwargs)
        if charged and resp.status == 403 and error_reason(content) in ("quotaExceeded", "rateLimitExceeded"):
            self.ledger.refund(api_method, *charged)  # refused requests are not counted by YouTube
            if self.on_units:
                self.on_units(-charged[1])
        if api_method == "videos.insert" and resp.status == 200 and "location" in resp:
            if not session_host_allowed(resp["location"], self.api_endpoint):
                raise PublishError(
                    "YouTube answered an upload session on another host; refusing to send credentials there"
                )
            if self.on_session:
                self.on_session(resp["location"])
        return resp, content


def build_service(settings: YouTubeSettings, ledger: QuotaLedger) -> tuple[Any, Any, LedgerHttp]:
    """``(youtube resource, authorized http, ledger http)`` for the configured endpoint."""
    import google_auth_httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    raw = LedgerHttp(ledger, settings.ca_certs, settings.api_endpoint)
    credentials = Credentials(
        token=None,
        refresh_token=settings.refresh_token,
        token_uri=settings.token_uri,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=settings.scopes,
    )
    credentials.refresh(google_auth_httplib2.Request(raw))
    from pipelines.api_client import DEFAULT_REDACTOR

    DEFAULT_REDACTOR.add(credentials.token)
    authed = google_auth_httplib2.AuthorizedHttp(credentials, http=raw)
    service = build(
        "youtube",
        "v3",
        http=authed,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.api_endpoint},
    )
    return service, authed, raw


@dataclass
class Probe:
    done: dict | None = None  # the video resource when the upload is complete
    confirmed: int = 0  # bytes YouTube holds (next byte to send)


class Uploader:
    """Resumable uploads through the client, resumed and retried in our own loop."""

    def __init__(self, settings: YouTubeSettings, service: Any, authed: Any, raw: LedgerHttp) -> None:
        self.settings = settings
        self.service = service
        self.authed = authed
        self.raw = raw
        self.sleep = time.sleep

    def probe(self, session_uri: str, size: int) -> Probe:
        """Where the session stands (``Content-Range: bytes */N``); raises :class:`SessionExpired`."""
        if not session_host_allowed(session_uri, self.settings.api_endpoint):
            raise SessionExpired("the recorded session is not on the configured API host")
        for attempt in range(self.settings.max_attempts):
            try:
                resp, content = self.authed.request(
                    session_uri,
                    "PUT",
                    body=b"",
                    headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"},
                )
            except (httplib2.HttpLib2Error, OSError, ssl.SSLError) as exc:
                self._backoff(attempt, f"status probe: {type(exc).__name__}")
                continue
            if resp.status in (200, 201):
                return Probe(done=json.loads(content), confirmed=size)
            if resp.status == 308:
                rng = resp.get("range")
                return Probe(confirmed=int(rng.split("-")[1]) + 1 if rng else 0)
            if resp.status in (404, 410):
                raise SessionExpired(f"upload session answered {resp.status}")
            if resp.status in RETRY_STATUS:
                self._backoff(attempt, f"status probe answered {resp.status}")
                continue
            raise PublishError(f"status probe answered {resp.status}: {content[:300]!r}")
        raise PublishError(f"status probe failed {self.settings.max_attempts} times")

    def _backoff(self, attempt: int, why: str) -> None:
        delay = min(0.2 * 2**attempt, 30) * (0.5 + random.random() / 2)
        log.info("retrying in %.1fs: %s", delay, why)
        self.sleep(delay)

    def upload(
        self,
        fh: Any,
        size: int,
        body: dict,
        *,
        session_uri: str | None = None,
        start: int = 0,
        on_progress: Callable[[int], None] = lambda n: None,
    ) -> dict:
        """Upload ``fh`` (seekable; read chunk by chunk, never whole) and return the video resource.

        With ``session_uri``, continue that session from byte ``start`` (as a probe confirmed)."""
        from googleapiclient.errors import HttpError
        from googleapiclient.http import MediaIoBaseUpload

        media = MediaIoBaseUpload(
            fh, mimetype="video/mp4", chunksize=self.settings.chunk_size, resumable=True
        )
        request = self.service.videos().insert(
            part="snippet,status",
            body=body,
            media_body=media,
            notifySubscribers=self.settings.notify_subscribers,
        )
        if session_uri:
            request.resumable_uri = session_uri
            request.resumable_progress = start
        failures = 0
        while True:
            try:
                _status, response = request.next_chunk(num_retries=0)
            except HttpError as exc:
                code, reason = exc.resp.status, error_reason(exc.content)
                if code == 403 and reason == "quotaExceeded":
                    raise self.raw.ledger.exhausted(
                        "videos.insert", "YouTube answered quotaExceeded"
                    ) from None
                if code in (404, 410) and request.resumable_uri:
                    raise SessionExpired(f"upload session answered {code}") from None
                if not (
                    code in RETRY_STATUS or (code == 403 and reason == "rateLimitExceeded") or code == 429
                ):
                    raise PublishError(
                        f"YouTube answered {code} {reason or ''}: {exc._get_reason()}"
                    ) from None
                failures += 1
                why = f"{code} {reason}"
                given_up = f"YouTube answered {code} {reason} {failures} times; the next run resumes"
            except QuotaExhausted:
                raise
            except (httplib2.HttpLib2Error, OSError, ssl.SSLError) as exc:  # a cut-off chunk
                failures += 1
                why = f"{type(exc).__name__}: {exc}"
                given_up = f"the upload broke off {failures} times ({type(exc).__name__})"
            else:
                if response is not None:
                    on_progress(size)
                    return response
                on_progress(request.resumable_progress)
                continue
            # a failure worth another try: back off, then continue from what YouTube confirms
            if failures >= self.settings.max_attempts:
                raise PublishError(given_up)
            self._backoff(failures, why)
            if request.resumable_uri:
                done = self._resync(request, size, on_progress)
                if done is not None:
                    return done

    def _resync(self, request: Any, size: int, on_progress: Callable[[int], None]) -> dict | None:
        """After an error: ask YouTube what it holds and continue from there."""
        state = self.probe(request.resumable_uri, size)
        if state.done is not None:
            return state.done
        request.resumable_progress = state.confirmed
        request._in_error_state = False  # we probed; the client need not probe again
        on_progress(state.confirmed)
        return None

    # ------------------------------------------------------------------ listing (reconciliation)
    @property
    def _retries(self) -> int:
        """List calls are safe to repeat: the client retries 5xx, 429 and 403 rate limits itself."""
        return self.settings.max_attempts - 1

    def uploads_by_marker(self, marker_of: Callable[[str], str | None]) -> dict[str, str]:
        """``file key -> video id`` of the channel's uploads carrying our marker (1 unit a page)."""
        channels = (
            self.service.channels().list(part="contentDetails", mine=True).execute(num_retries=self._retries)
        )
        items = channels.get("items") or []
        if not items:
            return {}
        uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        found: dict[str, str] = {}
        token = None
        while True:
            page = (
                self.service.playlistItems()
                .list(part="snippet", playlistId=uploads, maxResults=50, pageToken=token)
                .execute(num_retries=self._retries)
            )
            for item in page.get("items") or []:
                snippet = item.get("snippet") or {}
                key = marker_of(snippet.get("description") or "")
                if key:
                    found.setdefault(key, (snippet.get("resourceId") or {}).get("videoId"))
            token = page.get("nextPageToken")
            if not token:
                return found

    # ------------------------------------------------------------------ playlists
    def playlists_by_title(self) -> dict[str, str]:
        found: dict[str, str] = {}
        token = None
        while True:
            page = (
                self.service.playlists()
                .list(part="snippet", mine=True, maxResults=50, pageToken=token)
                .execute(num_retries=self._retries)
            )
            for item in page.get("items") or []:
                found.setdefault(item["snippet"]["title"], item["id"])
            token = page.get("nextPageToken")
            if not token:
                return found

    def create_playlist(self, title: str, description: str) -> str:
        body = {
            "snippet": {"title": title, "description": description},
            "status": {"privacyStatus": self.settings.privacy_status},
        }
        return self.service.playlists().insert(part="snippet,status", body=body).execute()["id"]

    def add_to_playlist(self, playlist_id: str, video_id: str) -> str:
        body = {
            "snippet": {
                "playlistId": playlist_id,
                "resourceId": {"kind": "youtube#video", "videoId": video_id},
            }
        }
        return self.service.playlistItems().insert(part="snippet", body=body).execute()["id"]
