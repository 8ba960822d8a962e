"""ApiClient against real HTTP servers on 127.0.0.1 (no mocking of requests).

Each server serves a script: a queue of responses per path. Every test asserts the
exact number of requests the server received, so a client that retries too much,
too little, or leaks credentials fails.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines import clock
from pipelines.api_client import (
    ApiClient,
    ApiError,
    AuthError,
    BadResponse,
    BearerTokenAuth,
    HeaderTokenAuth,
    HostNotAllowed,
    NotFound,
    QueryTokenAuth,
    RateBudgetExceeded,
    RateLimit,
    RateLimiter,
    Redactor,
    RequestBudget,
    RetryPolicy,
)

TOKEN_1 = "tok-FIRST-a1b2c3d4e5"
TOKEN_2 = "tok-SECOND-f6g7h8i9j0"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None  # lie about the length to cut the body off


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedServer:
    """ThreadingHTTPServer that replays scripted replies and records every request."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with server.lock:
                    server.received.append(
                        Received(
                            self.command,
                            parts.path,
                            parse_qs(parts.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    queue = server.script.get(parts.path)
                    reply = queue.pop(0) if queue else Reply(599, {"error": f"unscripted {parts.path}"})
                payload = reply.body
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload)
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(reply.content_length or len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if reply.content_length is not None:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def on(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.script.setdefault(path, []).extend(replies)

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.received if path is None or r.path == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def other_server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, 0.01))


def make_client(
    server: ScriptedServer,
    *,
    auth: Any = None,
    budget: RequestBudget | None = None,
    max_attempts: int = 4,
    sleeps: Callable[[float], None] | None = None,
    redactor: Redactor | None = None,
    allowed_hosts: list[str] | None = None,
) -> ApiClient:
    limiter = RateLimiter(
        {c: RateLimit(1000, 1.0) for c in ("light", "medium", "heavy", "resource_intensive", "download")},
        safety=1.0,
    )
    retry = RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.02, sleep=sleeps or Sleeps())
    return ApiClient(
        server.url + "/v2",
        auth=auth,
        limiter=limiter,
        budget=budget,
        retry=retry,
        redactor=redactor or Redactor(),
        allowed_hosts=allowed_hosts,
        timeout=(2, 5),
    )


class RotatingAuth(BearerTokenAuth):
    """Bearer auth whose refresh switches TOKEN_1 -> TOKEN_2 (like an OAuth re-mint)."""

    def __init__(self) -> None:
        self.current = TOKEN_1
        self.refreshes = 0
        super().__init__(lambda: self.current)

    def refresh(self) -> None:
        self.refreshes += 1
        self.current = TOKEN_2


def secrets_absent(*texts: object) -> bool:
    joined = " ".join(str(t) for t in texts)
    return TOKEN_1 not in joined and TOKEN_2 not in joined


# ---------------------------------------------------------------------------- retries
def test_429_retry_after_seconds_then_200(server: ScriptedServer) -> None:
    server.on("/v2/users", Reply(429, {"code": 429, "message": "Too many requests"}, {"Retry-After": "1"}))
    server.on("/v2/users", Reply(200, {"users": [{"id": "u1"}]}))
    client = make_client(server)
    assert client.get_json("users", category="light") == {"users": [{"id": "u1"}]}
    assert server.count() == 2
    first, second = server.received
    assert second.at - first.at >= 0.9  # Retry-After honoured (via the limiter pause)
    assert client.stats["light"] == {
        "sent": 2,
        "retries": 1,
        "http_429": 1,
        "auth_refreshes": 0,
        "redirects": 0,
        "failures": 0,
    }


def test_zoom_daily_limit_is_not_retried(server: ScriptedServer, tmp_path: Path) -> None:
    reset = (clock.now() + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    server.on(
        "/v2/report/meetings",
        Reply(
            429,
            {"code": 429, "message": "You have reached the maximum daily rate limit for this API."},
            {
                "X-RateLimit-Type": "Daily-limit",
                "X-RateLimit-Limit": "30000",
                "Retry-After": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        ),
    )
    budget = RequestBudget(tmp_path / "ledger.sqlite", heavy_daily_limit=100)
    client = make_client(server, budget=budget)
    with pytest.raises(RateBudgetExceeded) as info:
        client.get_json("report/meetings", category="heavy")
    exc = info.value
    assert server.count() == 1
    assert exc.resets_at == reset and exc.source == "zoom" and exc.status == 429 and exc.limit == 30000
    assert "Daily-limit" in str(exc) and reset.strftime("%Y-%m-%d 00:00:00 UTC") in str(exc)
    # The block is shared through the ledger: the next call stops without a request.
    with pytest.raises(RateBudgetExceeded):
        make_client(server, budget=RequestBudget(tmp_path / "ledger.sqlite", heavy_daily_limit=100)).get_json(
            "report/meetings", category="resource_intensive"
        )
    assert server.count() == 1


def test_retry_after_longer_than_max_wait_raises_without_sleeping(server: ScriptedServer) -> None:
    server.on("/v2/users", Reply(429, {}, {"Retry-After": "3600"}))
    sleeps = Sleeps()
    client = make_client(server, sleeps=sleeps)
    with pytest.raises(RateBudgetExceeded, match="wait 3600s"):
        client.get_json("users", category="light")
    assert server.count() == 1 and sleeps.calls == []


def test_500_non_json_then_200(server: ScriptedServer) -> None:
    server.on("/v2/users/me", Reply(500, "<html>Internal Server Error</html>", {"Content-Type": "text/html"}))
    server.on("/v2/users/me", Reply(200, {"id": "me"}))
    sleeps = Sleeps()
    client = make_client(server, sleeps=sleeps)
    assert client.get_json("/users/me", category="light") == {"id": "me"}
    assert server.count() == 2
    assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= 0.01


def test_persistent_503_gives_up_after_max_attempts(server: ScriptedServer) -> None:
    server.on("/v2/users", *[Reply(503, "busy") for _ in range(3)])
    client = make_client(server, max_attempts=3)
    with pytest.raises(ApiError) as info:
        client.get_json("users", category="light")
    assert type(info.value) is ApiError and info.value.status == 503 and info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert server.count() == 3


def test_cut_off_json_body_then_200(server: ScriptedServer) -> None:
    server.on("/v2/meetings", Reply(200, b'{"meetings": [{"id": 1}, {"id"', content_length=500))
    server.on("/v2/meetings", Reply(200, {"meetings": [{"id": 1}]}))
    client = make_client(server)
    assert client.get_json("meetings", category="medium") == {"meetings": [{"id": 1}]}
    assert server.count() == 2
    assert client.stats["medium"]["retries"] == 1


def test_truncated_json_text_then_200(server: ScriptedServer) -> None:
    server.on("/v2/meetings", Reply(200, b'{"meetings": [{"id": 1}, {"id"'))  # honest length, bad JSON
    server.on("/v2/meetings", Reply(200, {"meetings": []}))
    client = make_client(server)
    assert client.get_json("meetings", category="medium") == {"meetings": []}
    assert server.count() == 2


def test_invalid_json_every_time_raises_bad_response(server: ScriptedServer) -> None:
    server.on("/v2/meetings", *[Reply(200, b"<html>proxy error</html>") for _ in range(3)])
    client = make_client(server, max_attempts=3)
    with pytest.raises(BadResponse) as info:
        client.get_json("meetings", category="medium")
    assert server.count() == 3
    assert "invalid JSON" in str(info.value) and info.value.attempts == 3


def test_expect_json_false_returns_non_json(server: ScriptedServer) -> None:
    server.on("/v2/file.txt", Reply(200, b"plain text", {"Content-Type": "text/plain"}))
    client = make_client(server)
    response = client.request("GET", "file.txt", category="download", expect_json=False)
    assert response.content == b"plain text" and server.count() == 1


def test_404_raises_not_found_once(server: ScriptedServer) -> None:
    server.on("/v2/meetings/123", Reply(404, {"code": 3001, "message": "Meeting does not exist: 123."}))
    client = make_client(server)
    with pytest.raises(NotFound) as info:
        client.get_json("meetings/123", category="light")
    assert info.value.status == 404 and info.value.endpoint == "/v2/meetings/123"
    assert "Meeting does not exist" in str(info.value) and "skip" in str(info.value)
    assert server.count() == 1


# ---------------------------------------------------------------------------- auth
def test_401_refresh_then_200(server: ScriptedServer) -> None:
    server.on(
        "/v2/users", Reply(401, {"code": 124, "message": "Invalid access token."}), Reply(200, {"ok": True})
    )
    auth = RotatingAuth()
    client = make_client(server, auth=auth)
    assert client.get_json("users", category="light") == {"ok": True}
    assert server.count() == 2 and auth.refreshes == 1
    assert [r.headers["authorization"] for r in server.received] == [f"Bearer {TOKEN_1}", f"Bearer {TOKEN_2}"]
    assert client.stats["light"]["auth_refreshes"] == 1


def test_401_twice_raises_auth_error(server: ScriptedServer) -> None:
    server.on("/v2/users", *[Reply(401, {"code": 124, "message": "Invalid access token."}) for _ in range(2)])
    auth = RotatingAuth()
    client = make_client(server, auth=auth)
    with pytest.raises(AuthError) as info:
        client.get_json("users", category="light")
    assert server.count() == 2 and auth.refreshes == 1
    assert info.value.status == 401 and "even after one credential refresh" in str(info.value)
    assert secrets_absent(info.value, repr(info.value), info.value.url, info.value.body)


def test_missing_scope_names_the_scope_and_does_not_refresh(server: ScriptedServer) -> None:
    message = (
        "Invalid access token, does not contain scopes:[report:read:list_meetings:admin, user:read:admin]."
    )
    server.on("/v2/report/users", Reply(400, {"code": 4700, "message": message}))
    auth = RotatingAuth()
    client = make_client(server, auth=auth)
    with pytest.raises(AuthError) as info:
        client.get_json("report/users", category="heavy")
    assert info.value.missing_scopes == ["report:read:list_meetings:admin", "user:read:admin"]
    assert "report:read:list_meetings:admin, user:read:admin" in str(info.value)
    assert "Marketplace" in str(info.value)
    assert server.count() == 1 and auth.refreshes == 0


def test_static_token_401_is_not_retried(server: ScriptedServer) -> None:
    server.on("/v2/courses", Reply(401, {"message": f"bad key {TOKEN_1}", "got": TOKEN_1}))
    client = make_client(server, auth=HeaderTokenAuth("X-Api-Key", TOKEN_1))
    with pytest.raises(AuthError) as info:
        client.get_json("courses", category="light")
    assert server.count() == 1
    assert "X-Api-Key" in str(info.value) and "bad key ***" in str(info.value)
    assert secrets_absent(info.value, repr(info.value), info.value.body)
    assert server.received[0].headers["x-api-key"] == TOKEN_1


# ---------------------------------------------------------------------------- hosts & redirects
def test_redirect_to_other_host_carries_no_credentials(
    server: ScriptedServer, other_server: ScriptedServer
) -> None:
    server.on(
        "/v2/recordings/1/file",
        Reply(
            303,
            b"",
            {"Location": f"{other_server.url}/cdn/file.mp4?sig=abc", "Set-Cookie": "sid=zoom-session"},
        ),
    )
    other_server.on("/cdn/file.mp4", Reply(200, b"MP4DATA", {"Content-Type": "video/mp4"}))
    client = make_client(server, auth=RotatingAuth())
    response = client.request(
        "GET",
        "recordings/1/file",
        category="download",
        expect_json=False,
        allow_redirects=True,
        headers={"Cookie": "sid=caller", "Range": "bytes=0-"},
    )
    assert response.content == b"MP4DATA"
    assert server.count() == 1 and other_server.count() == 1
    assert server.received[0].headers["authorization"] == f"Bearer {TOKEN_1}"
    assert server.received[0].headers["cookie"] == "sid=caller"
    hop = other_server.received[0].headers
    assert "authorization" not in hop and "cookie" not in hop  # neither ours nor the Set-Cookie one
    assert hop["range"] == "bytes=0-"  # non-credential caller headers survive
    assert other_server.received[0].query == {"sig": ["abc"]}
    assert client.stats["download"]["redirects"] == 1


def test_clean_hops_drop_all_caller_headers_and_query_tokens(
    server: ScriptedServer, other_server: ScriptedServer
) -> None:
    server.on("/v2/rec/download/x", Reply(302, b"", {"Location": f"{other_server.url}/s3/obj"}))
    other_server.on("/s3/obj", Reply(307, b"", {"Location": "/s3/obj2"}))  # relative hop
    other_server.on("/s3/obj2", Reply(200, b"DATA"))
    client = make_client(server, auth=QueryTokenAuth("access_token", TOKEN_1))
    response = client.request(
        "GET",
        "rec/download/x",
        category="download",
        expect_json=False,
        headers={"X-Trace": "1"},
        follow_redirects_without_auth=True,
    )
    assert response.content == b"DATA"
    assert server.received[0].query == {"access_token": [TOKEN_1]}
    assert other_server.count() == 2
    for hop in other_server.received:
        assert hop.query == {} and "x-trace" not in hop.headers and "authorization" not in hop.headers


def test_redirect_loop_is_capped(server: ScriptedServer) -> None:
    server.on("/v2/loop", *[Reply(302, b"", {"Location": "/v2/loop"}) for _ in range(6)])
    client = make_client(server, max_attempts=1)
    with pytest.raises(ApiError, match="more than 5 times"):
        client.request("GET", "loop", category="light", allow_redirects=True)
    assert server.count() == 6


def test_redirects_are_not_followed_by_default(server: ScriptedServer, other_server: ScriptedServer) -> None:
    server.on("/v2/x", Reply(302, b"", {"Location": f"{other_server.url}/y"}))
    client = make_client(server, auth=RotatingAuth())
    response = client.request("GET", "x", category="light", expect_json=False)
    assert response.status_code == 302 and other_server.count() == 0


def test_credentials_only_to_allowed_hosts(server: ScriptedServer, other_server: ScriptedServer) -> None:
    other_server.on("/public", Reply(200, {"ok": 1}))
    client = make_client(server, auth=RotatingAuth())
    with pytest.raises(HostNotAllowed) as info:
        client.get_json(f"{other_server.url}/public", category="light")
    assert other_server.count() == 0 and "authenticate=False" in str(info.value)
    response = client.request("GET", f"{other_server.url}/public", category="light", authenticate=False)
    assert response.json() == {"ok": 1}
    assert "authorization" not in other_server.received[0].headers
    # Explicitly allowed hosts do get credentials.
    allowed = make_client(server, auth=RotatingAuth(), allowed_hosts=[other_server.url])
    other_server.on("/public", Reply(200, {"ok": 2}))
    assert allowed.get_json(f"{other_server.url}/public", category="light") == {"ok": 2}
    assert other_server.received[1].headers["authorization"] == f"Bearer {TOKEN_1}"


# ---------------------------------------------------------------------------- budget
def test_budget_exhaustion_stops_before_sending(server: ScriptedServer, tmp_path: Path) -> None:
    server.on("/v2/past_meetings/1/participants", *[Reply(200, {"participants": []}) for _ in range(3)])
    budget = RequestBudget(tmp_path / "ledger.sqlite", heavy_daily_limit=2)
    client = make_client(server, budget=budget)
    for _ in range(2):
        client.get_json("past_meetings/1/participants", category="heavy")
    with pytest.raises(RateBudgetExceeded) as info:
        client.get_json("past_meetings/1/participants", category="heavy")
    assert server.count() == 2
    exc = info.value
    assert (exc.used, exc.limit, exc.group) == (2, 2, "heavy_daily")
    text = str(exc)
    tomorrow = (clock.now() + dt.timedelta(days=1)).strftime("%Y-%m-%d 00:00:00 UTC")
    assert "used 2 of 2" in text and "0 left" in text and tomorrow in text


def test_retries_count_against_the_budget(server: ScriptedServer, tmp_path: Path) -> None:
    server.on("/v2/x", Reply(500, "err"), Reply(500, "err"), Reply(200, {}))
    budget = RequestBudget(tmp_path / "ledger.sqlite", heavy_daily_limit=2)
    client = make_client(server, budget=budget)
    with pytest.raises(RateBudgetExceeded):
        client.get_json("x", category="heavy")
    assert server.count() == 2 and budget.usage() == {"heavy": 2}


# ---------------------------------------------------------------------------- redaction
def test_secrets_never_appear_in_errors_or_logs(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {
        "echo": f"Authorization: Bearer {TOKEN_1}",
        "url": f"/v2/x?access_token={TOKEN_1}",
        "key": TOKEN_1,
    }
    server.on("/v2/x", Reply(500, echo), Reply(422, echo))
    redactor = Redactor()
    client = make_client(server, auth=QueryTokenAuth("access_token", TOKEN_1), redactor=redactor)
    with caplog.at_level(logging.DEBUG, logger="pipelines.http"), pytest.raises(ApiError) as info:
        client.get_json("x", category="light", params={"page_size": 300})
    exc = info.value
    assert exc.status == 422 and server.count() == 2
    assert TOKEN_1 in redactor  # registered the moment it was attached
    assert "access_token=***" in str(exc.url)
    assert secrets_absent(str(exc), repr(exc), exc.url, exc.body, exc.endpoint, repr(client))
    assert caplog.records, "expected DEBUG/INFO lines from pipelines.http"
    assert secrets_absent(caplog.text)
    assert any("retrying" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_concurrent_downloads_share_the_client(server: ScriptedServer) -> None:
    for i in range(12):
        server.on(f"/v2/item/{i}", Reply(200, {"i": i}))
    client = make_client(server, auth=RotatingAuth())
    results: dict[int, Any] = {}

    def fetch(i: int) -> None:
        results[i] = client.get_json(f"item/{i}", category="light")

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)
    assert results == {i: {"i": i} for i in range(12)}
    assert server.count() == 12 and client.stats["light"]["sent"] == 12
