"""The YouTube Data API v3 emulator's HTTP layer: one TLS loopback port serving Google's OAuth token
endpoint, the resumable upload endpoint and the few Data API methods the publish stage uses.

Endpoints (shapes and rules cited in ``state.py``):

* ``POST /token``: OAuth 2.0 refresh-token grant (https://developers.google.com/identity/protocols/oauth2/native-app
  "Refreshing an access token"): ``access_token``, ``expires_in``, ``scope``, ``token_type``;
  ``400 invalid_grant`` / ``401 invalid_client`` otherwise.
* ``POST /upload/youtube/v3/videos?uploadType=resumable`` then ``PUT`` on the session URI.
* ``GET /youtube/v3/videos|channels|playlists|playlistItems``, ``POST /youtube/v3/playlists|playlistItems``.
* ``GET /_emulator/truth``: the ground truth (not part of the API).

Errors use Google's JSON error envelope (``error.code``, ``error.message``, ``error.errors[]`` with
``domain``/``reason``, ``error.status``), https://developers.google.com/youtube/v3/docs/errors.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

from pipelines.sandbox.youtube import state as st
from pipelines.sandbox.youtube.tls import make_certificates

log = logging.getLogger("pipelines.sandbox.youtube")

READ_PIECE = 1 << 20


def _error(code: int, message: str, reason: str, domain: str = "youtube.api", status: str = "") -> tuple:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    if status:
        body["error"]["status"] = status
    return code, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body).encode()


def _quota_error(reason: str) -> tuple:
    if reason == "quotaExceeded":
        return _error(403, st.QUOTA_MESSAGE, "quotaExceeded", "youtube.quota", "PERMISSION_DENIED")
    return _error(403, st.RATE_MESSAGE, "rateLimitExceeded", "usageLimits", "PERMISSION_DENIED")


def _json(code: int, body: dict, headers: dict | None = None) -> tuple:
    return (
        code,
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        json.dumps(body).encode(),
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "meetings-warehouse-youtube-emulator/1.0"
    emulator: YouTubeEmulator

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, result: tuple) -> None:
        code, headers, body = result
        self.send_response(code, "Resume Incomplete" if code == 308 else None)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _dispatch(self) -> None:
        state = self.emulator.state
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with state.lock:
            state.requests_seen.append(
                {"method": self.command, "path": url.path, "headers": sorted(self.headers.keys())}
            )
        try:
            if url.path == "/token" and self.command == "POST":
                result = self._token()
            elif url.path == "/o/oauth2/auth" and self.command == "GET":
                result = self._consent(query)
            elif url.path == "/_emulator/truth":
                result = _json(200, state.truth())
            elif not self._authorized():
                self._read_body()
                result = _error(
                    401,
                    "Request had invalid authentication credentials.",
                    "authError",
                    "global",
                    "UNAUTHENTICATED",
                )
            elif url.path == "/upload/youtube/v3/videos" and self.command == "POST":
                result = self._initiate(query)
            elif url.path == "/upload/youtube/v3/videos" and self.command == "PUT":
                result = self._put(query)
                if result is None:
                    return  # connection cut on purpose
            elif url.path.startswith("/youtube/v3/"):
                result = self._api(url.path.removeprefix("/youtube/v3/"), query)
            else:
                self._read_body()
                result = _error(404, "Not Found", "notFound", "global", "NOT_FOUND")
        except st.QuotaError as exc:
            result = _quota_error(exc.reason)
        self._reply(result)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in self.emulator.state.access_tokens

    # ------------------------------------------------------------------ OAuth
    def _consent(self, query: dict) -> tuple:
        """The installed-app consent page, consented at once: 302 to the loopback ``redirect_uri``
        with ``code`` and ``state`` (https://developers.google.com/identity/protocols/oauth2/native-app,
        steps 2-4). Only loopback redirect URIs are accepted, as Google does for desktop clients."""
        redirect = query.get("redirect_uri") or ""
        if query.get("client_id") != st.CLIENT_ID or not redirect.startswith(
            ("http://localhost", "http://127.0.0.1")
        ):
            return _json(400, {"error": "invalid_request", "error_description": "redirect_uri_mismatch"})
        if query.get("response_type") != "code":
            return _json(400, {"error": "unsupported_response_type"})
        code = self.emulator.state.issue_code(query.get("scope") or "")
        sep = "&" if "?" in redirect else "?"
        location = f"{redirect}{sep}state={query.get('state', '')}&code={code}&scope={query.get('scope', '')}"
        return 302, {"Location": location}, b""

    def _token(self) -> tuple:
        form = {k: v[-1] for k, v in parse_qs(self._read_body().decode()).items()}
        basic = self.headers.get("Authorization") or ""
        if basic.startswith("Basic "):  # client_secret_basic (RFC 6749 2.3.1), as requests-oauthlib sends it
            ident, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote_plus(ident))
            form.setdefault("client_secret", unquote_plus(secret))
        if form.get("client_id") != st.CLIENT_ID or form.get("client_secret") != st.CLIENT_SECRET:
            return _json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        body = {
            "access_token": self.emulator.state.issue_token(),
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube",
            "token_type": "Bearer",
        }
        grant = form.get("grant_type")
        granted = (
            self.emulator.state.redeem_code(form.get("code") or "") if grant == "authorization_code" else None
        )
        if granted is not None:  # the scopes consented to
            return _json(200, {**body, "scope": granted, "refresh_token": st.REFRESH_TOKEN})
        if grant != "refresh_token" or form.get("refresh_token") != st.REFRESH_TOKEN:
            return _json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        return _json(200, body)

    # ------------------------------------------------------------------ resumable upload
    def _initiate(self, query: dict) -> tuple:
        state = self.emulator.state
        raw = self._read_body()
        if query.get("uploadType") != "resumable":
            return _error(400, "Only resumable uploads are emulated.", "badRequest", "global")
        try:
            metadata = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "Invalid JSON payload received.", "parseError", "global")
        snippet = metadata.get("snippet") or {}
        title = snippet.get("title") or ""
        if not title:
            return _error(400, "The request metadata does not specify a video title.", "invalidTitle")
        if len(title) > 100 or "<" in title or ">" in title:
            return _error(400, "The request metadata specifies an invalid video title.", "invalidTitle")
        description = snippet.get("description") or ""
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            return _error(
                400, "The request metadata specifies an invalid video description.", "invalidDescription"
            )
        state.charge("videos.insert")
        size = self.headers.get("X-Upload-Content-Length")
        session = state.new_session(
            int(size) if size else None,
            self.headers.get("X-Upload-Content-Type") or "application/octet-stream",
            metadata,
            (query.get("part") or "").split(","),
        )
        state.maybe_pause("initiation")
        location = (
            f"{self.emulator.base_url}/upload/youtube/v3/videos?uploadType=resumable"
            f"&part={query.get('part', '')}&upload_id={session.upload_id}"
        )
        return 200, {"Location": location, "X-GUploader-UploadID": session.upload_id}, b""

    def _put(self, query: dict) -> tuple | None:
        state = self.emulator.state
        session = state.session(query.get("upload_id") or "")
        length = int(self.headers.get("Content-Length") or 0)
        if session is None:
            self.rfile.read(length)
            return _error(
                404, "The upload session was not found or has expired.", "notFound", "global", "NOT_FOUND"
            )
        content_range = (self.headers.get("Content-Range") or "").removeprefix("bytes ").strip()
        span, _, total = content_range.partition("/")
        if total not in ("", "*"):
            session.size = int(total)
        if span == "*":  # status probe
            self.rfile.read(length)
            return self._status(session)
        with state.lock:
            state.counters["chunks"] += 1
            number = state.counters["chunks"]
        if number in state.faults.failing_chunks:
            self.rfile.read(length)  # 0 bytes kept
            return _error(503, "Backend Error", "backendError", "global", "UNAVAILABLE")
        first = int(span.split("-")[0]) if span else 0
        if first > session.received:
            self.rfile.read(length)
            return self._status(session)
        cut = length // 2 if number in state.faults.cut_chunks else None
        self._receive(session, first, length, cut)
        if cut is not None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return None
        state.maybe_pause("chunk")
        return self._status(session)

    def _receive(self, session: st.Session, first: int, length: int, limit: int | None) -> None:
        """Read the chunk body in pieces; bytes already held (a re-sent overlap) are skipped."""
        skip = session.received - first
        left = length if limit is None else limit
        while left > 0:
            piece = self.rfile.read(min(READ_PIECE, left))
            if not piece:
                break
            left -= len(piece)
            if skip >= len(piece):
                skip -= len(piece)
                continue
            piece = piece[max(skip, 0) :]
            skip = 0
            with self.emulator.state.lock:
                session.hasher.update(piece)
                session.received += len(piece)

    def _status(self, session: st.Session) -> tuple:
        state = self.emulator.state
        if session.size is not None and session.received >= session.size:
            fresh = session.video_id is None
            video = state.finish(session)
            if fresh:
                state.maybe_pause("video")
            return _json(200, {k: v for k, v in video.items() if not k.startswith("_")})
        headers = {"X-GUploader-UploadID": session.upload_id}
        if session.received:
            headers["Range"] = f"bytes=0-{session.received - 1}"
        return 308, headers, b""

    # ------------------------------------------------------------------ Data API
    def _api(self, resource: str, query: dict) -> tuple:
        state = self.emulator.state
        body = self._read_body()
        method = f"{resource}.{'list' if self.command == 'GET' else 'insert'}"
        if method not in st.COSTS:
            return _error(404, "Not Found", "notFound", "global", "NOT_FOUND")
        state.charge(method)
        if method == "channels.list":
            items = []
            if query.get("mine") == "true":
                items = [
                    {
                        "kind": "youtube#channel",
                        "etag": "c" + state.channel_id,
                        "id": state.channel_id,
                        "contentDetails": {
                            "relatedPlaylists": {"likes": "", "uploads": state.uploads_playlist}
                        },
                    }
                ]
            return _json(200, _envelope("youtube#channelListResponse", items, None, len(items), 5))
        if method == "videos.list":
            ids = [i for i in (query.get("id") or "").split(",") if i]
            with state.lock:
                items = [
                    {k: v for k, v in state.videos[i].items() if not k.startswith("_")}
                    for i in ids
                    if i in state.videos
                ]
            return _json(200, _envelope("youtube#videoListResponse", items, None, len(items), len(items)))
        if method == "playlists.list":
            with state.lock:
                items = list(state.playlists.values())
            return self._page("youtube#playlistListResponse", items, query)
        if method == "playlistItems.list":
            pid = query.get("playlistId") or ""
            with state.lock:
                keys = sorted(
                    (k for k, v in state.playlist_items.items() if v["playlistId"] == pid),
                    key=lambda k: state.playlist_items[k]["at"],
                )
                if pid == state.uploads_playlist:
                    keys.reverse()  # the uploads playlist lists the newest first
                items = [state.playlist_item_resource(k) for k in keys]
            return self._page("youtube#playlistItemListResponse", items, query)
        payload = json.loads(body or b"{}")
        snippet = payload.get("snippet") or {}
        if method == "playlists.insert":
            title = snippet.get("title") or ""
            if not title or len(title) > 150:
                return _error(400, "The playlist title is invalid.", "invalidPlaylistSnippet")
            status = (payload.get("status") or {}).get("privacyStatus") or "public"
            return _json(200, state.add_playlist(title, snippet.get("description") or "", status))
        resource_id = snippet.get("resourceId") or {}
        item = state.add_playlist_item(snippet.get("playlistId") or "", resource_id.get("videoId") or "")
        if item is None:
            return _error(404, "Playlist or video not found.", "playlistNotFound")
        return _json(200, item)

    def _page(self, kind: str, items: list, query: dict) -> tuple:
        size = min(int(query.get("maxResults") or 5), 50)
        start = int(query.get("pageToken") or 0)
        page = items[start : start + size]
        token = str(start + size) if start + size < len(items) else None
        return _json(200, _envelope(kind, page, token, len(items), size))


def _envelope(kind: str, items: list, token: str | None, total: int, per_page: int) -> dict:
    body = {
        "kind": kind,
        "etag": f"env{total}",
        "pageInfo": {"totalResults": total, "resultsPerPage": per_page},
    }
    if token:
        body["nextPageToken"] = token
    body["items"] = items
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a client killed mid-request (the crash tests) or a cut-off chunk: not the emulator's error
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)


class YouTubeEmulator:
    """``YouTubeEmulator().start()``: TLS on 127.0.0.1 (free port); ``.api_endpoint``, ``.token_uri``,
    ``.ca_path`` point the client at it; ``.state`` holds the truth and the fault knobs."""

    def __init__(self, faults: st.Faults | None = None, port: int = 0, cert_dir: Path | None = None) -> None:
        self.state = st.YouTubeState(faults)
        self._port = port
        self._cert_dir = cert_dir
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> YouTubeEmulator:
        certs = make_certificates(self._cert_dir)
        self.ca_path = certs.ca_path
        handler = type("Handler", (_Handler,), {"emulator": self})
        server = _Server(("127.0.0.1", self._port), handler)
        # the handshake happens in the request thread (on first read), not in the accepting loop
        server.socket = certs.context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, name="youtube-emulator", daemon=True)
        self._thread.start()
        return self

    @property
    def api_endpoint(self) -> str:
        return self.base_url

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def credentials(self) -> dict[str, str]:
        """The public test credentials (sandbox only)."""
        return {
            "client_id": st.CLIENT_ID,
            "client_secret": st.CLIENT_SECRET,
            "refresh_token": st.REFRESH_TOKEN,
        }

    def stop(self) -> None:
        self.state.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> YouTubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
