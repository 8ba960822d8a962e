"""The calendar matrix: load + transform equal the truth on the dates that break date arithmetic.

The account, Zoom's month windows, the six-month limit, the lookbacks and which MEETS events have
ended all depend on the date. Each case pins the whole project's clock (``MW_NOW``, which the
sandbox follows) to one instant, loads a tiny account with the real sources over HTTP, builds the
models, and compares raw tables and marts with the truth at that instant; then a second load must
ask Zoom only for the windows its lookback reaches, and nothing per meeting.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import embedded
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.sandbox.truth import compute_truth
from pipelines.transform import run_transform
from pipelines.zoom.client import earliest_allowed_date, month_windows

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from _support import meets_actual, meets_expected, zoom_actual, zoom_expected
from test_transform import assert_marts_match_truth


def _six_month_limit_on_the_31st() -> dt.datetime:
    day = dt.date(2027, 1, 1)
    while earliest_allowed_date(day).day != 31:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, 9, 30, tzinfo=dt.UTC)


CASES = {
    "first-minute-of-a-month": dt.datetime(2026, 3, 1, 0, 1, tzinfo=dt.UTC),
    "last-minutes-of-a-month": dt.datetime(2026, 4, 30, 23, 58, tzinfo=dt.UTC),
    "new-year": dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC),
    "leap-day-2028": dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC),
    "us-dst-starts": dt.datetime(2027, 3, 14, 7, 0, tzinfo=dt.UTC),  # 02:00 EST -> 03:00 EDT
    "us-dst-ends": dt.datetime(2027, 11, 7, 6, 0, tzinfo=dt.UTC),  # 02:00 EDT -> 01:00 EST
    "lookback-crosses-a-month": dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC),
    "six-month-limit-on-the-31st": _six_month_limit_on_the_31st(),
}


@pytest.mark.parametrize("now", list(CASES.values()), ids=list(CASES))
def test_load_and_transform_equal_the_truth(
    now: dt.datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.meets.pipeline import run_meets_load
    from pipelines.zoom.pipeline import run_zoom_load

    for var in [
        v for v in os.environ if v.startswith(("SOURCES__ZOOM__", "SOURCES__MEETS__", "MW_", "SANDBOX_"))
    ]:
        monkeypatch.delenv(var)
    db = tmp_path / "warehouse" / "meetings.duckdb"
    for key, sub in (
        ("MW_WAREHOUSE", db),
        ("MW_PIPELINES_DIR", "p"),
        ("MW_STATE_DIR", "s"),
        ("MW_TOKEN_DIR", "t"),
    ):
        monkeypatch.setenv(key, str(sub if isinstance(sub, Path) else tmp_path / sub))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    monkeypatch.setenv(
        "MW_NOW", now.strftime("%Y-%m-%dT%H:%M:%SZ")
    )  # the pipelines' clock, and the sandbox's
    server = SandboxServer(SandboxConfig.from_env(scale=Scale.named("tiny"))).start()
    embedded.reset()
    try:
        assert server.state.now() == now
        monkeypatch.setenv("MW_SANDBOX_URL", server.base_url)
        first = run_zoom_load(show=False, progress=False)
        run_meets_load()
        assert first["stopped"] is None
        truth = compute_truth(
            server.state.account, now, attendance_final_after=server.config.attendance_final_after
        )
        with duckdb.connect(str(db), read_only=True) as con:
            assert zoom_actual(con) == zoom_expected(truth)
            assert meets_actual(con) == meets_expected(truth)
            newest_end = con.execute("select max(end_time) from zoom_raw.meetings").fetchone()[0]
        assert run_transform(quiet=True) == 0
        assert_marts_match_truth(db, truth, server.state.account)

        # the next run: only the windows the lookback reaches, nothing per meeting
        server.state.reset_counters()
        second = run_zoom_load(show=False, progress=False)
        calls = server.state.counters.as_dict()["by_endpoint"]
        lookback_from = (newest_end - dt.timedelta(days=2)).date() if newest_end else first["start_date"]
        assert calls.get("metrics/meetings", 0) == len(month_windows(lookback_from, now.date()))
        assert calls.get("metrics/meetings/participants", 0) == 0
        assert second["rows"]["participant_qos"] == 0
    finally:
        server.stop()
        embedded.reset()
