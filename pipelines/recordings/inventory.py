"""``recordings.inventory``: one row per file per destination, the state that makes runs resumable.

Why in the warehouse: the inventory is data (what was archived where, with which checksum) that
analysts query next to the meetings, and DuckDB commits survive a ``kill -9`` (WAL), so a rerun
knows exactly what is verified (``copied``: skipped), what failed (retried), what is gone at the
source (not retried) and which temporary objects or multipart uploads a crashed run left behind
(``temp_url`` / ``upload_id``: cleaned up before anything else happens).

Every state change is its own autocommitted statement, serialised by a lock so worker threads can
share the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines import clock
from pipelines.recordings.model import COPIED, FAILED, GONE, PLANNED, SKIPPED, PlannedFile

SCHEMA = "recordings"
TABLE = f"{SCHEMA}.inventory"
META_TABLE = f"{SCHEMA}.meta_json"

_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    source            varchar not null,       -- zoom | meets
    file_key          varchar not null,       -- zoom_raw.recording_files.file_key | meets:<recording id>
    dest_root         varchar not null,       -- the --dest this row belongs to
    dest_url          varchar not null,       -- final object URL
    meeting_uuid      varchar,                -- Zoom meeting instance uuid
    meeting_id        varchar,                -- Zoom meeting number | meets-<event id>
    recording_id      varchar,                -- Zoom file id | MEETS recording id
    host_email        varchar,
    topic             varchar,
    start_time        timestamptz,
    file_type         varchar,
    recording_type    varchar,
    expected_size     bigint,                 -- declared by the API (null: unknown)
    size              bigint,                 -- bytes copied and verified
    sha256            varchar,                -- computed while streaming
    status            varchar not null,       -- planned | copied | failed | gone | skipped
    attempts          integer not null default 0,
    error             varchar,
    auto_delete_date  date,
    is_trashed        boolean,
    temp_url          varchar,                -- temporary object being written (crash cleanup)
    upload_id         varchar,                -- S3 multipart upload in flight (crash cleanup)
    planned_at        timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz,
    primary key (source, file_key, dest_root)
);
create table if not exists {META_TABLE} (
    dest_root         varchar not null,       -- the --dest of the folder
    folder            varchar not null,       -- meeting folder relative to dest_root
    source            varchar,                -- zoom | meets
    meeting           varchar,                -- the latest plan's meeting metadata (JSON)
    digest            varchar,                -- SHA-256 of the meta.json last written (null: none yet)
    written_at        timestamptz,
    updated_at        timestamptz,
    primary key (dest_root, folder)
);
"""

_COLUMNS = (
    "source",
    "file_key",
    "dest_root",
    "dest_url",
    "meeting_uuid",
    "meeting_id",
    "recording_id",
    "host_email",
    "topic",
    "start_time",
    "file_type",
    "recording_type",
    "expected_size",
    "size",
    "sha256",
    "status",
    "attempts",
    "error",
    "auto_delete_date",
    "is_trashed",
    "temp_url",
    "upload_id",
    "planned_at",
    "started_at",
    "finished_at",
    "updated_at",
)

# What ``plan`` writes for each file (in this order), and what a later plan refreshes on a known file:
# its metadata, never its status, destination or checksum (expected_size only when the new plan knows it).
_PLAN_COLUMNS = (
    "source",
    "file_key",
    "dest_root",
    "dest_url",
    "meeting_uuid",
    "meeting_id",
    "recording_id",
    "host_email",
    "topic",
    "start_time",
    "file_type",
    "recording_type",
    "expected_size",
    "status",
    "auto_delete_date",
    "is_trashed",
    "planned_at",
    "updated_at",
)
_PLAN_REFRESHED = (
    "meeting_uuid",
    "meeting_id",
    "recording_id",
    "host_email",
    "topic",
    "start_time",
    "file_type",
    "recording_type",
    "auto_delete_date",
    "is_trashed",
)


@dataclass(frozen=True)
class FolderMeta:
    """What ``recordings.meta_json`` knows of one meeting folder."""

    folder: str
    source: str | None
    meeting: str | None
    digest: str | None


class WarehouseBusy(RuntimeError):
    """The warehouse DuckDB file is locked by another process."""


def _now() -> datetime:
    return clock.now()


@dataclass(frozen=True)
class InventoryRow:
    source: str
    file_key: str
    dest_root: str
    dest_url: str
    status: str
    attempts: int
    size: int | None
    sha256: str | None
    error: str | None
    temp_url: str | None
    upload_id: str | None
    expected_size: int | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.file_key)


# On a DuckLake (``[warehouse] kind = "ducklake"``) tables have no keys: the same tables without
# them, and the upserts below become MERGE statements. The inventory is then written while loads and
# transforms write their own tables of the same lake, so ``make recordings`` runs beside them.
_LAKE_DDL = _DDL.replace(",\n    primary key (source, file_key, dest_root)", "").replace(
    ",\n    primary key (dest_root, folder)", ""
)


class Inventory:
    """Thread-safe access to ``recordings.inventory`` on one DuckDB connection."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, *, read_only: bool = False, lake: bool = False
    ) -> None:
        self.con = con
        self.read_only = read_only
        self.lake = lake
        self._lock = threading.Lock()
        if not read_only:
            self._write(_LAKE_DDL if lake else _DDL)

    def _write(self, sql: str, params: list | None = None, *, many: bool = False) -> None:
        """One write; on a lake retried when another writer committed to the same table first."""
        run = self.con.executemany if many else self.con.execute
        if not self.lake:
            run(sql, params) if params is not None else run(sql)
            return
        from pipelines.lake.connect import retry_conflicts

        retry_conflicts(lambda: run(sql, params) if params is not None else run(sql))

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Inventory:
        """Open the warehouse file (created if missing, unless ``read_only``), or the configured lake."""
        from pipelines import warehouse

        if warehouse.is_lake():
            return cls(warehouse.connect(read_only=False), read_only=read_only, lake=True)
        path = Path(path)
        try:
            if read_only:
                if not path.exists():
                    return cls(duckdb.connect(":memory:"), read_only=False)  # empty, nothing copied yet
                return cls(duckdb.connect(str(path), read_only=True), read_only=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls(duckdb.connect(str(path)))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise WarehouseBusy(
                f"The warehouse {path} is open in another process (DuckDB allows one writer; a load or "
                "dbt run?). The recordings inventory lives there: rerun when that process has finished."
            ) from exc

    def close(self) -> None:
        with self._lock:
            self.con.close()

    # ------------------------------------------------------------------ reads
    def exists(self) -> bool:
        with self._lock:
            return bool(
                self.con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                    [SCHEMA, "inventory"],
                ).fetchone()[0]
            )

    def rows(self, dest_root: str) -> dict[tuple[str, str], InventoryRow]:
        if not self.exists():
            return {}
        with self._lock:
            result = self.con.execute(
                f"""select source, file_key, dest_root, dest_url, status, attempts, size, sha256, error,
                           temp_url, upload_id, expected_size
                    from {TABLE} where dest_root = ?""",
                [dest_root],
            ).fetchall()
        return {(r[0], r[1]): InventoryRow(*r) for r in result}

    def rows_under(self, dest_root: str, url_prefix: str) -> list[InventoryRow]:
        """Rows whose ``dest_url`` starts with ``url_prefix`` (one meeting folder)."""
        with self._lock:
            result = self.con.execute(
                f"""select source, file_key, dest_root, dest_url, status, attempts, size, sha256, error,
                           temp_url, upload_id, expected_size
                    from {TABLE} where dest_root = ? and starts_with(dest_url, ?)""",
                [dest_root, url_prefix],
            ).fetchall()
        return [InventoryRow(*r) for r in result]

    def folders_meta(self, dest_root: str) -> dict[str, FolderMeta]:
        with self._lock:
            result = self.con.execute(
                f"select folder, source, meeting, digest from {META_TABLE} where dest_root = ?", [dest_root]
            ).fetchall()
        return {r[0]: FolderMeta(*r) for r in result}

    def folder_meta(self, dest_root: str, folder: str) -> FolderMeta | None:
        with self._lock:
            row = self.con.execute(
                f"select folder, source, meeting, digest from {META_TABLE} where dest_root = ? and folder = ?",
                [dest_root, folder],
            ).fetchone()
        return FolderMeta(*row) if row else None

    def in_flight(self, dest_root: str) -> list[InventoryRow]:
        """Rows a crashed run left with a temporary object or an open multipart upload."""
        return [r for r in self.rows(dest_root).values() if r.temp_url or r.upload_id]

    def counts(self, dest_root: str) -> dict[str, int]:
        if not self.exists():
            return {}
        with self._lock:
            result = self.con.execute(
                f"select status, count(*) from {TABLE} where dest_root = ? group by status", [dest_root]
            ).fetchall()
        return {status: n for status, n in result}

    # ------------------------------------------------------------------ writes
    def plan(
        self, files: Iterable[PlannedFile], dest_root: str, dest_urls: dict[tuple[str, str], str]
    ) -> None:
        """Insert new files as ``planned``; refresh the metadata of known ones (never their
        status, destination or checksum)."""
        now = _now()
        rows = [
            (
                f.source,
                f.file_key,
                dest_root,
                dest_urls[f.key],
                f.meeting_uuid,
                f.meeting_id,
                f.recording_id,
                f.host_email,
                f.topic,
                f.start_time,
                f.file_type,
                f.recording_type,
                f.expected_size,
                PLANNED,
                f.auto_delete_date,
                f.is_trashed,
                now,
                now,
            )
            for f in files
        ]
        if not rows:
            return
        if self.lake:
            self._merge_plan(rows)
            return
        with self._lock:
            sets = ", ".join(f"{c} = excluded.{c}" for c in _PLAN_REFRESHED)
            self.con.executemany(
                f"""insert into {TABLE} ({", ".join(_PLAN_COLUMNS)})
                    values ({", ".join("?" * len(_PLAN_COLUMNS))})
                    on conflict (source, file_key, dest_root) do update set {sets},
                        expected_size = coalesce(excluded.expected_size, {TABLE}.expected_size)""",
                rows,
            )

    def _merge_plan(self, rows: list[tuple]) -> None:
        """:meth:`plan` on a lake: the rows land in a temporary table, then one MERGE commits them."""
        cols = ", ".join(_PLAN_COLUMNS)
        sets = ", ".join(f"{c} = src.{c}" for c in _PLAN_REFRESHED)
        with self._lock:
            self.con.execute(f"create or replace temp table _plan as select {cols} from {TABLE} limit 0")
            self.con.executemany(f"insert into _plan values ({', '.join('?' * len(_PLAN_COLUMNS))})", rows)
            self._write(
                f"""merge into {TABLE} as t using temp._plan as src
                    on t.source = src.source and t.file_key = src.file_key and t.dest_root = src.dest_root
                    when matched then update set {sets},
                        expected_size = coalesce(src.expected_size, t.expected_size)
                    when not matched then insert ({cols}) values ({", ".join("src." + c for c in _PLAN_COLUMNS)})"""
            )
            self.con.execute("drop table temp._plan")

    def _merge_meta(self, rows: list[tuple], cols: list[str], updated: list[str]) -> None:
        with self._lock:
            types = ", ".join(f"{c}" for c in cols)
            self.con.execute(
                f"create or replace temp table _meta as select {types} from {META_TABLE} limit 0"
            )
            self.con.executemany(f"insert into _meta values ({', '.join('?' * len(cols))})", rows)
            self._write(
                f"""merge into {META_TABLE} as t using temp._meta as src
                    on t.dest_root = src.dest_root and t.folder = src.folder
                    when matched then update set {", ".join(f"{c} = src.{c}" for c in updated)}
                    when not matched then insert ({", ".join(cols)}) values ({", ".join("src." + c for c in cols)})"""
            )
            self.con.execute("drop table temp._meta")

    def plan_folders(self, dest_root: str, meetings: dict[str, tuple[str, str]]) -> None:
        """Remember each folder's source and meeting metadata (``folder -> (source, meeting JSON)``),
        so its meta.json can be rebuilt by any later run, whatever that run plans."""
        if not meetings:
            return
        now = _now()
        rows = [(dest_root, folder, source, meeting, now) for folder, (source, meeting) in meetings.items()]
        if self.lake:
            cols = ["dest_root", "folder", "source", "meeting", "updated_at"]
            self._merge_meta(rows, cols, cols[2:])
            return
        with self._lock:
            self.con.executemany(
                f"""insert into {META_TABLE} (dest_root, folder, source, meeting, updated_at)
                    values (?, ?, ?, ?, ?)
                    on conflict (dest_root, folder) do update set
                        source = excluded.source, meeting = excluded.meeting, updated_at = excluded.updated_at""",
                rows,
            )

    def meta_written(self, dest_root: str, folder: str, source: str, digest: str) -> None:
        """The folder's meta.json now holds the document with this digest."""
        now = _now()
        if self.lake:
            cols = ["dest_root", "folder", "source", "digest", "written_at", "updated_at"]
            self._merge_meta([(dest_root, folder, source, digest, now, now)], cols, cols[3:])
            return
        with self._lock:
            self.con.execute(
                f"""insert into {META_TABLE} (dest_root, folder, source, digest, written_at, updated_at)
                    values (?, ?, ?, ?, ?, ?)
                    on conflict (dest_root, folder) do update set
                        digest = excluded.digest, written_at = excluded.written_at,
                        updated_at = excluded.updated_at""",
                [dest_root, folder, source, digest, now, now],
            )

    def _update(self, key: tuple[str, str], dest_root: str, sql: str, params: list) -> None:
        with self._lock:
            self._write(
                f"update {TABLE} set {sql}, updated_at = ? where source = ? and file_key = ? and dest_root = ?",
                [*params, _now(), key[0], key[1], dest_root],
            )

    def start(self, key: tuple[str, str], dest_root: str) -> None:
        """A new attempt begins (counted even if the process dies during it)."""
        self._update(key, dest_root, "attempts = attempts + 1, started_at = ?, error = null", [_now()])

    def set_temporary(
        self, key: tuple[str, str], dest_root: str, *, temp_url: str | None, upload_id: str | None
    ) -> None:
        """Record (or clear, with ``None``) the temporary object / multipart upload of a file."""
        self._update(key, dest_root, "temp_url = ?, upload_id = ?", [temp_url, upload_id])

    def copied(self, key: tuple[str, str], dest_root: str, *, size: int, sha256: str, dest_url: str) -> None:
        self._update(
            key,
            dest_root,
            "status = ?, size = ?, sha256 = ?, dest_url = ?, error = null, temp_url = null, upload_id = null, "
            "finished_at = ?",
            [COPIED, size, sha256, dest_url, _now()],
        )

    def failed(self, key: tuple[str, str], dest_root: str, error: str) -> None:
        self._finish(key, dest_root, FAILED, error)

    def gone(self, key: tuple[str, str], dest_root: str, error: str) -> None:
        self._finish(key, dest_root, GONE, error)

    def skipped(self, key: tuple[str, str], dest_root: str, reason: str) -> None:
        self._finish(key, dest_root, SKIPPED, reason)

    def _finish(self, key: tuple[str, str], dest_root: str, status: str, error: str) -> None:
        self._update(
            key,
            dest_root,
            "status = ?, error = ?, temp_url = null, upload_id = null, finished_at = ?",
            [status, error[:2000], _now()],
        )

    def reset_status(self, key: tuple[str, str], dest_root: str, status: str = PLANNED) -> None:
        self._update(key, dest_root, "status = ?", [status])
