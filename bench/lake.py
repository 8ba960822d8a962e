"""The pipelines on a DuckLake vs on the DuckDB file, on this machine, in one run.

What it runs (every step is the real CLI in its own process, ``python -m pipelines ...``):

1. A sandbox at ``--scale`` (default ``tiny``), its clock a day in the past so a "next day" exists;
   a PostgreSQL server from Debian's binaries (the lake's catalog) and moto's S3 server (its files).
2. File: ``load``, then ``recordings`` (one after the other: they share the file's single writer),
   ``transform`` (full build + publish), then the clock moves a day and ``load`` + ``transform`` run
   again (the daily incremental) while a reader runs ``docs/example_queries.sql`` on the published
   snapshot in a loop.
3. Lake: the same, except that ``load`` and ``recordings`` run *at the same time*, and the reader
   attaches the lake itself (latest snapshot) during the incremental load. Before that, a first
   ``load`` runs alone on a second, empty lake: the pipeline total uses that one, so the lake's
   first load is timed as the file's is (nothing beside it); the total with the load that ran beside
   recordings is reported too.

Ratios against the file measured in the same run: load + full transform + daily incremental (goal:
the lake at most 1.5x the file); load and recordings together on the lake vs one after the other on
the file; reader latency per example query during a load. Results: ``bench/results/lake.json``.
Run: ``python bench/lake.py [--scale tiny|small|semester] [--out FILE] [--label TEXT]`` (``--label``
keeps the runs already in ``--out`` and adds this one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

import boto3  # noqa: E402
import requests  # noqa: E402
from _support import env_for  # noqa: E402

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale  # noqa: E402
from tests.integration.recordings_support import start_moto  # noqa: E402
from tests.lake.conftest import lake_env  # noqa: E402
from tests.lake.postgres import start_postgres  # noqa: E402

READER = r"""
import json, sys, time
from pathlib import Path
from pipelines.report import example_queries, open_serving
lake = sys.argv[2] == "lake"
stop = Path(sys.argv[1])
queries = example_queries()
while not stop.exists():
    t0 = time.perf_counter()
    try:
        if lake:
            from pipelines.lake.publish import open_published
            from pipelines.lake.settings import lake_settings
            con = open_published(lake_settings(), latest=True)
        else:
            con = open_serving()
    except Exception as exc:
        print(json.dumps({"error": str(exc)[:200]}), flush=True); time.sleep(0.2); continue
    connect = time.perf_counter() - t0
    for name, sql in queries.items():
        t1 = time.perf_counter()
        try:
            con.execute(sql).fetchall()
            print(json.dumps({"query": name, "seconds": time.perf_counter() - t1, "connect": connect}), flush=True)
        except Exception as exc:
            print(json.dumps({"query": name, "error": str(exc)[:200]}), flush=True)
    con.close()
"""


LOGS = Path(tempfile.gettempdir()) / "mw-bench-lake-logs"  # what the concurrent processes said
LOGS.mkdir(exist_ok=True)


def run(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pipelines", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if p.returncode != 0:
        print(
            f"  {' '.join(args)} failed ({p.returncode}):\n{(p.stdout + p.stderr)[-1500:]}", file=sys.stderr
        )
    return time.perf_counter() - t, p.returncode


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    p = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        env=env,
        cwd=ROOT,
        stdout=open(LOGS / f"{args[0]}-{os.getpid()}-{time.monotonic_ns()}.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    return p, time.perf_counter()


def finish(p: subprocess.Popen, t0: float) -> float:
    p.wait()
    if p.returncode != 0:
        print(f"  {p.args[3:]} failed ({p.returncode}): see {LOGS}", file=sys.stderr)
    return time.perf_counter() - t0


def latencies(lines: str) -> dict:
    rows = [json.loads(x) for x in lines.splitlines() if x.startswith("{")]
    ok = [r for r in rows if "seconds" in r]
    by_query: dict[str, list[float]] = {}
    for r in ok:
        by_query.setdefault(r["query"], []).append(r["seconds"])
    connects = sorted({r["connect"] for r in ok})
    return {
        "answers": len(ok),
        "errors": len(rows) - len(ok),
        "connect_median_s": round(statistics.median(connects), 4) if connects else None,
        "query_median_s": {q: round(statistics.median(v), 4) for q, v in by_query.items()},
        "all_queries_median_s": round(statistics.median([r["seconds"] for r in ok]), 4) if ok else None,
    }


def lake_snapshot(env: dict[str, str]) -> int | None:
    """The lake's newest snapshot id (each DuckLake commit is one), read between the timed steps."""
    from pipelines.lake.connect import connect
    from pipelines.lake.settings import lake_settings

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("WAREHOUSE__", "MW_WAREHOUSE_KIND"))})
    try:
        lake = lake_settings()
        con = connect(lake, read_only=True)
        try:
            return int(
                con.execute(f"select max(snapshot_id) from ducklake_snapshots('{lake.name}')").fetchone()[0]
            )
        finally:
            con.close()
    except Exception:  # the count is a diagnostic: never fail the bench over it
        return None
    finally:
        os.environ.clear()
        os.environ.update(saved)


def scenario(
    kind: str, base_env: dict[str, str], sandbox_url: str, dest: str, solo_env: dict[str, str] | None = None
) -> dict:
    admin = f"{sandbox_url}/_sandbox"
    requests.post(f"{admin}/clock", json={"offset_seconds": -86400}, timeout=30).raise_for_status()
    env = base_env
    out: dict = {}
    commits: dict[str, int] = {}  # lake: DuckLake commits (snapshots) per step

    def count(step: str, before: int | None) -> int | None:
        after = lake_snapshot(env) if kind == "lake" else None
        if before is not None and after is not None:
            commits[step] = after - before
        return after

    if kind == "file":
        out["load_s"], _ = run(["load"], env)
        out["recordings_s"], _ = run(["recordings", "--dest", dest], env)
        out["load_and_recordings_wall_s"] = out["load_s"] + out["recordings_s"]
    else:
        # the load alone first, on a lake of its own (as on the file, where nothing runs beside it)
        solo = {**env, **solo_env} if solo_env else None
        if solo:
            out["load_alone_s"], _ = run(["load"], solo)
        procs = {
            "load_s": start(["load"], env),
            "recordings_s": start(["recordings", "--dest", dest, "--plan-from", "api"], env),
        }
        first = min(t for _, t in procs.values())
        while procs:  # each process's own wall time, while both run
            for key, (p, t0) in list(procs.items()):
                if p.poll() is not None:
                    out[key] = finish(p, t0)
                    del procs[key]
            time.sleep(0.05)
        out["load_and_recordings_wall_s"] = time.perf_counter() - first
    mark = count("load_and_recordings", None)
    out["transform_full_s"], _ = run(["transform"], env)
    mark = count("transform_full", mark)
    requests.post(f"{admin}/clock", json={"offset_seconds": 0}, timeout=30).raise_for_status()
    stop = Path(tempfile.mktemp(prefix="mw-bench-stop-"))
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(stop), kind],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out["incremental_load_s"], _ = run(["load"], env)
    stop.touch()
    mark = count("incremental_load", mark)
    out["reader_during_load"] = latencies(reader.communicate()[0])
    stop.unlink(missing_ok=True)
    out["incremental_transform_s"], _ = run(["transform"], env)
    count("incremental_transform", mark)
    if commits:
        out["lake_commits"] = commits
    rest = out["transform_full_s"] + out["incremental_load_s"] + out["incremental_transform_s"]
    # the first load as on the file: alone (on the lake it also ran beside recordings, below)
    out["pipeline_total_s"] = round(out.get("load_alone_s", out["load_s"]) + rest, 2)
    if "load_alone_s" in out:
        out["pipeline_total_with_load_beside_recordings_s"] = round(out["load_s"] + rest, 2)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="tiny")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lake.json"))
    ap.add_argument("--label", help="append this run, so labelled, to the runs already in --out")
    a = ap.parse_args()
    pg = start_postgres()
    moto, endpoint = start_moto()
    srv = SandboxServer(SandboxConfig.from_env(scale=Scale.named(a.scale))).start()
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="bench")
    try:
        with tempfile.TemporaryDirectory(prefix="mw-bench-lake-") as tmp:
            s3 = {"RECORDINGS__S3_ENDPOINT_URL": endpoint}
            file_env = env_for(
                Path(tmp) / "file",
                srv.base_url,
                **s3,
                **{k: v for k, v in lake_env(pg, endpoint, "x").items() if k.startswith("AWS_")},
            )
            lake = lake_env(pg, endpoint, "bench", bucket="bench")
            lake_envs = env_for(Path(tmp) / "lake", srv.base_url, **s3, **lake)
            started = time.perf_counter()
            results = {"file": scenario("file", file_env, srv.base_url, "s3://bench/file-recordings")}
            srv.stop()  # the lake gets the same account from the start again
            srv = SandboxServer(SandboxConfig.from_env(scale=Scale.named(a.scale))).start()
            lake_envs = env_for(Path(tmp) / "lake", srv.base_url, **s3, **lake)
            from pipelines.lake.connect import close_sessions, connect
            from pipelines.lake.settings import lake_settings

            solo = lake_env(pg, endpoint, "bench_solo", bucket="bench")
            for one in (lake, solo):
                saved = dict(os.environ)
                os.environ.update(one)
                connect(lake_settings()).close()  # the catalog is created once, before the writers
                os.environ.clear()
                os.environ.update(saved)
            close_sessions()
            solo.update(
                {  # its own lake and working folders: the solo load is a first load too
                    k: v
                    for k, v in env_for(Path(tmp) / "solo", srv.base_url).items()
                    if k.startswith("MW_") and k != "MW_SANDBOX_URL"
                }
            )
            results["lake"] = scenario(
                "lake", lake_envs, srv.base_url, "s3://bench/lake-recordings", solo_env=solo
            )
    finally:
        srv.stop()
        moto.terminate()
        pg.stop()
    f, lk = results["file"], results["lake"]
    report = {
        "scale": a.scale,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_total": round(time.perf_counter() - started, 1),
        "lake": "PostgreSQL 15 catalog on 127.0.0.1 + moto S3 (in-memory) for the Parquet files",
        "results": results,
        "ratios": {
            "pipeline_lake_over_file": round(lk["pipeline_total_s"] / f["pipeline_total_s"], 2),
            "pipeline_goal": 1.5,
            "load_lake_over_file": round(lk.get("load_alone_s", lk["load_s"]) / f["load_s"], 2),
            "load_beside_recordings_lake_over_file_alone": round(lk["load_s"] / f["load_s"], 2),
            "incremental_load_lake_over_file": round(lk["incremental_load_s"] / f["incremental_load_s"], 2),
            "transform_full_lake_over_file": round(lk["transform_full_s"] / f["transform_full_s"], 2),
            "load_and_recordings_lake_together_over_file_sequential": round(
                lk["load_and_recordings_wall_s"] / f["load_and_recordings_wall_s"], 2
            ),
            "reader_query_median_lake_over_snapshot": (
                round(
                    lk["reader_during_load"]["all_queries_median_s"]
                    / f["reader_during_load"]["all_queries_median_s"],
                    2,
                )
                if lk["reader_during_load"]["all_queries_median_s"]
                and f["reader_during_load"]["all_queries_median_s"]
                else None
            ),
        },
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.label:  # kept beside the earlier runs of the file (each labelled), newest last
        report = {"label": a.label, **report}
        runs = []
        if out.exists():
            earlier = json.loads(out.read_text())
            runs = earlier.get("runs", [{"label": "earlier run", **earlier}])
        out.write_text(json.dumps({"runs": [*runs, report]}, indent=2) + "\n")
    else:
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios"], indent=2))


if __name__ == "__main__":
    main()
