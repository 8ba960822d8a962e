"""The publish stage's state in the warehouse: ``youtube.publications`` (one row per file and
target) and ``youtube.quota`` (units spent per Pacific-time day and API method).

Why in the warehouse, beside ``recordings.inventory``: what was published where is data analysts
join to the meetings (the mart shows the video id and URL), and DuckDB commits survive a
``kill -9``. Why a schema of its own: the serving snapshot copies ``analytics`` and ``recordings``
to BI readers; upload session URIs and the quota ledger are operational state that stays private. Every change is one autocommitted statement, written *before* the step it describes
can have an effect outside (the session URI before any byte is sent, the quota before the request),
so a rerun always knows enough to probe, resume or reconcile instead of uploading twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import duckdb

from pipelines import clock

SCHEMA = "youtube"
TABLE = f"{SCHEMA}.publications"
QUOTA_TABLE = f"{SCHEMA}.quota"
PACIFIC = ZoneInfo("America/Los_Angeles")

UPLOADING, PUBLISHED, FAILED = "uploading", "published", "failed"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    target            varchar not null,   -- youtube (the configured channel) | sandbox (the emulator)
    file_key          varchar not null,   -- zoom_raw.recording_files.file_key (the mart's recording_file_id)
    meeting_uuid      varchar,
    source_url        varchar,            -- where the bytes were read from (recordings destination)
    size              bigint,
    sha256            varchar,            -- of the copied file (recordings.inventory)
    title             varchar,
    privacy_status    varchar,            -- asked for
    privacy_effective varchar,            -- what YouTube answered (private when the project is unverified)
    status            varchar not null,   -- uploading | published | failed
    video_id          varchar,
    video_url         varchar,
    session_uri       varchar,            -- resumable upload session (recorded before the first byte)
    session_started_at timestamptz,
    bytes_sent        bigint not null default 0,   -- confirmed by YouTube (308 Range / final answer)
    quota_units       bigint not null default 0,   -- units this file has cost (inserts, retries, playlist)
    attempts          integer not null default 0,
    error             varchar,
    playlist_id       varchar,
    playlist_item_id  varchar,
    published_at      timestamptz,
    updated_at        timestamptz,
    primary key (target, file_key)
);
create table if not exists {QUOTA_TABLE} (
    target            varchar not null,
    pacific_day       date not null,      -- YouTube's quota day: midnight to midnight Pacific time
    method            varchar not null,   -- videos.insert, playlistItems.list ...
    calls             bigint not null default 0,
    units             bigint not null default 0,
    primary key (target, pacific_day, method)
);
"""


def pacific_day(at: dt.datetime | None = None) -> dt.date:
    return (at or clock.now()).astimezone(PACIFIC).date()


def quota_resets_at(at: dt.datetime | None = None) -> dt.datetime:
    """The next midnight Pacific time, in UTC (when YouTube's daily quota resets)."""
    day = pacific_day(at) + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=PACIFIC).astimezone(dt.UTC)


class QuotaExhausted(RuntimeError):
    """The day's quota is spent (by the ledger, or YouTube said ``quotaExceeded``)."""

    def __init__(self, message: str, resets_at: dt.datetime) -> None:
        super().__init__(message)
        self.resets_at = resets_at


@dataclass
class Publication:
    file_key: str
    status: str
    video_id: str | None
    session_uri: str | None
    bytes_sent: int
    attempts: int
    playlist_id: str | None
    playlist_item_id: str | None


class PublishState:
    """Both tables on one DuckDB connection (the warehouse, read-write for the stage's run)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, target: str) -> None:
        self.con = con
        self.target = target
        con.execute(DDL)

    # ------------------------------------------------------------------ publications
    def get(self, file_key: str) -> Publication | None:
        row = self.con.execute(
            f"""select file_key, status, video_id, session_uri, bytes_sent, attempts, playlist_id, playlist_item_id
                from {TABLE} where target = ? and file_key = ?""",
            [self.target, file_key],
        ).fetchone()
        return Publication(*row) if row else None

    def published_meetings(self) -> set[str]:
        rows = self.con.execute(
            f"select distinct meeting_uuid from {TABLE} where target = ? and status = ? and meeting_uuid is not null",
            [self.target, PUBLISHED],
        ).fetchall()
        return {r[0] for r in rows}

    def published_keys(self) -> set[str]:
        rows = self.con.execute(
            f"select file_key from {TABLE} where target = ? and status = ?", [self.target, PUBLISHED]
        ).fetchall()
        return {r[0] for r in rows}

    def begin(self, file_key: str, meeting_uuid: str, source_url: str, size: int, sha256: str | None,
              title: str, privacy: str) -> None:  # fmt: skip
        """A new attempt at this file (counted even if the process dies during it)."""
        now = clock.now()
        self.con.execute(
            f"""insert into {TABLE} (target, file_key, meeting_uuid, source_url, size, sha256, title,
                    privacy_status, status, attempts, updated_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
                on conflict (target, file_key) do update set
                    source_url = excluded.source_url, size = excluded.size, sha256 = excluded.sha256,
                    title = excluded.title, privacy_status = excluded.privacy_status,
                    status = excluded.status, attempts = {TABLE}.attempts + 1, error = null,
                    updated_at = excluded.updated_at""",
            [self.target, file_key, meeting_uuid, source_url, size, sha256, title, privacy, UPLOADING, now],
        )

    def session_started(self, file_key: str, uri: str) -> None:
        self._set(file_key, "session_uri = ?, session_started_at = ?, bytes_sent = 0", [uri, clock.now()])

    def session_dropped(self, file_key: str) -> None:
        self._set(file_key, "session_uri = null, bytes_sent = 0", [])

    def progress(self, file_key: str, confirmed: int) -> None:
        self._set(file_key, "bytes_sent = ?", [confirmed])

    def add_units(self, file_key: str, units: int) -> None:
        self._set(file_key, "quota_units = quota_units + ?", [units])

    def published(self, file_key: str, video: dict, size: int) -> None:
        video_id = video["id"]
        self._set(
            file_key,
            "status = ?, video_id = ?, video_url = ?, privacy_effective = ?, bytes_sent = ?, error = null, "
            "published_at = ?",
            [
                PUBLISHED,
                video_id,
                f"https://www.youtube.com/watch?v={video_id}",
                (video.get("status") or {}).get("privacyStatus"),
                size,
                clock.now(),
            ],
        )

    def failed(self, file_key: str, error: str) -> None:
        self._set(file_key, "status = ?, error = ?", [FAILED, error[:2000]])

    def stopped(self, file_key: str, error: str) -> None:
        """Interrupted for a reason that is not the file's (quota): stays ``uploading``, resumable."""
        self._set(file_key, "error = ?", [error[:2000]])

    def playlist_done(self, file_key: str, playlist_id: str, item_id: str) -> None:
        self._set(file_key, "playlist_id = ?, playlist_item_id = ?", [playlist_id, item_id])

    def _set(self, file_key: str, sql: str, params: list) -> None:
        self.con.execute(
            f"update {TABLE} set {sql}, updated_at = ? where target = ? and file_key = ?",
            [*params, clock.now(), self.target, file_key],
        )

    # ------------------------------------------------------------------ quota ledger
    def units_spent(self, day: dt.date | None = None) -> int:
        row = self.con.execute(
            f"select coalesce(sum(units), 0) from {QUOTA_TABLE} where target = ? and pacific_day = ?",
            [self.target, day or pacific_day()],
        ).fetchone()
        return int(row[0])

    def units_total(self) -> int:
        row = self.con.execute(
            f"select coalesce(sum(units), 0) from {QUOTA_TABLE} where target = ?", [self.target]
        ).fetchone()
        return int(row[0])

    def record_units(self, method: str, units: int, calls: int = 1, day: dt.date | None = None) -> None:
        self.con.execute(
            f"""insert into {QUOTA_TABLE} (target, pacific_day, method, calls, units) values (?, ?, ?, ?, ?)
                on conflict (target, pacific_day, method) do update set
                    calls = {QUOTA_TABLE}.calls + excluded.calls, units = {QUOTA_TABLE}.units + excluded.units""",
            [self.target, day or pacific_day(), method, calls, units],
        )


class QuotaLedger:
    """Spends units write-ahead: a call is recorded before it is sent, refused when it would exceed
    the day's budget, and refunded only when YouTube refused it for quota or rate (not charged)."""

    def __init__(
        self, state: PublishState, budget: int, costs: dict[str, int] | None = None, cost_of=None
    ) -> None:
        self.state = state
        self.budget = budget
        self._cost_of = cost_of or (lambda method: (costs or {}).get(method, 1))
        self.spent_this_run = 0

    def cost(self, method: str) -> int:
        return int(self._cost_of(method))

    def remaining(self) -> int:
        return max(self.budget - self.state.units_spent(), 0)

    def exhausted(self, method: str, why: str | None = None) -> QuotaExhausted:
        now = clock.now()
        resets = quota_resets_at(now)
        spent = self.state.units_spent()
        reason = (
            why
            or f"{method} costs {self.cost(method)} units and {self.budget - spent} of {self.budget} are left"
        )
        return QuotaExhausted(
            f"YouTube quota for {pacific_day(now)} (Pacific time) is spent: {reason}. It resets at "
            f"{resets:%Y-%m-%d %H:%M} UTC (midnight Pacific); the next run continues from there "
            "(budget: youtube.daily_quota_units)",
            resets,
        )

    def charge(self, method: str) -> tuple[dt.date, int]:
        cost = self.cost(method)
        day = pacific_day()
        if self.state.units_spent(day) + cost > self.budget:
            raise self.exhausted(method)
        self.state.record_units(method, cost, day=day)
        self.spent_this_run += cost
        return day, cost

    def refund(self, method: str, day: dt.date, cost: int) -> None:
        self.state.record_units(method, -cost, calls=-1, day=day)
        self.spent_this_run -= cost
