"""Shared helpers of the reliability suite: environments, loads, and exact comparisons with the truth.

Every comparison reads the sandbox's generated account and ``/_sandbox/truth``, never the sources'
own helpers, so a source that loses, duplicates or invents rows fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from pipelines.sandbox.config import PLANS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures.project_env import isolated_env
from tests.fixtures.raw_keys import MEETS_KEYS, ZOOM_KEYS  # used by the suite through this module

ROOT = Path(__file__).resolve().parents[2]

QUARANTINE_KEY = ("endpoint", "record_id", "field")


# ------------------------------------------------------------------------------------------ env
def env_for(tmp: Path, sandbox_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of a load: every path under ``tmp``, the sandbox at ``sandbox_url``."""
    return isolated_env(
        tmp,
        sandbox_url,
        drop=("PYTEST_", "MWTEST_"),
        MW_SERVING=str(tmp / "warehouse" / "serving.duckdb"),
        **extra,
    )


def set_env(monkeypatch: Any, tmp: Path, sandbox_url: str | None = None) -> Path:
    """The same environment for in-process loads (``monkeypatch``); returns the warehouse path."""
    for var in [v for v in os.environ if v.startswith(("SOURCES__ZOOM__", "SOURCES__MEETS__", "MW_"))]:
        monkeypatch.delenv(var)
    for key, value in env_for(tmp, sandbox_url).items():
        if key.startswith("MW_"):
            monkeypatch.setenv(key, value)
    return tmp / "warehouse" / "meetings.duckdb"


def cli(
    args: Iterable[str], env: dict[str, str], timeout: float = 180, **kwargs: Any
) -> subprocess.CompletedProcess:
    """``python -m pipelines <args>`` in a subprocess (captured output)."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def popen_cli(args: Iterable[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


# ------------------------------------------------------------------------------------------ queries
def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def count(con: duckdb.DuckDBPyConnection, schema: str, table: str, where: str = "true") -> int:
    return con.execute(f"select count(*) from {schema}.{table} where {where}").fetchone()[0]


def duplicate_keys(con: duckdb.DuckDBPyConnection, schema: str, keys: dict[str, tuple[str, ...]]) -> dict:
    out = {}
    for table, key in keys.items():
        if not table_exists(con, schema, table):
            continue
        cols = ", ".join(key)
        n = con.execute(
            f"select count(*) from (select {cols} from {schema}.{table} group by {cols} having count(*) > 1)"
        ).fetchone()[0]
        if n:
            out[table] = n
    return out


def quarantine_rows(con: duckdb.DuckDBPyConnection, schema: str) -> list[dict]:
    if not table_exists(con, schema, "quarantine"):
        return []
    cur = con.execute(
        f"select endpoint, record_id, field, reason, payload, load_id from {schema}.quarantine "
        "order by endpoint, record_id, field"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# ------------------------------------------------------------------------------------------ truth
def zoom_expected(truth: dict) -> dict[str, int]:
    z = truth["zoom"]
    return {
        "users": z["users"],
        "meetings": z["meetings"],
        "meeting_fetch_log": z["meetings"],
        "participant_sessions": z["participant_sessions_listed"],  # waiting-room stints too
        "participant_qos": z["qos_participant_minutes"],
        "recordings": z["recordings"] + z["recordings_in_trash"],
        "recording_files": z["recording_files"] + z["recording_files_in_trash"],
        "meeting_series": z["meeting_series_listed"],
    }


def zoom_actual(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: count(con, "zoom_raw", t) for t in zoom_expected_tables()}


def zoom_expected_tables() -> tuple[str, ...]:
    return (
        "users",
        "meetings",
        "meeting_fetch_log",
        "participant_sessions",
        "participant_qos",
        "recordings",
        "recording_files",
        "meeting_series",
    )


def assert_zoom_equals_truth(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    """Row counts of every table, every meeting's sessions/minutes, no duplicate keys, empty quarantine."""
    assert zoom_actual(con) == zoom_expected(truth)
    hosts = con.execute("select count(distinct id) from zoom_raw.active_hosts").fetchone()[0]
    assert hosts == truth["zoom"]["active_hosts"]
    by_status = dict(con.execute("select status, count(*) from zoom_raw.users group by 1").fetchall())
    assert by_status == truth["zoom"]["users_by_status"]
    sessions = dict(
        con.execute("select meeting_uuid, count(*) from zoom_raw.participant_sessions group by 1").fetchall()
    )
    qos = dict(
        con.execute("select meeting_uuid, count(*) from zoom_raw.participant_qos group by 1").fetchall()
    )
    got = {u: (sessions.get(u, 0), qos.get(u, 0)) for u in set(sessions) | set(qos)}
    want = {
        u: (m["listed_sessions"], m["qos_minutes"])
        for u, m in truth["meetings"].items()
        if m["listed_sessions"]
    }
    assert got == want
    fetched = {u for (u,) in con.execute("select meeting_uuid from zoom_raw.meeting_fetch_log").fetchall()}
    assert fetched == set(truth["meetings"])
    assert duplicate_keys(con, "zoom_raw", ZOOM_KEYS) == {}
    assert quarantine_rows(con, "zoom_raw") == []


def meets_expected(truth: dict) -> dict[str, int]:
    m = truth["meets"]
    return {
        "admins": m["admins"],
        "connections": m["connections"],
        "courses": m["courses"],
        "users": m["users"],
        "course_users": m["course_users"],
        "conferencing_accounts": m["conferencing_accounts"],
        "conferencing_account_users": m["conferencing_account_users"],
        "conferencing_events": m["conferencing_events"],
        "conferencing_event_courses": m["event_courses"],
        "conferencing_event_users": m["event_users"],
        "conference_recordings": m["conference_recordings"],
        "attendance": m["attendance_rows"],
        "attendance_status": m["ended_events"],
    }


def meets_actual(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: count(con, "meets_raw", t) for t in MEETS_KEYS}


def meets_attendance_expected(sandbox: Any) -> dict[int, list[tuple]]:
    """Every ended event's attendance exactly as MEETS answers at the sandbox clock."""
    state = sandbox.server.state
    acc, now = state.account, int(state.now().timestamp())
    final_after = sandbox.server.config.attendance_final_after
    out: dict[int, list[tuple]] = {}
    for e in acc.meets_events:
        if e.time_end <= now:
            rows = acc.attendance(e, now >= e.time_end + final_after)
            out[e.id] = sorted((r["attendeeName"], r["timeJoin"], r["timeLeave"]) for r in rows)
    return out


def assert_meets_equals_truth(con: duckdb.DuckDBPyConnection, truth: dict, sandbox: Any = None) -> None:
    assert meets_actual(con) == meets_expected(truth)
    finals = count(con, "meets_raw", "attendance_status", "is_final")
    assert finals == truth["meets"]["events_with_final_attendance"]
    if sandbox is not None:
        acc = sandbox.server.state.account
        now = int(sandbox.server.state.now().timestamp())
        ids = {r for (r,) in con.execute("select meets_id_user from meets_raw.users").fetchall()}
        assert ids == {u.id for u in acc.meets_users}
        events = set(
            con.execute(
                "select meets_id_conferencing_event, time_end from meets_raw.conferencing_events"
            ).fetchall()
        )
        assert events == {(e.id, e.time_end) for e in acc.meets_events}
        recs = {
            r
            for (r,) in con.execute(
                "select meets_id_conference_recording from meets_raw.conference_recordings"
            ).fetchall()
        }
        assert recs == {r.id for r in acc.meets_recordings if r.time_added <= now}
        got: dict[int, list[tuple]] = {}
        for eid, name, join, leave in con.execute(
            "select meets_id_conferencing_event, attendee_name, time_join, time_leave from meets_raw.attendance"
        ).fetchall():
            got.setdefault(eid, []).append((name, join, leave))
        want = {k: v for k, v in meets_attendance_expected(sandbox).items() if v}
        assert {k: sorted(v) for k, v in got.items()} == want
    assert duplicate_keys(con, "meets_raw", MEETS_KEYS) == {}
    assert quarantine_rows(con, "meets_raw") == []


JITTER = 0.05
"""Seconds of arrival jitter allowed when checking the clients' own pacing: the limiter spaces its
*grants* (request k and k+N at least a window apart); the sandbox stamps *arrivals*, which the
network and thread scheduling (the sandbox shares this test process) shift by a few milliseconds."""


def max_in_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + window:
            j += 1
        best = max(best, j - i)
    return best


def assert_within_rate_limits(sandbox: Any, rate_safety: float = 0.8, meets_rps: int | None = None) -> None:
    """The sandbox never saw more than Zoom's published limits (it would have answered 429: none did),
    and never more than the clients are configured to send (plan rate x ``rate_safety``; MEETS'
    ``requests_per_second``) within any window of one second less the jitter allowance."""
    stats = sandbox.admin("stats")
    limits = PLANS[sandbox.info["plan"]]
    with sandbox.server.state.lock:
        times = {c: sorted(ts) for c, ts in sandbox.server.state.counters.times.items()}
    for category, limit in limits["per_second"].items():
        assert stats["max_per_second"].get(category, 0) <= limit, (category, stats["max_per_second"])
        configured = max(1, int(limit * rate_safety + 1e-9))
        seen = max_in_window(times.get(category, []), 1.0 - JITTER)
        assert seen <= configured, (category, seen, configured)
    for category, limit in limits["per_minute"].items():
        assert stats["max_per_minute"].get(category, 0) <= limit, category
    if meets_rps is not None:
        seen = max_in_window(times.get("meets", []), 1.0 - JITTER)
        assert seen <= meets_rps, ("meets", seen, meets_rps)
    # every 429 the sandbox sent was an injected fault, never a real limit hit
    assert sum(stats["rejected_429"].values()) == 0, stats["rejected_429"]


def dlt_state(pipelines_dir: Path, name: str) -> dict:
    """The local dlt state of pipeline ``name`` (``pipelines_dir/name/state.json``)."""
    import dlt

    pipeline = dlt.attach(name, pipelines_dir=str(pipelines_dir))
    return dict(pipeline.state)


def has_pending_packages(pipelines_dir: Path, name: str) -> bool:
    import dlt

    return dlt.attach(name, pipelines_dir=str(pipelines_dir)).has_pending_data
