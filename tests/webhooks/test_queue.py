"""The durable event queue: dedupe of retries, pending order, done marks, no tokens stored."""

from __future__ import annotations

import sqlite3

from pipelines.webhooks.queue import EventQueue


def _recording(uuid: str = "abc==", meeting_id: int = 123) -> dict:
    return {
        "account_id": "acc",
        "object": {
            "uuid": uuid,
            "id": meeting_id,
            "recording_files": [
                {"id": "f1", "download_url": "https://x/rec/download/f1?access_token=SECRET1&a=1"}
            ],
        },
        "download_token": "SECRET2",
    }


def test_put_dedupes_and_marks_done(tmp_path):
    q = EventQueue(tmp_path / "q.sqlite")
    first = q.put("recording.completed", 1000, _recording())
    assert isinstance(first, int)
    assert q.put("recording.completed", 1000, _recording()) is None  # a retry: same body
    second = q.put("recording.completed", 1001, _recording())  # same meeting, another notification
    third = q.put("meeting.ended", 1002, {"object": {"uuid": "m2==", "id": "456"}})
    assert q.counts() == {"pending": 3, "done": 0}
    pending = q.pending()
    assert [e.id for e in pending] == [first, second, third]
    assert pending[0].meeting_uuid == "abc==" and pending[0].meeting_id == 123
    assert pending[2].meeting_id == 456
    assert [e.id for e in q.pending(events=("meeting.ended",))] == [third]
    assert [e.id for e in q.pending(limit=1)] == [first]
    q.mark_done([first, second], "run-1")
    assert q.counts() == {"pending": 1, "done": 2}
    assert [e.id for e in EventQueue(tmp_path / "q.sqlite").pending()] == [third]  # another process's view


def test_tokens_are_not_stored(tmp_path):
    q = EventQueue(tmp_path / "q.sqlite")
    q.put("recording.completed", 1000, _recording())
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir())  # the database and any WAL left
    assert b"SECRET1" not in raw and b"SECRET2" not in raw
    event = q.pending()[0]
    assert "download_token" not in event.payload
    assert event.payload["object"]["recording_files"][0]["download_url"] == "https://x/rec/download/f1?a=1"
    with sqlite3.connect(tmp_path / "q.sqlite") as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_writer_process_and_a_reader_share_the_file(tmp_path):
    """The receiver's writes and the sensor's reads/marks from two processes at once: every event is
    taken exactly once, none is lost, no 'database is locked' escapes."""
    import subprocess
    import sys

    path = tmp_path / "q.sqlite"
    EventQueue(path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipelines.webhooks.queue import EventQueue\n"
        "q = EventQueue(Path(sys.argv[1]))\n"
        "for i in range(300):\n"
        "    assert q.put('recording.completed', 1000 + i, {'object': {'uuid': f'u{i}==', 'id': i}}) is not None\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])
    q = EventQueue(path)
    taken: list[int] = []
    while True:
        running = writer.poll() is None
        batch = q.pending(limit=25)
        q.mark_done([e.id for e in batch], f"run-{len(taken)}")
        taken.extend(e.event_ts for e in batch)
        if not running and not batch:
            break
    assert writer.returncode == 0
    assert sorted(taken) == list(range(1000, 1300))  # each once, in no particular batch
    assert q.counts() == {"pending": 0, "done": 300}
