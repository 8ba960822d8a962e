"""The sandbox as a Zoom webhook sender: signed ``meeting.ended`` / ``recording.completed`` POSTs.

When the sandbox clock passes a meeting's end, or the moment its cloud recording becomes available
(:attr:`Recording.available_at`), a background thread POSTs the notification to the configured URL
(``SandboxConfig.webhook_url``; ``sandbox serve --webhook-url``; ``SANDBOX_WEBHOOK_URL``), signed as
Zoom signs it. Events before the clock reading at start are history and are not sent.

Shapes (Zoom publishes the event payloads as webhook reference pages; the typed copy we follow is
Zoom's own SDK, Rivet: ``Meetings.MeetingEndedEvent`` and ``Meetings.RecordingCompletedEvent`` at
https://zoom.github.io/rivet-javascript/):

* ``{"event", "event_ts" (ms), "payload": {"account_id", "object": {...}}}``;
* ``meeting.ended``'s object: ``uuid``, ``id`` (a *string* there), ``host_id``, ``topic``, ``type``,
  ``start_time``, ``end_time``, ``timezone``, ``duration`` (minutes);
* ``recording.completed``'s object is the recording as ``GET /meetings/{meetingId}/recordings``
  serves it (the published ``RecordingMeeting`` schema in
  ``shared/reference/zoom-openapi/meetings-reports-recordings-2022.json``, which this sandbox
  already serves) plus ``host_email``; the body carries ``download_token`` at its top level, next
  to ``event`` and ``payload`` (Rivet; zoom-api-facts.md 2.11), a token valid 24 hours that opens
  this meeting's files as ``download_url?access_token=<download_token>``.

Signature (https://developers.zoom.us/docs/api/webhooks/, *Verify webhook events*):
``x-zm-request-timestamp`` is the delivery time in Unix seconds (wall clock: the receiver compares it
to its own clock) and ``x-zm-signature`` is ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``.

Retries (Zoom, "Resolving webhook delays", https://developers.zoom.us/blog/webhook-delays): an
answer other than 200/204 within three seconds is a failure; Zoom then sends the same notification
3 more times, 5 minutes after the first attempt, 20 minutes after the first retry and 60 minutes
after the second, then gives up. ``webhook_retry_delays`` shortens these delays for tests; the body
(and so ``event_ts``) is the same on every attempt, only the timestamp and signature are new.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import requests

from pipelines.sandbox.account import Meeting, Recording, iso
from pipelines.sandbox.config import SANDBOX_ACCOUNT_ID
from pipelines.sandbox.state import SandboxState
from pipelines.sandbox.zoom_api import _minutes, _recording_item, recording_visibility

log = logging.getLogger("pipelines.sandbox.webhooks")

ZOOM_RETRY_DELAYS = (300.0, 1200.0, 3600.0)  # after the 1st attempt, the 1st retry, the 2nd retry
ZOOM_ANSWER_TIMEOUT = 3.0  # seconds Zoom waits for the 200/204
DOWNLOAD_TOKEN_TTL = 24 * 3600  # recording.completed's download_token lasts 24 hours
DELIVERED = (200, 204)


def zoom_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``x-zm-signature`` as Zoom computes it (kept apart from the receiver's own check on purpose)."""
    digest = hmac.new(secret.encode(), b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()
    return "v0=" + digest


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def meeting_ended(m: Meeting) -> dict:
    """The ``meeting.ended`` notification of a meeting instance."""
    obj = {
        "uuid": m.uuid,
        "id": str(m.id),
        "host_id": m.host.id,
        "topic": m.topic,
        "type": m.type,
        "start_time": iso(m.start),
        "end_time": iso(m.end),
        "timezone": m.series.timezone,
        "duration": m.series.duration,
    }
    return {
        "event": "meeting.ended",
        "event_ts": _ms(m.end),
        "payload": {"account_id": SANDBOX_ACCOUNT_ID, "object": obj},
    }


def recording_completed(rec: Recording, base_url: str, download_token: str) -> dict:
    """The ``recording.completed`` notification of a recording (see the module docstring)."""
    obj = _recording_item(rec, base_url, trash=False)
    files = obj.pop("recording_files")
    obj["host_email"] = rec.meeting.host.email
    obj["password"] = rec.password or ""
    obj["recording_play_passcode"] = rec.passcode or ""
    obj["duration"] = _minutes(rec.meeting.duration_seconds)
    obj["recording_files"] = files
    obj["participant_audio_files"] = []
    return {
        "event": "recording.completed",
        "event_ts": _ms(rec.available_at),
        "payload": {"account_id": SANDBOX_ACCOUNT_ID, "object": obj},
        "download_token": download_token,
    }


@dataclass(order=True)
class _Outgoing:
    due: float
    seq: int
    event: str = field(compare=False)
    meeting_uuid: str = field(compare=False)
    body: bytes = field(compare=False, repr=False)
    attempt: int = field(default=0, compare=False)


class WebhookSender:
    """Background thread: watch the sandbox clock, POST due notifications, retry like Zoom."""

    def __init__(
        self,
        state: SandboxState,
        url: str,
        secret: str,
        base_url: str,
        retry_delays: tuple[float, ...] = ZOOM_RETRY_DELAYS,
        timeout: float = ZOOM_ANSWER_TIMEOUT,
        poll_seconds: float = 0.05,
    ) -> None:
        self.state = state
        self.url = url
        self.secret = secret
        self.base_url = base_url
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.deliveries: list[dict] = []  # every attempt: event, meeting, attempt, status, delivered
        self._outbox: list[_Outgoing] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()
        account = state.account
        self._ends = sorted((m.end, m.seq, m) for m in account.meetings)
        self._available = sorted((r.available_at, r.meeting.seq, r) for r in account.recordings)
        self._seen = state.now()  # events up to here are history

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> WebhookSender:
        self._thread = threading.Thread(target=self._loop, name="sandbox-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 2)
        self._http.close()

    def status(self) -> dict:
        with self.state.lock:
            return {
                "url": self.url,
                "pending": len(self._outbox),
                "retry_delays": list(self.retry_delays),
                "deliveries": list(self.deliveries),
            }

    # ------------------------------------------------------------------ work
    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self._collect()
                self._deliver_due()
            except Exception:  # the sender must outlive one bad delivery
                log.exception("sandbox webhook sender error")

    def _collect(self) -> None:
        now = self.state.now()
        if now <= self._seen:
            return
        since, self._seen = self._seen, now
        due: list[tuple[datetime, int, dict]] = []
        for end, seq, m in self._window(self._ends, since, now):
            due.append((end, seq, meeting_ended(m)))
        for at, seq, rec in self._window(self._available, since, now):
            if recording_visibility(rec, at) != "available":  # trashed before Zoom finished processing
                continue
            token = "sbx_dat_" + secrets.token_urlsafe(32)
            with self.state.lock:
                self.state.download_tokens[token] = (rec.meeting.uuid, time.monotonic() + DOWNLOAD_TOKEN_TTL)
            due.append((at, seq, recording_completed(rec, self.base_url, token)))
        due.sort(key=lambda item: (item[0], item[1], item[2]["event"] != "meeting.ended"))
        start = time.monotonic()
        with self.state.lock:
            for _, _, message in due:
                body = json.dumps(message, separators=(",", ":")).encode("utf-8")
                uuid = message["payload"]["object"]["uuid"]
                heapq.heappush(self._outbox, _Outgoing(start, next(self._seq), message["event"], uuid, body))

    @staticmethod
    def _window(items: list, since: datetime, now: datetime) -> list:
        """Items whose moment is in ``(since, now]`` (``items`` sorted by moment)."""
        lo = bisect.bisect_right(items, since, key=lambda item: item[0])
        hi = bisect.bisect_right(items, now, key=lambda item: item[0])
        return items[lo:hi]

    def _deliver_due(self) -> None:
        while not self._stop.is_set():
            with self.state.lock:
                if not self._outbox or self._outbox[0].due > time.monotonic():
                    return
                item = heapq.heappop(self._outbox)
            self._attempt(item)

    def _attempt(self, item: _Outgoing) -> None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "x-zm-request-timestamp": str(timestamp),
            "x-zm-signature": zoom_signature(self.secret, timestamp, item.body),
            "User-Agent": "Zoom Marketplace/1.0a (meetings-warehouse sandbox)",
        }
        try:
            status: int | str = self._http.post(
                self.url, data=item.body, headers=headers, timeout=self.timeout
            ).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        delivered = status in DELIVERED
        record = {
            "event": item.event,
            "meeting_uuid": item.meeting_uuid,
            "attempt": item.attempt + 1,
            "status": status,
            "delivered": delivered,
        }
        with self.state.lock:
            self.deliveries.append(record)
            if not delivered and item.attempt < len(self.retry_delays):
                item.due = time.monotonic() + self.retry_delays[item.attempt]
                item.attempt += 1
                heapq.heappush(self._outbox, item)
            elif not delivered:
                log.warning(
                    "gave up on %s for %s after %d attempts", item.event, item.meeting_uuid, item.attempt + 1
                )


def parse_delays(value: str | tuple | list | None) -> tuple[float, ...]:
    """``"300,1200,3600"`` -> ``(300.0, 1200.0, 3600.0)``; None -> Zoom's delays."""
    if value is None or value == "":
        return ZOOM_RETRY_DELAYS
    items = value.split(",") if isinstance(value, str) else list(value)
    delays = tuple(float(x) for x in items if str(x).strip() != "")
    if any(d < 0 for d in delays):
        raise ValueError("webhook retry delays must be >= 0 seconds")
    return delays


__all__ = [
    "ZOOM_RETRY_DELAYS",
    "WebhookSender",
    "meeting_ended",
    "parse_delays",
    "recording_completed",
    "zoom_signature",
]
