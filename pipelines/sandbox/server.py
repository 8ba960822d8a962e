"""The sandbox HTTP server: Zoom API + OAuth + recording downloads + MEETS API on one loopback port,
and MEETS' third-party storage host (the 303 target) on a second port.

The server owns what every endpoint shares: request counting per rate-limit category, Zoom's
rate limits, access-token checks and the fault knobs. Endpoint behaviour lives in ``zoom_api``,
``meets_api`` and ``oauth``.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import orjson

from pipelines.sandbox import meets_api, oauth, zoom_api
from pipelines.sandbox.config import (
    MEETS_TOKEN_HEADER,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_MEETS_TOKEN,
    SANDBOX_REDIRECT_URI,
    SandboxConfig,
)
from pipelines.sandbox.http_types import Request, Response, json_response, meets_error, zoom_error
from pipelines.sandbox.state import SandboxState

log = logging.getLogger("pipelines.sandbox")

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive requests wait ~40 ms on delayed ACKs
    server_version = "meetings-warehouse-sandbox/1.0"
    sandbox: SandboxServer  # set on the subclass per server
    is_storage = False

    def log_message(self, format: str, *args: object) -> None:  # quiet by default
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request.build(self.command, self.path, self.headers, body)
        try:
            resp = self.sandbox.handle_storage(req) if self.is_storage else self.sandbox.handle(req)
        except Exception:  # a sandbox bug must show up as a 500, never hang the client
            log.exception("sandbox error on %s %s", self.command, self.path)
            resp = json_response(500, {"code": 500, "message": "sandbox internal error"})
        self._send(resp)

    def _send(self, resp: Response) -> None:
        cut = resp.headers.pop("X-Sandbox-Cutoff", None) == "1"
        self.send_response(resp.status)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", resp.content_type)
        if isinstance(resp.body, bytes):
            length = len(resp.body)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            if cut:
                self.wfile.write(resp.body[: max(1, length // 2)])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(resp.body)
            return
        self.send_header("Content-Length", str(resp.length))
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            for chunk in resp.body:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SandboxServer:
    """Start with ``with SandboxServer(config) as sb: ...`` or ``start()``/``stop()``."""

    def __init__(self, config: SandboxConfig | None = None, state: SandboxState | None = None):
        self.config = config or SandboxConfig()
        self.state = state or SandboxState(self.config)
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.base_url = ""
        self.storage_url = ""
        self.webhooks = None  # WebhookSender when config.webhook_url is set

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SandboxServer:
        api = self._make_server(self.config.port, storage=False)
        storage = self._make_server(self.config.storage_port, storage=True)
        self.base_url = f"http://{self.config.host}:{api.server_address[1]}"
        self.storage_url = f"http://{self.config.host}:{storage.server_address[1]}"
        self.state.storage_base_url = self.storage_url
        for srv in (api, storage):
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            t.start()
            self._threads.append(t)
        if self.config.webhook_url:
            from pipelines.sandbox.webhooks import WebhookSender, parse_delays

            self.webhooks = WebhookSender(
                self.state,
                self.config.webhook_url,
                self.config.webhook_secret,
                self.base_url,
                parse_delays(self.config.webhook_retry_delays),
            ).start()
        return self

    def _make_server(self, port: int, storage: bool) -> ThreadingHTTPServer:
        handler = type("Handler", (_Handler,), {"sandbox": self, "is_storage": storage})
        srv = ThreadingHTTPServer((self.config.host, port), handler)
        srv.daemon_threads = True
        self._servers.append(srv)
        return srv

    def stop(self) -> None:
        if self.webhooks is not None:
            self.webhooks.stop()
            self.webhooks = None
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers.clear()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def info(self) -> dict:
        """What a client needs: base URLs and the sandbox's public test credentials."""
        return {
            "zoom_api_base_url": f"{self.base_url}/v2",
            "zoom_oauth_base_url": f"{self.base_url}/oauth",
            "zoom_download_host": self.base_url,
            "meets_base_url": f"{self.base_url}/meets/api",
            "meets_token_header": MEETS_TOKEN_HEADER,
            "storage_url": self.storage_url,
            "account_id": self.config.account_id,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
            "meets_token": SANDBOX_MEETS_TOKEN,
            "redirect_uri": SANDBOX_REDIRECT_URI,
            "plan": self.config.plan,
            "seed": self.config.seed,
            "clock": self.state.now().isoformat(),
            "start_date": self.state.account.start_date.isoformat(),
            "profile": self.config.profile.as_dict(),
        }

    # ------------------------------------------------------------------ dispatch
    def handle(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/_sandbox/"):
            return self._admin(req)
        if path == "/oauth/token":
            self.state.count("oauth", "oauth/token")
            return self._with_faults(
                req, "oauth", lambda: oauth.token(req, self.state, self.base_url), json_kind="zoom"
            )
        if path == "/oauth/authorize":
            return oauth.authorize(req, self.state)
        if path.startswith("/v2/"):
            return self._zoom(req)
        if path.startswith("/rec/download/"):
            return self._zoom_download(req)
        if path.startswith("/meets/api/"):
            return self._meets(req)
        return zoom_error(404, 404, f"No such endpoint: {path}")

    def _zoom(self, req: Request) -> Response:
        sub = req.path[len("/v2") :]
        found = next(
            ((r, m) for r in zoom_api.ROUTES if r.method == req.method and (m := r.pattern.fullmatch(sub))),
            None,
        )
        if found is None:
            self.state.count("unknown", "unknown")
            return zoom_error(404, 404, f"No such endpoint: {req.method} /v2{sub}")
        route, match = found
        self.state.count(route.category, route.endpoint)
        allowed, rl_headers, limit_type = self.state.rate_limit(route.category)
        if not allowed:
            msg = DAILY_MESSAGE if limit_type == "Daily-limit" else QPS_MESSAGE
            return zoom_error(429, 429, msg, rl_headers)
        token_value = _bearer(req)
        if token_value is None and req.arg("access_token"):
            return zoom_error(
                401,
                124,
                "Invalid access token, this access token is not supported as query parameter string.",
            )
        tok, problem = self.state.check_access_token(token_value)
        if tok is None:
            return zoom_error(401, 124, problem or "Invalid access token.", rl_headers)

        def run() -> Response:
            resp = self.state.bad_inputs.apply(
                route.endpoint,
                req,
                self.config.profile.apply(route.endpoint, route.handler(req, self.state, match, tok)),
            )
            for k, v in rl_headers.items():
                resp.headers.setdefault(k, v)
            return resp

        return self._with_faults(req, route.category, run, json_kind="zoom", headers=rl_headers)

    def _zoom_download(self, req: Request) -> Response:
        self.state.count("download", "rec/download")
        key = unquote(req.path[len("/rec/download/") :])
        return self._with_faults(
            req, "download", lambda: zoom_api.download(req, self.state, key), json_kind="zoom"
        )

    def _meets(self, req: Request) -> Response:
        function = req.path[len("/meets/api/") :].strip("/")
        self.state.count("meets", f"meets/{function}")
        token = req.headers.get(MEETS_TOKEN_HEADER)
        if token != SANDBOX_MEETS_TOKEN:
            return meets_error(401, f"Missing or invalid API token in the {MEETS_TOKEN_HEADER} header")
        return self._with_faults(
            req,
            "meets",
            lambda: self.state.bad_inputs.apply(
                f"meets/{function}",
                req,
                self.config.profile.apply(f"meets/{function}", meets_api.handle(req, self.state, function)),
            ),
            json_kind="meets",
        )

    def handle_storage(self, req: Request) -> Response:
        with self.state.lock:
            self.state.storage_requests.append(
                {
                    "method": req.method,
                    "path": req.path,
                    "query": req.raw_query,
                    "headers": dict(req.headers.items()),
                }
            )
        return meets_api.storage(req, self.state)

    # ------------------------------------------------------------------ faults
    def _with_faults(
        self, req: Request, category: str, run, json_kind: str, headers: dict | None = None
    ) -> Response:
        f = self.config.faults
        st = self.state
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000)
        with st.lock:
            roll = st.fault_rng.random()
            slow_roll = st.fault_rng.random()
            body_roll = st.fault_rng.random()
        if f.slow_probability and slow_roll < f.slow_probability:
            st.counters.faults["slow"] += 1
            time.sleep(f.slow_seconds)
        edge = 0.0
        for name, p in (("429", f.p429), ("5xx", f.p5xx), ("500_nonjson", f.p500_nonjson)):
            edge += p
            if p and roll < edge:
                st.counters.faults[name] += 1
                return _fault_response(name, json_kind, headers)
        resp = run()
        if resp.is_json and resp.status == 200:
            if f.p_cutoff and body_roll < f.p_cutoff:
                st.counters.faults["cutoff"] += 1
                resp.headers["X-Sandbox-Cutoff"] = "1"
            elif f.p_invalid_json and body_roll < f.p_cutoff + f.p_invalid_json:
                st.counters.faults["invalid_json"] += 1
                resp.body = resp.body[: max(1, len(resp.body) - 7)] + b"}}}garbage"  # type: ignore[operator]
        return resp

    # ------------------------------------------------------------------ admin
    def _admin(self, req: Request) -> Response:
        name = req.path[len("/_sandbox/") :].strip("/")
        st = self.state
        payload = orjson.loads(req.raw_body) if req.raw_body and req.method == "POST" else {}
        if name == "info":
            return json_response(200, self.info())
        if name == "stats":
            with st.lock:
                return json_response(200, st.counters.as_dict())
        if name == "reset" and req.method == "POST":
            st.reset_counters()
            return json_response(200, {"ok": True})
        if name == "faults":
            if req.method == "POST":
                try:
                    self.config.faults.update(payload)
                except (TypeError, ValueError) as exc:
                    return json_response(400, {"error": str(exc)})
            return json_response(200, vars(self.config.faults))
        if name == "expire_tokens" and req.method == "POST":
            return json_response(200, {"expired": st.expire_access_tokens()})
        if name == "clock":
            if req.method == "POST":
                if "advance_seconds" in payload:
                    st.set_clock(self.config.faults.clock_offset + int(payload["advance_seconds"]))
                if "advance_days" in payload:
                    st.set_clock(self.config.faults.clock_offset + int(payload["advance_days"]) * 86400)
                if "offset_seconds" in payload:
                    st.set_clock(int(payload["offset_seconds"]))
            return json_response(
                200, {"now": st.now().isoformat(), "offset_seconds": self.config.faults.clock_offset}
            )
        if name == "truth":
            from pipelines.sandbox.truth import compute_truth

            truth = compute_truth(
                st.account,
                st.now(),
                detail=req.arg("detail") != "0",
                attendance_final_after=self.config.attendance_final_after,
            )
            if st.bad_inputs.mutations:
                truth["bad_inputs"] = st.bad_inputs.truth()
            return json_response(200, truth)
        if name == "bad_inputs":
            if req.method == "POST":
                try:
                    if payload.get("clear"):
                        st.bad_inputs.clear()
                    st.bad_inputs.add(payload.get("mutations") or [])
                except (TypeError, ValueError) as exc:
                    return json_response(400, {"error": str(exc)})
            return json_response(200, st.bad_inputs.truth())
        if name == "webhooks":  # the webhook sender's delivery attempts (empty without --webhook-url)
            return json_response(200, self.webhooks.status() if self.webhooks else {"url": None})
        if name == "storage_requests":
            with st.lock:
                return json_response(200, list(st.storage_requests))
        return json_response(404, {"error": f"unknown admin endpoint {name!r}"})


def _bearer(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _fault_response(name: str, json_kind: str, headers: dict | None) -> Response:
    if name == "429":
        h = dict(headers or {})
        h.update({"X-RateLimit-Type": "QPS", "Retry-After": "1"})
        if json_kind == "meets":
            return meets_error(429, "Too many requests; try again later")
        return zoom_error(429, 429, QPS_MESSAGE, h)
    if name == "5xx":
        if json_kind == "meets":
            return meets_error(503, "Service temporarily unavailable")
        return zoom_error(503, 503, "Service temporarily unavailable. Try again later.")
    return Response(
        500,
        b"<html><body><h1>500 Internal Server Error</h1>upstream timed out</body></html>",
        {},
        "text/html",
    )
