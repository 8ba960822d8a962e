"""The publish stage end to end: a sandbox warehouse (load + transform + recordings, real commands)
published to the YouTube emulator over TLS on loopback, compared with the emulator's truth."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import duckdb
import pytest

from pipelines.youtube import metadata
from tests.youtube.conftest import Built, Stage

BEST = """
select f.recording_file_id, f.title, f.topic, i.sha256, i.size
from analytics.fct_recording_files f
join recordings.inventory i on i.source = 'zoom' and i.file_key = f.recording_file_id and i.status = 'copied'
where f.is_best_file and f.is_video_file and not f.is_trashed
"""


def _best(stage: Stage) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in stage.query(BEST)}


def _videos_by_file(stage: Stage) -> Counter:
    return Counter(metadata.marker_in(v["description"]) for v in stage.emulator.state.truth()["videos"])


def _ledger_total(stage: Stage) -> int:
    return stage.query("select coalesce(sum(units), 0) from youtube.quota")[0][0]


def _assert_all_published_once(stage: Stage, best: dict[str, tuple]) -> None:
    truth = stage.emulator.state.truth()
    by_file = _videos_by_file(stage)
    assert set(by_file) == set(best), (len(by_file), len(best))
    assert max(by_file.values()) == 1, [k for k, n in by_file.items() if n > 1]
    for video in truth["videos"]:
        key = metadata.marker_in(video["description"])
        title, topic, sha, size = best[key]
        assert (video["sha256"], video["size"]) == (sha, size), key
        assert video["title"] == metadata.video_title(topic, title)
        assert video["privacy_status"] == video["privacy_asked"] == "private"
    published = stage.query("select file_key, video_id from youtube.publications where status = 'published'")
    assert dict(published) == {metadata.marker_in(v["description"]): v["id"] for v in truth["videos"]}
    assert _ledger_total(stage) == sum(truth["quota_used"].values())


def test_make_run_publishes_one_video_per_meeting_and_a_rerun_nothing(built: Built) -> None:
    stage = Stage(built.env, built.warehouse, built.emulator)
    best = _best(stage)
    meetings = stage.query(
        BEST.replace(
            "f.recording_file_id, f.title, f.topic, i.sha256, i.size", "count(distinct f.meeting_uuid)"
        )
    )
    assert len(best) == meetings[0][0] >= 5  # one best file per meeting with a video file
    _assert_all_published_once(stage, best)
    assert f"published  {len(best)} video(s)" in built.run.stdout
    # the mart shows the video beside the file (the run rebuilt it after publishing)
    in_mart = stage.query(
        "select recording_file_id, youtube_video_id, youtube_url from analytics.fct_recording_files "
        "where youtube_video_id is not null"
    )
    assert {r[0]: r[1] for r in in_mart} == dict(
        stage.query("select file_key, video_id from youtube.publications")
    )
    assert all(r[2] == f"https://www.youtube.com/watch?v={r[1]}" for r in in_mart)

    calls_before = dict(stage.emulator.state.calls)
    again = stage.publish("--no-transform")
    assert "published  0 video(s)" in again.stdout and f"{len(best)} already there" in again.stdout
    assert len(stage.emulator.state.truth()["videos"]) == len(best)
    assert stage.emulator.state.calls.get("videos.insert") == calls_before.get("videos.insert")

    # secrets never in the output or the warehouse's publish tables
    secrets = [
        stage.env["YOUTUBE__CLIENT_SECRET"],
        stage.env["YOUTUBE__REFRESH_TOKEN"],
        *stage.emulator.state.access_tokens,
    ]
    dump = repr(stage.query("select * from youtube.publications")) + repr(
        stage.query("select * from youtube.quota")
    )
    for text in (built.run.stdout, built.run.stderr, again.stdout, again.stderr, dump):
        assert not [s for s in secrets if s in text]


def _wait_paused(stage: Stage, proc, timeout: float = 60) -> bool:
    """True when the emulator reached its pause point; False when the run finished first."""
    deadline = time.monotonic() + timeout
    while not stage.emulator.state.paused.is_set():
        if proc.poll() is not None:
            output = proc.stdout.read()
            assert proc.returncode == 0, output
            return False
        assert time.monotonic() < deadline, "the emulator never reached its pause point"
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("seed", [7])
def test_kill_9_at_seeded_moments_then_rerun(stage: Stage, seed: int) -> None:
    """kill -9 while a chunk is in flight, right after YouTube's final answer (before the state
    write, then the session expires), and right after a session was opened: the reruns publish
    every file exactly once and the ledger equals what the emulator charged."""
    best = _best(stage)
    state = stage.emulator.state
    moments = [("chunk", 3 + seed % 3), ("video", 2), ("initiation", 2), ("chunk", 2)]
    killed: list[str] = []
    for kind, n in moments:
        state.counters = dict.fromkeys(state.counters, 0) | {"calls": state.counters["calls"]}
        state.paused.clear()
        state._release.clear()
        state.faults.pause_at = (kind, n)
        proc = stage.popen("--no-transform")
        if not _wait_paused(stage, proc):  # a small account can run out of files before the last moments
            proc.stdout.close()
            break
        killed.append(kind)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        if kind == "video":
            state.expire_sessions()  # the rerun must find the upload by listing the channel
            # ... and its first call (the channel listing) is rate-limited once: retried, refunded
            state.faults.rate_limited_calls = {state.counters["calls"] + 1}
        state.release()
    assert killed[:2] == ["chunk", "video"], killed  # mid-chunk and after the final answer, at least
    stage.publish("--no-transform")
    _assert_all_published_once(stage, best)
    # the expired session's file was found by listing the channel (one listing, rate-limited once)
    assert state.calls.get("channels.list") == 2 and state.calls.get("playlistItems.list") == 1
    assert state.truth()["sessions"] > len(best)  # sessions were abandoned (initiation) or resumed
    statuses = Counter(r[0] for r in stage.query("select status from youtube.publications"))
    assert statuses == {"published": len(best)}


def test_faults_cut_chunk_5xx_rate_limit(stage: Stage) -> None:
    best = _best(stage)
    faults = stage.emulator.state.faults
    faults.cut_chunks = {2, 9}
    faults.failing_chunks = {4, 5}
    faults.rate_limited_calls = {3}
    stage.publish("--no-transform")
    _assert_all_published_once(stage, best)


def test_quota_exhausted_stops_cleanly_and_the_next_day_finishes(stage: Stage, monkeypatch) -> None:
    best = _best(stage)
    day1 = "2030-01-15T20:00:00Z"  # 12:00 Pacific
    monkeypatch.setenv("MW_NOW", day1)  # the emulator's clock (it runs in this process)
    stage.emulator.state.faults.daily_quota = 3 * 1600 + 10  # three inserts, then quotaExceeded
    first = stage.publish("--no-transform", check=False, extra={"MW_NOW": day1})
    assert first.returncode == 3, first.stdout + first.stderr
    assert "quota" in first.stdout and "resets at 2030-01-16 08:00 UTC" in first.stdout
    assert len(stage.emulator.state.truth()["videos"]) == 3
    assert _ledger_total(stage) == stage.emulator.state.quota_total()

    day2 = "2030-01-16T09:00:00Z"  # 01:00 Pacific: a new quota day
    monkeypatch.setenv("MW_NOW", day2)
    stage.emulator.state.faults.daily_quota = 10**9
    stage.publish("--no-transform", extra={"MW_NOW": day2})
    _assert_all_published_once(stage, best)
    days = dict(stage.query("select cast(pacific_day as varchar), sum(units) from youtube.quota group by 1"))
    assert days == stage.emulator.state.truth()["quota_used"]


def test_ledger_budget_stops_before_youtube_would(stage: Stage) -> None:
    """The ledger's own budget: never exceeded, the stop says when quota resets; dry run prices it."""
    dry = stage.publish("--dry-run", extra={"YOUTUBE__DAILY_QUOTA_UNITS": "5000"})
    assert "x 1600 =" in dry.stdout and "3 fit today" in dry.stdout
    assert stage.emulator.state.truth()["videos"] == []
    run = stage.publish("--no-transform", check=False, extra={"YOUTUBE__DAILY_QUOTA_UNITS": "5000"})
    assert run.returncode == 3 and "resets at" in run.stdout
    assert _ledger_total(stage) <= 5000
    assert _ledger_total(stage) == stage.emulator.state.quota_total()
    assert len(stage.emulator.state.truth()["videos"]) == 3


def test_unverified_project_and_series_playlists(stage: Stage) -> None:
    """Asked public, answered private (unverified project): said so; one playlist per series,
    created once, each video in its series' playlist; filters narrow the selection."""
    series = stage.query(
        "select cast(f.meeting_series_id as varchar), count(*) from analytics.fct_recording_files f "
        "where f.is_best_file and f.is_video_file and not f.is_trashed group by 1 order by 2 desc limit 2"
    )
    stage.emulator.state.faults.unverified_project = True
    run = stage.publish(
        "--no-transform",
        "--series",
        ",".join(s for s, _ in series),
        extra={"YOUTUBE__PRIVACY_STATUS": "public", "YOUTUBE__PLAYLISTS": "series"},
    )
    truth = stage.emulator.state.truth()
    assert len(truth["videos"]) == sum(n for _, n in series)
    assert {v["privacy_asked"] for v in truth["videos"]} == {"public"}
    assert {v["privacy_status"] for v in truth["videos"]} == {"private"}
    assert f"YouTube made {len(truth['videos'])} upload(s) private" in run.stdout
    assert len(truth["playlists"]) == len(series)
    assert sorted(i["videoId"] for i in truth["playlist_items"]) == sorted(v["id"] for v in truth["videos"])
    assert stage.query("select count(*) from youtube.publications where playlist_item_id is null") == [(0,)]
    assert _ledger_total(stage) == stage.emulator.state.quota_total()


def test_a_meeting_already_published_is_not_published_again(stage: Stage) -> None:
    """A later, better file of a published meeting (the mart's best changes) makes no second video."""
    best = _best(stage)
    stage.publish("--no-transform")
    key = sorted(best)[0]
    with duckdb.connect(str(stage.warehouse)) as con:  # as if another file had become the meeting's best
        con.execute(
            "update youtube.publications set file_key = 'an-older-best-file' where file_key = ?", [key]
        )
    again = stage.publish("--no-transform")
    assert "published  0 video(s)" in again.stdout
    assert len(stage.emulator.state.truth()["videos"]) == len(best)
