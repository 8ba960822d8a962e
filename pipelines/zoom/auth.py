"""Zoom OAuth: Server-to-Server tokens, the General app's rotating refresh token, and ``authorize``.

Two :class:`~pipelines.api_client.AuthProvider` implementations:

* :class:`ZoomS2SAuth` - ``grant_type=account_credentials``. One cached token per provider,
  renewed shortly before it expires and, if Zoom rejects it anyway (401: Zoom may invalidate
  older S2S tokens), renewed once more and the request retried by the client.
* :class:`ZoomRefreshTokenAuth` - a General (user-authorized) app. Zoom **rotates** refresh tokens:
  every refresh returns a new one and only the newest is accepted. So the new refresh token is
  written to the token file - atomically (temp file + fsync + rename + directory fsync) and with
  0600 permissions - *before* the new access token is used; a crash at any point leaves a file
  holding a refresh token Zoom still accepts. Refreshes are serialised across processes with a
  lock file, and a fresh access token another process already minted is adopted instead of
  rotating again.

:func:`authorize_url` and :func:`exchange_code` implement the one-time authorization-code flow
(with PKCE) behind ``python -m pipelines authorize``.

Tokens and the client secret are registered with the shared redactor the moment they are known,
so they never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pipelines.api_client import (
    DEFAULT_REDACTOR,
    ApiClient,
    ApiError,
    AuthError,
    RateLimit,
    RateLimiter,
    Redactor,
    RetryPolicy,
)

log = logging.getLogger("pipelines.zoom.auth")

OAUTH_CATEGORY = "oauth"
TOKEN_FILE_NAME = "zoom_oauth.json"
DEFAULT_REFRESH_MARGIN = 60.0
"""Renew an access token this many seconds before it expires (capped at a tenth of its lifetime)."""

_REAUTHORIZE = "Run `python -m pipelines authorize` to authorize the app again."


# ----------------------------------------------------------------------------- token endpoint
# What each call of the load needs: Zoom's classic scope, or the granular one that replaces it.
REQUIRED_SCOPES: tuple[tuple[str, str, str], ...] = (
    ("users", "user:read:admin", "user:read:list_users:admin"),
    ("active-hosts report", "report:read:admin", "report:read:list_users:admin"),
    ("dashboard meetings", "dashboard_meetings:read:admin", "dashboard:read:list_meetings:admin"),
    ("participants", "dashboard_meetings:read:admin", "dashboard:read:list_meeting_participants:admin"),
    (
        "participant QoS",
        "dashboard_meetings:read:admin",
        "dashboard:read:list_meeting_participants_qos:admin",
    ),
    ("meeting series", "meeting:read:admin", "meeting:read:list_meetings:admin"),
    ("series details", "meeting:read:admin", "meeting:read:meeting:admin"),
    ("recordings", "recording:read:admin", "cloud_recording:read:list_user_recordings:admin"),
    ("recording files", "recording:read:admin", "cloud_recording:read:list_recording_files:admin"),
)


def missing_scopes(granted: str) -> list[tuple[str, str, str]]:
    """The needs of :data:`REQUIRED_SCOPES` that a token's ``scope`` (space-separated) does not cover.
    A granular scope counts with or without its ``:admin`` suffix (Zoom lists both forms)."""
    have = set(granted.split())
    have |= {f"{s}:admin" for s in have if not s.endswith(":admin")}
    return [need for need in REQUIRED_SCOPES if need[1] not in have and need[2] not in have]


class OAuthTokenEndpoint:
    """``POST {oauth_base_url}/token`` with HTTP Basic client authentication.

    Parameters travel in the form body, never the query string, so no secret ends up in a URL.
    """

    def __init__(
        self,
        oauth_base_url: str,
        client_id: str,
        client_secret: str,
        *,
        redactor: Redactor | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | tuple[float, float] = (10, 30),
    ) -> None:
        if not client_id or not client_secret:
            raise AuthError(
                "Zoom OAuth needs a client id and a client secret: set sources.zoom.client_id and "
                "sources.zoom.client_secret (env SOURCES__ZOOM__CLIENT_ID / SOURCES__ZOOM__CLIENT_SECRET)."
            )
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self.client_id = client_id
        self.redactor = redactor if redactor is not None else DEFAULT_REDACTOR
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._basic = f"Basic {basic}"
        self.redactor.add(client_secret, basic, self._basic)
        self._api = ApiClient(
            self.oauth_base_url,
            limiter=RateLimiter({OAUTH_CATEGORY: RateLimit.per_second(5)}, safety=1.0),
            retry=retry or RetryPolicy(max_attempts=3, max_retry_after=30),
            redactor=self.redactor,
            timeout=timeout,
        )
        self.calls = 0

    def token(self, **form: str) -> dict:
        """POST the grant; return the token response (tokens already registered for redaction)."""
        grant = form.get("grant_type", "?")
        self.calls += 1
        try:
            response = self._api.request(
                "POST",
                "token",
                category=OAUTH_CATEGORY,
                data=form,
                headers={"Authorization": self._basic},
                authenticate=False,
                expect_json=True,
            )
        except AuthError as exc:
            raise self._auth_error(grant, exc) from None
        except ApiError as exc:
            if exc.status in (400, 401, 403):
                raise self._auth_error(grant, exc) from None
            raise
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError(
                f"Zoom's token endpoint answered the {grant} grant without an access_token. "
                "Check sources.zoom.oauth_base_url points at Zoom's OAuth server (https://zoom.us/oauth).",
                endpoint="/oauth/token",
            )
        self.redactor.add(body.get("access_token"), body.get("refresh_token"))
        return body

    def _auth_error(self, grant: str, exc: ApiError) -> AuthError:
        reason, error = _oauth_error_fields(exc.body)
        said = f" (HTTP {exc.status}: {error or '?'}{f' - {reason}' if reason else ''})"
        if grant == "refresh_token":
            advice = (
                "The stored refresh token was rejected. Zoom refresh tokens are single-use and rotate; "
                "this one was probably used by another process, revoked, or expired. " + _REAUTHORIZE
            )
        elif grant == "authorization_code":
            advice = (
                "The authorization code was rejected: codes expire after 5 minutes and work once, and "
                "the redirect URI must match the app's exactly. Start `python -m pipelines authorize` again."
            )
        else:
            advice = (
                "Zoom refused the Server-to-Server OAuth credentials. Check sources.zoom.account_id, "
                "client_id and client_secret, and that the app is activated in the Zoom App Marketplace."
            )
        if error == "invalid_client":
            advice = (
                "Zoom refused the client id / client secret. Check sources.zoom.client_id and "
                "sources.zoom.client_secret (and that the app is activated)."
            )
        return AuthError(
            f"Zoom OAuth {grant} grant failed{said}. {advice}",
            status=exc.status,
            endpoint="/oauth/token",
            body=exc.body,
        )

    def close(self) -> None:
        self._api.close()


def _oauth_error_fields(body: str | None) -> tuple[str, str]:
    try:
        payload = json.loads(body or "")
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    reason = payload.get("reason") or payload.get("message") or ""
    error = payload.get("error") or (str(payload["code"]) if "code" in payload else "")
    return str(reason), str(error)


def refresh_margin(expires_in: float, margin: float = DEFAULT_REFRESH_MARGIN) -> float:
    """Seconds before expiry at which a token is renewed: ``margin``, at most a tenth of its life."""
    return max(0.0, min(margin, expires_in / 10))


# ----------------------------------------------------------------------------- token file
class TokenFile:
    """A JSON file holding the General app's refresh token (and the latest access token).

    Written atomically with mode 0600 in a 0700 directory; :meth:`locked` serialises refreshes
    across processes (``fcntl.flock`` on a sibling ``.lock`` file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AuthError(
                f"The Zoom token file {self.path} is not valid JSON (was it edited by hand?). {_REAUTHORIZE}"
            ) from exc
        if not isinstance(data, dict):
            raise AuthError(f"The Zoom token file {self.path} does not hold a JSON object. {_REAUTHORIZE}")
        DEFAULT_REDACTOR.add(data.get("refresh_token"), data.get("access_token"))
        return data

    def write(self, data: Mapping[str, Any]) -> None:
        """Replace the file atomically: temp file (0600) + fsync + rename + directory fsync."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps(dict(data), indent=1, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


# ----------------------------------------------------------------------------- providers
class _CachedBearer:
    """Shared machinery: a cached access token, proactive renewal, idempotent refresh on 401."""

    def __init__(
        self,
        *,
        proactive_refresh: bool = True,
        margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proactive_refresh = proactive_refresh
        self.margin = margin
        self._clock = clock
        self._lock = threading.RLock()
        self._local = threading.local()
        self._token: str | None = None
        self._renew_at = 0.0
        self.mints = 0
        """Access tokens obtained (first one, proactive renewals and refreshes after a 401)."""
        self.refreshes_after_401 = 0

    # subclass hook: obtain a new token; returns (access_token, expires_in seconds)
    def _mint(self, rejected: str | None) -> tuple[str, float]:
        raise NotImplementedError

    def _adopt(self, token: str, expires_in: float) -> None:
        self._token = token
        self._renew_at = self._clock() + max(0.0, expires_in - refresh_margin(expires_in, self.margin))

    def token(self) -> str:
        with self._lock:
            stale = self._token is None or (self.proactive_refresh and self._clock() >= self._renew_at)
            if stale:
                token, expires_in = self._mint(None)
                self.mints += 1
                self._adopt(token, expires_in)
            assert self._token is not None
            self._local.token = self._token
            return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def query_params(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:
        """Called by the client after a 401: renew unless another thread already did."""
        with self._lock:
            sent = getattr(self._local, "token", None)
            if sent is not None and sent != self._token:
                return  # another thread replaced the rejected token already
            token, expires_in = self._mint(self._token)
            self.mints += 1
            self.refreshes_after_401 += 1
            self._adopt(token, expires_in)
            log.info("Zoom access token renewed after a 401")


class ZoomS2SAuth(_CachedBearer):
    """Server-to-Server OAuth (``grant_type=account_credentials``); Zoom issues no refresh token."""

    def __init__(
        self,
        endpoint: OAuthTokenEndpoint,
        account_id: str,
        *,
        proactive_refresh: bool = True,
        margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not account_id:
            raise AuthError(
                "Server-to-Server OAuth needs the account id: set sources.zoom.account_id "
                "(env SOURCES__ZOOM__ACCOUNT_ID), or leave it empty to use a General app's refresh token."
            )
        super().__init__(proactive_refresh=proactive_refresh, margin=margin, clock=clock)
        self.endpoint = endpoint
        self._account_id = account_id

    def _mint(self, rejected: str | None) -> tuple[str, float]:
        body = self.endpoint.token(grant_type="account_credentials", account_id=self._account_id)
        return str(body["access_token"]), float(body.get("expires_in") or 3599)

    def __repr__(self) -> str:
        return "ZoomS2SAuth(token=***)"


class ZoomRefreshTokenAuth(_CachedBearer):
    """General app: access tokens from the rotating refresh token kept in a :class:`TokenFile`."""

    def __init__(
        self,
        endpoint: OAuthTokenEndpoint,
        token_file: TokenFile,
        *,
        proactive_refresh: bool = True,
        margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(proactive_refresh=proactive_refresh, margin=margin, clock=clock)
        self.endpoint = endpoint
        self.token_file = token_file
        self._wall = wall_clock
        self.rotations = 0
        if not token_file.exists():
            raise AuthError(
                f"No Zoom refresh token found at {token_file.path}: the General (user-authorized) app has "
                f"not been authorized on this machine yet. {_REAUTHORIZE}"
            )

    def _mint(self, rejected: str | None) -> tuple[str, float]:
        with self.token_file.locked():
            data = self.token_file.read() or {}
            refresh_token = data.get("refresh_token")
            if not refresh_token:
                raise AuthError(
                    f"The Zoom token file {self.token_file.path} holds no refresh token. {_REAUTHORIZE}"
                )
            stored = data.get("access_token")
            left = float(data.get("expires_at") or 0) - self._wall()
            # Another process (or an earlier run) may hold a fresh access token: use it, don't rotate.
            if (
                stored
                and stored != rejected
                and stored != self._token
                and left > refresh_margin(left, self.margin) + 1
            ):
                return str(stored), left
            # From the moment Zoom answers, the old refresh token is dead and the new one exists only
            # in this process: Ctrl-C / SIGTERM wait until it is on disk (kill -9 cannot be deferred).
            with deferred_termination():
                body = self.endpoint.token(grant_type="refresh_token", refresh_token=str(refresh_token))
                crash_point("zoom-refresh-answered")
                expires_in = float(body.get("expires_in") or 3599)
                updated = {
                    **data,
                    "refresh_token": body.get("refresh_token") or refresh_token,
                    "access_token": body["access_token"],
                    "expires_at": self._wall() + expires_in,
                    "scope": body.get("scope", data.get("scope", "")),
                    "updated_at": _now_iso(),
                }
                try:
                    # Persist the rotated refresh token BEFORE the new access token is used.
                    self.token_file.write(updated)
                except OSError as exc:
                    raise AuthError(
                        f"Zoom rotated the refresh token but it could not be saved to {self.token_file.path} "
                        f"({exc.strerror or exc}). The old token is no longer valid: fix the file system "
                        f"problem, then {_REAUTHORIZE[0].lower()}{_REAUTHORIZE[1:]}"
                    ) from exc
                crash_point("zoom-refresh-persisted")
            self.rotations += 1
            return str(body["access_token"]), expires_in

    def __repr__(self) -> str:
        return f"ZoomRefreshTokenAuth(token_file={str(self.token_file.path)!r}, token=***)"


@contextlib.contextmanager
def deferred_termination() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then deliver them (main thread only; elsewhere a no-op).

    Guards the few milliseconds between Zoom rotating the refresh token and the new one being on
    disk: an interrupt there would otherwise lose the only valid refresh token.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(received):
            log.warning(
                "Signal %s arrived while the rotated refresh token was being saved; acting on it now", signum
            )
            signal.raise_signal(signum)


CRASH_POINT_ENV = "MW_TEST_CRASH_AT"
"""Test hook (tests/reliability): ``MW_TEST_CRASH_AT=<point>`` makes the process signal itself at that
point (``MW_TEST_CRASH_SIGNAL``: KILL, the default, or TERM/INT). Points: ``zoom-refresh-answered``
(Zoom rotated the refresh token; not yet saved) and ``zoom-refresh-persisted`` (saved; not yet used).
Unset in production: one env lookup per token refresh."""


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_POINT_ENV) == name:
        signame = os.environ.get("MW_TEST_CRASH_SIGNAL", "KILL").upper()
        os.kill(os.getpid(), getattr(signal, f"SIG{signame}"))


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- authorize flow
def new_pkce() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for PKCE with S256."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(
    oauth_base_url: str, client_id: str, redirect_uri: str, *, state: str, code_challenge: str | None = None
) -> str:
    """The URL a user opens to grant the General app access (``/oauth/authorize``)."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state}
    if code_challenge:
        params.update({"code_challenge": code_challenge, "code_challenge_method": "S256"})
    return f"{oauth_base_url.rstrip('/')}/authorize?{urlencode(params)}"


def code_from_redirect(value: str, expected_state: str | None = None) -> str:
    """The authorization code from the redirect URL the browser landed on (or a bare code)."""
    value = value.strip()
    if not value:
        raise AuthError("No authorization code given. Paste the full URL the browser was redirected to.")
    if "://" not in value and "code=" not in value:
        return value
    query = parse_qs(urlsplit(value).query if "://" in value else value.lstrip("?"))
    if "error" in query:
        raise AuthError(
            f"Zoom did not grant access: {query['error'][0]}"
            f"{' - ' + query['error_description'][0] if 'error_description' in query else ''}. "
            "Start `python -m pipelines authorize` again and approve the app."
        )
    code = (query.get("code") or [""])[0]
    if not code:
        raise AuthError(
            "The redirect URL holds no `code` parameter. Paste the full URL from the address bar."
        )
    state = (query.get("state") or [None])[0]
    if expected_state is not None and state != expected_state:
        raise AuthError(
            "The redirect URL's `state` does not match this authorization attempt (a stale or forged "
            "redirect). Start `python -m pipelines authorize` again."
        )
    return code


def exchange_code(
    endpoint: OAuthTokenEndpoint,
    token_file: TokenFile,
    code: str,
    redirect_uri: str,
    *,
    code_verifier: str | None = None,
) -> dict[str, Any]:
    """Trade the one-time code for tokens and store them in ``token_file`` (0600, atomic)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    body = endpoint.token(**form)
    if not body.get("refresh_token"):
        raise AuthError(
            "Zoom returned no refresh token for the authorization code. Is the app a General "
            "(user-authorized) app? Server-to-Server apps need sources.zoom.account_id instead."
        )
    data = {
        "client_id": endpoint.client_id,
        "refresh_token": body["refresh_token"],
        "access_token": body["access_token"],
        "expires_at": time.time() + float(body.get("expires_in") or 3599),
        "scope": body.get("scope", ""),
        "updated_at": _now_iso(),
    }
    token_file.write(data)
    return {"token_file": str(token_file.path), "scope": data["scope"]}
