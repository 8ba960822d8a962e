"""Publishing on a lake: no copied file. Readers attach the lake itself, pinned at a snapshot.

On the DuckDB file, readers get a copied snapshot because a reader and a writer cannot share the
file. A DuckLake is built for that: every commit is a numbered snapshot and a reader attached at a
snapshot sees exactly that state, whatever writers commit meanwhile. So publishing records the
lake's current snapshot (the state a successful ``dbt build`` left) in ``main.snapshot_info``;
:func:`open_published` attaches the lake read-only at that snapshot, so BI tools and notebooks never
see a half-finished transform (they see the last published one, like the file's snapshot).
"""

from __future__ import annotations

import dataclasses
import logging

import duckdb

from pipelines.lake.connect import connect, retry_conflicts
from pipelines.lake.settings import LakeSettings

log = logging.getLogger("pipelines.lake.publish")

READER_ALIAS = "serving"  # the name the notebooks and report helpers expect the snapshot under


def current_snapshot(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(con.execute(f"select max(snapshot_id) from ducklake_snapshots('{name}')").fetchone()[0])


def mark_published(lake: LakeSettings) -> dict[str, int]:
    """Record the lake's current snapshot as the published one; returns ``{"snapshot_id": n}``."""

    def mark() -> int:
        con = connect(lake)
        try:
            snapshot = current_snapshot(con, lake.name)
            con.execute(
                "create or replace table main.snapshot_info as "
                "select current_timestamp as published_at, ?::bigint as snapshot_id",
                [snapshot],
            )
            return snapshot
        finally:
            con.close()

    snapshot = retry_conflicts(mark)
    log.info("published lake snapshot %d (%s)", snapshot, lake.describe())
    return {"snapshot_id": snapshot}


def published_snapshot(lake: LakeSettings) -> int | None:
    con = connect(lake, read_only=True)
    try:
        found = con.execute(
            "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'main' "
            "and table_name = 'snapshot_info'",
            [lake.name],
        ).fetchone()[0]
        if not found:
            return None
        return int(con.execute("select max(snapshot_id) from main.snapshot_info").fetchone()[0])
    finally:
        con.close()


def open_published(lake: LakeSettings, *, latest: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the lake attached as ``serving`` at the published snapshot (the
    latest snapshot when ``latest`` or when nothing was published yet)."""
    reader = dataclasses.replace(lake, name=READER_ALIAS)
    snapshot = None if latest else published_snapshot(reader)
    return connect(reader, read_only=True, snapshot=snapshot)
