"""A BI-style reader in its own process while writers run: it attaches the lake read-only, again and
again, and in each snapshot checks what must always hold (no duplicate key) and prints one JSON line
per answer: the snapshot id and the row counts. Stops when the file named by argv[1] exists."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pipelines.lake.publish import open_published
from pipelines.lake.settings import lake_settings

CHECKS = {
    "zoom_raw.meetings": "uuid",
    "meets_raw.conferencing_events": "meets_id_conferencing_event",
    "recordings.inventory": "source || file_key || dest_root",
}


def main() -> None:
    stop = Path(sys.argv[1])
    lake = lake_settings()
    while not stop.exists():
        started = time.monotonic()
        try:
            con = open_published(lake, latest=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
            time.sleep(0.2)
            continue
        try:
            con.execute("begin")  # one transaction: every count from the same snapshot
            snapshot = con.execute("select max(snapshot_id) from ducklake_snapshots('serving')").fetchone()[0]
            present = {
                f"{s}.{t}"
                for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            }
            answer: dict = {"snapshot": snapshot, "counts": {}, "duplicates": {}}
            for table, key in CHECKS.items():
                if table not in present:
                    continue
                n, distinct = con.execute(f"select count(*), count(distinct {key}) from {table}").fetchone()
                answer["counts"][table] = n
                if n != distinct:
                    answer["duplicates"][table] = n - distinct
            con.execute("commit")
            answer["seconds"] = round(time.monotonic() - started, 3)
            print(json.dumps(answer), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        finally:
            con.close()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
