"""Benchmark of the recordings pipeline: one big sandbox recording -> S3 (moto server on loopback).

For each size (200 MB and 2 GB by default) the same sandbox file is copied by two methods, each run
in a fresh process so that its peak RSS is its own:

* **baseline**: ``requests.get(download_url, stream=True)`` + plain ``boto3`` ``upload_fileobj`` of
  the raw HTTP stream (default ``TransferConfig``), the simplest correct streaming copy;
* **pipeline**: ``run_recordings(...)`` (the real CLI code path: API planning, inventory, resolve,
  download with resume support, SHA-256 while streaming, multipart upload with bounded memory,
  verification, commit), filtered to the big file's host/day/type.

Throughput is the big file's bytes over its copy time (for the pipeline, the inventory's
``started_at`` -> ``finished_at`` of that file). Baseline and pipeline alternate ``--repeat`` times;
the reported ratio is the median of the paired ratios (each pipeline run against the baseline run
just before it), which cancels most of the drift of a shared machine. Targets: pipeline >= 0.8x the
baseline on the 2 GB copy; pipeline peak RSS < 200 MB and flat between 200 MB and 2 GB. Results:
``bench/results/recordings.json``.

Run: ``python bench/recordings.py`` (``--sizes 200`` for a quick run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1_000_000
BUCKET = "bench"
TARGET_RATIO = 0.8
TARGET_RSS_MB = 200.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


# ---------------------------------------------------------------------------------- child processes
def child_baseline(sandbox_url: str, endpoint: str, meeting_uuid: str, file_key: str, key: str) -> None:
    import base64

    import boto3
    import requests

    from pipelines.zoom.client import encode_meeting_id

    info = requests.get(f"{sandbox_url}/_sandbox/info", timeout=30).json()
    basic = base64.b64encode(f"{info['client_id']}:{info['client_secret']}".encode()).decode()
    token = requests.post(
        f"{sandbox_url}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": info["account_id"]},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    ).json()["access_token"]
    started = time.monotonic()
    meeting = requests.get(
        f"{info['zoom_api_base_url']}/meetings/{encode_meeting_id(meeting_uuid)}/recordings",
        params={"include_fields": "download_access_token"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    url = next(f["download_url"] for f in meeting["recording_files"] if f["download_url"].endswith(file_key))
    s3 = boto3.client("s3", endpoint_url=endpoint)
    with requests.get(
        url, params={"access_token": meeting["download_access_token"]}, stream=True, timeout=120
    ) as resp:
        resp.raise_for_status()
        resp.raw.decode_content = True
        s3.upload_fileobj(resp.raw, BUCKET, key)
    seconds = time.monotonic() - started
    size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    print(json.dumps({"seconds": seconds, "bytes": size, "peak_rss_mb": _peak_rss_mb()}))


def child_pipeline(sandbox_url: str, endpoint: str, email: str, day: str, file_key: str, dest: str) -> None:
    import duckdb

    from pipelines.recordings.run import run_recordings

    started = time.monotonic()
    summary = run_recordings(
        dest=dest,
        s3_endpoint_url=endpoint,
        plan_from="api",
        sources="zoom",
        types="mp4",
        users=email,
        date_from=day,
        date_to=day,
        progress=False,
        print_summary=False,
    )
    total = time.monotonic() - started
    con = duckdb.connect(os.environ["MW_WAREHOUSE"], read_only=True)
    row = con.execute(
        "select size, sha256, status, epoch(finished_at) - epoch(started_at), dest_url "
        "from recordings.inventory where file_key = ?",
        [file_key],
    ).fetchone()
    con.close()
    size, sha256, status, seconds, dest_url = row
    print(
        json.dumps(
            {
                "seconds": float(seconds),
                "bytes": size,
                "sha256": sha256,
                "status": status,
                "dest_url": dest_url,
                "run_seconds": total,
                "files_copied_in_run": summary.copied,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )


# ---------------------------------------------------------------------------------- orchestration
def _run_child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_size(size_mb: int, endpoint: str, s3, repeat: int) -> dict:
    """Baseline and pipeline alternately ``repeat`` times on one sandbox file; medians reported."""
    from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
    from pipelines.sandbox.account import Account

    size = size_mb * MB
    scale = dataclasses.replace(Scale.named("tiny"), big_file_bytes=size)
    server = SandboxServer(SandboxConfig(scale=scale)).start()
    baselines: list[dict] = []
    pipelines: list[dict] = []
    try:
        account = server.state.account
        rec, big = next((r, f) for r in account.recordings for f in r.files if f.size == size)
        email = rec.meeting.host.email
        day = rec.meeting.start.date().isoformat()
        expected_sha = Account.content_sha256(size, big.content_seed)
        for i in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                env = {
                    **_aws_env(endpoint),
                    "MW_SANDBOX_URL": server.base_url,
                    "MW_WAREHOUSE": f"{tmp}/wh.duckdb",
                    "MW_STATE_DIR": f"{tmp}/state",
                    "RUNTIME__DLTHUB_TELEMETRY": "false",
                }
                baseline_key = f"baseline/{size_mb}mb-{i}.mp4"
                baseline = _run_child(
                    ["_baseline", server.base_url, endpoint, rec.meeting.uuid, big.key, baseline_key], env
                )
                s3.delete_object(Bucket=BUCKET, Key=baseline_key)
                dest = f"s3://{BUCKET}/pipeline-{size_mb}-{i}"
                pipeline = _run_child(
                    ["_pipeline", server.base_url, endpoint, email, day, big.key, dest], env
                )
                key = pipeline["dest_url"].split("/", 3)[3]
                pipeline["stored"] = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
                _empty_bucket(s3)
            baselines.append(baseline)
            pipelines.append(pipeline)
            print(
                f"   run {i + 1}/{repeat}: baseline {baseline['bytes'] / baseline['seconds'] / MB:.1f} MB/s, "
                f"pipeline {pipeline['bytes'] / pipeline['seconds'] / MB:.1f} MB/s, "
                f"pipeline peak RSS {pipeline['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    finally:
        server.stop()
    base_tp = statistics.median(b["bytes"] / b["seconds"] for b in baselines)
    pipe_tp = statistics.median(p["bytes"] / p["seconds"] for p in pipelines)
    # paired ratios: each pipeline run against the baseline run right before it (same machine load)
    ratios = [b["seconds"] / p["seconds"] for b, p in zip(baselines, pipelines, strict=True)]
    return {
        "size_bytes": size,
        "repeat": repeat,
        "baseline": {
            "method": "requests stream + boto3 upload_fileobj (default TransferConfig)",
            "seconds": [round(b["seconds"], 2) for b in baselines],
            "throughput_mb_s_median": round(base_tp / MB, 1),
            "peak_rss_mb_max": round(max(b["peak_rss_mb"] for b in baselines), 1),
        },
        "pipeline": {
            "method": "run_recordings -> s3:// (multipart, sha256 while streaming, verified commit)",
            "seconds": [round(p["seconds"], 2) for p in pipelines],
            "throughput_mb_s_median": round(pipe_tp / MB, 1),
            "peak_rss_mb_max": round(max(p["peak_rss_mb"] for p in pipelines), 1),
            "run_seconds_including_planning": [round(p["run_seconds"], 2) for p in pipelines],
            "files_copied_per_run": pipelines[0]["files_copied_in_run"],
            "sha256_ok": all(p["sha256"] == expected_sha for p in pipelines),
            "size_ok": all(p["stored"] == size and p["bytes"] == size for p in pipelines),
        },
        "throughput_ratio_of_medians": round(pipe_tp / base_tp, 3),
        "throughput_ratio_paired": [round(r, 3) for r in ratios],
        "throughput_ratio": round(statistics.median(ratios), 3),
    }


def _empty_bucket(s3) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="200,2000", help="file sizes in MB (default 200,2000)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per size (median)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "recordings.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    import boto3
    import requests

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto_bin = Path(sys.executable).with_name("moto_server")
    moto = subprocess.Popen(
        [str(moto_bin), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        os.environ.update(_aws_env(endpoint))
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        runs = []
        for size_mb in sizes:
            print(f"== {size_mb} MB", flush=True)
            result = bench_size(size_mb, endpoint, s3, args.repeat)
            print(json.dumps(result, indent=1), flush=True)
            runs.append(result)
    finally:
        moto.terminate()
        moto.wait(timeout=30)

    rss = [r["pipeline"]["peak_rss_mb_max"] for r in runs]
    largest = max(runs, key=lambda r: r["size_bytes"])
    checks = {
        # the throughput target is about the big copy (the 200 MB copy takes ~2 s: mostly noise)
        "throughput_ratio_largest": largest["throughput_ratio"],
        "throughput_ratio_by_size": {str(r["size_bytes"] // MB): r["throughput_ratio"] for r in runs},
        "throughput_target_met": largest["throughput_ratio"] >= TARGET_RATIO,
        "peak_rss_max_mb": max(rss),
        "rss_target_met": max(rss) < TARGET_RSS_MB,
        "rss_growth_mb_smallest_to_largest": round(rss[-1] - rss[0], 1),
        "rss_flat": abs(rss[-1] - rss[0]) <= 25.0,
        "all_verified": all(r["pipeline"]["sha256_ok"] and r["pipeline"]["size_ok"] for r in runs),
    }
    doc = {
        "benchmark": "recordings: sandbox recording -> S3 (moto server) streaming copy",
        "targets": {"throughput_ratio_min": TARGET_RATIO, "peak_rss_mb_max": TARGET_RSS_MB, "rss_flat": True},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "runs": runs,
        "checks": checks,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(checks, indent=1))
    print(f"wrote {out}")
    if not (checks["throughput_target_met"] and checks["rss_target_met"] and checks["rss_flat"]):
        print("note: a performance target was missed (see checks); on a shared machine rerun to confirm")
    # exit status: correctness only (throughput on a shared machine is too noisy to gate on)
    return 0 if checks["all_verified"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        child_baseline(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_pipeline":
        child_pipeline(*sys.argv[2:])
    else:
        sys.exit(main())
