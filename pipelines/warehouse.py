"""Warehouse file checks shared by the commands that write it.

A ``kill -9`` during the very first load can stop DuckDB while it is still creating the file,
leaving a file shorter than DuckDB's headers or without its magic bytes. DuckDB then refuses to
open it ("not a valid DuckDB database file") and every later run would fail. Such a file can hold
no data, so the next run removes it and starts over; anything else that is not a DuckDB file is
left alone and reported.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("pipelines.warehouse")

HEADER_BYTES = 3 * 4096  # main header + two database headers, written when DuckDB creates a file
MAGIC_OFFSET, MAGIC = 8, b"DUCK"


class NotAWarehouse(RuntimeError):
    """The warehouse path holds a file that is not a DuckDB database (and may hold someone's data)."""


def repair_interrupted_creation(path: Path) -> bool:
    """Remove a warehouse file whose creation was interrupted; return True when one was removed."""
    if not path.exists():
        return False
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    has_magic = head[MAGIC_OFFSET : MAGIC_OFFSET + len(MAGIC)] == MAGIC
    if has_magic and size >= HEADER_BYTES:
        return False  # a real DuckDB file (whatever state its WAL is in, DuckDB recovers it)
    cut_short = has_magic and size < HEADER_BYTES
    only_zeros = size <= HEADER_BYTES and not head.strip(b"\0")
    if not (cut_short or only_zeros):
        raise NotAWarehouse(
            f"{path} exists but is not a DuckDB database; move it away or set MW_WAREHOUSE to another path"
        )
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    log.warning("removed %s: its creation was interrupted (%d bytes, no data); starting it anew", path, size)
    return True


# ----------------------------------------------------------------------------- raw layout upgrades
def upgrade_raw_layout(path: Path) -> list[str]:
    """Bring a warehouse written by an earlier version to the current raw contract, in place.

    ``zoom_raw.users`` was keyed by ``id`` (NOT NULL), which Zoom does not send for pending users;
    it is now keyed by ``user_key`` (the id, else ``email:<email>``). DuckDB cannot add a NOT NULL
    column, and dlt would try, so the column is added, filled and constrained here, and ``id`` may
    be null from now on; the same for dlt's staging copy of the table. Returns what was changed.
    Nothing happens to a new or current warehouse.
    """
    import duckdb

    if not Path(path).exists():
        return []
    done: list[str] = []
    with duckdb.connect(str(path)) as con:
        for schema in ("zoom_raw", "zoom_raw_staging"):
            cols = {
                name: nullable
                for name, nullable in con.execute(
                    "select column_name, is_nullable from information_schema.columns "
                    "where table_schema = ? and table_name = 'users'",
                    [schema],
                ).fetchall()
            }
            if not cols or cols.get("user_key") == "NO":
                continue
            # each step on its own (DuckDB adds no constraint in a transaction with pending updates);
            # a run interrupted between them finds the column nullable and finishes the job
            if "user_key" not in cols:
                con.execute(f"alter table {schema}.users add column user_key varchar")
            con.execute(
                f"update {schema}.users set user_key = coalesce(nullif(id, ''), 'email:' || lower(trim(email))) "
                "where user_key is null"
            )
            con.execute(f"alter table {schema}.users alter column user_key set not null")
            if cols.get("id") == "NO":
                con.execute(f"alter table {schema}.users alter column id drop not null")
            done.append(f"{schema}.users keyed by user_key")
    for change in done:
        log.warning("warehouse upgraded to the current raw layout: %s", change)
    return done


# ----------------------------------------------------------------------------- which warehouse
# ``[warehouse] kind`` chooses the DuckDB file (default, ``MW_WAREHOUSE``) or a DuckLake (PostgreSQL
# catalog + Parquet files, see pipelines/lake/). Everything that opens the warehouse goes through
# the functions below, so both kinds are known in one place.
def is_lake() -> bool:
    from pipelines.lake.settings import kind

    return kind() == "ducklake"


def lake_settings():  # -> pipelines.lake.settings.LakeSettings
    from pipelines.lake.settings import lake_settings as resolve

    return resolve()


def describe() -> str:
    """Where the warehouse is, without secrets (for messages)."""
    from pipelines.paths import warehouse_path

    return lake_settings().describe() if is_lake() else f"DuckDB file {warehouse_path()}"


def connect(read_only: bool = False):  # -> duckdb.DuckDBPyConnection
    """A connection on the warehouse: the file, or the lake attached and in use (same SQL on both)."""
    import duckdb

    from pipelines.paths import warehouse_path

    if is_lake():
        from pipelines.lake.connect import connect as lake_connect

        return lake_connect(lake_settings(), read_only=read_only)
    path = warehouse_path()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


def exists() -> bool:
    """Whether there is a warehouse to read (a lake always exists once configured)."""
    from pipelines.paths import warehouse_path

    return True if is_lake() else warehouse_path().exists()


def dlt_destination():  # -> dlt destination factory
    """dlt's destination for the warehouse: ``duckdb`` on the file, dlt's own ``ducklake`` on a lake."""
    import dlt

    from pipelines.paths import warehouse_path

    if not is_lake():
        path = warehouse_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(path))
    from pipelines.lake.dlt_destination import ducklake_destination

    return ducklake_destination(lake_settings())


def dlt_pipelines_dir():  # -> Path
    """dlt's working folder; a lake's pipelines keep theirs apart from the file's."""
    from pipelines.paths import pipelines_dir

    return pipelines_dir() / "ducklake" if is_lake() else pipelines_dir()
