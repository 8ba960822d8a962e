"""The recordings pipeline against the sandbox over loopback HTTP, into a local folder.

Every test compares what arrived with the sandbox's own account (sizes and SHA-256 of every file),
so a pipeline that loses, corrupts, duplicates or re-downloads files fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import recordings_support as rs

from pipelines import clock, embedded
from pipelines.recordings.run import run_recordings
from pipelines.sandbox.account import Scale

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures.calendar import first_clock_where, pin


@pytest.fixture(autouse=True)
def _forget_sandbox():
    yield
    embedded.reset()


def _run(dest: Path, sb, **kwargs):
    kwargs.setdefault("plan_from", "api")
    kwargs.setdefault("date_from", sb.info["start_date"])
    return run_recordings(dest=str(dest), progress=False, print_summary=False, **kwargs)


def _copied(rows: list[dict], source: str) -> Counter:
    return Counter(
        (r["size"], r["sha256"]) for r in rows if r["source"] == source and r["status"] == "copied"
    )


def test_full_copy_matches_the_sandbox_and_a_rerun_copies_nothing(sandbox, tmp_path, monkeypatch) -> None:
    warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    dest = tmp_path / "recordings"
    want = rs.expected_files(sandbox)

    summary = _run(dest, sandbox)

    assert summary.ok, summary.errors
    rows = rs.inventory(warehouse)
    assert _copied(rows, "zoom") == want["zoom"]
    assert _copied(rows, "meets") == want["meets"]
    gone = {r["file_key"] for r in rows if r["status"] == "gone"}
    assert gone == {f"meets:{i}" for i in want["meets_gone"]}
    assert summary.copied == sum(want["zoom"].values()) + sum(want["meets"].values())
    # every file on disk is exactly what the inventory says, and nothing else is there
    on_disk = rs.local_files(dest)
    data_files = [p for p in on_disk if p.name != "meta.json"]
    assert not [p for p in on_disk if p.name.endswith(".partial")]
    by_path = {r["dest_url"]: r for r in rows if r["status"] == "copied"}
    assert sorted(str(p) for p in data_files) == sorted(by_path)
    for path in data_files:
        row = by_path[str(path)]
        assert path.stat().st_size == row["size"]
        assert rs.sha256_file(path) == row["sha256"]
    # the layout: <user>/<YYYY-MM-DD>/<HHMM>_<topic>_<meeting id>/<recording_type>.<ext>
    for path in data_files:
        user, day, folder, _name = path.relative_to(dest).parts
        assert "@" in user
        datetime.strptime(day, "%Y-%m-%d")
        assert folder[:4].isdigit() and folder[4] == "_"
    # passcode-protected recordings (S2S token -> 403 -> download_access_token) arrived too
    protected = [r for r in sandbox.server.state.account.recordings if r.passcode]
    assert protected and summary.failed == 0
    # one meta.json per meeting folder, listing its files with checksums
    folders = {p.parent for p in data_files}
    for folder in folders:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        listed = {f["name"]: f for f in meta["files"]}
        for p in folder.iterdir():
            if p.name != "meta.json":
                assert listed[p.name]["sha256"] == by_path[str(p)]["sha256"]
        assert "passcode" not in json.dumps(meta).lower()
    # MEETS: 303 followed to the storage host without any credential
    assert rs.assert_no_credentials_on_storage(sandbox) == sum(want["meets"].values())

    # rerun: nothing is downloaded again, nothing changes on disk
    before = sandbox.admin("stats")
    again = _run(dest, sandbox)
    after = sandbox.admin("stats")
    assert again.ok and again.copied == 0
    assert again.already_copied == summary.copied
    # MEETS lists a recording no more once it answered "gone": the inventory keeps the verdict
    assert again.inventory == summary.inventory == {"copied": summary.copied, "gone": len(want["meets_gone"])}
    assert _downloads(after) == _downloads(before)
    assert rs.local_files(dest) == on_disk


def _downloads(stats: dict) -> int:
    """File downloads the sandbox served: Zoom ``rec/download`` + MEETS download calls."""
    by_endpoint = stats["by_endpoint"]
    return by_endpoint.get("rec/download", 0) + by_endpoint.get("meets/download_conference_recording", 0)


def test_malicious_topic_stays_inside_the_destination(sandbox, tmp_path, monkeypatch) -> None:
    rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    from pipelines.sandbox.zoom_api import recording_visibility

    account, now = sandbox.server.state.account, sandbox.server.state.now()
    rec = next(
        r
        for r in account.recordings
        if r.meeting.series.topic and not r.passcode and recording_visibility(r, now) == "available"
    )
    rec.meeting.series.topic = "../../etc/passwd"
    event = next(e for e in account.meets_events if e.meeting is not None and e.meeting.has_recording)
    event.name = "..\\..\\..\\windows\\system32 \x1b[31m\u202e"
    dest = tmp_path / "inner" / "recordings"

    summary = _run(dest, sandbox, users=f"{rec.meeting.host.email},{event.meeting.host.email}")

    assert summary.ok
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and "inner" not in p.parts and "warehouse" not in p.parts
    ]
    assert not [p for p in outside if "passwd" in str(p) or "system32" in str(p)]
    hits = [p for p in rs.local_files(dest) if "passwd" in str(p)]
    assert hits, "the recording with the malicious topic was not copied"
    for p in rs.local_files(dest):
        rel = p.resolve().relative_to(dest.resolve())  # raises if outside
        assert len(rel.parts) == 4
        assert all(
            part not in ("..", ".") and "\x1b" not in part and "\u202e" not in part for part in rel.parts
        )


def test_dry_run_counts_without_copying(sandbox, tmp_path, monkeypatch) -> None:
    warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    dest = tmp_path / "recordings"
    want = rs.expected_files(sandbox)

    summary = _run(dest, sandbox, dry_run=True)

    n_zoom = sum(want["zoom"].values())
    n_meets = sum(want["meets"].values()) + len(want["meets_gone"])
    assert summary.todo_files == n_zoom + n_meets
    assert summary.requests["zoom_downloads"] == n_zoom
    assert summary.requests["meets_downloads"] == n_meets
    assert summary.requests["total"] > summary.requests["planning"] > 0
    assert not dest.exists()
    assert not warehouse.exists()
    assert rs.storage_requests(sandbox) == []


def test_filters_video_only_and_users(sandbox, tmp_path, monkeypatch) -> None:
    warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    account = sandbox.server.state.account
    now = sandbox.server.state.now()
    from pipelines.sandbox.zoom_api import recording_visibility

    host = account.recordings[0].meeting.host
    want = sum(
        1
        for r in account.recordings
        if r.meeting.host.id == host.id and recording_visibility(r, now) == "available"
        for f in r.files
        if f.file_type == "MP4"
    )
    summary = _run(tmp_path / "rec", sandbox, video_only=True, users=host.email.upper(), sources="zoom")
    assert summary.ok and summary.copied == want
    rows = rs.inventory(warehouse)
    assert {r["file_type"] for r in rows} == {"MP4"}
    assert {r["host_email"] for r in rows} == {host.email}


def test_trash_is_reported_not_copied(sandbox_factory, tmp_path, monkeypatch) -> None:
    from pipelines.sandbox.zoom_api import recording_visibility

    kinds = {"CHAT", "TIMELINE", "CC"}

    def trashed_small_files(account, now):
        return [
            f
            for r in account.recordings
            if recording_visibility(r, now) == "trashed"
            for f in r.files
            if f.file_type in kinds
        ]

    # a day whose account has trashed chat/timeline/caption files (not every day's has)
    now = first_clock_where(lambda account, at: bool(trashed_small_files(account, at)))
    pin(monkeypatch, now)
    sandbox = sandbox_factory(now=now)
    warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    state = sandbox.server.state
    in_trash = trashed_small_files(state.account, state.now())
    assert in_trash
    summary = _run(tmp_path / "rec", sandbox, include_trash=True, sources="zoom", types="chat,timeline,cc")
    assert summary.ok
    rows = rs.inventory(warehouse)
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert len(skipped) == len(in_trash)
    assert all(r["is_trashed"] and "trash" in r["error"] for r in skipped)
    assert not [r for r in rows if r["is_trashed"] and r["status"] != "skipped"]


def test_plan_from_the_warehouse_resolves_fresh_urls(sandbox_factory, tmp_path, monkeypatch) -> None:
    """The warehouse holds download URLs of a sandbox that is gone (another port): the pipeline
    must resolve fresh URLs per meeting and still copy everything."""
    from pipelines.zoom import shape_recording
    from pipelines.zoom.client import month_windows

    old = sandbox_factory()
    warehouse = rs.use_sandbox(monkeypatch, old, tmp_path)
    _write_raw_tables(old, warehouse, month_windows)
    old.server.stop()
    new = sandbox_factory()  # same seed, same account, different port
    rs.use_sandbox(monkeypatch, new, tmp_path)
    want = rs.expected_files(new)

    summary = run_recordings(
        dest=str(tmp_path / "rec"), plan_from="warehouse", progress=False, print_summary=False
    )

    assert summary.ok, summary.errors
    assert summary.plan_source == "warehouse"
    rows = rs.inventory(warehouse)
    assert _copied(rows, "zoom") == want["zoom"]
    assert _copied(rows, "meets") == want["meets"]
    assert shape_recording  # the raw rows were shaped by the Zoom source's own function


def _write_raw_tables(sb, warehouse: Path, month_windows) -> None:
    """zoom_raw / meets_raw recording tables as the sources shape them (docs/raw_schema.md)."""
    import requests

    from pipelines.meets.client import entity_map
    from pipelines.zoom import shape_recording

    token = sb.s2s_token()
    users = sb.zoom_get("/users", token, page_size=300, status="active").json()["users"]
    start = datetime.fromisoformat(sb.info["start_date"]).date()
    today = clock.today()
    rec_rows, file_rows = [], []
    for u in users:
        for first, last in month_windows(start, today):
            body = sb.zoom_get(
                f"/users/{u['id']}/recordings",
                token,
                page_size=300,
                **{"from": first.isoformat(), "to": last.isoformat()},
            ).json()
            for item in body.get("meetings", []):
                row, files = shape_recording(item, trashed=False)
                rec_rows.append(row)
                file_rows.extend(files)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema zoom_raw; create schema meets_raw")
        con.execute("create table zoom_raw.users (id varchar, email varchar)")
        con.executemany("insert into zoom_raw.users values (?, ?)", [(u["id"], u["email"]) for u in users])
        _table(con, "zoom_raw.recordings", rec_rows)
        _table(con, "zoom_raw.recording_files", file_rows)
        listing = sb.meets("list_conference_recordings", limit=1000).json()
        recs = entity_map(listing, "conferenceRecordings")
        events = entity_map(listing, "conferencingEvents")
        musers = entity_map(listing, "users")
        con.execute(
            "create table meets_raw.conference_recordings (meets_id_conference_recording bigint, meets_id_conferencing_event bigint, time_added bigint, type varchar)"
        )
        con.executemany(
            "insert into meets_raw.conference_recordings values (?, ?, ?, ?)",
            [
                (r["meetsIdConferenceRecording"], r["meetsIdConferencingEvent"], r["timeAdded"], r["type"])
                for r in recs
            ],
        )
        con.execute(
            "create table meets_raw.conferencing_events (meets_id_conferencing_event bigint, name varchar, time_begin bigint, time_end bigint, meets_id_user_host bigint, conferencing_service varchar)"
        )
        con.executemany(
            "insert into meets_raw.conferencing_events values (?, ?, ?, ?, ?, ?)",
            [
                (
                    e["meetsIdConferencingEvent"],
                    e["name"],
                    e["timeBegin"],
                    e["timeEnd"],
                    e["meetsIdUser_host"],
                    e["conferencingService"],
                )
                for e in events
            ],
        )
        con.execute("create table meets_raw.users (meets_id_user bigint, email varchar)")
        con.executemany(
            "insert into meets_raw.users values (?, ?)", [(u["meetsIdUser"], u.get("email")) for u in musers]
        )
    finally:
        con.close()
    del requests


def _table(con: duckdb.DuckDBPyConnection, name: str, rows: list[dict]) -> None:
    columns = sorted({k for r in rows for k in r})
    types = {c: _sql_type([r.get(c) for r in rows]) for c in columns}
    con.execute(f"create table {name} ({', '.join(f'{c} {types[c]}' for c in columns)})")
    marks = ", ".join("?" for _ in columns)
    con.executemany(
        f"insert into {name} values ({marks})",
        [[_value(r.get(c)) for c in columns] for r in rows],
    )


def _sql_type(values: list) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "bigint"
    return "varchar"


def _value(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def test_kill_9_mid_copy_then_rerun_gives_exactly_the_full_set(
    sandbox_factory, tmp_path, monkeypatch
) -> None:
    scale = dataclasses.replace(Scale.named("tiny"), big_file_bytes=300_000_000)
    sb = sandbox_factory(scale=scale)
    warehouse = rs.use_sandbox(monkeypatch, sb, tmp_path)
    dest = tmp_path / "recordings"
    kwargs = {
        "dest": str(dest),
        "plan_from": "api",
        "date_from": sb.info["start_date"],
        "progress": False,
        "max_concurrent": 2,
    }
    env = {k: os.environ[k] for k in ("MW_SANDBOX_URL", "MW_WAREHOUSE", "MW_STATE_DIR", "MW_TOKEN_DIR")}
    proc = rs.pipeline_subprocess(kwargs, env)
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        partial = (
            [p for p in dest.rglob("*.partial") if p.stat().st_size > 10_000_000] if dest.exists() else []
        )
        if partial:
            break
        time.sleep(0.02)
    assert partial, f"never saw a partial file; child output: {proc.communicate()[0]!r}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list(dest.rglob("*.partial"))  # the crash left its temporary file behind

    summary = run_recordings(**{**kwargs, "print_summary": False})

    assert summary.ok, summary.errors
    assert summary.cleaned_up >= 1
    want = rs.expected_files(sb)
    rows = rs.inventory(warehouse)
    assert _copied(rows, "zoom") == want["zoom"]
    assert _copied(rows, "meets") == want["meets"]
    files = [p for p in rs.local_files(dest) if p.name != "meta.json"]
    assert not [p for p in rs.local_files(dest) if p.name.endswith(".partial")]
    assert len(files) == sum(want["zoom"].values()) + sum(want["meets"].values())
    assert Counter((p.stat().st_size, rs.sha256_file(p)) for p in files) == want["zoom"] + want["meets"]
    big = next(r for r in rows if r["size"] == 300_000_000)
    assert big["attempts"] >= 2 and big["temp_url"] is None


def test_flaky_apis_still_give_the_exact_set(sandbox_factory, tmp_path, monkeypatch) -> None:
    """429 storms, JSON 503s and MEETS' HTML 500s on listings, look-ups and downloads."""
    sb = sandbox_factory(p429=0.1, p5xx=0.1, p500_nonjson=0.05)
    warehouse = rs.use_sandbox(monkeypatch, sb, tmp_path)
    account = sb.server.state.account
    host = account.recordings[0].meeting.host
    summary = _run(tmp_path / "rec", sb, users=host.email)
    assert summary.ok, summary.errors
    rows = rs.inventory(warehouse)
    assert _copied(rows, "zoom") + _copied(rows, "meets") == _expected_for(sb, host.email)
    faults = sb.admin("stats")["faults"]
    assert sum(faults.values()) > 0


def _expected_for(sb, email: str) -> Counter:
    """``(size, sha256)`` of every downloadable Zoom and MEETS file hosted by ``email``."""
    from pipelines.sandbox.account import Account
    from pipelines.sandbox.zoom_api import recording_visibility

    state = sb.server.state
    account = state.account
    out: Counter = Counter()
    for rec in account.recordings:
        if rec.meeting.host.email == email and recording_visibility(rec, state.now()) == "available":
            for f in rec.files:
                out[(f.size, Account.content_sha256(f.size, f.content_seed))] += 1
    emails = {u.id: u.person.email for u in account.meets_users}
    now_ts = int(state.now().timestamp())
    for r in account.meets_recordings:
        event = account.meets_event_by_id[r.event_id]
        if emails.get(event.host_user_id) == email and r.time_added <= now_ts and not r.gone:
            out[(r.size, Account.content_sha256(r.size, r.content_seed))] += 1
    return out
