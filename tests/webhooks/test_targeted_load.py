"""A targeted Zoom load (``load --source zoom --meetings UUID,...``), what a ``meeting.ended``
webhook leads to, against the sandbox over loopback into a real DuckDB file.

The scenario: a regular load at ``T0``; the sandbox clock moves on to ``T1`` (three meetings end,
one of them with a ``/``-UUID that Zoom wants double-encoded); a copy of that warehouse and of its
dlt working folder is made. One side gets a targeted load of two of the ended meetings (plus a
UUID Zoom does not know) and then the regular load; the copy gets the regular load alone. Both
must end with the same rows, equal to the sandbox's truth: the targeted load neither duplicates
nor loses anything, and it leaves the regular load's cursor, book and journal as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.api_client import RateBudgetExceeded
from pipelines.sandbox import SandboxConfig, SandboxServer
from pipelines.sandbox.account import iso, needs_double_encoding
from pipelines.zoom.pipeline import run_zoom_load
from tests.fixtures.raw_keys import ZOOM_KEYS
from tests.fixtures.sandbox_client import SandboxClient
from tests.integration.recordings_support import ROOT

T0 = "2026-03-29T00:00:00Z"
T1 = "2026-03-29T12:00:00Z"  # three meetings end in between; the second has a "/"-UUID
UNKNOWN = "NoSuchMeetingUuid0000w=="
ENV_PREFIXES = ("SOURCES__", "MW_", "SANDBOX_", "ZOOM__", "RECORDINGS__")


@dataclass
class Side:
    """One warehouse with its dlt working folder and state (ledger, journal)."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "meetings.duckdb"

    def env(self, now: str) -> dict[str, str]:
        return {
            "MW_WAREHOUSE": str(self.warehouse),
            "MW_PIPELINES_DIR": str(self.root / "dlt_pipelines"),
            "MW_STATE_DIR": str(self.root / "state"),
            "MW_TOKEN_DIR": str(self.root / "tokens"),
            "MW_NOW": now,
        }

    def zoom_state(self) -> dict:
        """The Zoom source's dlt state (cursor, book of fetched meetings) in the working folder."""
        state = json.loads((self.root / "dlt_pipelines" / "zoom" / "state.json").read_text())
        return state["sources"]["zoom"]

    def journal(self) -> list[str]:
        folder = self.root / "state" / "zoom_journal"
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


@dataclass
class World:
    sb: SandboxClient
    a: Side  # targeted load, then the regular load
    b: Side  # the regular load alone
    targets: list[str]  # the meetings the targeted load is asked for
    other: str  # a meeting that ended too but is left to the regular load


def creds(sb: SandboxClient) -> dict[str, str]:
    info = sb.info
    return {
        "api_base_url": info["zoom_api_base_url"],
        "oauth_base_url": info["zoom_oauth_base_url"],
        "account_id": info["account_id"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "plan": info["plan"],
        "start_date": info["start_date"],
    }


def regular_load(world: World, side: Side, now: str, **overrides: Any) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in os.environ if v.startswith(ENV_PREFIXES)]:
            mp.delenv(var)
        for key, value in side.env(now).items():
            mp.setenv(key, value)
        return run_zoom_load(show=False, progress=False, **creds(world.sb), **overrides)


def cli(world: World, side: Side, now: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    env |= side.env(now) | {f"SOURCES__ZOOM__{k.upper()}": v for k, v in creds(world.sb).items()}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contents(side: Side) -> dict[str, tuple[list[str], list[str]]]:
    """Every ``zoom_raw`` table: its columns and its rows (sorted), without dlt's load bookkeeping
    and the fetch time (a load's wall clock, different on every run)."""
    out = {}
    with side.connect() as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'zoom_raw' "
                "and table_name not like '\\_dlt%' escape '\\' order by 1"
            ).fetchall()
        ]
        for table in tables:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = 'zoom_raw' "
                    "and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if not c.startswith("_dlt_") and not (table == "meeting_fetch_log" and c == "fetched_at")
            ]
            rows = con.execute(f"select {', '.join(cols)} from zoom_raw.{table}").fetchall()
            out[table] = (cols, sorted(repr(r) for r in rows))
    return out


def per_meeting(side: Side, uuids: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """(meetings rows, sessions, QoS minutes, fetch-log rows) per meeting."""
    with side.connect() as con:
        return {
            u: tuple(
                con.execute(f"select count(*) from zoom_raw.{t} where {key} = ?", [u]).fetchone()[0]
                for t, key in (
                    ("meetings", "uuid"),
                    ("participant_sessions", "meeting_uuid"),
                    ("participant_qos", "meeting_uuid"),
                    ("meeting_fetch_log", "meeting_uuid"),
                )
            )
            for u in uuids
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = SandboxServer(SandboxConfig.from_env(now=T0)).start()
    try:
        sb = SandboxClient(server)
        state = server.state
        t0, t1 = state.now(), dt.datetime.fromisoformat(T1.replace("Z", "+00:00"))
        ended = sorted((m for m in state.account.meetings if t0 < m.end <= t1), key=lambda m: m.end)
        assert len(ended) == 3 and needs_double_encoding(ended[1].uuid), "T0/T1 no longer fit: choose others"
        a = Side(tmp_path_factory.mktemp("targeted-then-regular"))
        b = Side(tmp_path_factory.mktemp("regular-alone"))
        w = World(sb, a, b, [ended[0].uuid, ended[1].uuid], ended[2].uuid)
        first = regular_load(w, a, T0)
        assert first["stopped"] is None and first["meetings_detailed"] > 0
        shutil.copytree(a.root, b.root, dirs_exist_ok=True)  # the same warehouse and state, twice
        state.set_clock(int((t1 - t0).total_seconds()))
        yield w
    finally:
        server.stop()


def test_targeted_load_writes_exactly_those_meetings_and_leaves_the_cursor(world: World) -> None:
    a, b = world.a, world.b
    state_before, journal_before = a.zoom_state(), a.journal()
    before = world.sb.admin("stats")["by_endpoint"]
    run = cli(world, a, T1, "load", "--source", "zoom", "--meetings", ",".join([*world.targets, UNKNOWN]))
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert [line for line in out.splitlines() if UNKNOWN in line and "WARNING" in line.upper()] == [
        line for line in out.splitlines() if UNKNOWN in line
    ]
    assert len([line for line in out.splitlines() if UNKNOWN in line]) == 1, out
    assert "unknown to Zoom 1" in out

    truth = world.sb.admin("truth")["meetings"]
    account = {m.uuid: m for m in world.sb.server.state.account.meetings}
    got = per_meeting(a, [*world.targets, world.other, UNKNOWN])
    assert got == {
        **{u: (1, truth[u]["listed_sessions"], truth[u]["qos_minutes"], 1) for u in world.targets},
        world.other: (0, 0, 0, 0),  # not asked for: left to the regular load
        UNKNOWN: (0, 0, 0, 0),
    }
    assert all(truth[u]["qos_minutes"] > 0 for u in world.targets)  # a test that can fail
    with a.connect() as con:
        for u in world.targets:
            start, end = con.execute(
                "select strftime(start_time, '%Y-%m-%dT%H:%M:%SZ'), strftime(end_time, '%Y-%m-%dT%H:%M:%SZ') "
                "from zoom_raw.meetings where uuid = ?",
                [u],
            ).fetchone()
            assert (start, end) == (iso(account[u].start), iso(account[u].end))
    # nothing else changed: every other row is as the untouched copy has it
    for table, (cols, rows) in contents(b).items():
        key = "uuid" if table == "meetings" else "meeting_uuid"
        where = f"{key} not in ({', '.join('?' * len(world.targets))})" if key in cols else "true"
        with a.connect() as con:
            others = con.execute(
                f"select {', '.join(cols)} from zoom_raw.{table} where {where}",
                world.targets if key in cols else [],
            ).fetchall()
        assert sorted(repr(r) for r in others) == rows, table
    # the regular load's cursor, book of fetched meetings and journal are untouched
    assert a.zoom_state() == state_before
    assert a.journal() == journal_before
    # the calls: one past-meeting look-up each (the "/"-UUID double-encoded, or it would be a 404),
    # one dashboard listing per known meeting, participants and QoS once per target
    after = world.sb.admin("stats")["by_endpoint"]
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert delta["past_meetings"] == 3
    assert delta["metrics/meetings"] == 2
    assert delta["metrics/meetings/participants"] == 2


def test_regular_load_after_it_equals_the_regular_load_alone(world: World) -> None:
    after_targeted = regular_load(world, world.a, T1)
    alone = regular_load(world, world.b, T1)
    assert after_targeted["stopped"] is None and alone["stopped"] is None
    # the same work: the targeted load moved no cursor, so the regular load lists and fetches the same
    assert after_targeted["rows"] == alone["rows"]
    assert after_targeted["meetings_detailed"] == alone["meetings_detailed"] == 3
    got, want = contents(world.a), contents(world.b)
    assert got == want
    truth = world.sb.admin("truth")
    with world.a.connect() as con:
        assert (
            con.execute("select count(*) from zoom_raw.meetings").fetchone()[0] == truth["zoom"]["meetings"]
        )
        assert (
            con.execute("select count(*) from zoom_raw.participant_qos").fetchone()[0]
            == truth["zoom"]["qos_participant_minutes"]
        )
        for table, key in ZOOM_KEYS.items():
            cols = ", ".join(key)
            dupes = con.execute(
                f"select count(*) from (select {cols} from zoom_raw.{table} group by {cols} having count(*) > 1)"
            ).fetchone()[0]
            assert dupes == 0, table
    assert world.a.zoom_state() == world.b.zoom_state()


def test_budget_stop_is_the_regular_load_s_clean_stop(world: World, tmp_path: Path) -> None:
    side = Side(tmp_path)
    with pytest.raises(RateBudgetExceeded) as caught:
        regular_load(world, side, T1, meetings=[world.other], daily_budget=1)
    assert "daily request budget" in str(caught.value)
    summary = caught.value.summary  # type: ignore[attr-defined]
    assert summary["targeted"]["meetings"] == [world.other]
    assert summary["meetings_detailed"] == 0
    # the listing fit in the budget, the meeting's participants and QoS did not: none half-fetched
    assert per_meeting(side, [world.other]) == {world.other: (1, 0, 0, 0)}


def test_meetings_need_source_zoom_without_refresh_or_dry_run(capsys: pytest.CaptureFixture) -> None:
    from pipelines.cli import main

    for argv in (
        ["load", "--meetings", "a=="],
        ["load", "--source", "meets", "--meetings", "a=="],
        ["load", "--source", "zoom", "--refresh", "--meetings", "a=="],
        ["load", "--source", "zoom", "--dry-run", "--meetings", "a=="],
    ):
        assert main(argv) == 2, argv
    assert capsys.readouterr().out.count("load not started: --") == 4
