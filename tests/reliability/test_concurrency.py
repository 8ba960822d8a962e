"""A BI-style reader while ``python -m pipelines load`` runs.

The project's chosen behaviour (docs/bi.md): readers use the published read-only snapshot
``warehouse/serving.duckdb`` (:mod:`pipelines.publish`), which a load never touches - the reader
keeps answering, the load completes. A reader that holds the *warehouse itself* open makes the load
stop at once with a clear message (DuckDB allows one writer, and a read-only connection in another
process blocks it) instead of waiting forever; the next run, after the reader closed, completes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
from _support import (
    assert_meets_equals_truth,
    assert_zoom_equals_truth,
    cli,
    connect,
    env_for,
    popen_cli,
)

from pipelines.publish import publish_snapshot

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); time.sleep(120)"


def test_reader_on_the_published_snapshot_is_never_disturbed_by_a_load(tiny: Any, tmp_path: Path) -> None:
    sb = tiny(clock_offset=-12 * 3600, latency_ms=10)
    env = env_for(tmp_path, sb.base)
    first = cli(["load"], env)
    assert first.returncode == 0, first.stdout
    warehouse = Path(env["MW_WAREHOUSE"])
    snapshot = Path(env["MW_SERVING"])
    publish_snapshot(warehouse, snapshot, schemas=("zoom_raw", "meets_raw"))

    sb.admin("clock", {"offset_seconds": 0})  # the next load writes new rows into the warehouse
    reader = duckdb.connect(str(snapshot), read_only=True)  # held open for the whole load
    try:
        query = "select (select count(*) from zoom_raw.meetings), (select count(*) from meets_raw.attendance)"
        published = reader.execute(query).fetchone()
        load = popen_cli(["load"], env)
        answers = 0
        while load.poll() is None:
            assert reader.execute(query).fetchone() == published  # consistent, never blocked
            answers += 1
            time.sleep(0.05)
        out = load.stdout.read() if load.stdout else ""
        assert load.returncode == 0, out
        assert answers > 5
    finally:
        reader.close()
    truth = sb.admin("truth")
    with connect(warehouse) as con:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth, sb)
        assert con.execute("select count(*) from zoom_raw.meetings").fetchone()[0] > published[0]


def test_reader_holding_the_warehouse_stops_the_load_with_a_clear_message(tiny: Any, tmp_path: Path) -> None:
    sb = tiny()
    env = env_for(tmp_path, sb.base)
    assert cli(["load", "--source", "meets"], env).returncode == 0  # the file exists: a BI tool opens it
    warehouse = Path(env["MW_WAREHOUSE"])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        blocked = cli(["load"], env, timeout=120)  # must not wait forever
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    out = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, out
    assert elapsed < 60
    for source in ("zoom", "meets"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{source}: load stopped"))
        assert "WarehouseLocked" in line and "open in another process" in line, line
        assert "Traceback" not in out
    again = cli(["load"], env)
    assert again.returncode == 0, again.stdout
    truth = sb.admin("truth")
    with connect(warehouse) as con:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth, sb)
