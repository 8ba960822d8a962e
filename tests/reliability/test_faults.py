"""Fault storms over real HTTP: every load completes, the warehouse equals the truth, limits hold.

Each scenario starts a tiny sandbox with fault knobs on, loads Zoom and MEETS into a fresh warehouse
with the production retry policy, and asserts: the warehouse equals ``/_sandbox/truth`` exactly, the
faults really happened (the sandbox counts them), the sandbox never saw more requests per second
than the clients are configured to send, and the request ledger (the daily budget) counted exactly
what the sandbox received and stayed within the configured budget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _support import (
    assert_meets_equals_truth,
    assert_within_rate_limits,
    assert_zoom_equals_truth,
    connect,
)

from pipelines.api_client import RateBudgetExceeded
from pipelines.meets.pipeline import run_meets_load
from pipelines.meets.settings import MeetsSettings
from pipelines.zoom.pipeline import run_zoom_load

MEETS_RPS = 20
DAILY_BUDGET = 400  # heavy + resource-intensive; a tiny load needs ~40 plus retries


def load_both(sb: Any, *, zoom: dict | None = None, meets: dict | None = None) -> tuple[dict, dict]:
    info = sb.info
    z = run_zoom_load(
        show=False,
        progress=False,
        **{
            "start_date": info["start_date"],
            "daily_budget": DAILY_BUDGET,
            "timeout_seconds": 5,
            **(zoom or {}),
        },
    )
    settings = MeetsSettings.from_sandbox_info(
        info, **{"requests_per_second": MEETS_RPS, "timeout_seconds": 5, **(meets or {})}
    )
    m = run_meets_load(settings=settings)
    return z, m


def assert_exact(sb: Any, warehouse: Path) -> None:
    truth = sb.admin("truth")
    with connect(warehouse) as con:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth, sb)
        ledger = dict(con.execute("select category, requests from ops.request_ledger").fetchall())
    stats = sb.admin("stats")
    for category in ("heavy", "resource_intensive"):
        assert ledger.get(category, 0) == stats["received"].get(category, 0), category
    assert ledger.get("heavy", 0) + ledger.get("resource_intensive", 0) <= DAILY_BUDGET
    assert_within_rate_limits(sb, meets_rps=MEETS_RPS)


SCENARIOS: dict[str, tuple[dict, dict, tuple[str, ...]]] = {
    # name: (sandbox knobs, zoom overrides, fault counters that must be > 0)
    "429-storm-30pct-with-retry-after": ({"p429": 0.3}, {}, ("429",)),
    "5xx-and-html-500s-5pct": ({"p5xx": 0.05, "p500_nonjson": 0.05}, {}, ("5xx", "500_nonjson")),
    "cut-off-bodies-and-invalid-json": (
        {"p_cutoff": 0.04, "p_invalid_json": 0.04},
        {},
        ("cutoff", "invalid_json"),
    ),
    "slow-responses-past-the-client-timeout": (
        {"slow_probability": 0.05, "slow_seconds": 1.6},
        {"timeout_seconds": 1},
        ("slow",),
    ),
    "access-token-expiring-mid-run": (
        {"token_lifetime_requests": 15},
        {"proactive_token_refresh": False},
        (),
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_storm_load_completes_and_equals_truth(name: str, tiny: Any, point_at: Any) -> None:
    knobs, zoom_overrides, must_happen = SCENARIOS[name]
    sb = tiny(**knobs)
    warehouse = point_at(sb)
    meets_overrides = (
        {"timeout_seconds": zoom_overrides["timeout_seconds"]} if "timeout_seconds" in zoom_overrides else {}
    )
    z, m = load_both(sb, zoom=zoom_overrides, meets=meets_overrides)
    faults = sb.admin("stats")["faults"]
    for fault in must_happen:
        assert faults.get(fault, 0) > 0, (fault, faults)
    if name == "access-token-expiring-mid-run":
        assert z["token_refreshes_after_401"] >= 1
    if name == "429-storm-30pct-with-retry-after":
        assert z["http_429"] > 0 and m["requests"]["retries"] > 0
    assert z["stopped"] is None
    assert_exact(sb, warehouse)


def test_all_faults_at_once_then_a_second_run_changes_nothing(tiny: Any, point_at: Any) -> None:
    sb = tiny(
        p429=0.05,
        p5xx=0.05,
        p500_nonjson=0.03,
        p_cutoff=0.02,
        p_invalid_json=0.02,
        slow_probability=0.01,
        slow_seconds=1.6,
    )
    warehouse = point_at(sb)
    load_both(sb, zoom={"timeout_seconds": 1}, meets={"timeout_seconds": 1})
    assert_exact(sb, warehouse)
    z, _ = load_both(sb, zoom={"timeout_seconds": 1}, meets={"timeout_seconds": 1})
    assert z["rows"]["participant_sessions"] == z["rows"]["participant_qos"] == 0
    assert_exact(sb, warehouse)


def test_expired_next_page_tokens_mid_pagination_restart_the_listing(tiny: Any, point_at: Any) -> None:
    """Every first multi-page listing of an endpoint pauses longer than a page token lives."""
    sb = tiny(page_token_lifetime=1)
    warehouse = point_at(sb)
    paused: set[str] = set()

    def slow_consumer(path: str, page: int, body: Any) -> None:
        kind = path.split("/")[0] + ("/rec" if "recordings" in path else "")
        if page == 1 and body.get("next_page_token") and kind not in paused:
            paused.add(kind)
            time.sleep(1.3)

    load_both(sb, zoom={"page_size": 2, "on_page": slow_consumer})
    assert {"users", "metrics"} <= paused
    # the sandbox refused each paused listing's second page once: the client restarted it
    assert sb.admin("stats")["received"]["medium"] > 0
    assert_exact(sb, warehouse)


def test_meets_eventual_consistency_window_and_clock_moving(tiny: Any, point_at: Any) -> None:
    """MEETS learns of recordings hours late and finalises attendance a day after an event: each run
    equals the truth *at its clock*, and later runs pick up what MEETS learned in between."""
    sb = tiny(clock_offset=-50 * 3600)  # tiny: MEETS learns of recordings at -54h, -47h, +22h, +24h
    warehouse = point_at(sb)
    seen_recordings = []
    for step in range(4):
        if step:
            sb.admin("clock", {"advance_seconds": 25 * 3600})
        sb.admin("reset", {})
        load_both(sb)
        truth = sb.admin("truth")
        seen_recordings.append(truth["meets"]["conference_recordings"])
        with connect(warehouse) as con:
            assert_meets_equals_truth(con, truth, sb)
            assert_zoom_equals_truth(con, truth)
    assert seen_recordings == sorted(seen_recordings) and seen_recordings[0] < seen_recordings[-1]


def test_budget_is_never_exceeded_under_faults_and_the_next_day_resumes(
    tiny: Any, point_at: Any, tmp_path: Path
) -> None:
    sb = tiny(p429=0.05, p5xx=0.05)
    warehouse = point_at(sb)
    info = sb.info
    with pytest.raises(RateBudgetExceeded):
        run_zoom_load(
            show=False,
            progress=False,
            start_date=info["start_date"],
            daily_budget=25,
            ledger_path=str(tmp_path / "day1.sqlite"),
        )
    stats = sb.admin("stats")
    assert stats["received"].get("heavy", 0) + stats["received"].get("resource_intensive", 0) <= 25
    run_zoom_load(
        show=False,
        progress=False,
        start_date=info["start_date"],
        ledger_path=str(tmp_path / "day2.sqlite"),
    )
    truth = sb.admin("truth")
    with connect(warehouse) as con:
        assert_zoom_equals_truth(con, truth)
    assert_within_rate_limits(sb)
