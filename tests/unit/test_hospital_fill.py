"""The vectorised hospital filler (bench/hospital_fill.py): the raw contract, unique keys, and a
ground truth that the raw strings it wrote give back when parsed the way the sandbox truth parses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from bench.hospital_fill import draw_day, fill_hospital, slice_truth
from pipelines import raw_contract
from pipelines.sandbox.account import STREAM_KIND, STREAMS
from pipelines.sandbox.truth import COMPARATORS, METRIC_FIELDS, _measure, _number, load_thresholds
from pipelines.zoom.qos import KNOWN_BLOCKS
from tests.fixtures.raw_keys import ZOOM_KEYS

SEED, DAYS, PER_DAY = 7, 2, 25


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    db = tmp_path_factory.mktemp("hospital") / "raw.duckdb"
    return db, fill_hospital(db, DAYS, PER_DAY, SEED)


def test_raw_tables_follow_the_contract_with_unique_keys(filled: tuple[Path, dict]) -> None:
    db, counts = filled
    with duckdb.connect(str(db), read_only=True) as con:
        assert raw_contract.problems(con, raw_contract.contract()) == []
        for table, key in ZOOM_KEYS.items():
            n, distinct, ids = con.execute(
                f"select count(*), count(distinct ({', '.join(key)})), count(distinct _dlt_id) from zoom_raw.{table}"
            ).fetchone()
            assert n == distinct == ids, table
            if table in counts:
                assert n == counts[table], table
        assert counts["meetings"] == DAYS * PER_DAY
        assert counts["participant_qos"] > 20 * counts["meetings"]
        # every session's minutes are there, at minute marks, within the session
        late = con.execute(
            "select count(*) from zoom_raw.participant_qos q join zoom_raw.participant_sessions s "
            "using (meeting_uuid, user_id) where q.date_time < date_trunc('minute', s.join_time) "
            "or q.date_time >= s.leave_time or second(q.date_time) <> 0"
        ).fetchone()[0]
        assert late == 0
        logged = con.execute(
            "select count(*) from zoom_raw.meeting_fetch_log f join (select meeting_uuid, count(*) n "
            "from zoom_raw.participant_qos group by all) q using (meeting_uuid) where f.qos_rows <> q.n"
        ).fetchone()[0]
        assert logged == 0


def test_slice_truth_is_what_the_raw_strings_say(filled: tuple[Path, dict]) -> None:
    """Recount from the stored strings with the sandbox truth's own parser (``_measure``)."""
    db, _ = filled
    truth = slice_truth(SEED, PER_DAY, range(DAYS))
    assert len(truth) == DAYS * PER_DAY
    cols = [f"{b}__{f}" for b in STREAMS for f in KNOWN_BLOCKS[b]] + ["cpu_usage__zoom_avg_cpu_usage"]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"select meeting_uuid, {', '.join(cols)} from zoom_raw.participant_qos").fetchall()
        sessions = dict(
            con.execute(
                "select meeting_uuid, count(*) from zoom_raw.participant_sessions group by all"
            ).fetchall()
        )
        people = dict(
            con.execute(
                "select meeting_uuid, count(distinct user_name) from zoom_raw.participant_sessions group by all"
            ).fetchall()
        )
    counted: dict[str, dict] = {}
    minutes: dict[str, int] = {}
    for uuid, *values in rows:
        minutes[uuid] = minutes.get(uuid, 0) + 1
        flat = dict(zip(cols, values, strict=True))
        sample = {s: {f: flat[f"{s}__{f}"] for f in KNOWN_BLOCKS[s]} for s in STREAMS}
        for th in load_thresholds():
            if th["stream"] == "cpu":
                targets = [("cpu", "cpu", _number(flat["cpu_usage__zoom_avg_cpu_usage"]))]
            else:
                targets = [
                    (s, th["stream"], _measure(sample, s, METRIC_FIELDS[th["metric"]]))
                    for s in STREAMS
                    if STREAM_KIND[s] == th["stream"]
                ]
            for stream, kind, value in targets:
                if value is None:
                    continue
                bad = COMPARATORS[th["comparator"]](value, th["value"])
                for level, key in (("by_stream", stream), ("by_stream_kind", kind)):
                    cell = counted.setdefault(uuid, {}).setdefault(level, {}).setdefault(key, {})
                    got = cell.setdefault(th["metric"], [0, 0])
                    got[0] += 1
                    got[1] += int(bad)
    checked = 0
    for uuid, t in truth.items():
        assert (t["sessions"], t["distinct_people"], t["qos_minutes"]) == (
            sessions[uuid],
            people[uuid],
            minutes[uuid],
        )
        for level in ("by_stream", "by_stream_kind"):
            want = {
                k: {m: [c["measured_minutes"], c["violating_minutes"]] for m, c in v.items()}
                for k, v in t[level].items()
            }
            assert want == counted[uuid][level], (uuid, level)
            checked += sum(len(v) for v in want.values())
    assert checked > 1000
    assert any(
        c["violating_minutes"] for t in truth.values() for c in t["by_stream"].get("audio_input", {}).values()
    )


def test_the_mix_is_seed_001s_and_draws_are_repeatable() -> None:
    a = draw_day(1, 3, 600, dt.date(2026, 6, 1), 400)
    b = draw_day(1, 3, 600, dt.date(2026, 6, 1), 400)
    assert a.minutes.equals(b.minutes) and a.sessions.equals(b.sessions)
    assert not a.minutes.equals(draw_day(2, 3, 600, dt.date(2026, 6, 1), 400).minutes)
    people = a.meetings["people"]
    length = (a.meetings["end"] - a.meetings["start"]) / 60
    assert ((people >= 2) & (people <= 4)).mean() > 0.85  # clinician, patient, interpreter
    assert ((length >= 15) & (length <= 46)).mean() > 0.85  # 15-45 minutes
