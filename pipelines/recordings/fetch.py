"""Opening recording downloads: Zoom (bearer first, ``access_token`` query as fallback) and MEETS
(303 to a third-party host followed without credentials), as resumable byte streams.

Credential rules, enforced here on top of the shared client:

* credentials (Zoom bearer token, Zoom ``download_access_token``, MEETS API token) are only ever
  attached to the configured API host and Zoom download hosts. A query-string token is only put on
  a URL whose origin the download client allows (:class:`HostNotAllowed` otherwise);
* every redirect hop is sent as a clean request: no credentials, no cookies, only ``Range`` and
  ``Accept-Encoding: identity``. MEETS' storage host refuses credentialed requests, and signed CDN
  URLs need none.

A body cut off mid-way (reset connection, short read) is resumed with ``Range: bytes=<offset>-``
on a fresh request (a fresh redirect, too, since signed URLs expire), so the SHA-256 being computed
continues over the exact byte sequence. A server that ignores the range makes the whole file start
over (:class:`RestartRequired`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from pipelines.api_client import (
    DOWNLOAD,
    LIGHT,
    MEETS,
    ApiClient,
    ApiError,
    AuthError,
    HostNotAllowed,
    NotFound,
)
from pipelines.api_client.client import REDIRECT_STATUSES, origin_of
from pipelines.recordings.stream import VerificationError

log = logging.getLogger("pipelines.recordings")

CHUNK_SIZE = 256 << 10
MAX_REDIRECTS = 5
MAX_RESUMES = 3
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_BODY_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)

Opener = Callable[[int], requests.Response]
"""``open_at(offset)``: a streaming response starting at byte ``offset`` (200 at 0, 206 after)."""


class SourceGone(Exception):
    """The recording no longer exists at the source (Zoom 404 / MEETS 500 "no longer available").

    Marks the file ``gone`` in the inventory: it is not retried on later runs.
    """


class NotDownloadable(Exception):
    """The file exists but cannot be downloaded as listed (in the trash, still processing, no URL):
    marked ``skipped`` with the reason."""


class RestartRequired(Exception):
    """A resume was refused (no range support, different content): start the file over."""


# ------------------------------------------------------------------------------------ streaming
def open_stream(
    api: ApiClient,
    url: str,
    *,
    category: str,
    offset: int = 0,
    params: Mapping[str, Any] | None = None,
    authenticate: bool = True,
    interpret: Callable[[ApiError], BaseException | None] | None = None,
) -> requests.Response:
    """GET ``url`` as a stream and follow redirects by hand, every hop without credentials.

    ``interpret`` may turn the first request's :class:`ApiError` into a pipeline exception (e.g.
    MEETS' gone-500 into :class:`SourceGone`).
    """
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = api.request(
            "GET",
            url,
            category=category,
            params=params,
            headers=headers,
            stream=True,
            expect_json=False,
            authenticate=authenticate,
            allow_redirects=False,
        )
    except ApiError as exc:
        translated = interpret(exc) if interpret is not None else None
        if translated is not None:
            raise translated from exc
        raise
    hops = 0
    while response.status_code in REDIRECT_STATUSES:
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise ApiError(f"GET {api.redactor.redact(url)} answered a redirect without Location.", url=None)
        hops += 1
        if hops > MAX_REDIRECTS:
            raise ApiError(f"GET {api.redactor.redact(url)} redirected more than {MAX_REDIRECTS} times.")
        target = urljoin(response.url or url, location)
        # A clean hop: no auth header, no query token, no cookies (the session accepts none).
        response = api.request(
            "GET",
            target,
            category=category,
            headers=headers,
            stream=True,
            expect_json=False,
            authenticate=False,
            allow_redirects=False,
        )
    return response


def content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _range_start(response: requests.Response) -> tuple[int, int | None] | None:
    match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def resumable_chunks(
    open_at: Opener,
    *,
    what: str,
    chunk_size: int = CHUNK_SIZE,
    max_resumes: int = MAX_RESUMES,
    on_resume: Callable[[int], None] | None = None,
    on_open: Callable[[int | None], None] | None = None,
) -> Iterator[bytes]:
    """The file's bytes in order, resuming cut-off bodies with ``Range`` requests.

    Verifies that the total received equals the first response's ``Content-Length`` (when sent),
    so a truncated transfer never looks complete.
    """
    response = open_at(0)
    try:
        if response.status_code != 200:
            raise ApiError(
                f"{what}: expected HTTP 200, got {response.status_code}", status=response.status_code
            )
        total = content_length(response)
        if on_open is not None:
            on_open(total)
        offset = 0
        resumes = 0
        while True:
            try:
                for chunk in response.iter_content(chunk_size):
                    if chunk:
                        offset += len(chunk)
                        yield chunk
            except _BODY_ERRORS as exc:
                resumes += 1
                if resumes > max_resumes:
                    raise
                log.info(
                    "%s: body cut off at byte %d (%s); resuming (%d/%d)",
                    what,
                    offset,
                    type(exc).__name__,
                    resumes,
                    max_resumes,
                )
                response.close()
                response = open_at(offset)
                rng = _range_start(response)
                if (
                    response.status_code != 206
                    or rng is None
                    or rng[0] != offset
                    or (total and rng[1] not in (None, total))
                ):
                    raise RestartRequired(
                        f"{what}: the server did not resume at byte {offset} (HTTP {response.status_code}); "
                        "starting the file over"
                    ) from exc
                if on_resume is not None:
                    on_resume(offset)
                continue
            if total is not None and offset != total:
                raise VerificationError(f"{what}: received {offset} bytes, Content-Length said {total}")
            return
    finally:
        response.close()


# ------------------------------------------------------------------------------------ Zoom
@dataclass
class ResolvedMeeting:
    """A fresh ``GET /meetings/{uuid}/recordings``: current file URLs and the download token."""

    meeting_uuid: str
    files: list[dict]
    download_access_token: str | None = field(default=None, repr=False)
    passcode_protected: bool = False
    use_query_token: bool = False  # learned: the bearer header was refused for this meeting


def host_matches(url: str, allowed: list[str]) -> bool:
    """Whether ``url`` is a Zoom download host we may send credentials to.

    Allowed: an exact origin of the configured hosts, or, for ``https`` hosts configured as a
    domain (``zoom.us``), any of its subdomains (``us06web.zoom.us``), where Zoom serves
    ``download_url``.
    """
    try:
        scheme, host, port = origin_of(url)
    except ValueError:
        return False
    for entry in allowed:
        try:
            a_scheme, a_host, a_port = origin_of(entry)
        except ValueError:
            continue
        if (scheme, host, port) == (a_scheme, a_host, a_port):
            return True
        if scheme == "https" == a_scheme and port == a_port and host.endswith("." + a_host):
            return True
    return False


class ZoomDownloads:
    """Resolve and open Zoom recording files.

    ``api`` is the Zoom REST client (for ``GET /meetings/{uuid}/recordings``); downloads go
    through one :class:`ApiClient` per download origin, sharing the REST client's auth, limiter,
    budget, redactor and connection pool, each allowed exactly its own origin.
    """

    def __init__(
        self, api: ApiClient, download_hosts: list[str], *, encode_uuid: Callable[[str], str]
    ) -> None:
        self.api = api
        self.download_hosts = list(download_hosts)
        self.encode_uuid = encode_uuid
        self._clients: dict[tuple[str, str, int], ApiClient] = {}

    def resolve(self, meeting_uuid: str) -> ResolvedMeeting:
        """Current files of one meeting instance (Light), with a ``download_access_token``."""
        path = f"meetings/{self.encode_uuid(meeting_uuid)}/recordings"
        try:
            try:
                body = self.api.get_json(
                    path, category=LIGHT, params={"include_fields": "download_access_token"}
                )
            except AuthError:
                # the role may lack "View the recording content": the listing still works without it
                body = self.api.get_json(path, category=LIGHT)
        except NotFound as exc:
            raise SourceGone(
                f"Zoom no longer has the recording of meeting {meeting_uuid} (moved to the trash or deleted)"
            ) from exc
        body = body if isinstance(body, dict) else {}
        token = body.get("download_access_token") or None
        if token:
            self.api.redactor.add(token)
        return ResolvedMeeting(
            meeting_uuid,
            list(body.get("recording_files") or []),
            token,
            bool(body.get("recording_play_passcode") or body.get("password")),
        )

    @property
    def clients(self) -> list[ApiClient]:
        """The per-origin download clients created so far (for request counts)."""
        return list(self._clients.values())

    def client_for(self, url: str) -> ApiClient:
        if not host_matches(url, self.download_hosts):
            raise HostNotAllowed(
                f"Refusing to send Zoom credentials to {urlsplit(url).scheme}://{urlsplit(url).netloc}: not a "
                f"configured Zoom download host ({', '.join(self.download_hosts)}). Add it to "
                "[recordings] zoom_download_hosts if it really is Zoom's.",
                url=self.api.redactor.redact(url.split("?", 1)[0]),
            )
        origin = origin_of(url)
        client = self._clients.get(origin)
        if client is None:
            scheme, host, port = origin
            base = f"{scheme}://{host}:{port}"
            client = ApiClient(
                base,
                auth=self.api.auth,
                limiter=self.api.limiter,
                budget=self.api.budget,
                retry=self.api.retry,
                allowed_hosts=[base],
                timeout=self.api.timeout,
                redactor=self.api.redactor,
                session=self.api.session,
            )
            self._clients[origin] = client
        return client

    def opener(self, meeting: ResolvedMeeting, download_url: str) -> Opener:
        """Bearer header first; after a 401/403 the ``access_token`` query parameter (the meeting's
        ``download_access_token``, or the bearer token itself) for this and later files of it."""
        client = self.client_for(download_url)

        def query_token() -> str | None:
            if meeting.download_access_token:
                return meeting.download_access_token
            auth = client.auth.headers().get("Authorization", "")
            return auth[7:] if auth.lower().startswith("bearer ") else None

        def gone(exc: ApiError) -> BaseException | None:
            if isinstance(exc, NotFound):
                return SourceGone(f"Zoom answered 404 for a file of meeting {meeting.meeting_uuid}")
            return None

        def open_at(offset: int) -> requests.Response:
            if not meeting.use_query_token:
                try:
                    return open_stream(client, download_url, category=DOWNLOAD, offset=offset, interpret=gone)
                except AuthError:
                    if query_token() is None:
                        raise
                    log.info(
                        "Zoom refused the bearer token for a file of meeting %s (passcode protection?); "
                        "using the access_token query parameter",
                        meeting.meeting_uuid,
                    )
                    meeting.use_query_token = True
            token = query_token()
            # the token rides in the query string: only to an allowed download origin (checked by
            # client_for) and never on a redirect hop (open_stream sends those clean)
            return open_stream(
                client,
                download_url,
                category=DOWNLOAD,
                offset=offset,
                params={"access_token": token},
                authenticate=False,
                interpret=gone,
            )

        return open_at

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


# ------------------------------------------------------------------------------------ MEETS
def meets_gone_message(exc: ApiError) -> str | None:
    """MEETS' message when a 500 says the recording is gone: a JSON ``{"status": 500, "error"}``.

    A non-JSON 500 is MEETS' "temporary, unknown error" instead (retried, never ``gone``).
    """
    if exc.status != 500 or not exc.body:
        return None
    try:
        import json

        payload = json.loads(exc.body)
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return payload["error"]
    return None


class MeetsDownloads:
    """``download_conference_recording`` -> 303 -> the storage host, without MEETS credentials.

    Uses a twin of the MEETS client's :class:`ApiClient` (same session, auth, limiter, ledger)
    whose retry policy does not retry HTTP 500, because MEETS answers 500 for a recording that is
    gone and retrying that for a minute helps nobody; non-JSON 500s (temporary) are retried by
    the file-level retry of the run instead.
    """

    FUNCTION = "download_conference_recording"

    def __init__(self, meets_api: ApiClient) -> None:
        retry = replace(meets_api.retry, retry_statuses=meets_api.retry.retry_statuses - {500})
        self.api = ApiClient(
            meets_api.base_url,
            auth=meets_api.auth,
            limiter=meets_api.limiter,
            budget=meets_api.budget,
            retry=retry,
            allowed_hosts=[f"{s}://{h}:{p}" for s, h, p in meets_api.allowed_origins],
            timeout=meets_api.timeout,
            redactor=meets_api.redactor,
            session=meets_api.session,
        )

    def opener(self, recording_id: int | str) -> Opener:
        rid = str(int(recording_id))

        def interpret(exc: ApiError) -> BaseException | None:
            message = meets_gone_message(exc)
            if message is not None:
                return SourceGone(f"MEETS recording {rid}: {message}")
            if isinstance(exc, NotFound):
                return SourceGone(f"MEETS recording {rid} is not known to MEETS any more (HTTP 404)")
            return None

        def open_at(offset: int) -> requests.Response:
            return open_stream(
                self.api,
                self.FUNCTION,
                category=MEETS,
                offset=offset,
                params={"meetsIdConferenceRecording": rid},
                interpret=interpret,
            )

        return open_at
