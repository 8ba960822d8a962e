"""Exception types a caller can act on.

Why typed errors: the sources need to decide *what to do* - skip one item
(:class:`NotFound`), stop the run and tell the operator to fix credentials or
scopes (:class:`AuthError`), stop and resume after the daily reset
(:class:`RateBudgetExceeded`), or treat a flaky upstream as a failed run
(:class:`ApiError`, :class:`BadResponse`). Each message says what happened and
what to do about it.

Every string stored on an exception is assumed to have been passed through the
client's :class:`~pipelines.api_client.redact.Redactor` already; as a last line of
defence the constructor also applies the shape-based scrubbing
(``access_token=``, ``Authorization:``...) so a careless caller cannot leak a token
through ``str(exc)`` or ``repr(exc)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pipelines import clock
from pipelines.api_client.redact import scrub_patterns

BODY_SNIPPET_CHARS = 500


def _scrub(value: str | None) -> str | None:
    return None if value is None else scrub_patterns(value)


def format_reset(resets_at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """Human-readable ``2026-11-26 00:00 UTC (in 3h 12m)`` for messages."""
    if resets_at is None:
        return "an unknown time"
    now = now or clock.now()
    at = resets_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    seconds = max(0, int((resets_at - now).total_seconds()))
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        left = f"{hours}h {minutes:02d}m"
    elif minutes:
        left = f"{minutes}m {secs:02d}s"
    else:
        left = f"{secs}s"
    return f"{at} (in {left})"


class ApiError(Exception):
    """Base class: an HTTP call failed in a way the caller must handle.

    Attributes are redacted: ``status`` (HTTP status or ``None`` for transport
    failures), ``url``, ``method``, ``body`` (first 500 chars of the response),
    ``endpoint`` (URL path, handy for grouping failures in run summaries) and
    ``attempts`` (how many times the request was sent).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
        body: str | None = None,
        endpoint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        self.message = scrub_patterns(message)
        super().__init__(self.message)
        self.status = status
        self.url = _scrub(url)
        self.method = method
        self.body = _scrub(body[:BODY_SNIPPET_CHARS] if body is not None else None)
        self.endpoint = _scrub(endpoint)
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, url={self.url!r}, message={self.message!r})"


class AuthError(ApiError):
    """Credentials were rejected (401/403), could not be refreshed, or lack scopes.

    ``missing_scopes`` lists the scopes Zoom named in a code 4700/4711 body, so the
    operator knows exactly what to add to the app in the Zoom App Marketplace.
    """

    def __init__(
        self,
        message: str,
        *,
        missing_scopes: Sequence[str] = (),
        api_code: int | None = None,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
        body: str | None = None,
        endpoint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(
            message, status=status, url=url, method=method, body=body, endpoint=endpoint, attempts=attempts
        )
        self.missing_scopes = list(missing_scopes)
        self.api_code = api_code


class RateBudgetExceeded(ApiError):
    """No more requests may be sent in this category until ``resets_at``.

    Raised either by our own daily ledger (``source="budget"``, ``used``/``limit``
    known) or because Zoom itself answered 429 ``X-RateLimit-Type: Daily-limit`` or
    asked for a wait longer than we are willing to sleep (``source="zoom"``). The
    right reaction is to stop the run cleanly and resume after ``resets_at``.
    """

    def __init__(
        self,
        category: str,
        *,
        used: int | None,
        limit: int | None,
        resets_at: dt.datetime | None,
        group: str | None = None,
        source: str = "budget",
        detail: str | None = None,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
        body: str | None = None,
        endpoint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        self.category = category
        self.used = used
        self.limit = limit
        self.resets_at = resets_at
        self.group = group or category
        self.source = source
        remaining = None if used is None or limit is None else max(0, limit - used)
        if detail is None:
            detail = f"Daily request budget '{self.group}' is spent (request category '{category}')"
        counts = (
            f"used {used} of {limit} requests today (UTC), {remaining} left"
            if used is not None and limit is not None
            else (f"limit {limit} per day" if limit is not None else "remaining quota unknown")
        )
        advice = (
            "Stop and resume after the reset, or raise the budget in the pipeline config if the "
            "account has headroom (the quota is shared by every app on the account)."
            if source == "budget"
            else "Stop and resume after the reset; other apps on the account share this quota, so "
            "consider lowering this pipeline's daily budget."
        )
        message = f"{detail}: {counts}; resets at {format_reset(resets_at)}. {advice}"
        super().__init__(
            message, status=status, url=url, method=method, body=body, endpoint=endpoint, attempts=attempts
        )

    @property
    def remaining(self) -> int | None:
        if self.used is None or self.limit is None:
            return None
        return max(0, self.limit - self.used)


class BadResponse(ApiError):
    """The server kept returning invalid or cut-off JSON after every retry.

    Usually a transient upstream or proxy problem; rerun later. If it persists for one
    endpoint, the endpoint may not return JSON at all (call it with ``expect_json=False``).
    """


class NotFound(ApiError):
    """HTTP 404: the item is gone or not visible to this account; callers may skip it."""


class HostNotAllowed(ApiError):
    """Refused to attach credentials to a URL outside the client's ``allowed_hosts``.

    Protects tokens from being sent to a third-party host (e.g. a CDN named in an API
    response). Pass ``authenticate=False`` if the URL needs no credentials, or add the
    host to ``allowed_hosts`` if it really is part of the API.
    """
