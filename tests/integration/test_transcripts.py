"""Transcripts, captions and chat end to end on the sandbox: load the Zoom account, copy its text
files, run the transcripts stage and the models, then compare with the sandbox's truth.

* every cue and message the sandbox generated is in the warehouse exactly once, as generated;
* a word the truth places in N meetings finds exactly those N meetings, the one that says it most
  first (accents or not); the filters narrow the hits;
* talk time per speaker (fct_meeting_talk_time) equals the truth to the millisecond;
* a malformed or undecodable file is quarantined with the reason and the run goes on; a file copied
  again with other bytes replaces its rows; nothing is parsed twice.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import embedded, raw_contract
from pipelines.sandbox import SandboxConfig, SandboxServer
from pipelines.sandbox.transcripts import VOCABULARY
from pipelines.sandbox.truth import transcript_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from pipelines.recordings.run import run_recordings
    from pipelines.transcripts.stage import run_transcripts
    from pipelines.transform import run_transform
    from pipelines.zoom.pipeline import run_zoom_load

    tmp = tmp_path_factory.mktemp("transcripts")
    server = SandboxServer(SandboxConfig.from_env()).start()
    with pytest.MonkeyPatch.context() as mp:
        for var in [
            v for v in os.environ if v.startswith(("SOURCES__", "RECORDINGS__", "TRANSCRIPTS__", "MW_"))
        ]:
            mp.delenv(var)
        warehouse = tmp / "warehouse" / "meetings.duckdb"
        mp.setenv("MW_SANDBOX_URL", server.base_url)
        mp.setenv("MW_WAREHOUSE", str(warehouse))
        mp.setenv("MW_STATE_DIR", str(tmp / "state"))
        mp.setenv("MW_TOKEN_DIR", str(tmp / "tokens"))
        mp.setenv("MW_PIPELINES_DIR", str(tmp / "dlt_pipelines"))
        mp.setenv("DBT_LOG_PATH", str(tmp / "dbt_logs"))
        embedded.reset()
        try:
            zoom = run_zoom_load(show=False, progress=False)
            assert zoom.get("stopped") is None
            copy = run_recordings(
                dest=str(tmp / "recordings"),
                types="transcript,cc,chat",
                sources="zoom",
                progress=False,
                print_summary=False,
            )
            assert copy.ok and copy.copied > 0
            first = run_transcripts()
            second = run_transcripts()
            with duckdb.connect(str(warehouse)) as con:  # the models read MEETS too: empty here
                raw_contract.create_empty(con, {"meets_raw": raw_contract.contract()["meets_raw"]})
            assert run_transform(quiet=True) == 0
            state = server.state
            yield {
                "warehouse": warehouse,
                "truth": transcript_truth(state.account, state.now()),
                "account": state.account,
                "first": first,
                "second": second,
                "dest": tmp / "recordings",
            }
        finally:
            server.stop()
            embedded.reset()


def _query(world: dict[str, Any], sql: str, args: list | None = None) -> list[tuple]:
    with duckdb.connect(str(world["warehouse"]), read_only=True) as con:
        return con.execute(sql, args or []).fetchall()


def test_every_generated_cue_is_in_the_warehouse_once(world: dict[str, Any]) -> None:
    truth = world["truth"]["files"]
    assert {f["file_type"] for f in truth.values()} == {"TRANSCRIPT", "CC", "CHAT"}
    # files are told apart by meeting and type (the loaded key of a CC file is the source's hash)
    want = Counter(
        (f["meeting_uuid"], f["file_type"], i, start / 1000, end / 1000, speaker, text)
        for f in truth.values()
        for i, start, end, speaker, text in f["cues"]
    )
    got = Counter(
        _query(
            world,
            "select meeting_uuid, file_type, cue_index, start_offset_s, end_offset_s, speaker, text "
            "from transcripts.cues",
        )
    )
    assert got == want
    assert world["first"].files_parsed == len(truth) and world["first"].cues_loaded == sum(want.values())
    # irregular parts made it through: cues without a speaker, accented names and words
    assert any(k[5] is None for k in got) and any(not ((k[5] or "") + k[6]).isascii() for k in got)
    # a second run parses nothing again
    assert world["second"].files_parsed == 0 and world["second"].files_unchanged == len(truth)
    assert not world["second"].index_rebuilt
    # the mart holds every cue once, with its meeting and file location
    rows = _query(
        world,
        "select count(*), count(distinct segment_id), count(topic), count(dest_url) "
        "from analytics.fct_transcript_segments",
    )[0]
    assert rows == (sum(want.values()),) * 4


def _search_words(world: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """Vocabulary words said in at least two meetings where one meeting clearly says it most."""
    out = []
    for word, per_meeting in sorted(world["truth"]["words"].items()):
        if word not in VOCABULARY or len(per_meeting) < 2:
            continue
        top, second = sorted(per_meeting.values(), reverse=True)[:2]
        if top >= 1.5 * second:
            out.append((word, per_meeting))
    return out


def test_a_word_finds_exactly_the_meetings_that_say_it_most_first(world: dict[str, Any]) -> None:
    from pipelines.transcripts import search

    words = _search_words(world)
    assert len(words) >= 3, "the sandbox should share words between meetings"
    topics = " ".join(m.topic.lower() for m in world["account"].meetings)
    with duckdb.connect(str(world["warehouse"]), read_only=True) as con:
        stems = dict(
            con.execute("select w, stem(w, 'porter') from unnest(?) t(w)", [list(VOCABULARY)]).fetchall()
        )
        assert len(set(stems.values())) == len(VOCABULARY), "vocabulary words must not share a stem"
        for word, per_meeting in words:
            assert word not in topics
            hits = search.search(con, word, limit=1000)
            assert {h.meeting_uuid for h in hits} == set(per_meeting), word
            assert hits[0].meeting_uuid == max(per_meeting, key=per_meeting.get), word
            assert all(s.kind in ("transcript", "captions", "chat") for h in hits for s in h.snippets)
            assert all(word in s.text.lower() for h in hits for s in h.snippets)
        # accents are folded: "facade" finds what "façade" finds
        accented = [w for w in world["truth"]["words"] if w in VOCABULARY and not w.isascii()]
        assert accented
        plain = accented[0].replace("ç", "c").replace("é", "e").replace("è", "e").replace("ï", "i")
        plain = plain.replace("ö", "o").replace("ñ", "n").replace("à", "a").replace("ü", "u")
        assert {h.meeting_uuid for h in search.search(con, plain, limit=1000)} == set(
            world["truth"]["words"][accented[0]]
        )
        # topics are searched too
        topic_word = "workshop"
        with_topic = {m.uuid for m in world["account"].meetings if topic_word in m.topic.lower()}
        found = {h.meeting_uuid for h in search.search(con, topic_word, limit=1000)}
        assert found and found <= with_topic


def test_search_filters_and_command_line(world: dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    from pipelines.cli import main
    from pipelines.transcripts import search

    word, per_meeting = _search_words(world)[0]
    by_uuid = {m.uuid: m for m in world["account"].meetings}
    top = by_uuid[max(per_meeting, key=per_meeting.get)]
    with duckdb.connect(str(world["warehouse"]), read_only=True) as con:
        hits = search.search(con, word, host=top.host.email, limit=1000)
        assert {h.meeting_uuid for h in hits} == {
            u for u in per_meeting if by_uuid[u].host.email == top.host.email
        }
        day = top.start.date().isoformat()
        hits = search.search(con, word, date_from=day, date_to=day, limit=1000)
        assert {h.meeting_uuid for h in hits} == {
            u for u in per_meeting if by_uuid[u].start.date() == top.start.date()
        }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MW_WAREHOUSE", str(world["warehouse"]))
        assert main(["search", word, "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert top.uuid in out.splitlines()[1] and f"*{word}" in out and str(world["dest"]) in out


# another process holding the warehouse open read-write, as a load or a transform does
HOLD_RW = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(300)"
)


def test_search_reads_the_snapshot_while_a_load_holds_the_warehouse(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import json
    import subprocess

    from pipelines.cli import main
    from pipelines.publish import publish_snapshot

    words = [word for word, _ in _search_words(world)[:3]] + ["workshop"]

    def search_json(word: str, serving: Path) -> tuple[int, Any]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MW_WAREHOUSE", str(world["warehouse"]))
            mp.setenv("MW_SERVING", str(serving))
            code = main(["search", word, "--limit", "1000", "--json"])
        out = capsys.readouterr().out
        return code, json.loads(out) if code == 0 else out

    nowhere = tmp_path / "no_snapshot.duckdb"
    before = {word: search_json(word, nowhere) for word in words}  # no snapshot: the warehouse
    assert all(code == 0 and hits for code, hits in before.values()), before
    serving = tmp_path / "serving.duckdb"
    publish_snapshot(world["warehouse"], serving)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_RW, str(world["warehouse"])], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        for word in words:
            assert search_json(word, serving) == before[word], word
        code, out = search_json(words[0], nowhere)  # the holder does hold it: without a snapshot, busy
        assert code == 2 and "busy" in out
    finally:
        holder.kill()
        holder.wait()


def test_talk_time_per_speaker_equals_the_truth(world: dict[str, Any]) -> None:
    want = {
        (meeting, speaker): ms / 1000
        for meeting, speakers in world["truth"]["talk_ms"].items()
        for speaker, ms in speakers.items()
    }
    rows = _query(
        world,
        "select meeting_uuid, speaker, talk_seconds, is_host, host_talk_share from analytics.fct_meeting_talk_time",
    )
    assert {(m, s): float(t) for m, s, t, _, _ in rows} == pytest.approx(want, abs=1e-9)
    by_uuid = {m.uuid: m for m in world["account"].meetings}
    for meeting, speaker, _, is_host, host_share in rows:
        assert is_host == (speaker == by_uuid[meeting].host.display_name)
        assert 0 <= host_share <= 1
    hosts_talk = [r for r in rows if r[3]]
    assert hosts_talk, "hosts talk in their meetings"


def test_malformed_files_are_quarantined_and_recopied_files_replace_their_rows(world: dict[str, Any]) -> None:
    """Runs last: it changes copied files and the inventory, as a re-copy would."""
    from pipelines.transcripts.stage import run_transcripts

    cues_of = {(f["meeting_uuid"], f["file_type"]): len(f["cues"]) for f in world["truth"]["files"].values()}
    files = _query(
        world, "select file_key, dest_url, meeting_uuid, file_type from transcripts.files order by 1"
    )
    paths = {k: url for k, url, _, _ in files}
    n_cues = {k: cues_of[(m, t)] for k, _, m, t in files}
    broken, binary, recopied = [k for k, _, _, t in files if t in ("TRANSCRIPT", "CC")][:3]
    new_bodies = {
        broken: b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.000\nAda: fine\n\n2\n00:00:05.000 -> 00:00:09.000\nbad\n",
        binary: b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n\xff\xfe not text\n",
        recopied: Path(paths[recopied]).read_bytes()
        + b"\n9999\n99:00:00.000 --> 99:00:01.500\nAda Okafor: one more cue\n",
    }
    with duckdb.connect(str(world["warehouse"])) as con:
        for key, body in new_bodies.items():
            Path(paths[key]).write_bytes(body)
            con.execute(
                "update recordings.inventory set sha256 = ? where file_key = ?",
                [hashlib.sha256(body).hexdigest(), key],
            )
        summary = run_transcripts(con)
        assert (summary.files_parsed, summary.files_quarantined) == (1, 2)
        assert summary.index_rebuilt
        status = dict(
            (k, (s, r))
            for k, s, r in con.execute("select file_key, status, reason from transcripts.files").fetchall()
        )
        assert (
            status[broken][0] == "quarantined"
            and "line 8" in status[broken][1]
            and "timing" in status[broken][1]
        )
        assert status[binary][0] == "quarantined" and "UTF-8" in status[binary][1]
        assert status[recopied] == ("parsed", None)
        counts = dict(con.execute("select file_key, count(*) from transcripts.cues group by all").fetchall())
        assert broken not in counts and binary not in counts
        assert counts[recopied] == n_cues[recopied] + 1
        assert sum(counts.values()) == sum(n for k, n in n_cues.items() if k not in (broken, binary)) + 1
        # the quarantine is stable: a rerun does not parse those files again
        assert run_transcripts(con).files_quarantined == 0


def test_the_privacy_switch_turns_the_stage_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    from pipelines.cli import main
    from pipelines.transcripts import stage

    assert stage.enabled()
    monkeypatch.setenv("TRANSCRIPTS__ENABLED", "false")
    monkeypatch.setenv("MW_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    assert not stage.enabled()
    assert main(["transcripts"]) == 0
    assert "off" in capsys.readouterr().out and not (tmp_path / "wh.duckdb").exists()
    monkeypatch.setenv("TRANSCRIPTS__ENABLED", "maybe")
    with pytest.raises(ValueError, match=r"transcripts\.enabled"):
        stage.enabled()
