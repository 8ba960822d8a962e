"""The durable queue between the webhook receiver and whoever turns events into runs.

The receiver answers Zoom's POST with 200 only after :meth:`EventQueue.put` has returned, and
``put`` returns only after SQLite has committed with ``synchronous=FULL`` in WAL mode: the row is on
disk (fsync'd), so a receiver killed right after its 200 loses nothing it acknowledged.

Several processes share the file: the receiver writes while a Dagster sensor reads and marks rows
done. Each call opens its own short connection (WAL lets readers and the one writer proceed together;
``busy_timeout`` waits out the other writer), so an ``EventQueue`` may be used from any thread.

Zoom retries a notification it thinks was not delivered with the same body; the unique key
``(event, event_ts, sha256 of the payload)`` makes a retry or a replay a no-op (``put`` returns None).

What is stored: the event name, its ``event_ts``, the notification's ``payload`` *without* the
``download_token`` (a 24-hour bearer token for the files) and without access tokens in download URLs
(the targeted recordings run plans from the API with its own OAuth token), the time it was received,
and the meeting's uuid / id for look-ups.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipelines import paths

QUEUE_FILE = "webhooks.sqlite"

# Fields of a payload that are bearer credentials: never stored, never logged.
SECRET_KEYS = frozenset({"download_token", "download_access_token", "access_token", "plainToken"})
SECRET_QUERY_KEYS = frozenset({"access_token", "token", "download_token"})

_SCHEMA = """
create table if not exists events (
    id integer primary key autoincrement,
    event text not null,
    event_ts integer not null,
    body_sha256 text not null,
    payload text not null,
    received_at text not null,
    meeting_uuid text,
    meeting_id integer,
    done_at text,
    run_key text,
    unique (event, event_ts, body_sha256)
);
create index if not exists events_pending on events (done_at, id);
"""


@dataclass(frozen=True)
class QueuedEvent:
    id: int
    event: str
    event_ts: int
    payload: dict
    received_at: str
    meeting_uuid: str | None  # payload.object.uuid
    meeting_id: int | None  # payload.object.id


def default_path() -> Path:
    return paths.state_dir() / QUEUE_FILE


def payload_hash(payload: dict) -> str:
    """SHA-256 of the payload in a canonical JSON form (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def redact_payload(value):
    """The payload without bearer tokens: secret keys dropped, token query parameters removed."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in SECRET_KEYS:
                continue
            if key.endswith("_url") and isinstance(item, str):
                item = _strip_token_query(item)
            out[key] = redact_payload(item)
        return out
    if isinstance(value, list):
        return [redact_payload(item) for item in value]
    return value


def _strip_token_query(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in SECRET_QUERY_KEYS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def meeting_keys(payload: dict) -> tuple[str | None, int | None]:
    """(uuid, numeric id) of the meeting an event is about, from ``payload.object``; None when absent."""
    obj = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(obj, dict):
        return None, None
    uuid = obj.get("uuid")
    raw_id = obj.get("id")
    meeting_id: int | None = None
    if isinstance(raw_id, bool):
        meeting_id = None
    elif isinstance(raw_id, int):
        meeting_id = raw_id
    elif isinstance(raw_id, str) and raw_id.strip().isdigit():
        meeting_id = int(raw_id.strip())  # some event docs type the meeting id as a string
    return (uuid if isinstance(uuid, str) and uuid else None), meeting_id


class EventQueue:
    """Zoom events received and not yet turned into runs, in a SQLite file shared by processes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("pragma journal_mode=wal")  # persistent: stored in the file
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("pragma busy_timeout=30000")
        conn.execute("pragma synchronous=FULL")  # a commit is fsync'd before it returns
        return conn

    def put(self, event: str, event_ts: int, payload: dict) -> int | None:
        """Store one event durably; its row id, or None when the same event was already stored."""
        digest = payload_hash(payload)
        uuid, meeting_id = meeting_keys(payload)
        stored = json.dumps(redact_payload(payload), sort_keys=True, separators=(",", ":"))
        received_at = datetime.now(UTC).isoformat(timespec="microseconds")
        with closing(self._connect()) as conn:
            conn.execute("begin immediate")
            try:
                cur = conn.execute(
                    "insert into events (event, event_ts, body_sha256, payload, received_at,"
                    " meeting_uuid, meeting_id) values (?, ?, ?, ?, ?, ?, ?)"
                    " on conflict (event, event_ts, body_sha256) do nothing",
                    (event, int(event_ts), digest, stored, received_at, uuid, meeting_id),
                )
                row_id = cur.lastrowid if cur.rowcount == 1 else None
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
        return row_id

    def pending(self, limit: int = 100, events: tuple[str, ...] | None = None) -> list[QueuedEvent]:
        """Events not yet marked done, oldest first (optionally only these event names)."""
        sql = (
            "select id, event, event_ts, payload, received_at, meeting_uuid, meeting_id"
            " from events where done_at is null"
        )
        params: list = []
        if events:
            sql += f" and event in ({','.join('?' for _ in events)})"
            params.extend(events)
        sql += " order by id limit ?"
        params.append(int(limit))
        with closing(self._connect()) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            QueuedEvent(
                id=r[0],
                event=r[1],
                event_ts=r[2],
                payload=json.loads(r[3]),
                received_at=r[4],
                meeting_uuid=r[5],
                meeting_id=r[6],
            )
            for r in rows
        ]

    def mark_done(self, ids: list[int], run_key: str) -> None:
        """Mark events handled by the run ``run_key``; events already done keep their first run key."""
        if not ids:
            return
        done_at = datetime.now(UTC).isoformat(timespec="microseconds")
        with closing(self._connect()) as conn:
            conn.execute("begin immediate")
            try:
                conn.executemany(
                    "update events set done_at = ?, run_key = ? where id = ? and done_at is null",
                    [(done_at, run_key, int(i)) for i in ids],
                )
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise

    def counts(self) -> dict[str, int]:
        with closing(self._connect()) as conn:
            pending, done = conn.execute(
                "select count(*) filter (where done_at is null), count(*) filter (where done_at is not null)"
                " from events"
            ).fetchone()
        return {"pending": int(pending or 0), "done": int(done or 0)}
