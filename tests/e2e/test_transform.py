"""``make load`` + ``make transform`` end to end: the dbt marts equal the sandbox's ground truth.

The main test loads the sandbox at the default scale with the real dlt sources over HTTP, runs
``dbt build`` and compares ``fct_meetings``, ``fct_participant_sessions`` and ``fct_meeting_quality``
with ``compute_truth`` exactly (proportions to 1e-9). Then the sandbox clock moves a day, the sources
load the new day and dbt runs again: the incremental ``fct_qos_minutes`` writes exactly the new rows
(``_dbt_loaded_at``) and the result equals a ``--full-refresh``.

A second, faster test builds the models on raw tables written straight from the generator
(``tests/fixtures/raw_fill.py``), so a mismatch can be told apart: dbt's fault or the loader's.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from pipelines import embedded
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.sandbox.account import Account
from pipelines.sandbox.config import default_clock_base
from pipelines.sandbox.truth import compute_truth
from pipelines.transform import last_result, run_transform, up_to_date

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures.raw_fill import fill_raw

STREAMS_PER_MINUTE = 7  # audio/video/share x input/output + the cpu block
COMPARED = {  # mart -> columns that legitimately differ between runs (when/what wrote them, float sums)
    "fct_qos_minutes": ["_dbt_loaded_at"],
    "fct_meeting_quality": ["qos_loaded_at", "avg_value"],
    "fct_participant_quality": ["qos_loaded_at", "avg_value"],
    "fct_meetings": [],
    "fct_participant_sessions": [],
    "fct_waiting_room_stints": [],
    "dim_users": [],
    "dim_meeting_series": [],
    "dim_courses": [],
    "fct_meeting_talk_time": [],
    "fct_transcript_segments": [],
    # incremental intermediates (schema-qualified) and the lookup the touched meetings come from
    "intermediate.int_zoom_sessions__identified": [],
    "intermediate.int_meets_events__matched_to_meetings": [],
}


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "warehouse" / "meetings.duckdb"
    monkeypatch.setenv("MW_WAREHOUSE", str(db))
    monkeypatch.setenv("MW_PIPELINES_DIR", str(tmp_path / "dlt_pipelines"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for var in [v for v in os.environ if v.startswith(("SOURCES__ZOOM__", "SOURCES__MEETS__"))]:
        monkeypatch.delenv(var)
    embedded.reset()
    yield db
    embedded.reset()


def _connect(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def assert_marts_match_truth(db: Path, truth: dict[str, Any], account: Account | None = None) -> None:
    """fct_meetings, fct_participant_sessions, fct_waiting_room_stints and fct_meeting_quality against
    compute_truth, exactly; with ``account``, every person a session resolves to is the right one."""
    expected = truth["meetings"]
    with _connect(db) as con:
        zoom = truth["zoom"]
        dropped = con.execute(
            "select count_if(is_dropped) from analytics.fct_participant_sessions where source = 'zoom'"
        ).fetchone()[0]
        assert dropped == zoom["dropped_sessions"]  # Zoom's own disconnect reasons
        stints, waited = con.execute(
            "select count(*), coalesce(sum(waited_seconds), 0) from analytics.fct_waiting_room_stints"
        ).fetchone()
        assert stints == zoom["waiting_room_sessions"]
        assert waited == sum(m["waiting_room_seconds"] for m in expected.values())
        waiting = dict(
            con.execute("select meeting_uuid, waiting_room_seconds from analytics.fct_meetings").fetchall()
        )
        assert waiting == {u: m["waiting_room_seconds"] for u, m in expected.items()}
        if account is not None:
            assert_people_are_right(con, account)
        meetings = {
            r[0]: r[1:]
            for r in con.execute(
                "select meeting_uuid, session_count, distinct_people, qos_minutes from analytics.fct_meetings"
            ).fetchall()
        }
        assert set(meetings) == set(expected), "fct_meetings holds other meetings than the truth"
        wrong = {
            u: (meetings[u], (t["sessions"], t["distinct_people"], t["qos_minutes"]))
            for u, t in expected.items()
            if meetings[u] != (t["sessions"], t["distinct_people"], t["qos_minutes"])
        }
        assert not wrong, f"{len(wrong)} meetings with wrong counts, e.g. {next(iter(wrong.items()))}"

        zoom = truth["zoom"]
        sessions, people = con.execute(
            "select count(*), count(distinct (meeting_uuid, person_key)) "
            "from analytics.fct_participant_sessions where source = 'zoom'"
        ).fetchone()
        assert (sessions, people) == (zoom["participant_sessions"], zoom["distinct_people"])
        meets_rows = con.execute(
            "select count(*) from analytics.fct_participant_sessions where source = 'meets'"
        ).fetchone()[0]
        assert meets_rows == truth["meets"]["attendance_rows"]
        minutes = con.execute("select count(*) from analytics.fct_qos_minutes").fetchone()[0]
        assert minutes == STREAMS_PER_MINUTE * zoom["qos_participant_minutes"]

        quality = {
            (r[0], r[1], r[2], r[3]): r[4:]
            for r in con.execute(
                "select meeting_uuid, level, stream, metric, measured_minutes, violating_minutes, "
                "violating_proportion from analytics.fct_meeting_quality where threshold_comparator is not null"
            ).fetchall()
        }
    checked = 0
    for uuid, t in expected.items():
        for level, key in (("stream", "by_stream"), ("kind", "by_stream_kind")):
            for stream, metrics in t[key].items():
                for metric, cell in metrics.items():
                    got = quality.pop((uuid, level, stream, metric), None)
                    assert got is not None, f"missing quality row {uuid} {level} {stream} {metric}"
                    measured, violating, proportion = got
                    assert (measured, violating) == (cell["measured_minutes"], cell["violating_minutes"]), (
                        uuid,
                        level,
                        stream,
                        metric,
                        got,
                        cell,
                    )
                    if cell["proportion"] is None:
                        assert proportion is None
                    else:
                        assert proportion == pytest.approx(cell["proportion"], abs=1e-9)
                    checked += 1
    # rows the truth does not list are metrics nothing was measured for
    leftovers = [k for k, v in quality.items() if v[0] != 0 or v[2] is not None]
    assert not leftovers, f"quality rows with measurements the truth lacks: {leftovers[:3]}"
    assert checked > 0


def assert_people_are_right(con: duckdb.DuckDBPyConnection, account: Account) -> dict[str, int]:
    """Zoom hides most external participants' emails; a session that resolves to an email (Zoom's,
    the account member's, or the matching MEETS attendance row's) must resolve to that person's.
    Returns the sessions per identity source (what share resolves, and how)."""
    people = {(m.uuid, s.user_id): s.person.email for m in account.meetings for s in account.sessions[m.uuid]}
    rows = con.execute(
        "select meeting_uuid, participant_id, email, identity_source from analytics.fct_participant_sessions "
        "where source = 'zoom'"
    ).fetchall()
    wrong = [(u, p, e, src) for u, p, e, src in rows if e is not None and e != people[(u, p)]]
    assert not wrong, f"{len(wrong)} sessions resolved to the wrong person, e.g. {wrong[:3]}"
    by_source: dict[str, int] = {}
    for *_, src in rows:
        by_source[src] = by_source.get(src, 0) + 1
    return by_source


def _qualified(table: str) -> str:
    return table if "." in table else f"analytics.{table}"


def _short(table: str) -> str:
    return table.rsplit(".", 1)[-1]


def _snapshot(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists e2e_snapshot")
        for table in COMPARED:
            con.execute(
                f"create or replace table e2e_snapshot.{_short(table)} as select * from {_qualified(table)}"
            )


def _assert_equal_to_snapshot(db: Path) -> None:
    with _connect(db) as con:
        for table, volatile in COMPARED.items():
            cols = "* exclude (" + ", ".join(volatile) + ")" if volatile else "*"
            here, there = _qualified(table), f"e2e_snapshot.{_short(table)}"
            for a, b in ((here, there), (there, here)):
                diff = con.execute(
                    f"select count(*) from (select {cols} from {a} except all select {cols} from {b})"
                )
                assert diff.fetchone()[0] == 0, (
                    f"{table}: incremental result differs from a full refresh ({a})"
                )
            if "avg_value" in volatile:
                keys = (
                    "meeting_uuid, level, stream, metric"
                    if table == "fct_meeting_quality"
                    else ("meeting_uuid, person_key, stream_kind, metric")
                )
                worst = con.execute(
                    f"select max(abs(a.avg_value - b.avg_value) / greatest(abs(b.avg_value), 1)) "
                    f"from analytics.{table} as a join e2e_snapshot.{table} as b using ({keys})"
                ).fetchone()[0]
                assert worst is None or worst < 1e-9


def test_load_transform_incremental_equals_truth_and_full_refresh(warehouse_env: Path) -> None:
    from pipelines.meets.pipeline import run_meets_load
    from pipelines.zoom.pipeline import run_zoom_load

    # the sandbox starts a day in the past so that "a day later" is today for the date windows
    server = SandboxServer(SandboxConfig.from_env(scale=Scale.named("default"), clock_offset=-86400)).start()
    try:
        os.environ["MW_SANDBOX_URL"] = server.base_url
        admin = f"{server.base_url}/_sandbox"

        def load_and_transform(**transform: Any) -> dict[str, Any]:
            run_zoom_load(show=False, progress=False)
            run_meets_load()
            assert run_transform(quiet=True, **transform) == 0
            return requests.get(f"{admin}/truth", timeout=120).json()

        before = load_and_transform()
        z = before["zoom"]
        assert min(z["dropped_sessions"], z["waiting_room_sessions"], z["web_client_sessions"]) > 0
        assert min(z["room_connector_sessions"], z["users_not_hosting"], z["users_without_id"]) > 0
        assert_marts_match_truth(warehouse_env, before, server.state.account)

        requests.post(f"{admin}/clock", json={"offset_seconds": 0}, timeout=30).raise_for_status()
        after = load_and_transform()
        assert_marts_match_truth(warehouse_env, after, server.state.account)
    finally:
        os.environ.pop("MW_SANDBOX_URL", None)
        server.stop()

    new_minutes = after["zoom"]["qos_participant_minutes"] - before["zoom"]["qos_participant_minutes"]
    new_meetings = set(after["meetings"]) - set(before["meetings"])
    assert new_minutes > 0 and new_meetings
    with _connect(warehouse_env) as con:
        batches = con.execute(
            "select _dbt_loaded_at, count(*) from analytics.fct_qos_minutes group by 1 order by 1"
        ).fetchall()
        touched_meetings = {
            u
            for (u,) in con.execute(
                "select distinct meeting_uuid from analytics.fct_meeting_quality "
                "where qos_loaded_at = (select max(qos_loaded_at) from analytics.fct_meeting_quality)"
            ).fetchall()
        }
    # two runs wrote rows: the first wrote everything it saw, the second only the new minutes
    assert [n for _, n in batches] == [
        STREAMS_PER_MINUTE * before["zoom"]["qos_participant_minutes"],
        STREAMS_PER_MINUTE * new_minutes,
    ]
    assert touched_meetings == new_meetings

    _snapshot(warehouse_env)
    assert run_transform(full_refresh=True, quiet=True) == 0
    _assert_equal_to_snapshot(warehouse_env)


def test_models_match_truth_on_raw_written_from_the_generator(warehouse_env: Path) -> None:
    """Same comparison without HTTP or dlt: raw tables written straight from the account generator.

    The second day arrives as a load package that committed late under an *older* load id than the
    newest one the model holds (dlt finishes an interrupted package under its original id): the
    incremental model still picks up exactly those minutes, and nothing else.
    """
    scale = Scale.named("tiny")
    today = default_clock_base()
    yesterday = today - timedelta(days=1)
    account = Account(7, scale, start_date=today.date() - timedelta(days=scale.days))
    warehouse_env.parent.mkdir(parents=True, exist_ok=True)
    fill_raw(str(warehouse_env), account, yesterday, workers=1)
    assert run_transform(quiet=True) == 0
    assert_marts_match_truth(warehouse_env, compute_truth(account, yesterday))

    with _connect(warehouse_env) as con:
        newest_held = float(
            con.execute("select max(_dlt_load_id) from analytics.fct_qos_minutes").fetchone()[0]
        )
    late_id = f"{newest_held - 3600:.6f}"  # an hour older than what the model holds: inside the lookback
    added = fill_raw(str(warehouse_env), account, today, since=yesterday, workers=1, load_id=late_id)
    assert added["participant_qos"] > 0
    assert run_transform(quiet=True) == 0
    assert_marts_match_truth(warehouse_env, compute_truth(account, today))
    with _connect(warehouse_env) as con:
        written = con.execute(
            "select count(*) from analytics.fct_qos_minutes "
            "where _dbt_loaded_at = (select max(_dbt_loaded_at) from analytics.fct_qos_minutes)"
        ).fetchone()[0]
    assert written == STREAMS_PER_MINUTE * added["participant_qos"]


def test_reloaded_minutes_replace_their_rows(warehouse_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A minute re-loaded under a new load id (dlt merged the raw row again, with a new value)
    replaces its fct_qos_minutes rows (bounded delete+insert on the key: no duplicate, no stale
    row), the quality models recompute that meeting, and everything equals a full refresh. The
    second run builds the daily selector only (unchanged views are not recreated)."""
    scale = Scale.named("tiny")
    today = default_clock_base()
    account = Account(11, scale, start_date=today.date() - timedelta(days=scale.days))
    warehouse_env.parent.mkdir(parents=True, exist_ok=True)
    fill_raw(str(warehouse_env), account, today, workers=1)
    assert run_transform(quiet=True) == 0

    # nothing new (readers do not count): the next whole build is skipped without running dbt; a
    # change of what the project reads (a variable its profile names) or a write to the warehouse is not nothing
    with _connect(warehouse_env) as con:
        assert con.execute("select count(*) from analytics.fct_meetings").fetchone()[0] > 0
    assert run_transform(quiet=True) == 0
    assert last_result().counts == {"skipped": 1}
    assert up_to_date() is not None
    monkeypatch.setenv("MW_LAKE_METADATA_SCHEMA", "1")
    assert up_to_date() is None
    monkeypatch.delenv("MW_LAKE_METADATA_SCHEMA")
    assert up_to_date() is not None

    with duckdb.connect(str(warehouse_env)) as con:
        # the earliest meeting with QoS, so the replaced rows are far from the newest minutes
        meeting, minutes = con.execute(
            "select meeting_uuid, count(*) from zoom_raw.participant_qos "
            "group by meeting_uuid order by min(date_time) limit 1"
        ).fetchone()
        newest = float(con.execute("select max(_dlt_load_id) from zoom_raw.participant_qos").fetchone()[0])
        con.execute(
            "update zoom_raw.participant_qos set _dlt_load_id = ?, audio_input__latency = '999 ms' "
            "where meeting_uuid = ?",
            [f"{newest + 60:.6f}", meeting],
        )
        # late data of other kinds in the same load: a MEETS event's final attendance report
        # replaces its preliminary rows (one fewer), and a Zoom user's email changes (old meetings'
        # account emails, person keys, user ids and hosts follow)
        event = con.execute(
            "select meets_id_conferencing_event from meets_raw.attendance "
            "group by 1 having count(*) > 1 order by 1 limit 1"
        ).fetchone()[0]
        con.execute(
            "delete from meets_raw.attendance where meets_id_conferencing_event = ? "
            "and row_number = (select max(row_number) from meets_raw.attendance "
            "where meets_id_conferencing_event = ?)",
            [event, event],
        )
        con.execute(
            "update meets_raw.attendance set is_final = true, _dlt_load_id = ? where meets_id_conferencing_event = ?",
            [f"{newest + 60:.6f}", event],
        )
        # transcripts parsed since (the stage writes no dlt load id, only loaded_at): cues of the
        # last meeting (nothing else touched it) and of the re-loaded one
        last = con.execute("select uuid from zoom_raw.meetings order by start_time desc limit 1").fetchone()[
            0
        ]
        con.execute(
            "insert into transcripts.cues (file_key, cue_index, meeting_uuid, file_type, start_offset_s, "
            "end_offset_s, speaker, text, loaded_at) select 'f-' || coalesce(m, 'none'), i, m, 'TRANSCRIPT', "
            "i * 5.0, i * 5.0 + 4, 'Ada', 'said ' || i, now() from range(3) as t(i), (values (?), (?)) as v(m)",
            [last, meeting],
        )
        con.execute(
            "update zoom_raw.users set email = 'renamed.' || email, _dlt_load_id = ? "
            "where user_key = (select min(user_key) from zoom_raw.users where email is not null)",
            [f"{newest + 60:.6f}"],
        )
    assert up_to_date() is None
    # the daily selector (tables, incremental models, what changed): what a scheduled run builds
    assert run_transform(quiet=True, daily=True) == 0
    assert "skipped" not in last_result().counts

    with _connect(warehouse_env) as con:
        rows, latency, stale = con.execute(
            "select count(*), max(latency_ms) filter (where stream = 'audio_input'), "
            "count(*) filter (where stream = 'audio_input' and latency_ms <> 999) "
            "from analytics.fct_qos_minutes where meeting_uuid = ?",
            [meeting],
        ).fetchone()
        assert (rows, latency, stale) == (STREAMS_PER_MINUTE * minutes, 999, 0)
        measured, worst = con.execute(
            "select measured_minutes, max_value from analytics.fct_meeting_quality "
            "where meeting_uuid = ? and level = 'stream' and stream = 'audio_input' and metric = 'latency'",
            [meeting],
        ).fetchone()
        assert (measured, worst) == (minutes, 999)
        segments = con.execute("select count(*) from analytics.fct_transcript_segments").fetchone()[0]
        assert segments == 6
    _snapshot(warehouse_env)
    assert run_transform(full_refresh=True, quiet=True) == 0
    _assert_equal_to_snapshot(warehouse_env)


def test_current_api_fields_are_the_ones_read(warehouse_env: Path) -> None:
    """Zoom deprecates the participants' ``id`` for ``participant_user_id``, and since 2026
    ``created_at`` is when the latest login type was created (``user_created_at`` is the user's
    creation). With the deprecated id gone, members' sessions still know their Zoom user, and
    dim_users shows when each user was created, not when their login changed."""
    scale = Scale.named("tiny")
    now = default_clock_base()
    account = Account(5, scale, start_date=now.date() - timedelta(days=scale.days))
    warehouse_env.parent.mkdir(parents=True, exist_ok=True)
    fill_raw(str(warehouse_env), account, now, workers=1)
    with duckdb.connect(str(warehouse_env)) as con:
        con.execute("update zoom_raw.participant_sessions set id = null")  # removed, as Zoom announced
    assert run_transform(quiet=True) == 0
    members = sum(
        1
        for m in account.meetings
        if m.end <= now
        for s in account.sessions[m.uuid]
        if s.in_meeting and s.person.zoom_user_id
    )
    with _connect(warehouse_env) as con:
        known = con.execute(
            "select count(*) from analytics.fct_participant_sessions where source = 'zoom' and zoom_user_id is not null"
        ).fetchone()[0]
        created = dict(
            con.execute(
                "select email, zoom_created_at from analytics.dim_users where is_zoom_user"
            ).fetchall()
        )
    assert known == members > 0
    assert created == {u.email: u.created_at.replace(tzinfo=None) for u in account.users}  # UTC, naive
    # the newer QoS blocks are parsed: Wi-Fi signal (integers in Zoom's payload) and CPU pressure
    samples = [
        q for m in account.meetings if m.end <= now for s in account.sessions[m.uuid] for q in account.qos(s)
    ]
    wifi = [q["wifi_rssi"]["avg_rssi"] for q in samples if "wifi_rssi" in q]
    pressure = sum(1 for q in samples if "cpu_pressure_level" in q)
    with _connect(warehouse_env) as con:
        got_wifi, got_sum, got_pressure = con.execute(
            "select count(wifi_avg_rssi_dbm), sum(wifi_avg_rssi_dbm), count(system_max_cpu_pressure_level) "
            "from staging.stg_zoom__participant_qos"
        ).fetchone()
    assert (got_wifi, got_sum, got_pressure) == (len(wifi), sum(wifi), pressure)
    assert wifi and pressure
    assert any(u.login_type_created_at != u.created_at for u in account.users)
