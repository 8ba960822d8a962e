"""Benchmark: what an interruption costs in Zoom's heavy requests (the scarce daily budget).

For each of ``TRIALS`` seeded moments (a count of heavy requests the sandbox has answered, drawn
uniformly over an uninterrupted load), one ``python -m pipelines load --source zoom`` is killed
with ``kill -9`` at that moment, then rerun to completion. Measured per trial, against one
uninterrupted load of the same account measured in the same run:

- wasted heavy requests = (interrupted run + rerun) - uninterrupted, and as a share of the
  uninterrupted run (goal: at most 2% each);
- of which meeting details (participants + QoS: what the journal protects) and the active-hosts
  report (asked again by every run by design);
- the warehouse equals the sandbox's truth after the rerun (exact counts, no duplicate keys).

Also the checkpoint: one journal file per meeting (its size and the time to write it, from the
uninterrupted load's summary). Writes ``bench/results/resume.json``.

Run: ``python bench/resume.py`` (``BENCH_SCALE=large BENCH_TRIALS=20`` by default; ``default``
with 20 trials takes ~10 minutes on 2 cores, ``large`` over an hour).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from _support import assert_zoom_equals_truth, connect, env_for  # noqa: E402

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale  # noqa: E402
from pipelines.sandbox.truth import compute_truth  # noqa: E402
from tests.fixtures.sandbox_client import SandboxClient  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "resume.json"  # written as resume_<scale>.json
SEED = 20261202
DETAILS = ("metrics/meetings/participants", "metrics/meetings/participants/qos")


def _stats(sb: SandboxClient) -> dict[str, int]:
    s = sb.admin("stats")
    by = s["by_endpoint"]
    return {
        "heavy": int(s["received"].get("heavy", 0)),
        "details": int(sum(by.get(e, 0) for e in DETAILS)),
        "report": int(by.get("report/users", 0)),
    }


def _load(env: dict[str, str]) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "pipelines", "load", "--source", "zoom"]
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=7200)


def _journal_cost(tmp: Path, base: str) -> dict[str, Any]:
    """The uninterrupted load, in-process, for its journal statistics (the cost of a checkpoint)."""
    code = (
        "import json, sys; from pipelines.zoom.pipeline import run_zoom_load; "
        "s = run_zoom_load(show=False, progress=False); "
        "print(json.dumps({'journal': s['journal'], 'meetings': s['meetings_detailed'], 'seconds': s['seconds']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env_for(tmp, base),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    scale = os.environ.get("BENCH_SCALE", "large")
    trials = int(os.environ.get("BENCH_TRIALS", "20"))
    srv = SandboxServer(SandboxConfig.from_env(scale=Scale.named(scale), enforce_rate_limits=False)).start()
    sb = SandboxClient(srv)
    work = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    try:
        truth = compute_truth(  # in process: at large scales it takes longer than an HTTP timeout
            srv.state.account, srv.state.now(), attendance_final_after=srv.config.attendance_final_after
        )
        known = os.environ.get("BENCH_BASELINE")  # a results file of the same scale: reuse its baseline
        if known:
            doc = json.loads(Path(known).read_text())
            full = {k: doc["uninterrupted"][k] for k in ("heavy", "details", "report")}
            full_seconds = doc["uninterrupted"]["seconds"]
            cost = doc["baseline_run"]
        else:
            sb.admin("reset", {})
            started = time.monotonic()
            cost = _journal_cost(work / "baseline", sb.base)
            full = _stats(sb)
            full_seconds = time.monotonic() - started
            shutil.rmtree(work / "baseline", ignore_errors=True)
        print(f"{scale}: uninterrupted load {full} in {full_seconds:.0f}s", flush=True)
        rng = random.Random(SEED)
        moments = sorted(rng.randint(1, full["heavy"] - 1) for _ in range(trials))
        # BENCH_ONLY=a-b runs trials a..b only (a second process on another core takes the rest)
        first, _, last = os.environ.get("BENCH_ONLY", f"0-{trials - 1}").partition("-")
        chosen = range(int(first), int(last or first) + 1)
        rows = []
        for i, moment in enumerate(moments):
            if i not in chosen:
                continue
            tmp = work / f"trial{i:02d}"
            env = env_for(tmp, sb.base)
            sb.admin("reset", {})
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipelines", "load", "--source", "zoom"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while _stats(sb)["heavy"] < moment and proc.poll() is None:
                time.sleep(0.02)
            killed = proc.poll() is None
            if killed:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            before = _stats(sb)
            rerun = _load(env)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            after = _stats(sb)
            with connect(tmp / "warehouse" / "meetings.duckdb") as con:
                assert_zoom_equals_truth(con, truth)  # exact data, no duplicates
            wasted = {k: after[k] - full[k] for k in full}
            row = {
                "kill_after_heavy": moment,
                "killed": killed,
                "heavy_before_kill": before["heavy"],
                "wasted_heavy": wasted["heavy"],
                "wasted_share": round(wasted["heavy"] / full["heavy"], 5),
                "wasted_details": wasted["details"],
                "wasted_report": wasted["report"],
                "exact": True,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
            _write(scale, trials, full, full_seconds, cost, rows, chosen)  # what is measured so far
        print(
            json.dumps(
                {
                    k: v
                    for k, v in _write(scale, trials, full, full_seconds, cost, rows, chosen).items()
                    if k != "trials_detail"
                },
                indent=2,
            )
        )
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


def _write(
    scale: str,
    trials: int,
    full: dict[str, int],
    full_seconds: float,
    cost: dict[str, Any],
    rows: list[dict],
    chosen: range,
) -> dict[str, Any]:
    shares = [r["wasted_share"] for r in rows]
    journal = cost["journal"]
    result = {
        "scale": scale,
        "trials": len(rows),
        "trials_planned": trials,
        "uninterrupted": {**full, "seconds": round(full_seconds, 1), "meetings": cost["meetings"]},
        "checkpoint": {
            "unit": "one meeting (participants + QoS answers, one journal file)",
            "files": journal["files_written"],
            "mean_bytes": round(journal["bytes_written"] / max(1, journal["files_written"])),
            "mean_write_ms": round(1000 * journal["write_seconds"] / max(1, journal["files_written"]), 3),
            "share_of_load_seconds": round(journal["write_seconds"] / max(cost["seconds"], 1e-9), 4),
        },
        "wasted_share": {"max": max(shares), "median": statistics.median(shares), "min": min(shares)},
        "goal_max_share": 0.02,
        "met": max(shares) <= 0.02,
        "trials_detail": rows,
        "baseline_run": cost,
    }
    part = "" if len(chosen) == trials else f"_{chosen.start}-{chosen.stop - 1}"
    path = RESULTS.with_name(f"resume_{scale}{part}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
