"""Publish a read-only serving snapshot of the marts for BI tools and notebooks.

DuckDB allows one writer per file, and a BI tool that keeps the warehouse open blocks ``make load``
(or the reverse). So readers never open the warehouse: ``make transform`` ends by copying the
analyst-facing schemas into a new file next to it and atomically renaming that file over
``warehouse/serving.duckdb``. (Not ``analytics.duckdb``: DuckDB names a database after its
file, and a catalog called ``analytics`` would clash with the ``analytics`` schema of the marts.) A reader that has the old snapshot open keeps reading a consistent
old version (POSIX keeps the unlinked inode alive); new connections see the new one. Loads and
transforms never touch the serving file, so they are never blocked by readers.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import duckdb

from pipelines import paths

log = logging.getLogger("pipelines.publish")

# Schemas copied into the snapshot: the marts and the recordings inventory. Raw and staging stay private.
DEFAULT_SCHEMAS = ("analytics", "recordings")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish_snapshot(
    source: Path | None = None, target: Path | None = None, schemas: tuple[str, ...] = DEFAULT_SCHEMAS
) -> dict[str, int]:
    """Copy ``schemas`` (tables and views, as tables) from the warehouse into ``target`` atomically.

    Returns rows per published table. Raises ``FileNotFoundError`` when the warehouse does not exist.
    """
    source = source or paths.warehouse_path()
    target = target or paths.serving_path()
    if not source.exists():
        raise FileNotFoundError(f"warehouse {source} does not exist: run `make load && make transform` first")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    started = time.monotonic()
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        literal = "'" + source.as_posix().replace("'", "''") + "'"
        con.execute(f"attach {literal} as wh (read_only)")
        objects = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_schema in (select unnest(?)) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        for schema, table in objects:
            con.execute(f"create schema if not exists {_quote(schema)}")
            con.execute(
                f"create table {_quote(schema)}.{_quote(table)} as select * from wh.{_quote(schema)}.{_quote(table)}"
            )
            counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from {_quote(schema)}.{_quote(table)}"
            ).fetchone()[0]
        con.execute("detach wh")
        con.execute(
            "create or replace table main.snapshot_info as select current_timestamp as published_at, ? as tables",
            [len(counts)],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, target)  # atomic: readers see the old snapshot or the new one, never a mix
    log.info("published %d tables to %s in %.1fs", len(counts), target, time.monotonic() - started)
    return counts
