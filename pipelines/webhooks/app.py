"""The Zoom webhook receiver: a Starlette ASGI app (run under uvicorn by ``python -m pipelines webhooks``).

One endpoint (``[zoom.webhooks] path``, default ``/zoom/webhook``) takes Zoom's event notifications:

1. The ``x-zm-request-timestamp`` must be within ``max_skew_seconds`` of our clock (default 300 s)
   and ``x-zm-signature`` must be Zoom's ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` with
   the app's secret token (constant-time compare). Otherwise: 401 and nothing is stored.
   This holds for ``endpoint.url_validation`` too: its answer is an HMAC of a caller-chosen string,
   so answering unsigned challenges would let anyone mint valid signatures.
2. ``endpoint.url_validation``: answer ``{"plainToken", "encryptedToken"}`` (nothing stored).
3. The events in ``[zoom.webhooks] events`` (default ``recording.completed``, ``meeting.ended``)
   are written to the durable queue (:mod:`pipelines.webhooks.queue`) *before* the 200 is sent;
   a retry of an event already stored is answered 200 and not stored twice. If the write fails the
   answer is 500, so Zoom retries.
4. Any other event is answered 200 (Zoom stops retrying) and not stored: nothing downstream
   consumes it, and an unbounded queue of unused events would only grow.

Zoom expects the answer within 3 seconds; a queue write is one fsync'd SQLite commit (milliseconds).
Log lines carry the event name, its ``event_ts`` and the meeting uuid, never payloads or tokens.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipelines.webhooks.queue import EventQueue
from pipelines.webhooks.settings import WebhookSettings
from pipelines.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encrypted_token,
    signature_ok,
    timestamp_fresh,
)

log = logging.getLogger("pipelines.webhooks")

URL_VALIDATION = "endpoint.url_validation"
MAX_BODY_BYTES = 5 * 1024 * 1024  # a recording.completed with many files is tens of kB


def _reject(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_capped(request: Request) -> bytes | None:
    """The raw body (the signature covers it byte for byte), or None past ``MAX_BODY_BYTES``: an
    unauthenticated sender must not make us buffer an unbounded body before the signature check."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: WebhookSettings, queue: EventQueue | None = None) -> Starlette:
    """The ASGI app for ``settings``; ``queue`` defaults to the file in ``settings.queue_path``."""
    queue = queue or EventQueue(settings.queue_path)
    secret = settings.secret_token
    wanted = frozenset(settings.events)

    async def receive(request: Request) -> JSONResponse:
        body = await _read_capped(request)
        if body is None:
            return _reject(413, "body too large")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        presented = request.headers.get(SIGNATURE_HEADER, "")
        if not timestamp or not presented:
            log.warning("rejected a request without %s / %s headers", TIMESTAMP_HEADER, SIGNATURE_HEADER)
            return _reject(401, "missing signature headers")
        if not timestamp_fresh(timestamp, time.time(), settings.max_skew_seconds):
            log.warning("rejected a request with a stale or invalid timestamp %r", timestamp[:32])
            return _reject(401, "stale or invalid request timestamp")
        if not signature_ok(secret, timestamp, body, presented):
            log.warning("rejected a request with an invalid signature")
            return _reject(401, "invalid signature")
        try:
            message = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _reject(400, "body is not JSON")
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return _reject(400, "body has no event name")
        event = message["event"]
        payload = message.get("payload")
        if event == URL_VALIDATION:
            plain = payload.get("plainToken") if isinstance(payload, dict) else None
            if not isinstance(plain, str) or not plain:
                return _reject(400, "endpoint.url_validation without payload.plainToken")
            log.info("answered Zoom's endpoint URL validation")
            return JSONResponse({"plainToken": plain, "encryptedToken": encrypted_token(secret, plain)})
        if event not in wanted:
            log.info("acknowledged %s (not a queued event type)", event)
            return JSONResponse({"status": "ignored"})
        event_ts = message.get("event_ts")
        if (
            isinstance(event_ts, bool)
            or not isinstance(event_ts, int | float)
            or not isinstance(payload, dict)
        ):
            return _reject(400, "event without an integer event_ts or an object payload")
        try:
            row_id = await run_in_threadpool(queue.put, event, int(event_ts), payload)
        except Exception as exc:  # disk full, locked past the timeout...: Zoom must retry
            log.error("could not store %s (event_ts %s): %s", event, event_ts, type(exc).__name__)
            return _reject(500, "could not store the event; retry")
        obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
        if row_id is None:
            log.info(
                "duplicate %s (event_ts %s, meeting %s): already stored", event, event_ts, obj.get("uuid")
            )
            return JSONResponse({"status": "duplicate"})
        log.info("queued %s #%d (event_ts %s, meeting %s)", event, row_id, event_ts, obj.get("uuid"))
        return JSONResponse({"status": "queued", "id": row_id})

    async def health(request: Request) -> JSONResponse:
        counts = await run_in_threadpool(queue.counts)
        return JSONResponse({"ok": True, "queue": counts})

    routes = [Route(settings.path, receive, methods=["POST"]), Route("/healthz", health, methods=["GET"])]
    return Starlette(routes=routes)
