"""Idle memory of the Dagster stack of ``python -m pipelines orchestrate``, and its SIGTERM stop time.

The stack (code server and its gRPC worker, webserver on 127.0.0.1, daemon) starts on a temporary
``DAGSTER_HOME`` with the loads and the copy scheduled once a year (nothing runs; the daemon still
evaluates every schedule and sensor), settles, and is sampled: RSS and PSS (shared pages counted once
across processes: the fair sum for processes that share libraries) of every process in its group.

Baseline, measured in the same run: one Python process that imports the definitions module (the
code location loaded once: dagster, dagster-dlt, dagster-dbt, dlt, the sources, the dbt manifest),
which is what any orchestration of this project must hold at least once. The ratio says how many
such loads the stack costs. The issue's reference: an unconfigured ``dagster dev`` idled at ~850 MB.

Run: ``python bench/orchestrate.py`` (~1 min). Results: ``bench/results/orchestrate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.orchestrate.stack import Stack, free_port, stack_env  # noqa: E402


def _kib(pid: int, field: str, source: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_members(pgid: int) -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(") ", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                out.append((int(entry.name), cmd))
        except (OSError, IndexError, ValueError):
            continue
    return out


def sample(pgid: int) -> dict:
    procs = []
    for pid, cmd in group_members(pgid):
        procs.append(
            {
                "pid": pid,
                "cmd": cmd[:160],
                "rss_mb": round(_kib(pid, "VmRSS", "status") / 1024, 1),
                "pss_mb": round(_kib(pid, "Pss", "smaps_rollup") / 1024, 1),
            }
        )
    return {
        "processes": procs,
        "rss_mb": round(sum(p["rss_mb"] for p in procs), 1),
        "pss_mb": round(sum(p["pss_mb"] for p in procs), 1),
    }


def baseline(env: dict[str, str]) -> float:
    """Peak RSS (MB) of one process that loads the definitions module."""
    code = (
        "import resource, pipelines.orchestrate.definitions as d; d.defs.resolve_asset_graph(); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return round(int(done.stdout.strip().splitlines()[-1]) / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to idle before sampling")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "orchestrate.json"))
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-dagster-"))
    home = tmp / "dagster"
    env = stack_env(home)
    for key in [k for k in env if k.startswith(("MW_", "SOURCES__", "ORCHESTRATE__"))]:
        env.pop(key)
    env.update(
        {
            "MW_WAREHOUSE": str(tmp / "warehouse" / "meetings.duckdb"),
            "MW_STATE_DIR": str(tmp / "state"),
            "MW_PIPELINES_DIR": str(tmp / "dlt_pipelines"),
            "ORCHESTRATE__LOAD_CRON": "0 0 1 1 *",
            "ORCHESTRATE__RECORDINGS_CRON": "0 0 1 1 *",
            "ORCHESTRATE__DOCTOR_CRON": "0 0 1 1 *",
        }
    )
    base = baseline(env)
    stack = Stack(home=home, port=free_port(), code_port=free_port(), stop_timeout=5, log_dir=tmp / "logs")
    t0 = time.monotonic()
    stack.start(env)
    try:
        if not stack.wait_ready(timeout=300):
            print(f"stack did not start; logs in {stack.log_dir}", file=sys.stderr)
            return 1
        ready = time.monotonic() - t0
        time.sleep(args.settle)
        samples = []
        for _ in range(args.samples):
            samples.append(sample(stack.pgid))
            time.sleep(2)
        members = len(group_members(stack.pgid))
        stopped = time.monotonic()
        os.killpg(stack.pgid, signal.SIGTERM)
        while group_members(stack.pgid) and time.monotonic() - stopped < 30:
            time.sleep(0.05)
        sigterm_exit = time.monotonic() - stopped
        left_after_sigterm = len(group_members(stack.pgid))
    finally:
        stack.stop()
    rss = sorted(s["rss_mb"] for s in samples)[len(samples) // 2]
    pss = sorted(s["pss_mb"] for s in samples)[len(samples) // 2]
    result = {
        "what": "idle Dagster stack of `python -m pipelines orchestrate` (code server + worker, webserver, daemon)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "baseline_one_code_location_load_mb": base,
        "stack_idle_rss_mb": rss,
        "stack_idle_pss_mb": pss,
        "ratio_rss_to_baseline": round(rss / base, 2),
        "ratio_pss_to_baseline": round(pss / base, 2),
        "processes": members,
        "per_process_last_sample": samples[-1]["processes"],
        "seconds_to_ready": round(ready, 1),
        "sigterm_to_all_exited_seconds": round(sigterm_exit, 2),
        "processes_left_after_sigterm_30s": left_after_sigterm,
        "reference_issue_dagster_dev_idle_mb": 850,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"idle stack: RSS {rss} MB, PSS {pss} MB over {members} processes; baseline (one load) {base} MB "
        f"-> {result['ratio_rss_to_baseline']}x RSS, {result['ratio_pss_to_baseline']}x PSS; "
        f"ready in {ready:.1f} s; SIGTERM -> all exited in {sigterm_exit:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
