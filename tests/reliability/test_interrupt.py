"""Interrupting ``python -m pipelines load`` costs no budget: Ctrl-C, SIGTERM and ``kill -9`` while
Zoom's heavy requests (participants, QoS) are being spent, then a normal rerun.

- Ctrl-C / SIGTERM stop the whole command within a couple of seconds (MEETS does not start), with
  exit code 130 / 143 and one line saying what was kept and how to resume.
- Whatever the signal, the interrupted run plus the rerun spend at most one meeting's heavy requests
  more than one uninterrupted run (the journal keeps every meeting whose answers were complete), plus
  the active-hosts report of the current month, which every run asks for again by design (it changes
  as meetings end); the warehouse equals the truth.

The kill moments are seeded counts of heavy requests seen by the sandbox (a moment inside the phase
that spends the budget, whatever the machine's speed). ``bench/resume.py`` is the large version.
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import assert_meets_equals_truth, assert_zoom_equals_truth, cli, connect, env_for, popen_cli

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.zoom import qos_requests_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.fixtures.sandbox_client import SandboxClient

SEED = 20261202
LATENCY_MS = 15  # a few seconds of heavy requests on the tiny account


def heavy(sandbox: Any) -> int:
    return int(sandbox.admin("stats")["received"].get("heavy", 0))


def meets_requests(sandbox: Any) -> int:
    return int(sum(v for k, v in sandbox.admin("stats")["received"].items() if k.startswith("meets")))


def one_meeting_at_most(truth: dict) -> int:
    """The most heavy requests any one meeting's details cost (the journal's checkpoint)."""
    return max(qos_requests_for(m["listed_sessions"]) for m in truth["meetings"].values())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxClient]:
    """One tiny sandbox for the module: its account never changes (the clock is not moved), and
    every test resets its request counters before each run it measures."""
    config = SandboxConfig.from_env(
        scale=Scale.named("tiny"), enforce_rate_limits=False, latency_ms=LATENCY_MS
    )
    server = SandboxServer(config).start()
    try:
        yield SandboxClient(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def baseline(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, int]:
    """``uninterrupted_heavy`` of the module's sandbox, measured once."""
    return uninterrupted_heavy(sandbox, tmp_path_factory.mktemp("baseline"))


def uninterrupted_heavy(sandbox: Any, tmp: Path) -> tuple[int, int]:
    """Heavy requests of one uninterrupted load, and the tolerated waste: the costliest meeting's
    details plus the active-hosts report pages a run asks for."""
    truth = sandbox.admin("truth")
    sandbox.admin("reset", {})
    done = cli(["load", "--source", "zoom"], env_for(tmp, sandbox.base), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    reports = int(sandbox.admin("stats")["by_endpoint"].get("report/users", 0))
    return heavy(sandbox), one_meeting_at_most(truth) + reports


def interrupt_at(sandbox: Any, tmp: Path, after_heavy: int, sig: int) -> tuple[Any, float, str]:
    """Start a load, send ``sig`` once the sandbox has seen ``after_heavy`` heavy requests; return
    the process, the seconds it took to exit after the signal, and what it printed."""
    proc = popen_cli(["load"], env_for(tmp, sandbox.base))
    deadline = time.monotonic() + 120
    while heavy(sandbox) < after_heavy:
        assert proc.poll() is None, "the load finished before the interruption moment"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return proc, time.monotonic() - sent, out or ""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_whole_load_quickly_and_the_rerun_wastes_nothing(
    sandbox: Any, baseline: tuple[int, int], tmp_path: Path, sig: int, code: int
) -> None:
    truth = sandbox.admin("truth")
    full, bound = baseline
    sandbox.admin("reset", {})
    run = tmp_path / "interrupted"
    proc, seconds, out = interrupt_at(sandbox, run, full // 2, sig)
    spent = heavy(sandbox)
    assert proc.returncode == code, out
    assert seconds < 3, f"took {seconds:.1f}s to stop"
    lines = [ln for ln in out.splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and "make load" in lines[0] and "kept" in lines[0], out
    assert "Traceback" not in out and "PipelineStepFailed" not in out, out
    assert meets_requests(sandbox) == 0, "MEETS started after the interruption"
    rerun = cli(["load"], env_for(run, sandbox.base), timeout=240)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    wasted = heavy(sandbox) - full
    assert 0 <= wasted <= bound, f"{wasted} heavy requests wasted (bound {bound}; {spent} before the signal)"
    with connect(run / "warehouse" / "meetings.duckdb") as con:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth, sandbox)
    assert not list((run / "state" / "zoom_journal").glob("*.zst")), "a completed load empties the journal"


def test_kill_9_at_seeded_moments_wastes_at_most_one_meeting(
    sandbox: Any, baseline: tuple[int, int], tmp_path: Path
) -> None:
    truth = sandbox.admin("truth")
    full, bound = baseline
    rng = random.Random(SEED)
    report = []
    for trial, moment in enumerate(sorted(rng.randint(1, full - 1) for _ in range(3))):
        sandbox.admin("reset", {})
        run = tmp_path / f"trial{trial}"
        proc, _, _ = interrupt_at(sandbox, run, moment, signal.SIGKILL)
        assert proc.returncode == -signal.SIGKILL
        spent = heavy(sandbox)
        rerun = cli(["load"], env_for(run, sandbox.base), timeout=240)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        wasted = heavy(sandbox) - full
        report.append((moment, spent, wasted))
        assert 0 <= wasted <= bound, f"kill after {moment} heavy requests: {wasted} wasted (bound {bound})"
        with connect(run / "warehouse" / "meetings.duckdb") as con:
            assert_zoom_equals_truth(con, truth)
            assert_meets_equals_truth(con, truth, sandbox)
    assert report
