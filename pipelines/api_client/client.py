"""The one HTTP client shared by the Zoom source, the MEETS source and the downloader.

Why one client: pacing (rate limiter), the shared daily budget, retries, credential
hygiene and redaction are easy to get subtly wrong; doing them once means every
pipeline gets the same guarantees:

* every send (including retries and redirect hops to API hosts) first waits for the
  category's rate limiter and is then counted in the daily budget;
* credentials are attached only to ``allowed_hosts``; ``requests`` never follows
  redirects itself (it would carry headers along), we follow them by hand;
* transient failures (429, 5xx, connection errors, read timeouts, cut-off or invalid
  JSON) are retried with jittered backoff or the server's ``Retry-After``; Zoom's
  daily-cap 429 is not retried;
* errors are typed (:mod:`pipelines.api_client.errors`) and every message, repr and
  log line goes through the redactor.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from pipelines.api_client.auth import AuthProvider, NoAuth
from pipelines.api_client.budget import RequestBudget, next_utc_midnight
from pipelines.api_client.errors import (
    ApiError,
    AuthError,
    BadResponse,
    HostNotAllowed,
    NotFound,
    RateBudgetExceeded,
)
from pipelines.api_client.rate_limit import RateLimiter
from pipelines.api_client.redact import DEFAULT_REDACTOR, Redactor
from pipelines.api_client.retry import (
    BODY_EXCEPTIONS,
    RetryPolicy,
    header,
    is_daily_limit,
    is_transient_exception,
    parse_retry_after,
    retry_after_datetime,
)

logger = logging.getLogger("pipelines.http")

DEFAULT_USER_AGENT = "meetings-warehouse/0.1 (+python-requests)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_PARSED_ATTR = "_api_client_json"

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of an absolute URL, or of a bare ``host[:port]`` (https)."""
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"not an absolute URL or host: {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid port in {url!r}") from exc
    return scheme, host, port or _DEFAULT_PORTS.get(scheme, 0)


def _zoom_error(body: str | None) -> tuple[int | None, str | None, list[str]]:
    """``(code, message, missing_scopes)`` from a Zoom-style ``{"code":..,"message":..}`` body."""
    if not body:
        return None, None, []
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None, []
    if not isinstance(payload, dict):
        return None, None, []
    code = payload.get("code")
    message = payload.get("message")
    code = code if isinstance(code, int) else None
    message = message if isinstance(message, str) else None
    scopes: list[str] = []
    if message and (code in (4700, 4711) or "does not contain" in message):
        # "Invalid access token, does not contain scopes:[meeting:read:admin, user:read]."
        start, end = message.find("["), message.rfind("]")
        if 0 <= start < end:
            scopes = [s.strip() for s in message[start + 1 : end].split(",") if s.strip()]
    return code, message, scopes


class _ClientStats:
    """Per-category counters for run summaries (thread-safe)."""

    KEYS = ("sent", "retries", "http_429", "auth_refreshes", "redirects", "failures")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def add(self, category: str, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts.setdefault(category, Counter())[key] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {cat: {k: c.get(k, 0) for k in self.KEYS} for cat, c in sorted(self._counts.items())}


class ApiClient:
    """Rate-limited, budgeted, retrying HTTP client that keeps credentials on allowed hosts.

    Thread-safe for the modest concurrency the pipelines use (2-4 download threads):
    the session's pool holds 8 connections and the client mutates no shared request
    state; counters and the limiter are locked.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthProvider | None = None,
        limiter: RateLimiter,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        allowed_hosts: Iterable[str] | None = None,
        timeout: float | tuple[float, float] = (10, 60),
        redactor: Redactor | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        session: requests.Session | None = None,
        pool_maxsize: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        base_origin = origin_of(self.base_url)
        if base_origin[0] not in _DEFAULT_PORTS:
            raise ValueError(f"base_url must be http(s): {base_url!r}")
        self.auth: AuthProvider = auth if auth is not None else NoAuth()
        self.limiter = limiter
        self.budget = budget
        self.retry = retry if retry is not None else RetryPolicy()
        # The base URL's own origin is always allowed; allowed_hosts adds more.
        self.allowed_origins: frozenset[Origin] = frozenset(
            {base_origin, *(origin_of(h) for h in (allowed_hosts or ()))}
        )
        self.timeout = timeout
        self.redactor = redactor if redactor is not None else DEFAULT_REDACTOR
        self.user_agent = user_agent
        self._owns_session = session is None
        self.session = session if session is not None else self._new_session(pool_maxsize)
        self._stats = _ClientStats()

    @staticmethod
    def _new_session(pool_maxsize: int) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        # No cookies, ever: they could carry session credentials across hosts, and
        # none of the APIs need them.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        return session

    # ------------------------------------------------------------------ public API
    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """``{category: {"sent", "retries", "http_429", "auth_refreshes", "redirects", "failures"}}``."""
        return self._stats.snapshot()

    def is_allowed(self, url: str) -> bool:
        """Whether credentials may be attached to ``url`` (scheme + host + port match)."""
        try:
            return origin_of(url) in self.allowed_origins
        except ValueError:
            return False

    def url_for(self, url_or_path: str) -> str:
        """Absolute URL: absolute inputs unchanged, paths appended to ``base_url``.

        Plain concatenation (not ``urljoin``) so ``/v2`` in the base URL is kept for
        both ``"users"`` and ``"/users"``.
        """
        if "://" in url_or_path.split("?", 1)[0]:
            return url_or_path
        return f"{self.base_url}/{url_or_path.lstrip('/')}"

    def get_json(self, path: str, *, category: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and return the decoded JSON body (usually a dict)."""
        response = self.request("GET", path, category=category, params=params, expect_json=True)
        return getattr(response, _PARSED_ATTR, None)

    def post_form_json(self, path: str, *, category: str, data: Mapping[str, Any]) -> Any:
        """POST ``application/x-www-form-urlencoded`` data and return the decoded JSON body."""
        response = self.request("POST", path, category=category, data=data, expect_json=True)
        return getattr(response, _PARSED_ATTR, None)

    def request(
        self,
        method: str,
        url_or_path: str,
        *,
        category: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        expect_json: bool = True,
        authenticate: bool = True,
        allow_redirects: bool = False,
        follow_redirects_without_auth: bool = False,
    ) -> requests.Response:
        """Send one logical request with pacing, budget, retries and typed errors.

        Returns the response for 2xx/3xx (3xx only when not following redirects). With
        ``expect_json`` the body must decode as JSON, otherwise the request is retried
        and finally :class:`BadResponse` is raised. ``follow_redirects_without_auth``
        follows every hop as a clean request with no credentials and no cookies (for
        signed CDN download URLs). With ``stream=True`` the caller must close the
        returned response.
        """
        method = method.upper()
        url = self.url_for(url_or_path)
        if authenticate and not self.is_allowed(url):
            raise HostNotAllowed(
                f"Refusing to send credentials for {method} {self._r(url)}: host is not in allowed_hosts "
                f"({self._allowed_repr()}). Pass authenticate=False if the URL needs no credentials, "
                "or add the host to allowed_hosts if it is part of the API.",
                url=self._r(url),
                method=method,
                endpoint=self._endpoint(url),
            )
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                response = self._send_with_redirects(
                    method,
                    url,
                    category=category,
                    params=params,
                    data=data,
                    headers=headers,
                    stream=stream,
                    authenticate=authenticate,
                    allow_redirects=allow_redirects or follow_redirects_without_auth,
                    clean_hops=follow_redirects_without_auth,
                )
                if expect_json and 200 <= response.status_code < 300:
                    self._decode_json(response)
            except requests.RequestException as exc:
                sent_url = getattr(exc.request, "url", None) or url
                self._on_transport_error(exc, method, sent_url, category, attempt)
                continue
            except _InvalidJson as bad:
                self._on_invalid_json(bad, method, bad.response.url or url, category, attempt)
                continue

            status = response.status_code
            if 200 <= status < 400:
                return response

            body = self._body_snippet(response)
            # The URL actually sent (query + auth params, after redirects); redacted below.
            sent_url = response.url or url
            if status == 401 and authenticate and not refreshed and not _zoom_error(body)[2]:
                refreshed = True
                self._stats.add(category, "auth_refreshes")
                logger.info(
                    "%s %s [%s] got HTTP 401; refreshing credentials and retrying once",
                    method,
                    self._r(url),
                    category,
                )
                try:
                    self.auth.refresh()
                except AuthError as exc:
                    raise self._auth_error(
                        status, method, sent_url, body, attempt, refreshed=False, note=str(exc)
                    ) from exc
                continue
            if status == 429:
                self._stats.add(category, "http_429")
                self._on_429(response, body, method, sent_url, category, attempt)
                continue
            if self.retry.should_retry_status(status):
                self._on_retryable_status(response, body, method, sent_url, category, attempt)
                continue
            self._stats.add(category, "failures")
            raise self._client_error(status, method, sent_url, body, attempt, response.reason, refreshed)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self._r(self.base_url)!r}, allowed_hosts={self._allowed_repr()}, auth={self.auth!r})"

    # ------------------------------------------------------------------ sending
    def _send_with_redirects(
        self,
        method: str,
        url: str,
        *,
        category: str,
        params: Mapping[str, Any] | None,
        data: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
        authenticate: bool,
        allow_redirects: bool,
        clean_hops: bool,
    ) -> requests.Response:
        """One attempt: the request plus, if asked, up to ``MAX_REDIRECTS`` manual hops."""
        response = self._send_once(
            method,
            url,
            category=category,
            params=params,
            data=data,
            headers=headers,
            stream=stream,
            with_auth=authenticate,
        )
        hops = 0
        while (
            allow_redirects and response.status_code in REDIRECT_STATUSES and "location" in response.headers
        ):
            if hops >= MAX_REDIRECTS:
                response.close()
                raise ApiError(
                    f"{method} {self._r(url)} redirected more than {MAX_REDIRECTS} times; giving up. "
                    "The server is probably misconfigured; check the URL.",
                    status=response.status_code,
                    url=self._r(url),
                    method=method,
                    endpoint=self._endpoint(url),
                )
            hops += 1
            self._stats.add(category, "redirects")
            target = urljoin(response.url or url, response.headers["location"])
            status = response.status_code
            response.close()
            # Same method rewriting as browsers / requests: 303 -> GET, 301/302 POST -> GET.
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, data = "GET", None
            if clean_hops:
                hop_headers: Mapping[str, str] | None = None
                with_auth = False
            else:
                with_auth = authenticate and self.is_allowed(target)
                hop_headers = headers if with_auth else self._strip_credentials(headers)
            logger.debug(
                "following HTTP %s redirect to %s (credentials: %s)", status, self._r(target), with_auth
            )
            response = self._send_once(
                method,
                target,
                category=category,
                params=None,
                data=data,
                headers=hop_headers,
                stream=stream,
                with_auth=with_auth,
            )
        return response

    def _strip_credentials(self, headers: Mapping[str, str] | None) -> dict[str, str] | None:
        if not headers:
            return None
        auth_names = {name.lower() for name in self._safe_auth_headers()}
        drop = _CREDENTIAL_HEADERS | auth_names
        return {k: v for k, v in headers.items() if k.lower() not in drop}

    def _safe_auth_headers(self) -> dict[str, str]:
        try:
            return dict(self.auth.headers())
        except Exception:
            return {}

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        category: str,
        params: Mapping[str, Any] | None,
        data: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
        with_auth: bool,
    ) -> requests.Response:
        """Build the request, wait for the limiter, count the budget (API hosts only), send.

        Credentials are fetched before the limiter/budget so a failing token mint does
        not spend budget on a request that was never sent. Redirects are never
        followed here.
        """
        request_headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json, */*;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        }
        request_headers.update(headers or {})
        request_params: dict[str, Any] = dict(params or {})
        if with_auth:
            auth_headers = dict(self.auth.headers())
            query_fn = getattr(self.auth, "query_params", None)
            auth_params = dict(query_fn()) if callable(query_fn) else {}
            # Register the moment they are seen, so nothing logged later can leak them.
            self.redactor.add_header_values(auth_headers)
            self.redactor.add(*(str(v) for v in auth_params.values()))
            request_headers.update(auth_headers)
            request_params.update(auth_params)
        # Prepared directly (not session.prepare_request): no session-level headers,
        # cookies or .netrc credentials can sneak in.
        prepared = requests.Request(
            method, url, params=request_params, data=data, headers=request_headers
        ).prepare()
        settings = self.session.merge_environment_settings(prepared.url, {}, stream, None, None)
        self.limiter.acquire(category)
        if self.budget is not None and self.is_allowed(url):
            self.budget.reserve(category)
        self._stats.add(category, "sent")
        started = time.monotonic()
        try:
            response = self.session.send(prepared, allow_redirects=False, timeout=self.timeout, **settings)
        except requests.RequestException as exc:
            logger.debug(
                "%s %s -> %s after %.3fs [%s]",
                method,
                self._r(prepared.url or url),
                type(exc).__name__,
                time.monotonic() - started,
                category,
            )
            raise
        logger.debug(
            "%s %s -> %s in %.3fs [%s]",
            method,
            self._r(prepared.url or url),
            response.status_code,
            time.monotonic() - started,
            category,
        )
        return response

    # ------------------------------------------------------------------ outcomes
    def _decode_json(self, response: requests.Response) -> None:
        if response.status_code in (204, 205):
            setattr(response, _PARSED_ATTR, None)
            return
        content = response.content  # may raise ChunkedEncodingError on a cut-off body
        if not content:
            raise _InvalidJson(response, "empty body where JSON was expected")
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            try:  # orjson rejects a few things the stdlib accepts (ints > 64 bit, invalid UTF-8)
                # Bytes that are not UTF-8 inside a string become lone surrogates, so the record can be
                # named and quarantined by the source (pipelines.quarantine) instead of failing the page.
                parsed = json.loads(content.decode("utf-8", "surrogateescape"))
            except ValueError as exc:
                raise _InvalidJson(response, f"invalid JSON ({exc})") from exc
        setattr(response, _PARSED_ATTR, parsed)

    def _on_transport_error(
        self, exc: requests.RequestException, method: str, url: str, category: str, attempt: int
    ) -> None:
        """Back off and return for a retryable transport failure, raise otherwise."""
        reason = self._r(f"{type(exc).__name__}: {exc}")
        body_problem = isinstance(exc, BODY_EXCEPTIONS)
        if not is_transient_exception(exc) or not self.retry.can_retry(attempt):
            self._stats.add(category, "failures")
            if body_problem:
                raise BadResponse(
                    f"{method} {self._r(url)} returned a cut-off or undecodable body on all {attempt} attempts "
                    f"({reason}). Likely an upstream/proxy problem; rerun later.",
                    url=self._r(url),
                    method=method,
                    endpoint=self._endpoint(url),
                    attempts=attempt,
                ) from exc
            advice = (
                "Check network access/proxy settings and the API's status page, then rerun."
                if is_transient_exception(exc)
                else "This is not retryable; check the URL and TLS/proxy configuration."
            )
            raise ApiError(
                f"{method} {self._r(url)} failed after {attempt} attempt(s): {reason}. {advice}",
                url=self._r(url),
                method=method,
                endpoint=self._endpoint(url),
                attempts=attempt,
            ) from exc
        self._wait(category, attempt, self.retry.backoff(attempt), reason, method, url)

    def _on_invalid_json(self, bad: _InvalidJson, method: str, url: str, category: str, attempt: int) -> None:
        response = bad.response
        body = self._body_snippet(response)
        if not self.retry.can_retry(attempt):
            self._stats.add(category, "failures")
            raise BadResponse(
                f"{method} {self._r(url)} returned HTTP {response.status_code} with {bad.reason} on all "
                f"{attempt} attempts. Likely an upstream/proxy problem; rerun later. If this endpoint does "
                "not return JSON, call it with expect_json=False.",
                status=response.status_code,
                url=self._r(url),
                method=method,
                body=body,
                endpoint=self._endpoint(url),
                attempts=attempt,
            )
        self._wait(category, attempt, self.retry.backoff(attempt), bad.reason, method, url)

    def _on_429(
        self, response: requests.Response, body: str, method: str, url: str, category: str, attempt: int
    ) -> None:
        now = self.retry.now()
        raw_retry_after = header(response.headers, "Retry-After")
        common: dict[str, Any] = {
            "status": 429,
            "url": self._r(url),
            "method": method,
            "body": body,
            "endpoint": self._endpoint(url),
            "attempts": attempt,
        }
        limit_header = header(response.headers, "X-RateLimit-Limit")
        limit = int(limit_header) if limit_header and limit_header.strip().isdigit() else None
        if is_daily_limit(response.headers, body):
            self._stats.add(category, "failures")
            resets_at = retry_after_datetime(raw_retry_after, now) or next_utc_midnight(now)
            if self.budget is not None:
                self.budget.block(category, resets_at)
            raise RateBudgetExceeded(
                category,
                used=limit,
                limit=limit,
                resets_at=resets_at,
                source="zoom",
                detail=f"Zoom's daily rate limit was hit for category '{category}' ({method} "
                f"{self._endpoint(url)}: HTTP 429, "
                f"{'X-RateLimit-Type: Daily-limit' if header(response.headers, 'X-RateLimit-Type') else 'the daily-limit message'})",
                **common,
            )
        retry_after = parse_retry_after(raw_retry_after, now)
        if retry_after is not None and retry_after > self.retry.max_retry_after:
            self._stats.add(category, "failures")
            raise RateBudgetExceeded(
                category,
                used=None,
                limit=limit,
                resets_at=now + dt.timedelta(seconds=retry_after),
                source="zoom",
                detail=f"The server asked us to wait {retry_after:.0f}s before retrying {method} "
                f"{self._endpoint(url)} (HTTP 429), longer than max_retry_after={self.retry.max_retry_after:.0f}s",
                **common,
            )
        if not self.retry.can_retry(attempt):
            self._stats.add(category, "failures")
            raise ApiError(
                f"{method} {self._r(url)} was still rate limited (HTTP 429) after {attempt} attempts. "
                "Other apps on the account may be using the shared quota; lower the limiter's safety "
                "factor or rerun later.",
                **common,
            )
        delay = self.retry.delay(attempt, retry_after)
        # Pause the whole category (all threads), not just this request: the quota is shared.
        self.limiter.penalize(category, delay)
        self._stats.add(category, "retries")
        logger.info(
            "retrying %s %s [%s] after %.2fs (attempt %d/%d): HTTP 429%s",
            method,
            self._r(url),
            category,
            delay,
            attempt + 1,
            self.retry.max_attempts,
            f", Retry-After {raw_retry_after}" if raw_retry_after else "",
        )

    def _on_retryable_status(
        self, response: requests.Response, body: str, method: str, url: str, category: str, attempt: int
    ) -> None:
        status = response.status_code
        retry_after = parse_retry_after(header(response.headers, "Retry-After"), self.retry.now())
        common: dict[str, Any] = {
            "status": status,
            "url": self._r(url),
            "method": method,
            "body": body,
            "endpoint": self._endpoint(url),
            "attempts": attempt,
        }
        if retry_after is not None and retry_after > self.retry.max_retry_after:
            self._stats.add(category, "failures")
            raise ApiError(
                f"{method} {self._r(url)} returned HTTP {status} and asked to retry after {retry_after:.0f}s, "
                f"longer than max_retry_after={self.retry.max_retry_after:.0f}s. The API is likely in "
                "maintenance; rerun later.",
                **common,
            )
        if not self.retry.can_retry(attempt):
            self._stats.add(category, "failures")
            raise ApiError(
                f"{method} {self._r(url)} kept failing with HTTP {status} ({response.reason}) after {attempt} "
                "attempts. The API is having trouble; check its status page and rerun later.",
                **common,
            )
        reason = f"HTTP {status}" + (f", Retry-After {retry_after:.1f}s" if retry_after is not None else "")
        self._wait(category, attempt, self.retry.delay(attempt, retry_after), reason, method, url)

    def _wait(self, category: str, attempt: int, delay: float, reason: str, method: str, url: str) -> None:
        self._stats.add(category, "retries")
        logger.info(
            "retrying %s %s [%s] in %.2fs (attempt %d/%d): %s",
            method,
            self._r(url),
            category,
            delay,
            attempt + 1,
            self.retry.max_attempts,
            reason,
        )
        if delay > 0:
            self.retry.sleep(delay)

    def _auth_error(
        self,
        status: int,
        method: str,
        url: str,
        body: str,
        attempts: int,
        *,
        refreshed: bool,
        note: str | None = None,
    ) -> AuthError:
        code, api_message, scopes = _zoom_error(body)
        where = f"{method} {self._endpoint(url)}"
        if scopes:
            message = (
                f"{where} was refused (HTTP {status}, code {code}): the access token lacks the scope(s) "
                f"{', '.join(scopes)}. Add them to the app in the Zoom App Marketplace (Scopes), "
                "re-activate/re-authorize the app, then rerun."
            )
        elif status == 401:
            message = (
                f"{where} rejected the credentials (HTTP 401{f', code {code}' if code else ''})"
                f"{' even after one credential refresh' if refreshed else ''}. Check the configured account "
                "id / client id / client secret or API token and that the app is activated, then rerun."
            )
        else:
            message = (
                f"{where} is forbidden (HTTP {status}{f', code {code}' if code else ''}). The credentials "
                "are valid but lack permission: check the app's scopes, the user's role and the account "
                "plan/features."
            )
        if api_message:
            message += f" Server said: {self._r(api_message)}"
        if note:
            message += f" ({self._r(note)})"
        return AuthError(
            message,
            missing_scopes=scopes,
            api_code=code,
            status=status,
            url=self._r(url),
            method=method,
            body=body,
            endpoint=self._endpoint(url),
            attempts=attempts,
        )

    def _client_error(
        self,
        status: int,
        method: str,
        url: str,
        body: str,
        attempts: int,
        reason: str | None,
        refreshed: bool,
    ) -> ApiError:
        code, api_message, scopes = _zoom_error(body)
        if status in (401, 403) or scopes:
            return self._auth_error(status, method, url, body, attempts, refreshed=refreshed)
        common: dict[str, Any] = {
            "status": status,
            "url": self._r(url),
            "method": method,
            "body": body,
            "endpoint": self._endpoint(url),
            "attempts": attempts,
        }
        said = f" Server said: {self._r(api_message)}" if api_message else ""
        if status == 404:
            return NotFound(
                f"{method} {self._endpoint(url)} returned HTTP 404{f' (code {code})' if code else ''}: the item "
                f"does not exist or is not visible to this account; skip it.{said}",
                **common,
            )
        return ApiError(
            f"{method} {self._r(url)} returned HTTP {status} {reason or ''}".rstrip()
            + f"{f' (code {code})' if code else ''}. The request was rejected; check its parameters.{said}",
            **common,
        )

    # ------------------------------------------------------------------ helpers
    def _body_snippet(self, response: requests.Response, limit: int = 2048) -> str:
        """First bytes of the body, redacted, without reading a huge stream."""
        try:
            if response.raw is not None and not response._content_consumed:  # type: ignore[attr-defined]
                chunk = next(response.iter_content(limit), b"")
                response.close()
            else:
                chunk = (response.content or b"")[:limit]
        except (requests.RequestException, StopIteration, AttributeError, ValueError):
            chunk = b""
        if isinstance(chunk, str):
            chunk = chunk.encode()
        return self._r(chunk.decode("utf-8", errors="replace"))

    def _r(self, text: object) -> str:
        return self.redactor.redact(text)

    def _endpoint(self, url: str) -> str:
        return self._r(urlsplit(url).path or "/")

    def _allowed_repr(self) -> str:
        return ", ".join(sorted(f"{s}://{h}:{p}" for s, h, p in self.allowed_origins))


class _InvalidJson(Exception):
    """Internal signal: a 2xx body that should be JSON is not (retry, then BadResponse)."""

    def __init__(self, response: requests.Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason
