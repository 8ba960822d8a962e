"""The Zoom webhook receiver as a real uvicorn process: signatures, stale requests, replays, URL
validation, and no acknowledged event lost when the process is killed with SIGKILL."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pipelines.webhooks.queue import EventQueue
from tests.webhooks.support import SECRET, Receiver, start_receiver, zoom_sign


@pytest.fixture(scope="module")
def receiver(tmp_path_factory) -> Receiver:
    r = start_receiver(tmp_path_factory.mktemp("receiver"))
    yield r
    r.stop()


def _rows(r: Receiver) -> list[tuple]:
    """Every stored row, straight from the file (not through the receiver)."""
    q = EventQueue(r.queue_path)
    return [(e.event, e.event_ts, e.meeting_uuid) for e in q.pending(limit=100_000)]


def _recording(uuid: str, event_ts: int, token: str = "DOWNLOAD-TOKEN-abcdefghijklmnop") -> dict:
    """A recording.completed as Zoom sends it (download_token at the top level)."""
    return {
        "event": "recording.completed",
        "event_ts": event_ts,
        "payload": {
            "account_id": "acc-1",
            "object": {
                "uuid": uuid,
                "id": 81234567890,
                "host_id": "h1",
                "recording_files": [
                    {"id": "f1", "download_url": "https://zoom.us/rec/download/f1", "file_type": "MP4"}
                ],
            },
        },
        "download_token": token,
    }


def test_valid_event_is_stored_without_its_download_token(receiver: Receiver):
    before = _rows(receiver)
    r = receiver.post(_recording("valid-uuid==", 1_700_000_000_001))
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert _rows(receiver) == [*before, ("recording.completed", 1_700_000_000_001, "valid-uuid==")]
    stored = [
        e for e in EventQueue(receiver.queue_path).pending(limit=100_000) if e.meeting_uuid == "valid-uuid=="
    ]
    assert stored[0].meeting_id == 81234567890
    assert stored[0].payload["object"]["recording_files"][0]["id"] == "f1"
    raw = b"".join(p.read_bytes() for p in receiver.state_dir.glob("webhooks.sqlite*"))
    assert b"DOWNLOAD-TOKEN" not in raw
    assert b"DOWNLOAD-TOKEN" not in receiver.log.read_bytes()  # nor in the receiver's log


def test_meeting_ended_with_a_string_id_is_stored(receiver: Receiver):
    message = {
        "event": "meeting.ended",
        "event_ts": 1_700_000_000_100,
        "payload": {"account_id": "a", "object": {"uuid": "ended==", "id": "81234567890", "end_time": "x"}},
    }
    assert receiver.post(message).json()["status"] == "queued"
    ended = [e for e in EventQueue(receiver.queue_path).pending(limit=100_000) if e.meeting_uuid == "ended=="]
    assert [(e.event, e.meeting_id) for e in ended] == [("meeting.ended", 81234567890)]


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "tampered body", "no signature", "no timestamp", "garbage signature", "signed other ts"],
)
def test_bad_signature_is_401_and_nothing_stored(receiver: Receiver, case: str):
    before = _rows(receiver)
    message = _recording(f"bad-{case}==", 1_700_000_000_002)
    body = json.dumps(message).encode()
    ts = int(time.time())
    headers = {"x-zm-request-timestamp": str(ts), "x-zm-signature": zoom_sign(SECRET, ts, body)}
    if case == "wrong secret":
        headers["x-zm-signature"] = zoom_sign("another-secret-token-0123456789", ts, body)
    elif case == "tampered body":
        body = body.replace(b"acc-1", b"acc-2")
    elif case == "no signature":
        del headers["x-zm-signature"]
    elif case == "no timestamp":
        del headers["x-zm-request-timestamp"]
    elif case == "garbage signature":
        headers["x-zm-signature"] = "v0=" + "0" * 64
    else:
        headers["x-zm-request-timestamp"] = str(ts - 1)
    r = requests.post(receiver.url, data=body, headers=headers, timeout=10)
    assert r.status_code == 401
    assert _rows(receiver) == before


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_stale_or_future_timestamp_is_401(receiver: Receiver, skew: int):
    before = _rows(receiver)
    r = receiver.post(_recording(f"stale{skew}==", 1_700_000_000_003), timestamp=int(time.time()) + skew)
    assert r.status_code == 401
    assert _rows(receiver) == before


def test_replay_and_retries_are_acknowledged_and_stored_once(receiver: Receiver):
    before = _rows(receiver)
    message = _recording("replayed==", 1_700_000_000_004)
    first = receiver.post(message)
    retry = receiver.post(message, timestamp=int(time.time()) + 1)  # Zoom's retry: new timestamp
    replay = receiver.post(json.dumps(message, indent=2).encode())  # same event, other spacing
    assert first.json()["status"] == "queued"
    assert [retry.status_code, replay.status_code] == [200, 200]
    assert retry.json()["status"] == replay.json()["status"] == "duplicate"
    # another notification about the same meeting (its own event_ts) is a new event
    assert receiver.post(_recording("replayed==", 1_700_000_000_005)).json()["status"] == "queued"
    assert _rows(receiver) == [
        *before,
        ("recording.completed", 1_700_000_000_004, "replayed=="),
        ("recording.completed", 1_700_000_000_005, "replayed=="),
    ]


def test_url_validation_answers_the_hmac_of_plain_token(receiver: Receiver):
    before = _rows(receiver)
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    message = {
        "payload": {"plainToken": plain},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    r = receiver.post(message)
    assert r.status_code == 200
    expected = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert r.json() == {"plainToken": plain, "encryptedToken": expected}
    # unsigned: refused (the answer is an HMAC of a caller-chosen string: a signing oracle)
    assert receiver.post(message, sign=False).status_code == 401
    assert _rows(receiver) == before


def test_other_events_are_acknowledged_not_stored(receiver: Receiver):
    before = _rows(receiver)
    message = {"event": "meeting.started", "event_ts": 1, "payload": {"object": {"uuid": "x=="}}}
    r = receiver.post(message)
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert receiver.post(b"not json").status_code == 400
    assert receiver.post(b"x" * (5 * 1024 * 1024 + 1)).status_code == 413  # signed, yet too large
    assert _rows(receiver) == before


def test_sigkill_loses_no_acknowledged_event(tmp_path: Path):
    """Four clients post distinct events as fast as they can; the receiver is killed with SIGKILL
    mid-stream. Every event that was answered 200 is in the queue file afterwards."""
    r = start_receiver(tmp_path / "crash")
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            event_ts = 1_800_000_000_000 + n * 1_000_000 + i
            message = _recording(f"crash-{n}-{i}==", event_ts)
            body = json.dumps(message).encode()
            ts = int(time.time())
            headers = {"x-zm-request-timestamp": str(ts), "x-zm-signature": zoom_sign(SECRET, ts, body)}
            try:
                resp = session.post(r.url, data=body, headers=headers, timeout=5)
            except requests.RequestException:
                return  # the receiver is gone
            if resp.status_code == 200:
                with lock:
                    acknowledged.append(event_ts)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 150:
                break
        time.sleep(0.01)
    r.proc.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
    r.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    with lock:
        acked = set(acknowledged)
    assert len(acked) >= 150
    stored = {e.event_ts for e in EventQueue(r.queue_path).pending(limit=100_000)}
    assert acked <= stored, f"{len(acked - stored)} acknowledged events lost"
    assert len(stored) - len(acked) <= 4  # at most one in flight per client: stored, not yet answered
