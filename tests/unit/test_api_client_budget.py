"""Daily budget ledger: exact limits, sharing across threads/processes, restarts, UTC days."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from pipelines.api_client.budget import BudgetGroup, RequestBudget, next_utc_midnight
from pipelines.api_client.errors import RateBudgetExceeded


class Now:
    """Settable UTC clock."""

    def __init__(self, value: dt.datetime) -> None:
        self.value = value

    def __call__(self) -> dt.datetime:
        return self.value


NOON = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)


def test_reserve_until_limit_then_raise_with_details(tmp_path: Path) -> None:
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=3, now=Now(NOON))
    assert [budget.reserve("heavy") for _ in range(2)] == [1, 2]
    assert budget.reserve("resource_intensive") == 3  # same group
    with pytest.raises(RateBudgetExceeded) as info:
        budget.reserve("heavy")
    exc = info.value
    assert (exc.category, exc.group, exc.used, exc.limit, exc.remaining) == ("heavy", "heavy_daily", 3, 3, 0)
    assert exc.resets_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    assert "used 3 of 3" in str(exc) and "0 left" in str(exc) and "2026-03-15 00:00:00 UTC" in str(exc)
    # A refused reservation is not counted.
    assert budget.usage() == {"heavy": 2, "resource_intensive": 1}
    assert budget.remaining("heavy_daily") == 0


def test_reserve_n_is_all_or_nothing(tmp_path: Path) -> None:
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=5, now=Now(NOON))
    budget.reserve("heavy", 4)
    with pytest.raises(RateBudgetExceeded):
        budget.reserve("heavy", 2)
    assert budget.reserve("heavy", 1) == 5


def test_unlimited_categories_are_counted(tmp_path: Path) -> None:
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=1, now=Now(NOON))
    for _ in range(50):
        budget.reserve("light")
    budget.reserve("meets", 7)
    assert budget.usage() == {"light": 50, "meets": 7}
    assert budget.remaining("light") is None
    summary = {g.group: (g.used, g.limit, g.remaining) for g in budget.summary()}
    assert summary == {"heavy_daily": (0, 1, 1)}


def test_custom_groups_and_plan_factory(tmp_path: Path) -> None:
    budget = RequestBudget.for_zoom_plan(tmp_path / "a.sqlite", "pro", fraction=0.3)
    assert budget.groups["heavy_daily"].daily_limit == 9_000
    free = RequestBudget.for_zoom_plan(tmp_path / "b.sqlite", "free", fraction=0.5)
    assert {g.name: g.daily_limit for g in free.groups.values()} == {
        "light_daily": 3_000,
        "medium_daily": 1_000,
        "heavy_daily": 500,
        "resource_intensive_daily": 15_000,
    }
    with pytest.raises(ValueError, match="two budget groups"):
        RequestBudget(
            tmp_path / "c.sqlite",
            groups=[BudgetGroup("a", frozenset({"x"}), 1), BudgetGroup("b", frozenset({"x"}), 1)],
        )


def test_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite"  # parent dirs are created
    with RequestBudget(path, heavy_daily_limit=2, now=Now(NOON)) as budget:
        budget.reserve("heavy", 2)
    with RequestBudget(path, heavy_daily_limit=2, now=Now(NOON)) as again:
        assert again.usage() == {"heavy": 2}
        with pytest.raises(RateBudgetExceeded):
            again.reserve("heavy")


def test_resets_at_utc_midnight(tmp_path: Path) -> None:
    # 23:30 in UTC-05:00 is already the next UTC day: the ledger must use UTC dates.
    now = Now(dt.datetime(2026, 3, 14, 23, 59, 59, tzinfo=dt.UTC))
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=1, now=now)
    budget.reserve("heavy")
    with pytest.raises(RateBudgetExceeded) as info:
        budget.reserve("heavy")
    assert info.value.resets_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    now.value = dt.datetime(2026, 3, 14, 19, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert budget.reserve("heavy") == 1  # 2026-03-15 00:00:01 UTC: new day
    assert budget.usage(dt.date(2026, 3, 14)) == {"heavy": 1}
    assert next_utc_midnight(now.value) == dt.datetime(2026, 3, 16, tzinfo=dt.UTC)


def test_block_from_zoom_stops_other_processes_until_reset(tmp_path: Path) -> None:
    now = Now(NOON)
    path = tmp_path / "l.sqlite"
    first = RequestBudget(path, heavy_daily_limit=1000, now=now)
    other = RequestBudget(path, heavy_daily_limit=1000, now=now)
    first.block("resource_intensive", dt.datetime(2026, 3, 15, tzinfo=dt.UTC))
    with pytest.raises(RateBudgetExceeded) as info:
        other.reserve("heavy")
    assert info.value.source == "zoom" and info.value.resets_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    other.reserve("light")  # other groups unaffected
    now.value = dt.datetime(2026, 3, 15, 0, 0, 1, tzinfo=dt.UTC)
    assert other.reserve("heavy") == 1


def test_threads_share_one_budget_exactly(tmp_path: Path) -> None:
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=1000, now=Now(NOON))
    granted = [0] * 8

    def worker(i: int) -> None:
        for _ in range(200):
            try:
                budget.reserve("heavy")
                granted[i] += 1
            except RateBudgetExceeded:
                pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(granted) == 1000
    assert budget.usage() == {"heavy": 1000}


def _process_worker(path: str, n: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    budget = RequestBudget(path, heavy_daily_limit=1000, now=Now(NOON))
    ok = 0
    for _ in range(n):
        try:
            budget.reserve("heavy")
            ok += 1
        except RateBudgetExceeded:
            pass
    budget.close()
    queue.put(ok)


def test_processes_share_one_budget_exactly(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "l.sqlite")
    RequestBudget(path, heavy_daily_limit=1000).close()  # create schema once
    queue = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(path, 400, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(results) == 1000
    assert RequestBudget(path, heavy_daily_limit=1000, now=Now(NOON)).usage() == {"heavy": 1000}


def test_reserve_throughput_over_2000_per_second(tmp_path: Path) -> None:
    budget = RequestBudget(tmp_path / "l.sqlite", heavy_daily_limit=1_000_000)
    n = 4000
    started = time.perf_counter()
    for i in range(n):
        budget.reserve("heavy" if i % 2 else "light")
    rate = n / (time.perf_counter() - started)
    assert rate > 2000, f"only {rate:.0f} reserves/s"


# ----------------------------------------------------------------------------- a corrupt ledger file
def _corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an SQLite file, a copy went wrong " * 200)


def test_corrupt_ledger_is_moved_aside_and_the_day_counts_as_spent(tmp_path: Path) -> None:
    """The way back from a corrupt ledger never lets the budget be exceeded (README, Troubleshooting)."""
    path = tmp_path / "state" / "request_ledger.sqlite"
    _corrupt(path)
    clock = Now(NOON)
    budget = RequestBudget(path, heavy_daily_limit=100, now=clock)
    moved = sorted(p.name for p in path.parent.iterdir() if ".corrupt-" in p.name)
    assert len(moved) == 1 and moved[0].startswith("request_ledger.sqlite.corrupt-")
    assert budget.recovered_from == path.parent / moved[0]
    assert budget.replaced_today() == str(path.parent / moved[0])
    # the day's spend is unknown: the limited group is spent, with a message naming both files
    with pytest.raises(RateBudgetExceeded) as info:
        budget.reserve("heavy")
    assert str(path) in str(info.value) and moved[0] in str(info.value) and "corrupt" in str(info.value)
    assert info.value.resets_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    usage = budget.group_usage("heavy_daily")
    assert (usage.used, usage.remaining) == (100, 0)
    # categories without a daily limit go on
    assert budget.reserve("light") == 1
    budget.close()
    # another process opening the (now healthy) ledger the same day: still spent, nothing moved again
    with RequestBudget(path, heavy_daily_limit=100, now=clock) as again:
        assert again.recovered_from is None
        with pytest.raises(RateBudgetExceeded):
            again.reserve("resource_intensive")
    assert len([p for p in path.parent.iterdir() if ".corrupt-" in p.name]) == 1
    # the next UTC day the whole budget is back
    clock.value = NOON + dt.timedelta(days=1)
    with RequestBudget(path, heavy_daily_limit=100, now=clock) as tomorrow:
        assert tomorrow.reserve("heavy") == 1
        assert tomorrow.replaced_today() is None


def test_corrupt_ledger_with_plan_groups_stays_within_every_daily_cap(tmp_path: Path) -> None:
    path = tmp_path / "request_ledger.sqlite"
    _corrupt(path)
    budget = RequestBudget.for_zoom_plan(path, "free", fraction=1.0, now=Now(NOON))
    for category in ("light", "medium", "heavy", "resource_intensive"):  # every one is capped on free
        with pytest.raises(RateBudgetExceeded, match=r"request_ledger\.sqlite"):
            budget.reserve(category)
    assert all(u.remaining == 0 for u in budget.summary())
    budget.close()


def test_unusable_ledger_path_names_the_file(tmp_path: Path) -> None:
    from pipelines.api_client.budget import LedgerError

    folder = tmp_path / "request_ledger.sqlite"
    folder.mkdir()  # a folder where the file should be: not corrupt, not ours to move
    with pytest.raises(LedgerError, match=str(folder)):
        RequestBudget(folder, heavy_daily_limit=1)
    assert folder.is_dir()
