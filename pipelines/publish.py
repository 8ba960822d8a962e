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
import shutil
import time
from pathlib import Path

import duckdb

from pipelines import paths

log = logging.getLogger("pipelines.publish")

# Schemas copied into the snapshot: the marts and the recordings inventory. Raw and staging stay private.
# The search documents and their full-text index (schemas ``search`` and ``fts_search_documents``) are
# copied too, whatever ``schemas`` says, when the warehouse has them (:func:`_publish_search`).
DEFAULT_SCHEMAS = ("analytics", "recordings")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Big incremental tables refreshed in place: rows the latest runs wrote (_dbt_loaded_at newer than
# the snapshot's newest) replace the rows with the same key, as dbt's delete+insert did in the
# warehouse. table -> (key columns, a key column bounding the delete, like macros/delete_insert.sql).
DELTA_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "analytics.fct_qos_minutes": (("meeting_uuid", "participant_id", "minute_at", "stream"), "minute_at"),
    "analytics.fct_qos_participant_minutes": (("meeting_uuid", "participant_id", "minute_at"), "minute_at"),
}

# Per-meeting incremental marts: a dbt run deletes and recomputes the rows of the meetings and MEETS
# events it lists in intermediate.int_meetings__touched_log; a republish replaces the same rows here.
# table -> (meeting column, MEETS event column or None); rows without a meeting (transcript cues of
# no known meeting) are recomputed by every run, so replaced every time too.
PER_MEETING_TABLES: dict[str, tuple[str, str | None]] = {
    "analytics.fct_meetings": ("meeting_uuid", None),
    "analytics.fct_participant_sessions": ("meeting_uuid", "meets_event_id"),
    "analytics.fct_waiting_room_stints": ("meeting_uuid", None),
    "analytics.fct_participant_quality": ("meeting_uuid", None),
    "analytics.fct_meeting_quality": ("meeting_uuid", None),
    "analytics.fct_meeting_talk_time": ("meeting_uuid", None),
    "analytics.fct_transcript_segments": ("meeting_uuid", None),
}
UNMATCHED_REPLACED = frozenset({"analytics.fct_meeting_talk_time", "analytics.fct_transcript_segments"})
TOUCHED_LOG = "wh.intermediate.int_meetings__touched_log"

# Warehouse views published as views (their SQL, over tables published here; the view names them
# without a catalog) rather than copied as tables: fct_qos_minutes presents the stored wide
# fct_qos_participant_minutes long, and a copy would hold seven rows per participant-minute.
VIEWS: frozenset[str] = frozenset({"analytics.fct_qos_minutes"})


def _view_sql_here(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, view: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_views() where database_name = ? and schema_name = ? and view_name = ?",
            [catalog, schema, view],
        ).fetchone()[0]
    )


def _view_sql(con: duckdb.DuckDBPyConnection, schema: str, view: str) -> str | None:
    """``create or replace view`` of a warehouse view, or None when ``schema.view`` is not a view there."""
    row = con.execute(
        "select sql from duckdb_views() where database_name = 'wh' and schema_name = ? and view_name = ?",
        [schema, view],
    ).fetchone()
    if row is None:
        return None
    prefix = "CREATE VIEW "
    return "create or replace view " + row[0][len(prefix) :] if row[0].startswith(prefix) else None


_column_cache: dict[tuple[str, str, str], list[tuple[str, str]]] = {}


def _load_columns(con: duckdb.DuckDBPyConnection, catalogs: list[str], schemas: list[str]) -> None:
    """Read the columns of every table of ``schemas`` in ``catalogs`` at once (a query per table
    reads the whole catalog each time: a tenth of a second on a busy machine, per table)."""
    _column_cache.clear()
    rows = con.execute(
        "select database_name, schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name in (select unnest($1)) and schema_name in (select unnest($2)) "
        "order by database_name, schema_name, table_name, column_index",
        [catalogs, schemas],
    ).fetchall()
    for database, schema, table, column, data_type in rows:
        _column_cache.setdefault((database, schema, table), []).append((column, data_type))


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[tuple[str, str]]:
    if (catalog, schema, table) in _column_cache:
        return _column_cache[(catalog, schema, table)]
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, table],
    ).fetchall()


def _same_columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> bool:
    """Whether the snapshot's copy of ``schema.table`` has the warehouse's columns (names, types, order)."""
    return _columns(con, catalog, schema, table) == _columns(con, "wh", schema, table)


def _refresh_in_place(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> int | None:
    """Bring the previous snapshot's copy of a DELTA_TABLES table up to date with the warehouse.

    The rows to take are those whose ``_dbt_loaded_at`` (the dbt run that wrote them) the copy does
    not hold; they replace the copy's rows with the same key. Returns the row count, or None when
    the copy cannot be refreshed in place (different columns, nothing to start from, a full refresh
    rewrote most rows, or the counts disagree afterwards); the caller then copies the table whole.
    """
    keys, bound = DELTA_TABLES[f"{schema}.{table}"]
    here, there = f"{_quote(schema)}.{_quote(table)}", f"wh.{_quote(schema)}.{_quote(table)}"
    if not _same_columns(con, catalog, schema, table):
        return None
    held_runs = {r for (r,) in con.execute(f"select distinct _dbt_loaded_at from {here}").fetchall()}
    runs = dict(con.execute(f"select _dbt_loaded_at, count(*) from {there} group by 1").fetchall())
    total = sum(runs.values())
    fresh_runs = sorted(r for r in runs if r not in held_runs)
    if sum(runs[r] for r in fresh_runs) > total // 2:  # a full refresh: copying is cheaper than replacing
        return None
    if fresh_runs:
        # the runs' rows lie at the end of the table: the range lets DuckDB skip every older row
        # group by its min/max statistics (a "not in held runs" filter reads the whole column)
        fresh = (
            "_dbt_loaded_at between $1 and $2 and _dbt_loaded_at in (select unnest($3))",
            [fresh_runs[0], fresh_runs[-1], fresh_runs],
        )
        columns = ", ".join(_quote(k) for k in keys)
        con.execute(
            f"create or replace temporary table fresh_keys as select {columns} from {there} where {fresh[0]}",
            fresh[1],
        )
        low, high = con.execute(f"select min({bound}), max({bound}) from fresh_keys").fetchone()
        match = " and ".join(f"fresh_keys.{_quote(k)} = {here}.{_quote(k)}" for k in keys)
        try:
            con.execute(
                f"delete from {here} using fresh_keys where {match} and {here}.{_quote(bound)} between $1 and $2",
                [low, high],
            )
        finally:
            con.execute("drop table if exists fresh_keys")
        con.execute(f"insert into {here} select * from {there} where {fresh[0]}", fresh[1])
    held = con.execute(f"select count(*) from {here}").fetchone()[0]
    return held if held == total else None


def _retired_path(target: Path) -> Path:
    """The snapshot before the current one, kept (a hard link made at the last republish) to be
    brought up to date in place and published again, instead of copying the current file."""
    return target.with_name(f".{target.name}.previous")


def _open_snapshot_file(path: Path, tmp: Path, copy: bool) -> duckdb.DuckDBPyConnection | None:
    """``tmp`` as a copy of ``path`` (``copy``) or ``path`` itself moved there, opened for writing;
    None when there is no usable one (absent, unreadable, not a snapshot, or still open in a reader:
    DuckDB locks the file, and a reader of an old snapshot must not see it change)."""
    if not path.exists():
        return None
    if copy:
        shutil.copyfile(path, tmp)
    else:
        os.replace(path, tmp)
    try:
        con = duckdb.connect(str(tmp))
        known = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'main' and table_name = 'snapshot_info'"
        ).fetchone()[0]
    except duckdb.Error as exc:  # unreadable (e.g. another DuckDB version), or held by a reader
        log.warning("previous snapshot %s not reused: %s", path, exc)
        tmp.unlink(missing_ok=True)
        return None
    if not known:  # not a snapshot this code wrote
        con.close()
        tmp.unlink(missing_ok=True)
        return None
    return con


def _open_from_previous(target: Path, tmp: Path) -> duckdb.DuckDBPyConnection | None:
    """``tmp`` as the retired snapshot (the one before the current) when no reader holds it, else a
    file copy of the current one, opened; None when neither is usable."""
    con = _open_snapshot_file(_retired_path(target), tmp, copy=False)
    if con is None:
        con = _open_snapshot_file(target, tmp, copy=True)
    return con


def _touched_since(con: duckdb.DuckDBPyConnection, catalog: str) -> tuple[str | None, str | None]:
    """(the warehouse's newest touched-log run, the newest the snapshot ``catalog`` holds); the
    first is None when the warehouse has no log, the second when the snapshot recorded none."""
    has_log = con.execute(
        "select count(*) from duckdb_tables() where database_name = 'wh' and schema_name = 'intermediate' "
        "and table_name = 'int_meetings__touched_log'"
    ).fetchone()[0]
    newest = (
        con.execute(f"select cast(max(run_started_at) as varchar) from {TOUCHED_LOG}").fetchone()[0]
        if has_log
        else None
    )
    held_columns = {c for c, _ in _columns(con, catalog, "main", "snapshot_info")}
    held = (
        con.execute(f"select touched_through from {_quote(catalog)}.main.snapshot_info").fetchone()[0]
        if "touched_through" in held_columns
        else None
    )
    return newest, held


def _prepare_touched(con: duckdb.DuckDBPyConnection, held: str | None) -> bool:
    """Temporary tables touched_meetings / touched_events: what the runs since ``held`` recomputed.
    False when the per-meeting marts must be copied whole (no record, or a full build since)."""
    if held is None:
        return False
    since = "run_started_at > cast($1 as timestamp)"
    full = con.execute(f"select count_if(is_full_build) from {TOUCHED_LOG} where {since}", [held]).fetchone()[
        0
    ]
    if full:
        return False
    con.execute(
        f"create or replace temporary table touched_meetings as select distinct meeting_uuid "
        f"from {TOUCHED_LOG} where {since} and meeting_uuid is not null",
        [held],
    )
    con.execute(
        f"create or replace temporary table touched_events as select distinct meets_event_id "
        f"from {TOUCHED_LOG} where {since} and meets_event_id is not null",
        [held],
    )
    return True


def _refresh_meetings(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> int | None:
    """Replace the rows of the touched meetings (and MEETS events) of a PER_MEETING_TABLES table
    with the warehouse's. Returns the row count, or None when it cannot be done in place (different
    columns, or the counts disagree afterwards): the caller copies the table whole."""
    meeting, event = PER_MEETING_TABLES[f"{schema}.{table}"]
    here, there = f"{_quote(schema)}.{_quote(table)}", f"wh.{_quote(schema)}.{_quote(table)}"
    if not _same_columns(con, catalog, schema, table):
        return None
    scope = f"{_quote(meeting)} in (select meeting_uuid from touched_meetings)"
    if event:
        scope += f" or {_quote(event)} in (select meets_event_id from touched_events)"
    if f"{schema}.{table}" in UNMATCHED_REPLACED:
        scope += f" or {_quote(meeting)} is null"
    con.execute(f"delete from {here} where {scope}")
    # the warehouse's rows by row id: the scope's semi-join reads the key column only, and the
    # copy then reads the other columns of those rows alone (selecting them with the semi-join
    # directly read every column of every row: 4 s instead of 1 s for 6,000 of 186,000 meetings)
    con.execute(
        f"create or replace temporary table take_rows as select rowid as r from {there} where {scope}"
    )
    try:
        con.execute(f"insert into {here} select * from {there} where rowid in (select r from take_rows)")
    finally:
        con.execute("drop table if exists take_rows")
    held = con.execute(f"select count(*) from {here}").fetchone()[0]
    total = con.execute(f"select count(*) from {there}").fetchone()[0]
    return held if held == total else None


def _index_state(con: duckdb.DuckDBPyConnection, catalog: str) -> tuple | None:
    """``search.index_state`` of ``catalog`` when its full-text index is there too, else None."""
    from pipelines.transcripts.search import INDEX_SCHEMA

    held = con.execute(
        "select count(*) filter (where schema_name = 'search' and table_name in ('documents', 'index_state')), "
        "count(*) filter (where schema_name = ?) from duckdb_tables() where database_name = ?",
        [INDEX_SCHEMA, catalog],
    ).fetchone()
    if held[0] < 2 or not held[1]:
        return None
    return con.execute(f"select * from {_quote(catalog)}.search.index_state").fetchone()


def _publish_search(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """The search documents and their full-text index (what ``python -m pipelines search`` reads).

    Copied only when the warehouse's index was rebuilt since the previous snapshot's (its
    ``search.index_state`` differs); dropped when the warehouse has none.
    """
    from pipelines.transcripts.search import INDEX_SCHEMA, copy_index

    source = _index_state(con, "wh")
    if source is None:
        con.execute(f"drop schema if exists {INDEX_SCHEMA} cascade")
        con.execute("drop schema if exists search cascade")
        return {}
    if _index_state(con, catalog) != source:
        copy_index(con, "wh")
    rows = con.execute("select count(*) from search.documents").fetchone()[0]
    return {"search.documents": rows}


def publish_snapshot(
    source: Path | None = None,
    target: Path | None = None,
    schemas: tuple[str, ...] = DEFAULT_SCHEMAS,
    refreshed_in_place: list[str] | None = None,
) -> dict[str, int]:
    """Copy ``schemas`` (tables and views, as tables) from the warehouse into ``target`` atomically.

    The new snapshot starts as a file copy of the previous one: the big incremental tables
    (``DELTA_TABLES``) only take the rows written since, every other table is copied whole. So a
    daily republish costs about the day's rows plus the small marts, not the whole history.
    Returns rows per published table (``refreshed_in_place``, when given, receives the tables that
    took only new rows). Raises ``FileNotFoundError`` when the warehouse does not exist.
    """
    from pipelines import warehouse

    if source is None and target is None and warehouse.is_lake():
        # a lake needs no copy: readers attach it at the snapshot recorded here (pipelines/lake/publish.py)
        from pipelines.lake.publish import mark_published

        return mark_published(warehouse.lake_settings())
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
    in_place: list[str] = [] if refreshed_in_place is None else refreshed_in_place
    con = _open_from_previous(target, tmp)
    reuse = con is not None
    if con is None:
        con = duckdb.connect(str(tmp))
    try:
        literal = "'" + source.as_posix().replace("'", "''") + "'"
        con.execute(f"attach {literal} as wh (read_only)")
        catalog = con.execute("select current_database()").fetchone()[0]
        con.execute(f"use {_quote(catalog)}")
        objects = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_schema in (select unnest(?)) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        held = set(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = ? and table_schema in (select unnest(?))",
                [catalog, list(schemas)],
            ).fetchall()
        )
        _load_columns(con, [catalog, "wh"], list(schemas))
        newest_touched, held_touched = _touched_since(con, catalog)
        by_meeting = reuse and newest_touched is not None and _prepare_touched(con, held_touched)
        for schema, table in sorted(held - set(objects)):  # gone from the warehouse: gone here
            con.execute(f"drop table if exists {_quote(schema)}.{_quote(table)}")
        views = []
        for schema, table in objects:
            con.execute(f"create schema if not exists {_quote(schema)}")
            view = _view_sql(con, schema, table) if f"{schema}.{table}" in VIEWS else None
            if view is not None:  # after the tables it reads
                views.append((schema, table, view))
                continue
            rows = None
            if reuse and (schema, table) in held and f"{schema}.{table}" in DELTA_TABLES:
                rows = _refresh_in_place(con, catalog, schema, table)
            elif by_meeting and (schema, table) in held and f"{schema}.{table}" in PER_MEETING_TABLES:
                rows = _refresh_meetings(con, catalog, schema, table)
            if rows is None:
                con.execute(
                    f"create or replace table {_quote(schema)}.{_quote(table)} as "
                    f"select * from wh.{_quote(schema)}.{_quote(table)}"
                )
                rows = con.execute(f"select count(*) from {_quote(schema)}.{_quote(table)}").fetchone()[0]
            else:
                in_place.append(f"{schema}.{table}")
            counts[f"{schema}.{table}"] = rows
        for schema, table, view in views:
            if (schema, table) in held and not _view_sql_here(con, catalog, schema, table):
                con.execute(f"drop table {_quote(schema)}.{_quote(table)}")  # a copy from before
            con.execute(view)
            counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from {_quote(schema)}.{_quote(table)}"
            ).fetchone()[0]
        counts.update(_publish_search(con, catalog))
        con.execute("detach wh")
        con.execute(
            "create or replace table main.snapshot_info as select current_timestamp as published_at, "
            "? as tables, ? as touched_through",
            [len(counts), newest_touched],
        )
        con.execute("checkpoint")
    finally:
        _column_cache.clear()
        con.close()
    retired = _retired_path(target)
    keep = retired.with_name(retired.name + ".tmp")
    keep.unlink(missing_ok=True)
    if target.exists():
        os.link(target, keep)  # the current snapshot becomes the retired one (readers keep reading it)
    os.replace(tmp, target)  # atomic: readers see the old snapshot or the new one, never a mix
    if keep.exists():
        os.replace(keep, retired)
    log.info(
        "published %d tables to %s in %.1fs (refreshed in place: %s)",
        len(counts),
        target,
        time.monotonic() - started,
        ", ".join(in_place) or "none",
    )
    return counts
