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

from pipelines.lake.connect import _open as open_instance
from pipelines.lake.connect import attach, connect, retry_conflicts
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


def _published_on(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'main' "
        "and table_name = 'snapshot_info'",
        [name],
    ).fetchone()[0]
    if not found:
        return None
    return int(con.execute(f'select max(snapshot_id) from "{name}".main.snapshot_info').fetchone()[0])


def published_snapshot(lake: LakeSettings) -> int | None:
    con = connect(lake, read_only=True)
    try:
        return _published_on(con, lake.name)
    finally:
        con.close()


def open_published(lake: LakeSettings, *, latest: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the lake attached as ``serving`` at the published snapshot (the
    latest snapshot when ``latest`` or when nothing was published yet).

    One DuckDB instance: the lake is attached at its latest snapshot to read which one is
    published, then attached again at that snapshot in the same instance (a second instance would
    cost the extensions' signature checks again, about 0.4 s)."""
    reader = dataclasses.replace(lake, name=READER_ALIAS)
    con = open_instance(reader, read_only=True)  # its own instance, never a shared one: it detaches
    if latest:
        return con
    try:
        snapshot = _published_on(con, READER_ALIAS)
        if snapshot is None:  # nothing published yet: the latest state
            return con
        con.execute("use memory")
        con.execute(f"detach {READER_ALIAS}")
        attach(con, reader, read_only=True, snapshot=snapshot)
        con.execute(f"use {READER_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con
