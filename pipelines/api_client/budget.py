"""Persistent daily request budget, shared by every process on the machine.

Why: Zoom's heavy / resource-intensive APIs share a *daily* account-wide cap
(30,000/day on Pro) that also serves every other app on the account. We allow this
project only a slice of it (e.g. 30 %), and that slice must hold across restarts and
across processes that run at the same time (the load and the recordings download).
An in-memory counter cannot do that, so the ledger lives in SQLite:

* WAL mode, so readers (run summaries) never block writers;
* ``BEGIN IMMEDIATE`` per reservation, so check-and-increment is atomic across
  processes (SQLite's write lock serialises them; ``timeout`` makes others wait);
* ``synchronous=NORMAL``: a commit survives a process crash; an OS crash may lose
  the last few increments, which is acceptable for a budget that is a safety margin.

A request counts as spent when it is *sent* (reserve before sending), retries
included, because that is how Zoom counts it. The day is the UTC date: Zoom's daily
quota resets at 00:00 UTC.

A corrupt ledger file (a disk or copy accident: SQLite says "file is not a database"
or "database disk image is malformed") must neither stop every load forever nor
reset the day's count to zero, which could let the budget be exceeded. So the file is
moved aside to ``<name>.corrupt-<UTC timestamp>`` (with its ``-wal``/``-shm``), a new
ledger is started, and for the rest of that UTC day every *limited* group counts as
fully spent (the day's real spend is unknown); unlimited categories go on. The next
UTC day starts normally. Two processes finding the same corrupt file recover it once
(a lock file serialises them and the second one re-checks).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines import clock
from pipelines.api_client.errors import RateBudgetExceeded
from pipelines.api_client.rate_limit import HEAVY, RESOURCE_INTENSIVE, ZoomPlan, zoom_plan

log = logging.getLogger("pipelines.api_client.budget")

DEFAULT_LEDGER_PATH = Path("warehouse/state/request_ledger.sqlite")
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS request_ledger (
    utc_date TEXT NOT NULL,
    category TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (utc_date, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_blocks (
    grp           TEXT PRIMARY KEY,
    blocked_until TEXT NOT NULL,
    reason        TEXT
);
CREATE TABLE IF NOT EXISTS ledger_resets (
    utc_date TEXT PRIMARY KEY,
    moved_to TEXT NOT NULL,
    reset_at TEXT NOT NULL
);
"""


class LedgerError(RuntimeError):
    """The request ledger file cannot be used; the message names the file and what to do."""


def is_corrupt(exc: BaseException) -> bool:
    """SQLite's "file is not a database" / "database disk image is malformed" (not a lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(exc)
    return "file is not a database" in text or "malformed" in text


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    """A ledger connection with the schema in place; raises ``sqlite3.DatabaseError`` on a bad file."""
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        conn.executescript(_SCHEMA)
        conn.execute("SELECT COUNT(*) FROM request_ledger").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def corrupt_name(path: Path, when: dt.datetime) -> Path:
    """``request_ledger.sqlite.corrupt-20261202T173000Z`` (a free name next to ``path``)."""
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    return target


def _utcnow() -> dt.datetime:
    return clock.now()


def next_utc_midnight(now: dt.datetime) -> dt.datetime:
    """When the current UTC day's quota resets."""
    day = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


@dataclass(frozen=True)
class BudgetGroup:
    """Categories that share one daily limit (``None`` = counted but unlimited)."""

    name: str
    categories: frozenset[str]
    daily_limit: int | None = None

    def __post_init__(self) -> None:
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ValueError(f"budget group {self.name!r}: daily_limit must be >= 0")


@dataclass(frozen=True)
class GroupUsage:
    """One budget group's consumption for a UTC day (``limit``/``remaining`` None = unlimited)."""

    group: str
    used: int
    limit: int | None
    remaining: int | None
    resets_at: dt.datetime


class RequestBudget:
    """Daily request ledger with atomic ``reserve`` across threads and processes.

    By default there is one limited group, ``heavy_daily`` (``heavy`` +
    ``resource_intensive``) with ``heavy_daily_limit``; every other category is
    counted (for summaries) but unlimited unless ``groups`` says otherwise.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_LEDGER_PATH,
        *,
        heavy_daily_limit: int | None = None,
        groups: Iterable[BudgetGroup] | None = None,
        now: Callable[[], dt.datetime] = _utcnow,
        timeout: float = 30.0,
    ) -> None:
        if groups is None:
            groups = [BudgetGroup("heavy_daily", frozenset({HEAVY, RESOURCE_INTENSIVE}), heavy_daily_limit)]
        elif heavy_daily_limit is not None:
            raise ValueError("pass either groups or heavy_daily_limit, not both")
        self.groups: dict[str, BudgetGroup] = {}
        self._group_of: dict[str, BudgetGroup] = {}
        for group in groups:
            if group.name in self.groups:
                raise ValueError(f"duplicate budget group {group.name!r}")
            self.groups[group.name] = group
            for category in group.categories:
                if category in self._group_of:
                    raise ValueError(f"category {category!r} is in two budget groups")
                self._group_of[category] = group
        self.path = Path(path)
        self._now = now
        self._lock = threading.Lock()
        self.recovered_from: Path | None = None
        """Where a corrupt ledger found by this instance was moved (``None``: it was not)."""
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"The request budget ledger's folder {self.path.parent} cannot be created "
                    f"({exc.strerror or exc}): make it writable, or move the state with MW_STATE_DIR"
                ) from None
        self._conn = self._open(timeout)

    def _open(self, timeout: float) -> sqlite3.Connection:
        try:
            return _connect(str(self.path), timeout)
        except sqlite3.DatabaseError as exc:
            if str(self.path) == ":memory:":
                raise
            if not is_corrupt(exc):
                raise LedgerError(
                    f"The request budget ledger {self.path} cannot be opened ({exc}): if another load or "
                    "recordings run holds it, wait for it to finish; otherwise check the file's permissions "
                    "(the user running the loads must be able to write it and its folder)"
                ) from None
        return self._recover(timeout)

    def _recover(self, timeout: float) -> sqlite3.Connection:
        """Move the corrupt ledger aside and start a new one whose day counts as spent (see the module doc)."""
        lock_path = self.path.with_name(self.path.name + ".recover.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # another process may have recovered it while we waited for the lock
                return _connect(str(self.path), timeout)
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise LedgerError(
                        f"The request budget ledger {self.path} cannot be opened ({exc})"
                    ) from None
            target = corrupt_name(self.path, dt.datetime.now(dt.UTC))
            for suffix in ("", "-wal", "-shm", "-journal"):
                src = self.path.with_name(self.path.name + suffix)
                if src.exists():
                    os.replace(src, target.with_name(target.name + suffix))
            conn = _connect(str(self.path), timeout)
            day = self._now().astimezone(dt.UTC).date().isoformat()
            conn.execute(
                "INSERT OR REPLACE INTO ledger_resets (utc_date, moved_to, reset_at) VALUES (?, ?, ?)",
                (day, str(target), dt.datetime.now(dt.UTC).isoformat()),
            )
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.recovered_from = target
        log.warning(
            "The request budget ledger %s was corrupt: moved it aside to %s and started a new one. Today's "
            "(UTC %s) spend is unknown, so the daily budget counts as spent until 00:00 UTC; requests without "
            "a daily limit go on.",
            self.path,
            target,
            day,
        )
        return conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A ledger that becomes corrupt while in use: a clear error naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise
            raise LedgerError(
                f"The request budget ledger {self.path} became corrupt while in use ({exc}): rerun; the next "
                "run moves it aside and counts today's budget as spent (see README, Troubleshooting)"
            ) from None

    @classmethod
    def for_zoom_plan(
        cls,
        path: str | os.PathLike[str] = DEFAULT_LEDGER_PATH,
        plan: str | ZoomPlan = "pro",
        *,
        fraction: float = 0.3,
        now: Callable[[], dt.datetime] = _utcnow,
        timeout: float = 30.0,
    ) -> RequestBudget:
        """Budget allowing ``fraction`` of each of the plan's daily caps (e.g. 30 % of 30,000)."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        zp = plan if isinstance(plan, ZoomPlan) else zoom_plan(plan)
        groups = [BudgetGroup(c.name, c.categories, math.floor(c.limit * fraction)) for c in zp.daily_caps]
        return cls(path, groups=groups, now=now, timeout=timeout)

    # ------------------------------------------------------------------ helpers
    def group_of(self, category: str) -> BudgetGroup:
        """The group a category's requests count against (implicit unlimited group if none)."""
        return self._group_of.get(category) or BudgetGroup(category, frozenset({category}), None)

    def _sum(self, day: str, categories: Iterable[str]) -> int:
        cats = sorted(categories)
        marks = ",".join("?" * len(cats))
        row = self._conn.execute(
            f"SELECT COALESCE(SUM(count), 0) FROM request_ledger WHERE utc_date = ? AND category IN ({marks})",
            (day, *cats),
        ).fetchone()
        return int(row[0])

    def _reset_on(self, day: str) -> str | None:
        """Where the corrupt ledger replaced on ``day`` went, if it was replaced that day."""
        row = self._conn.execute("SELECT moved_to FROM ledger_resets WHERE utc_date = ?", (day,)).fetchone()
        return None if row is None else str(row[0])

    def _blocked_until(self, group: str, now: dt.datetime) -> dt.datetime | None:
        row = self._conn.execute("SELECT blocked_until FROM budget_blocks WHERE grp = ?", (group,)).fetchone()
        if row is None:
            return None
        until = dt.datetime.fromisoformat(row[0])
        return until if until > now else None

    # ------------------------------------------------------------------ API
    def reserve(self, category: str, n: int = 1) -> int:
        """Atomically count ``n`` requests for today; raise if the group's budget is spent.

        Returns the group's usage after the reservation. Raises
        :class:`RateBudgetExceeded` (nothing is counted) when ``used + n`` would exceed
        the limit or when Zoom reported the quota exhausted (see :meth:`block`).
        """
        if n < 1:
            raise ValueError("n must be >= 1")
        group = self.group_of(category)
        now = self._now()
        day = now.astimezone(dt.UTC).date().isoformat()
        with self._lock, self._guard():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                used = self._sum(day, group.categories)
                reset = self._reset_on(day) if group.daily_limit is not None else None
                if reset is not None:
                    conn.execute("ROLLBACK")
                    raise RateBudgetExceeded(
                        category,
                        used=group.daily_limit,
                        limit=group.daily_limit,
                        resets_at=next_utc_midnight(now),
                        group=group.name,
                        detail=f"The request budget ledger {self.path} was found corrupt today and moved aside "
                        f"to {reset}; today's spend is unknown, so the whole daily budget counts as spent whatever its "
                        "size (nothing to do: the next UTC day runs normally)",
                    )
                blocked = self._blocked_until(group.name, now)
                if blocked is not None:
                    conn.execute("ROLLBACK")
                    raise RateBudgetExceeded(
                        category,
                        used=used,
                        limit=group.daily_limit,
                        resets_at=blocked,
                        group=group.name,
                        source="zoom",
                        detail=f"Zoom reported the daily limit for '{group.name}' exhausted earlier today",
                    )
                if group.daily_limit is not None and used + n > group.daily_limit:
                    conn.execute("ROLLBACK")
                    raise RateBudgetExceeded(
                        category,
                        used=used,
                        limit=group.daily_limit,
                        resets_at=next_utc_midnight(now),
                        group=group.name,
                    )
                conn.execute(
                    "INSERT INTO request_ledger (utc_date, category, count) VALUES (?, ?, ?) "
                    "ON CONFLICT (utc_date, category) DO UPDATE SET count = count + excluded.count",
                    (day, category, n),
                )
                conn.execute("COMMIT")
            except RateBudgetExceeded:
                raise
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return used + n

    def block(self, category: str, until: dt.datetime, reason: str = "zoom daily limit") -> None:
        """Record that Zoom says ``category``'s daily quota is gone until ``until``.

        Other processes sharing the ledger then stop without spending a request to
        find out.
        """
        group = self.group_of(category)
        with self._lock, self._guard():
            self._conn.execute(
                "INSERT INTO budget_blocks (grp, blocked_until, reason) VALUES (?, ?, ?) "
                "ON CONFLICT (grp) DO UPDATE SET blocked_until = excluded.blocked_until, reason = excluded.reason",
                (group.name, until.astimezone(dt.UTC).isoformat(), reason),
            )

    def usage(self, day: dt.date | None = None) -> dict[str, int]:
        """Requests sent per category on ``day`` (default: today, UTC)."""
        day = day or self._now().astimezone(dt.UTC).date()
        with self._lock, self._guard():
            rows = self._conn.execute(
                "SELECT category, count FROM request_ledger WHERE utc_date = ? ORDER BY category",
                (day.isoformat(),),
            ).fetchall()
        return {cat: int(count) for cat, count in rows}

    def group_usage(self, group: str) -> GroupUsage:
        """Today's usage of one budget group (or of an ungrouped category)."""
        grp = self.groups.get(group) or self.group_of(group)
        now = self._now()
        day = now.astimezone(dt.UTC).date().isoformat()
        with self._lock, self._guard():
            used = self._sum(day, grp.categories)
            if grp.daily_limit is not None and self._reset_on(day) is not None:
                used = max(used, grp.daily_limit)  # the day's spend is unknown: all of it counts as spent
        remaining = None if grp.daily_limit is None else max(0, grp.daily_limit - used)
        return GroupUsage(grp.name, used, grp.daily_limit, remaining, next_utc_midnight(now))

    def replaced_today(self) -> str | None:
        """Where today's corrupt ledger was moved, if the ledger was replaced today (UTC)."""
        with self._lock, self._guard():
            return self._reset_on(self._now().astimezone(dt.UTC).date().isoformat())

    def remaining(self, group: str) -> int | None:
        """Requests left today in ``group`` (``None`` = unlimited)."""
        return self.group_usage(group).remaining

    def summary(self) -> list[GroupUsage]:
        """Usage of every configured group today, for run summaries."""
        return [self.group_usage(name) for name in self.groups]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RequestBudget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        limits = {g.name: g.daily_limit for g in self.groups.values()}
        return f"RequestBudget(path={str(self.path)!r}, groups={limits})"
