"""Idle memory of the Dagster stack of ``python -m pipelines orchestrate``, and its SIGTERM stop time.

``python -m pipelines orchestrate`` (the supervisor, the code location served by ``dagster api
grpc``, the webserver on 127.0.0.1, the daemon) starts on a temporary ``DAGSTER_HOME`` with the loads and the copy scheduled once a year (nothing runs; the daemon still
evaluates every schedule and sensor), settles, and is sampled: RSS and PSS (shared pages counted once
across processes: the fair sum for processes that share libraries) of every process of the stack;
then SIGTERM to the supervisor, and the time until every one of them has exited.

Baseline, measured in the same run: one Python process that imports the definitions module (the
code location loaded once: dagster, dagster-dlt, dagster-dbt, dlt, the sources, the dbt manifest),
which is what any orchestration of this project must hold at least once. The ratio says how many
such loads the stack costs. The issue's reference: an unconfigured ``dagster dev`` idled at ~850 MB.

Run: ``python bench/orchestrate.py`` (~1 min). Results: ``bench/results/orchestrate.json``.
"""

from __future__ import annotations

import argparse
import contextlib
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
from tests.fixtures.project_env import isolated_env  # noqa: E402


def _kib(pid: int, field: str, source: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


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


def stack_processes(home: Path) -> list[tuple[int, str]]:
    """Every live process of this stack: the CLI and its children all carry its DAGSTER_HOME."""
    mine = f"DAGSTER_HOME={home}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "stat").read_text().rsplit(") ", 1)[1].split()[0] == "Z":
                continue
            if mine in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                out.append((int(entry.name), cmd))
        except (OSError, IndexError):
            continue
    return out


def sample(home: Path, supervisor: int) -> dict:
    """RSS/PSS of the stack's processes and of the supervising CLI (whose own env has no DAGSTER_HOME)."""
    procs = [
        {
            "pid": pid,
            "cmd": cmd[:160],
            "rss_mb": round(_kib(pid, "VmRSS", "status") / 1024, 1),
            "pss_mb": round(_kib(pid, "Pss", "smaps_rollup") / 1024, 1),
        }
        for pid, cmd in [(supervisor, "python -m pipelines orchestrate"), *stack_processes(home)]
    ]
    return {
        "processes": procs,
        "rss_mb": round(sum(p["rss_mb"] for p in procs), 1),
        "pss_mb": round(sum(p["pss_mb"] for p in procs), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to idle before sampling")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "orchestrate.json"))
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-dagster-"))
    home = tmp / "dagster"
    env = isolated_env(
        tmp,
        drop=("ORCHESTRATE__", "DAGSTER_"),
        MW_DAGSTER_HOME=str(home),
        ORCHESTRATE__LOAD_CRON="0 0 1 1 *",
        ORCHESTRATE__RECORDINGS_CRON="0 0 1 1 *",
        ORCHESTRATE__DOCTOR_CRON="0 0 1 1 *",
    )
    base = baseline(env)
    t0 = time.monotonic()
    cli = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "orchestrate", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert cli.stdout is not None
        ready = None
        for line in cli.stdout:
            if line.startswith("open http://127.0.0.1:"):
                ready = time.monotonic() - t0
                break
        if ready is None:
            print("the stack did not start; see its logs under " + str(home / "logs"), file=sys.stderr)
            return 1
        time.sleep(args.settle)
        samples = []
        for _ in range(args.samples):
            samples.append(sample(home, cli.pid))
            time.sleep(2)
        members = len(stack_processes(home)) + 1
        stopped = time.monotonic()
        cli.send_signal(signal.SIGTERM)
        while (stack_processes(home) or cli.poll() is None) and time.monotonic() - stopped < 30:
            time.sleep(0.05)
        sigterm_exit = time.monotonic() - stopped
        left_after_sigterm = len(stack_processes(home))
    finally:
        if cli.poll() is None:
            cli.kill()
        for pid, _ in stack_processes(home):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    rss = sorted(s["rss_mb"] for s in samples)[len(samples) // 2]
    pss = sorted(s["pss_mb"] for s in samples)[len(samples) // 2]
    result = {
        "what": "idle `python -m pipelines orchestrate`: the CLI supervisor, code location (dagster api grpc), "
        "webserver, daemon",
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
