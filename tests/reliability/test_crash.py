"""Crash safety: ``kill -9`` of ``python -m pipelines load`` at random (seeded) moments, then a normal
rerun: the warehouse equals the truth, no key is duplicated, the dlt state agrees with the data.

12 trials against tiny sandboxes (their Zoom rate limits off: four trials run side by side, each
with its own warehouse, dlt folder and request ledger). Each trial kills a *first* load somewhere in
its ~4 s (token, listing, per-meeting fetches, extract, normalize, load into DuckDB, the MEETS
half...). The moments are stratified, one seeded moment in each twelfth of 0.8-5.5 s, so every
stretch of the run is hit with fewer trials (no two moments more than 0.8 s apart; the 20 uniform
moments used before left a gap of 0.85 s). The kill moments are printed on failure.
"""

from __future__ import annotations

import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _support import (
    assert_meets_equals_truth,
    assert_zoom_equals_truth,
    cli,
    connect,
    dlt_state,
    env_for,
    has_pending_packages,
    popen_cli,
)

TRIALS = 12
LANES = 4
SEED = 20261125
FIRST_KILL, LAST_KILL = 0.8, 5.5  # seconds after the start of the first load
CLOCK_START = -8 * 3600  # the killed run sees the sandbox 8 hours ago...
ADVANCE = 8 * 3600  # ...and half of the reruns see it now (more meetings ended, MEETS learned more)


def assert_state_consistent(tmp: Path, warehouse: Path, truth: dict, sandbox: Any) -> None:
    """What the dlt state remembers matches what the warehouse holds."""
    pipelines = tmp / "dlt_pipelines"
    assert not has_pending_packages(pipelines, "zoom")
    assert not has_pending_packages(pipelines, "meets")
    zoom = dlt_state(pipelines, "zoom")["sources"]["zoom"]
    book = zoom["meeting_details"]
    with connect(warehouse) as con:
        fetched = {
            u for (u,) in con.execute("select meeting_uuid from zoom_raw.meeting_fetch_log").fetchall()
        }
        statuses = dict(
            con.execute(
                "select meets_id_conferencing_event, is_final from meets_raw.attendance_status"
            ).fetchall()
        )
    assert book["pending"] == {}
    assert set(book["done"]) == fetched == set(truth["meetings"])
    attendance = dlt_state(pipelines, "meets")["sources"]["meets"]["resources"]["attendance"]
    # ``final`` remembers final events still inside the listing window only (older ones are pruned)
    assert {int(k) for k in attendance["final"]} <= {e for e, final in statuses.items() if final}
    assert {int(k) for k in attendance["pending"]} == {e for e, final in statuses.items() if not final}
    assert attendance["watermark"] == int(sandbox.server.state.now().timestamp())


def run_trial(index: int, kill_after: float, base: Path, sandbox: Any, advance: bool) -> str:
    tmp = base / f"trial{index:02d}"
    env = env_for(tmp, sandbox.base)
    sandbox.admin("clock", {"offset_seconds": CLOCK_START})
    proc = popen_cli(["load"], env)
    time.sleep(kill_after)
    finished_before_kill = proc.poll() is not None
    if not finished_before_kill:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stdout:
        proc.stdout.close()
    if advance:  # the rerun happens later: new meetings, late recordings, final attendance
        sandbox.admin("clock", {"offset_seconds": CLOCK_START + ADVANCE})
    rerun = cli(["load"], env, timeout=240)
    what = f"trial {index} (kill at {kill_after:.2f}s, clock advanced: {advance})"
    assert rerun.returncode == 0, f"{what}: rerun failed\n{rerun.stdout}"
    truth = sandbox.admin("truth")
    warehouse = tmp / "warehouse" / "meetings.duckdb"
    try:
        with connect(warehouse) as con:
            assert_zoom_equals_truth(con, truth)
            assert_meets_equals_truth(con, truth, sandbox)
        assert_state_consistent(tmp, warehouse, truth, sandbox)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}\n{rerun.stdout}") from exc
    return "finished before the kill" if finished_before_kill else f"killed at {kill_after:.2f}s"


def kill_moments() -> list[float]:
    """One seeded moment in each of ``TRIALS`` equal slices of ``FIRST_KILL``..``LAST_KILL``."""
    rng = random.Random(SEED)
    width = (LAST_KILL - FIRST_KILL) / TRIALS
    return [FIRST_KILL + (i + rng.random()) * width for i in range(TRIALS)]


def test_kill_9_at_random_moments_then_rerun_equals_truth(tiny: Any, tmp_path: Path) -> None:
    moments = kill_moments()
    sandboxes = [tiny(enforce_rate_limits=False, latency_ms=5) for _ in range(LANES)]

    def lane(n: int) -> list[str]:
        return [
            run_trial(i, moments[i], tmp_path, sandboxes[n], advance=bool(i % 2))
            for i in range(n, TRIALS, LANES)
        ]

    with ThreadPoolExecutor(LANES) as pool:
        outcomes = [o for lane_outcomes in pool.map(lane, range(LANES)) for o in lane_outcomes]
    killed = [o for o in outcomes if o.startswith("killed")]
    assert len(killed) >= TRIALS * 3 // 4, outcomes  # most trials really were killed mid-run
