"""Soak: many kill -9 / rerun cycles under a mix of faults, at a larger scale than ``make test`` uses.

Each trial starts ``python -m pipelines load`` against one sandbox with every fault knob on (429s
with Retry-After, 5xx, HTML 500s, cut-off and invalid bodies, slow responses), kills it with SIGKILL
at a random (seeded) moment, reruns it to completion and compares the warehouse with the truth
(row counts of every raw table, no duplicate key, empty quarantine). Every other trial moves the
sandbox clock forward between the kill and the rerun. Results: ``bench/results/soak.json``.

    python bench/soak.py                      # 20 trials at the small scale (~10-20 minutes)
    python bench/soak.py --trials 200 --scale default --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from _support import (  # noqa: E402
    MEETS_KEYS,
    ZOOM_KEYS,
    duplicate_keys,
    env_for,
    meets_actual,
    meets_expected,
    quarantine_rows,
    zoom_actual,
    zoom_expected,
)

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale  # noqa: E402

FAULTS = {
    "p429": 0.1,
    "p5xx": 0.03,
    "p500_nonjson": 0.02,
    "p_cutoff": 0.01,
    "p_invalid_json": 0.01,
    "slow_probability": 0.005,
    "slow_seconds": 2.0,
    "latency_ms": 5,
}
CLOCK_START = -8 * 3600


def truth_of(server: SandboxServer) -> dict:
    import requests

    return requests.get(f"{server.base_url}/_sandbox/truth", timeout=120).json()


def check(warehouse: Path, truth: dict) -> list[str]:
    problems = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if zoom_actual(con) != zoom_expected(truth):
            problems.append(f"zoom counts {zoom_actual(con)} != {zoom_expected(truth)}")
        if meets_actual(con) != meets_expected(truth):
            problems.append(f"meets counts {meets_actual(con)} != {meets_expected(truth)}")
        for schema, keys in (("zoom_raw", ZOOM_KEYS), ("meets_raw", MEETS_KEYS)):
            if dupes := duplicate_keys(con, schema, keys):
                problems.append(f"duplicate keys in {schema}: {dupes}")
            if rows := quarantine_rows(con, schema):
                problems.append(f"{len(rows)} quarantined rows in {schema}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--max-kill-after", type=float, default=12.0, help="seconds; kills land in [0.5, this]"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "soak.json"))
    args = parser.parse_args()

    cfg = SandboxConfig.from_env(scale=Scale.named(args.scale), **FAULTS)
    server = SandboxServer(cfg).start()
    rng = random.Random(args.seed)
    results = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="mw-soak-") as tmp:
            for i in range(args.trials):
                server.state.set_clock(CLOCK_START)
                env = env_for(Path(tmp) / f"t{i:03d}", server.base_url)
                kill_after = rng.uniform(0.5, args.max_kill_after)
                t0 = time.monotonic()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "pipelines", "load"],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(kill_after)
                killed = proc.poll() is None
                if killed:
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                if i % 2:
                    server.state.set_clock(0)
                rerun = subprocess.run(
                    [sys.executable, "-m", "pipelines", "load"],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                )
                problems = (
                    [] if rerun.returncode == 0 else [f"rerun exit {rerun.returncode}: {rerun.stdout[-800:]}"]
                )
                if not problems:
                    problems = check(Path(env["MW_WAREHOUSE"]), truth_of(server))
                results.append(
                    {
                        "trial": i,
                        "kill_after": round(kill_after, 2),
                        "killed": killed,
                        "clock_moved": bool(i % 2),
                        "seconds": round(time.monotonic() - t0, 1),
                        "ok": not problems,
                        "problems": problems,
                    }
                )
                print(
                    f"trial {i:3d}: kill at {kill_after:5.2f}s ({'killed' if killed else 'had finished'}) -> "
                    f"{'ok' if not problems else 'FAILED: ' + '; '.join(problems)}",
                    flush=True,
                )
    finally:
        server.stop()
    failed = [r for r in results if not r["ok"]]
    summary = {
        "scale": args.scale,
        "seed": args.seed,
        "faults": FAULTS,
        "trials": len(results),
        "killed_mid_run": sum(r["killed"] for r in results),
        "failed": len(failed),
        "seconds": round(time.monotonic() - started, 1),
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"soak: {len(results)} trials, {len(failed)} failed, {summary['seconds']}s -> {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
