"""Benchmark of the transcripts stage and of search.

The sandbox account of ``--scale`` writes every transcript, caption and chat file it has to a local
destination folder, with a ``recordings.inventory`` that lists them as copied (what the recordings
pipeline leaves behind). Then, in one process and on the same files:

* **stage**: ``run_transcripts`` (read each file back through fsspec, parse, Arrow, DuckDB insert,
  the per-file bookkeeping), index build timed apart;
* **baseline**: the same cues written as NDJSON (one object per cue, the stage's columns) and loaded
  by DuckDB's ``read_json`` into a table, the fastest way DuckDB itself has to take rows in. Writing
  the NDJSON is not timed: the baseline gets its input pre-parsed for free.

Goal: stage cues/s >= 0.5x the baseline's; both run ``--repeat`` times, alternating, and the
ratio is the median of the paired ratios (a shared machine drifts). The CPU time of each side
(process user + system, every thread) is recorded too: on a machine other work shares, the wall
ratio swings with the load, the CPU ratio much less. Search latency: one-word queries (vocabulary words)
through ``pipelines.transcripts.search.search`` on a warm read-only connection (median and p95),
and one cold query as the CLI runs it (connect, load fts, query). Goal < 200 ms for a one-word
query over a ``semester`` archive. Results: ``bench/results/transcripts.json``.

Run: ``python bench/transcripts.py --scale small`` (``--scale semester`` for the archive goal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.5
TARGET_SEARCH_MS = 200.0


def write_archive(scale: str, dest: Path, con) -> tuple[int, int, float]:
    """Every text file of the account under ``dest`` + inventory rows; (files, bytes, seconds)."""
    from pipelines.recordings.inventory import _DDL
    from pipelines.sandbox.account import Account, Scale

    started = time.perf_counter()
    account = Account(seed=42, scale=Scale.named(scale))
    con.execute(_DDL)
    rows = []
    total = 0
    for rec in account.recordings:
        for f in rec.files:
            tf = f.text_file()
            if tf is None:
                continue
            path = dest / rec.meeting.host.email / f"{f.key}.{f.file_extension.lower()}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tf.body)
            total += len(tf.body)
            rows.append(
                (
                    "zoom",
                    f.key,
                    str(dest),
                    str(path),
                    f.meeting_uuid,
                    f.file_type,
                    len(tf.body),
                    hashlib.sha256(tf.body).hexdigest(),
                    "copied",
                    f.recording_start,
                    dt.datetime.now(dt.UTC),
                )
            )
    con.executemany(
        "insert into recordings.inventory (source, file_key, dest_root, dest_url, meeting_uuid, file_type, "
        "size, sha256, status, start_time, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows), total, time.perf_counter() - started


def baseline_ndjson(con, work: Path) -> tuple[int, float, float]:
    """The loaded cues as NDJSON, then DuckDB read_json into a table; (rows, seconds and CPU seconds
    of the read)."""
    path = work / "cues.ndjson"
    con.execute(
        f"copy (select * from transcripts.cues) to '{path}' (format json)"
    )  # one object per line, same columns
    cpu = cpu_seconds()
    started = time.perf_counter()
    con.execute(
        f"create or replace table baseline_cues as select * from read_json('{path}', format = 'newline_delimited')"
    )
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    n = con.execute("select count(*) from baseline_cues").fetchone()[0]
    con.execute("drop table baseline_cues")
    return n, seconds, cpu


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads (DuckDB's and Arrow's included)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def search_latency(db: Path, queries: list[str]) -> dict:
    import duckdb

    from pipelines.transcripts import search

    started = time.perf_counter()
    with duckdb.connect(str(db), read_only=True) as con:
        hits = search.search(con, queries[0])
    cold_ms = (time.perf_counter() - started) * 1000
    times = []
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        search.search(con, queries[0])  # warm up
        for q in queries:
            t = time.perf_counter()
            hits = search.search(con, q)
            times.append((time.perf_counter() - t) * 1000)
            found.append(len(hits))
    times.sort()
    return {
        "queries": len(queries),
        "cold_cli_ms": round(cold_ms, 1),
        "warm_median_ms": round(statistics.median(times), 1),
        "warm_p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "warm_max_ms": round(times[-1], 1),
        "meetings_found_median": statistics.median(found),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="small", help="sandbox scale (small, default, large, semester)")
    parser.add_argument("--repeat", type=int, default=3, help="stage + baseline runs (median of ratios)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "transcripts.json"))
    args = parser.parse_args(argv)

    import duckdb

    from pipelines.sandbox.transcripts import VOCABULARY
    from pipelines.transcripts import search
    from pipelines.transcripts.stage import run_transcripts

    with tempfile.TemporaryDirectory(prefix="bench-transcripts-") as tmp:
        work = Path(tmp)
        db = work / "warehouse.duckdb"
        con = duckdb.connect(str(db))
        files, nbytes, gen_s = write_archive(args.scale, work / "dest", con)
        print(f"archive: {files:,} text files, {nbytes / 1e6:.1f} MB, written in {gen_s:.1f} s")
        os.environ.setdefault("MW_WAREHOUSE", str(db))
        pairs = []
        cpu_pairs = []  # process CPU seconds (all threads): less swayed by other work than the wall
        loads = [round(os.getloadavg()[0], 2)]
        for k in range(args.repeat):
            if k:
                con.execute("delete from transcripts.cues; delete from transcripts.files")
            cpu = cpu_seconds()
            summary = run_transcripts(con, rebuild_index=False)
            stage_cpu = cpu_seconds() - cpu
            rows, base_s, base_cpu = baseline_ndjson(con, work)
            pairs.append((summary.seconds, base_s))
            cpu_pairs.append((stage_cpu, base_cpu))
            loads.append(round(os.getloadavg()[0], 2))
            print(
                f"run {k + 1}: stage {summary.cues_loaded:,} cues in {summary.seconds:.2f} s "
                f"({summary.cues_loaded / summary.seconds:,.0f} cues/s, {stage_cpu:.2f} CPU-s); baseline "
                f"read_json {rows:,} cues in {base_s:.2f} s ({rows / base_s:,.0f} cues/s, {base_cpu:.2f} CPU-s); "
                f"load {loads[-1]}"
            )
        # the median of the paired ratios: each stage run against the baseline run right after it
        ratio = statistics.median(b / s for s, b in pairs)
        cpu_ratio = statistics.median(b / s for s, b in cpu_pairs)
        stage_s = statistics.median(s for s, _ in pairs)
        base_s = statistics.median(b for _, b in pairs)
        stage_rate, base_rate = summary.cues_loaded / stage_s, rows / base_s
        started = time.perf_counter()
        docs = search.build_index(con)
        index_s = time.perf_counter() - started
        print(f"index: {docs:,} documents in {index_s:.2f} s")
        con.close()
        latency = search_latency(db, [w for w in VOCABULARY[:24]])
        print(f"search: {latency}")
    result = {
        "scale": args.scale,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the machine skews both sides
            "loadavg_1m_per_run": loads,  # before the first run, then after each stage + baseline pair
        },
        "files": files,
        "megabytes": round(nbytes / 1e6, 2),
        "cues": summary.cues_loaded,
        "repeat": args.repeat,
        "stage_seconds_median": round(stage_s, 3),
        "stage_cues_per_s": round(stage_rate),
        "baseline_read_json_seconds_median": round(base_s, 3),
        "baseline_cues_per_s": round(base_rate),
        "ratio": round(ratio, 3),
        "ratio_per_run": [round(b / s, 3) for s, b in pairs],
        "stage_cpu_seconds_median": round(statistics.median(s for s, _ in cpu_pairs), 3),
        "baseline_cpu_seconds_median": round(statistics.median(b for _, b in cpu_pairs), 3),
        "cpu_ratio": round(cpu_ratio, 3),  # baseline CPU-s / stage CPU-s, the median of the pairs
        "ratio_goal": TARGET_RATIO,
        "index_documents": docs,
        "index_build_seconds": round(index_s, 3),
        "search": latency,
        "search_goal_ms": TARGET_SEARCH_MS,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.scale in results:  # the earlier run of this scale goes to the history
        results.setdefault("history", []).append(results[args.scale])
    results[args.scale] = result
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}: ratio {result['ratio']} (goal >= {TARGET_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
