"""``make run`` (``python -m pipelines run``) ends with one summary: what was loaded, transformed and
copied, what needs attention, where the results are and what to open next; its numbers are the
warehouse's."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
from _support import cli, env_for  # noqa: E402


@pytest.fixture
def sandbox() -> Any:
    srv = SandboxServer(SandboxConfig.from_env(scale=Scale.named("tiny"), enforce_rate_limits=False)).start()
    yield srv
    srv.stop()


def test_run_ends_with_one_summary_that_matches_the_warehouse(sandbox: Any, tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        sandbox.base_url,
        MW_RECORDINGS_DEST=str(tmp_path / "recordings"),
        DBT_LOG_PATH=str(tmp_path / "dbt_logs"),
    )
    done = cli(["run"], env, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    summary = out[out.index("== run summary ==") :]
    assert out.count("== run summary ==") == 1
    labels = [ln.split()[0] for ln in summary.splitlines()[1:] if ln and not ln.startswith(" ")]
    assert labels[:1] == ["loaded"] and {"transformed", "copied", "attention", "results", "next"} <= set(
        labels
    )
    with duckdb.connect(env["MW_WAREHOUSE"], read_only=True) as con:
        meetings, sessions = con.execute(
            "select (select count(*) from analytics.fct_meetings), (select count(*) from analytics.fct_participant_sessions)"
        ).fetchone()
        copied, size = con.execute(
            "select count(*), sum(size) from recordings.inventory where status = 'copied'"
        ).fetchone()
        quarantined = (
            con.execute(
                "select count(*) from information_schema.tables where table_schema = 'zoom_raw' and table_name = 'quarantine'"
            ).fetchone()[0]
            and con.execute("select count(*) from zoom_raw.quarantine").fetchone()[0]
        )
    assert f"{meetings:,} meetings, {sessions:,} participant sessions" in summary, summary
    assert f"copied     {copied:,} file(s), {size / 1e6:,.1f} MB this run" in summary, summary
    assert str(Path(env["MW_WAREHOUSE"])) in summary and "serving.duckdb" in summary
    # the tiny account has a user who may not host (Zoom's 3161): it needs a person's attention
    assert "may not host meetings" in summary
    if quarantined:
        assert f"{quarantined} record(s) quarantined" in summary
    # the copied transcripts and chat are loaded in the same run, reach the marts (a second dbt build
    # of the transcript models) and the snapshot, and can be searched
    with duckdb.connect(env["MW_WAREHOUSE"], read_only=True) as con:
        cues, files, segments = con.execute(
            "select (select count(*) from transcripts.cues), (select count(*) from transcripts.files), "
            "(select count(*) from analytics.fct_transcript_segments)"
        ).fetchone()
        text_files = con.execute(
            "select count(*) from recordings.inventory where status = 'copied' and file_type in ('TRANSCRIPT', 'CC', 'CHAT')"
        ).fetchone()[0]
    assert cues > 0 and files == text_files and segments == cues
    assert f"transcripts {cues:,} cue(s) from {files:,} file(s) this run" in summary, summary
    with duckdb.connect(env["MW_SERVING"], read_only=True) as con:
        assert con.execute("select count(*) from analytics.fct_transcript_segments").fetchone()[0] == cues


def test_run_with_a_bad_setting_stops_before_anything(tmp_path: Path) -> None:
    env = env_for(tmp_path, None, SOURCES__ZOOM__PLAN="busines", MW_RECORDINGS_DEST=str(tmp_path / "rec"))
    done = cli(["run"], env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sources.zoom.plan = 'busines'" in done.stdout and "run summary" not in done.stdout
    assert not (tmp_path / "warehouse").exists() and not (tmp_path / "rec").exists()
