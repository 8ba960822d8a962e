"""Benchmark: from the sandbox's ``recording.completed`` to that recording's files verified in storage.

Real parts over loopback: the sandbox (in this process) sends its signed webhook when its clock
passes a recording's availability; the receiver (``python -m pipelines webhooks`` under uvicorn, a
child process) queues it; a stand-in for the Dagster sensor polls the queue every
``--sensor-poll`` seconds and runs ``python -m pipelines recordings --meetings <uuid>`` (a child
process) into a local folder, then marks the event done. Every copied file is checked against the
sandbox's SHA-256.

Baseline, measured in the same run on the same new recording: the scheduled path a webhook
replaces, one ordinary ``python -m pipelines recordings`` run (API planning over its default window,
everything earlier already copied, so it copies just the new files). With a schedule, that run also
starts on average half a schedule interval after the recording is ready (``--schedule-minutes``,
10 by default); that wait is reported, not slept.

Reported per recording: webhook delivery (clock passes -> row in the queue), targeted run, total;
the baseline run; ``ratio_total_vs_baseline_run`` (targeted total / baseline run; below 1 is
faster). Also the receiver's resident memory when idle. Results: ``bench/results/webhooks.json``.

Run: ``python bench/webhooks.py`` (``--recordings 2`` for a quicker run; about a minute at 3).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = "2026-03-29T00:00:00Z"
SECRET = "bench-webhook-secret-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _clean_env() -> dict[str, str]:
    drop = ("SOURCES__", "RECORDINGS__", "MW_", "SANDBOX_", "ZOOM__")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _recordings(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "recordings", "--no-progress", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise RuntimeError(f"recordings {args} failed: {run.stdout}{run.stderr}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recordings", type=int, default=3, help="new recordings to time (default 3)")
    parser.add_argument("--sensor-poll", type=float, default=0.2, help="queue poll interval, seconds")
    parser.add_argument("--schedule-minutes", type=float, default=10.0, help="the scheduled run's interval")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "webhooks.json"))
    args = parser.parse_args(argv)

    from pipelines.sandbox import SandboxConfig, SandboxServer
    from pipelines.sandbox.account import Account
    from pipelines.sandbox.zoom_api import recording_visibility
    from pipelines.webhooks.queue import EventQueue

    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    port = _free_port()
    receiver_env = _clean_env() | {
        "ZOOM__WEBHOOKS__SECRET_TOKEN": SECRET,
        "MW_STATE_DIR": str(tmp / "receiver"),
    }
    receiver = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "webhooks", "--port", str(port)],
        cwd=ROOT,
        env=receiver_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sandbox = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)
        time.sleep(1.0)
        idle_rss = _rss_mb(receiver.pid)
        queue = EventQueue(tmp / "receiver" / "webhooks.sqlite")

        cfg = SandboxConfig.from_env(now=NOW, webhook_url=f"{base}/zoom/webhook", webhook_secret=SECRET)
        sandbox = SandboxServer(cfg).start()
        state = sandbox.state
        start = state.now()

        def env_for(name: str) -> dict[str, str]:
            return _clean_env() | {
                "MW_SANDBOX_URL": sandbox.base_url,
                "MW_WAREHOUSE": str(tmp / name / "warehouse" / "meetings.duckdb"),
                "MW_STATE_DIR": str(tmp / name / "state"),
                "MW_TOKEN_DIR": str(tmp / name / "tokens"),
            }

        targeted_env, baseline_env = env_for("targeted"), env_for("baseline")
        baseline_dest = tmp / "baseline" / "dest"
        first_baseline = _recordings(baseline_env, "--dest", str(baseline_dest))  # everything so far

        upcoming = sorted(
            (r for r in state.account.recordings if r.available_at > start),
            key=lambda r: r.available_at,
        )
        upcoming = [r for r in upcoming if recording_visibility(r, r.available_at) == "available"]
        rows = []
        for rec in upcoming[: args.recordings]:
            uuid = rec.meeting.uuid
            t0 = time.perf_counter()
            state.set_clock(int((rec.available_at - start).total_seconds()) + 1)
            event = None
            while event is None:  # the sensor stand-in
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError(f"no recording.completed for {uuid} within 60 s")
                found = [e for e in queue.pending(events=("recording.completed",)) if e.meeting_uuid == uuid]
                event = found[0] if found else None
                if event is None:
                    time.sleep(args.sensor_poll)
            queued = time.perf_counter() - t0
            dest = tmp / "targeted" / "dest"
            run_s = _recordings(targeted_env, "--dest", str(dest), "--meetings", event.meeting_uuid)
            total = time.perf_counter() - t0
            queue.mark_done(
                [e.id for e in queue.pending() if e.meeting_uuid == uuid], run_key=f"bench-{uuid}"
            )
            want = Counter((f.size, Account.content_sha256(f.size, f.content_seed)) for f in rec.files)
            folder_files = [
                p
                for p in dest.rglob("*")
                if p.is_file() and p.name != "meta.json" and uuid_folder(p, dest, rec)
            ]
            got = Counter((p.stat().st_size, _sha256(p)) for p in folder_files)
            if got != want:
                raise RuntimeError(f"{uuid}: copied files differ from the sandbox's")
            baseline_s = _recordings(baseline_env, "--dest", str(baseline_dest))
            rows.append(
                {
                    "meeting_uuid": uuid,
                    "files": len(rec.files),
                    "bytes": sum(f.size for f in rec.files),
                    "webhook_delivery_s": round(queued, 3),
                    "targeted_run_s": round(run_s, 3),
                    "total_s": round(total, 3),
                    "baseline_run_s": round(baseline_s, 3),
                    "ratio_total_vs_baseline_run": round(total / baseline_s, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        deliveries = sandbox.webhooks.status()["deliveries"] if sandbox.webhooks else []
        result = {
            "benchmark": "webhooks",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "sandbox": {"scale": "small", "now": NOW},
            "sensor_poll_s": args.sensor_poll,
            "receiver_idle_rss_mb": round(idle_rss, 1),
            "receiver_rss_after_mb": round(_rss_mb(receiver.pid), 1),
            "deliveries": {"attempts": len(deliveries), "delivered": sum(d["delivered"] for d in deliveries)},
            "first_full_baseline_run_s": round(first_baseline, 3),
            "recordings": rows,
            "median": {
                key: round(statistics.median(r[key] for r in rows), 3)
                for key in (
                    "webhook_delivery_s",
                    "targeted_run_s",
                    "total_s",
                    "baseline_run_s",
                    "ratio_total_vs_baseline_run",
                )
            }
            if rows
            else {},
            "scheduled_path_expected_s": round(
                args.schedule_minutes * 60 / 2 + statistics.median(r["baseline_run_s"] for r in rows), 1
            )
            if rows
            else None,
            "note": "total_s = webhook delivery + sensor poll + targeted run (process start included); "
            "scheduled_path_expected_s = half a schedule interval + the baseline run",
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}: median total {result['median'].get('total_s')} s")
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()
        receiver.terminate()
        receiver.wait(timeout=10)


def uuid_folder(path: Path, dest: Path, rec) -> bool:
    """Whether ``path`` lies in the folder of ``rec``'s meeting (its meta.json names the uuid)."""
    meta = path.parent / "meta.json"
    if not meta.is_file():
        return False
    text = meta.read_text(encoding="utf-8")
    return json.dumps(rec.meeting.uuid) in text


if __name__ == "__main__":
    raise SystemExit(main())
