"""The sandbox as Zoom's webhook sender, against the real receiver process: the events it sends are
exactly the meeting ends and finished recordings its clock passed, signed so the receiver accepts
them; Zoom's retries when the receiver fails; and a ``recording.completed`` turned into a targeted
``recordings --meetings`` run that copies exactly that meeting's files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pipelines.sandbox.account import Account, needs_double_encoding
from pipelines.sandbox.zoom_api import recording_visibility
from pipelines.webhooks.queue import EventQueue
from tests.integration.recordings_support import ROOT, inventory, local_files, sha256_file
from tests.webhooks.support import SECRET, Receiver, start_receiver

# Pinned so that the first recording finishing after the clock belongs to a meeting whose UUID starts
# with "/" (Zoom: such UUIDs must be double-encoded in GET /meetings/{uuid}/recordings).
NOW = "2026-03-29T00:00:00Z"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory) -> Receiver:
    r = start_receiver(tmp_path_factory.mktemp("sandbox-receiver"))
    yield r
    r.stop()


class FlakyFront:
    """A front for the receiver that answers 500 to the first ``fail_first`` attempts of every
    distinct body (all of them with ``fail_first=None``) and forwards the rest unchanged."""

    def __init__(self, target: str, fail_first: int | None) -> None:
        seen: Counter[str] = Counter()
        self.statuses: list[int] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = hashlib.sha256(body).hexdigest()
                seen[key] += 1
                if fail_first is None or seen[key] <= fail_first:
                    status, answer = 500, b'{"error": "down"}'
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-zm-")}
                    resp = requests.post(
                        target, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
                    )
                    status, answer = resp.status_code, resp.content
                front.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/zoom/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _expected(state, since: datetime, until: datetime) -> Counter:
    """(event, meeting uuid, event_ts) the clock passed in ``(since, until]``, from the account."""
    out: Counter = Counter()
    for m in state.account.meetings:
        if since < m.end <= until:
            out[("meeting.ended", m.uuid, int(m.end.timestamp() * 1000))] += 1
    for rec in state.account.recordings:
        at = rec.available_at
        if since < at <= until and recording_visibility(rec, at) == "available":
            out[("recording.completed", rec.meeting.uuid, int(at.timestamp() * 1000))] += 1
    return out


def _queued(r: Receiver, after_id: int) -> list:
    return [e for e in EventQueue(r.queue_path).pending(limit=100_000) if e.id > after_id]


def _last_id(r: Receiver) -> int:
    return max((e.id for e in EventQueue(r.queue_path).pending(limit=100_000)), default=0)


def _wait_for(sb, n_deliveries: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sb.admin("webhooks")
        if len(status["deliveries"]) >= n_deliveries and status["pending"] == 0:
            return status["deliveries"]
        time.sleep(0.05)
    raise AssertionError(f"sandbox sent {sb.admin('webhooks')} instead of {n_deliveries} deliveries")


def test_sender_posts_exactly_what_the_clock_passed(sandbox_factory, receiver: Receiver):
    sb = sandbox_factory(now=NOW, webhook_url=receiver.url, webhook_secret=SECRET)
    state = sb.server.state
    start = state.now()
    before = _last_id(receiver)
    sb.admin("clock", {"advance_days": 2})
    expected = _expected(state, start, state.now())
    assert sum(1 for e, *_ in expected if e == "recording.completed") >= 2  # a test that can fail
    deliveries = _wait_for(sb, sum(expected.values()))
    assert [(d["attempt"], d["status"]) for d in deliveries] == [(1, 200)] * sum(expected.values())
    got = _queued(receiver, before)
    assert Counter((e.event, e.meeting_uuid, e.event_ts) for e in got) == expected
    # a recording.completed's object is the recording GET /meetings/{uuid}/recordings serves
    token = sb.s2s_token()
    for e in got:
        if e.event != "recording.completed":
            continue
        api = sb.zoom_get(
            f"/meetings/{requests.utils.quote(requests.utils.quote(e.meeting_uuid, safe=''), safe='')}/recordings",
            token,
        )
        assert api.status_code == 200
        body = api.json()
        assert e.meeting_id == body["id"]
        assert e.payload["object"]["recording_files"] == body["recording_files"]
        assert {k: v for k, v in e.payload["object"].items() if k != "host_email"} == body
        assert "download_token" not in e.payload  # the receiver keeps no token
    # nothing more is sent once the clock stands still
    time.sleep(0.3)
    assert len(sb.admin("webhooks")["deliveries"]) == sum(expected.values())


def test_sender_retries_after_500_then_succeeds(sandbox_factory, tmp_path):
    receiver = start_receiver(tmp_path / "receiver")  # its own queue: no earlier copy of the event
    front = FlakyFront(receiver.url, fail_first=1)
    try:
        sb = sandbox_factory(
            now=NOW, webhook_url=front.url, webhook_secret=SECRET, webhook_retry_delays="0.2,0.2,0.2"
        )
        state = sb.server.state
        start = state.now()
        first_end = min(m.end for m in state.account.meetings if m.end > start)
        before = _last_id(receiver)
        state.set_clock(int((first_end - start).total_seconds()))  # exactly one meeting ends
        expected = _expected(state, start, state.now())
        assert sum(expected.values()) == 1
        deliveries = _wait_for(sb, 2)
        assert [(d["attempt"], d["status"], d["delivered"]) for d in deliveries] == [
            (1, 500, False),
            (2, 200, True),
        ]
        got = _queued(receiver, before)
        assert Counter((e.event, e.meeting_uuid, e.event_ts) for e in got) == expected
    finally:
        front.close()
        receiver.stop()


def test_sender_gives_up_after_zoom_s_three_retries(sandbox_factory, receiver: Receiver):
    front = FlakyFront(receiver.url, fail_first=None)
    try:
        sb = sandbox_factory(
            now=NOW, webhook_url=front.url, webhook_secret=SECRET, webhook_retry_delays="0.05,0.05,0.05"
        )
        state = sb.server.state
        start = state.now()
        first_end = min(m.end for m in state.account.meetings if m.end > start)
        before = _last_id(receiver)
        state.set_clock(int((first_end - start).total_seconds()))
        deliveries = _wait_for(sb, 4)
        time.sleep(0.3)
        assert [(d["attempt"], d["delivered"]) for d in sb.admin("webhooks")["deliveries"]] == [
            (1, False),
            (2, False),
            (3, False),
            (4, False),
        ]
        assert len(deliveries) == 4 and front.statuses == [500] * 4
        assert _queued(receiver, before) == []
    finally:
        front.close()


def test_recording_completed_leads_to_that_meeting_s_files(sandbox_factory, receiver: Receiver, tmp_path):
    sb = sandbox_factory(now=NOW, webhook_url=receiver.url, webhook_secret=SECRET)
    state = sb.server.state
    start = state.now()
    target = min(
        (r for r in state.account.recordings if r.available_at > start), key=lambda r: r.available_at
    )
    assert needs_double_encoding(target.meeting.uuid), "NOW no longer picks a '/'-UUID: choose another"
    before = _last_id(receiver)
    state.set_clock(int((target.available_at - start).total_seconds()) + 1)
    deadline = time.monotonic() + 20
    events: list = []
    while time.monotonic() < deadline and not events:
        events = [e for e in _queued(receiver, before) if e.event == "recording.completed"]
        time.sleep(0.05)
    assert [e.meeting_uuid for e in events] == [target.meeting.uuid]
    event = events[0]

    # what a sensor does with it: a targeted recordings run for that meeting, then mark it done
    dest = tmp_path / "dest"
    warehouse = tmp_path / "warehouse" / "meetings.duckdb"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "RECORDINGS__", "MW_", "SANDBOX_", "ZOOM__"))
    }
    env |= {
        "MW_SANDBOX_URL": sb.base,
        "MW_WAREHOUSE": str(warehouse),
        "MW_STATE_DIR": str(tmp_path / "state"),
        "MW_TOKEN_DIR": str(tmp_path / "tokens"),
    }
    command = ["recordings", "--no-progress", "--dest", str(dest), "--meetings", event.meeting_uuid]
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    EventQueue(receiver.queue_path).mark_done([event.id], run_key="test-run")
    assert event.id not in {e.id for e in EventQueue(receiver.queue_path).pending(limit=100_000)}

    want = Counter((f.size, Account.content_sha256(f.size, f.content_seed)) for f in target.files)
    copied = [p for p in local_files(dest) if p.name != "meta.json"]
    assert Counter((p.stat().st_size, sha256_file(p)) for p in copied) == want
    rows = inventory(warehouse)
    assert {r["meeting_uuid"] for r in rows} == {target.meeting.uuid}
    assert Counter(r["status"] for r in rows) == {"copied": len(target.files)}
    assert all(r["host_email"] == target.meeting.host.email for r in rows)
