"""Publish throughput and memory: the publish stage vs a plain resumable upload of the same bytes.

Both sides use the same client (google-api-python-client through the stage's ``build_service``:
the same TLS ``httplib2.Http`` and quota ledger, the same chunk size) against the YouTube emulator,
which runs in its own process so the numbers are the client's alone:

* ``plain``: ``MediaFileUpload(path, resumable=True)`` + ``next_chunk()`` until done (the client's
  documented loop, nothing of ours around it);
* ``publish``: ``run_publish`` on a warehouse whose mart and inventory name that file: selection,
  state rows, session recorded before the first byte, progress written per chunk, streamed read
  through fsspec.

Each run is a fresh child process reporting wall time and peak RSS (``ru_maxrss``). Results go to
``bench/results/youtube.json``: throughput ratio publish/plain at the largest size (target >= 0.8)
and the peak RSS of publish at each size (flat: it reads one chunk at a time).

    python bench/youtube.py                  # 200 MB and 2000 MB
    python bench/youtube.py --sizes 50,200   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MB = 1_000_000

EMULATOR = """
import sys, time
from pipelines.sandbox.youtube import YouTubeEmulator, Faults
e = YouTubeEmulator(Faults(daily_quota=10**9)).start()
print(e.base_url, e.ca_path, flush=True)
sys.stdin.read()
"""

CHILD = r"""
import json, resource, sys, time
mode, path, size, endpoint, ca, warehouse = sys.argv[1:7]
size = int(size)
import duckdb
from pipelines.sandbox.youtube.state import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN
from pipelines.youtube.settings import YouTubeSettings
s = YouTubeSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN,
                    api_endpoint=endpoint, token_uri=endpoint + "/token", ca_certs=ca, daily_quota_units=10**9)
t0 = time.perf_counter()
if mode == "plain":
    from googleapiclient.http import MediaFileUpload
    from pipelines.youtube.client import build_service
    from pipelines.youtube.state import PublishState, QuotaLedger
    con = duckdb.connect(":memory:")
    ledger = QuotaLedger(PublishState(con, "bench"), s.daily_quota_units, cost_of=s.cost)
    service, _, _ = build_service(s, ledger)
    media = MediaFileUpload(path, mimetype="video/mp4", chunksize=s.chunk_size, resumable=True)
    req = service.videos().insert(part="snippet,status", media_body=media,
        body={"snippet": {"title": "plain"}, "status": {"privacyStatus": "private"}})
    resp = None
    while resp is None:
        _, resp = req.next_chunk()
    ok = resp["id"]
else:
    from pipelines.youtube.stage import run_publish
    summary = run_publish(settings=s, warehouse=warehouse, quiet=True)
    ok = summary.published == 1
    assert ok, summary
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as fh:
        left = size
        while left > 0:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n
            block = block[1:] + block[:1]  # different blocks, cheaply


def make_warehouse(path: Path, file: Path, size: int) -> None:
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("create schema analytics; create schema recordings")
        con.execute(
            """create table analytics.fct_recording_files as select 'f1' as recording_file_id, 'm1' as meeting_uuid,
               '123' as meeting_series_id, 'Bench topic' as topic, 'Bench topic - 2026-12-01 10:00 (60 min)' as title,
               60 as duration_minutes, timestamp '2026-12-01 10:00' as recording_meeting_started_at,
               true as is_best_file, true as is_video_file, false as is_trashed"""
        )
        con.execute(
            "create table analytics.fct_meetings as select 'm1' as meeting_uuid, 'Host' as host_name, "
            "'u1' as host_zoom_user_id, null::varchar as meets_course_id"
        )
        con.execute(
            f"""create table recordings.inventory as select 'zoom' as source, 'f1' as file_key, '{file}' as dest_url,
                '{file.parent}' as dest_root, {size}::bigint as size, null::varchar as sha256, 'h@x' as host_email,
                'copied' as status, now() as finished_at"""
        )


def child(mode: str, file: Path, size: int, endpoint: str, ca: str, warehouse: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(file), str(size), endpoint, ca, str(warehouse)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MW_RECORDINGS_DEST": str(file.parent)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200,2000", help="file sizes in MB (default 200,2000)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "youtube.json"))
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    emu = subprocess.Popen(
        [sys.executable, "-c", EMULATOR], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        endpoint, ca = emu.stdout.readline().split()
        rows = []
        with tempfile.TemporaryDirectory(prefix="mw-bench-yt-") as tmp:
            for mb in sizes:
                file = Path(tmp) / f"video_{mb}.mp4"
                make_file(file, mb * MB)
                for mode in ("plain", "publish", "plain", "publish"):  # interleaved, best of two
                    warehouse = Path(tmp) / f"w_{mb}_{time.monotonic_ns()}.duckdb"
                    if mode == "publish":
                        make_warehouse(warehouse, file, mb * MB)
                    r = child(mode, file, mb * MB, endpoint, ca, warehouse)
                    r.update(mode=mode, size_mb=mb, mb_per_s=mb / r["seconds"])
                    rows.append(r)
                    print(
                        f"{mode:<8} {mb:>5} MB  {r['seconds']:6.1f} s  {r['mb_per_s']:6.1f} MB/s  peak RSS {r['peak_rss_mb']:.0f} MB"
                    )
                file.unlink()
    finally:
        emu.stdin.close()
        emu.terminate()
        emu.wait(10)

    def best(mode: str, mb: int) -> dict:
        return min((r for r in rows if r["mode"] == mode and r["size_mb"] == mb), key=lambda r: r["seconds"])

    top = max(sizes)
    result = {
        "sizes_mb": sizes,
        "chunk_size_kib": 8192,
        "runs": rows,
        "throughput_ratio_publish_vs_plain": best("plain", top)["seconds"] / best("publish", top)["seconds"],
        "publish_peak_rss_mb": {str(mb): best("publish", mb)["peak_rss_mb"] for mb in sizes},
        "plain_peak_rss_mb": {str(mb): best("plain", mb)["peak_rss_mb"] for mb in sizes},
        "machine": f"{os.cpu_count()} cores (shared)",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"publish / plain throughput at {top} MB: {result['throughput_ratio_publish_vs_plain']:.2f}x; "
        f"publish peak RSS by size: {result['publish_peak_rss_mb']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
