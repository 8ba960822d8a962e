"""``python -m pipelines plan`` predicts what the next load spends, per rate-limit category, within
10%: on an empty warehouse, up to date, a day behind, after an interrupted load (whose journal the
load replays), and with the dlt working folder lost (the warehouse's state counts)."""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from _support import cli, env_for, popen_cli

REQUESTS = re.compile(
    r"requests: light ([\d,]+), medium ([\d,]+), heavy ([\d,]+), resource_intensive ([\d,]+)"
)
CATEGORIES = ("light", "medium", "heavy", "resource_intensive")


def _requests(out: str) -> dict[str, int]:
    m = REQUESTS.search(out)
    assert m, out
    return {c: int(v.replace(",", "")) for c, v in zip(CATEGORIES, m.groups(), strict=True)}


def plan_then_load(env: dict[str, str]) -> tuple[dict[str, int], dict[str, int]]:
    plan = cli(["plan"], env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    load = cli(["load", "--source", "zoom"], env, timeout=240)
    assert load.returncode == 0, load.stdout + load.stderr
    return _requests(plan.stdout), _requests(load.stdout)


def assert_close(label: str, predicted: dict[str, int], spent: dict[str, int]) -> None:
    for cat in CATEGORIES:
        assert abs(predicted[cat] - spent[cat]) <= 0.1 * spent[cat], (label, cat, predicted, spent)


@pytest.fixture
def sandbox(tiny: Any) -> Any:
    return tiny(enforce_rate_limits=False, latency_ms=10)


def test_the_plan_predicts_the_next_load_in_every_state(sandbox: Any, tmp_path: Path) -> None:
    env = env_for(tmp_path, sandbox.base)
    assert_close("empty warehouse", *plan_then_load(env))
    assert_close("up to date", *plan_then_load(env))
    sandbox.admin("clock", {"advance_days": 1})
    predicted, spent = plan_then_load(env)
    assert spent["heavy"] > 2, "a day behind: new meetings to fetch"
    assert_close("a day behind", predicted, spent)
    sandbox.admin("clock", {"advance_days": 1})
    shutil.rmtree(tmp_path / "dlt_pipelines")
    assert_close("working folder lost", *plan_then_load(env))


def test_the_plan_after_an_interrupted_load_counts_what_the_journal_kept(
    sandbox: Any, tmp_path: Path
) -> None:
    env = env_for(tmp_path, sandbox.base)
    sandbox.admin("reset", {})
    proc = popen_cli(["load", "--source", "zoom"], env)
    while sandbox.admin("stats")["received"].get("heavy", 0) < 16:
        assert proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((tmp_path / "state" / "zoom_journal").glob("*.zst")), "the killed load kept meetings"
    assert_close("after an interrupted load", *plan_then_load(env))
