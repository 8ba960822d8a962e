"""``doctor`` on ``[zoom.webhooks]``: optional until the receiver is meant to run, then the secret
token must be set (and never shown); a token in the committed config.toml is named with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.doctor import FAIL, OK, check_webhooks
from pipelines.webhooks.queue import EventQueue
from tests.integration.recordings_support import ROOT

TOKEN = "doctor-test-secret-token-5d1c"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in [v for v in os.environ if v.startswith(("ZOOM__", "MW_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("MW_WAREHOUSE", str(tmp_path / "warehouse" / "meetings.duckdb"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))  # no .dlt toml files of the checkout
    monkeypatch.chdir(tmp_path)
    _reload_dlt_config()  # dlt keeps the providers it built first (an earlier test's project dir)
    yield tmp_path
    monkeypatch.undo()
    _reload_dlt_config()


def _reload_dlt_config() -> None:
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    Container()[PluggableRunContext].reload()


def test_not_configured_is_fine(env: Path) -> None:
    [check] = check_webhooks()
    assert (check.status, check.topic) == (OK, "webhooks") and "not configured" in check.message


def test_settings_without_the_secret_token_fail_naming_it(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM__WEBHOOKS__PATH", "/hooks/zoom")
    [check] = check_webhooks()
    assert check.status == FAIL
    assert "[zoom.webhooks]" in check.message and "ZOOM__WEBHOOKS__SECRET_TOKEN" in check.message
    assert "path set, so the receiver is meant to run" in check.message


def test_a_queue_without_the_secret_token_fails(env: Path) -> None:
    EventQueue(env / "state" / "webhooks.sqlite")
    [check] = check_webhooks()
    assert check.status == FAIL and "webhooks.sqlite exists" in check.message


def test_a_set_token_is_ok_never_shown_and_the_backlog_counted(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM__WEBHOOKS__SECRET_TOKEN", TOKEN)
    queue = EventQueue(env / "state" / "webhooks.sqlite")
    queue.put("meeting.ended", 1, {"event": "meeting.ended", "payload": {"object": {"uuid": "a=="}}})
    [check] = check_webhooks()
    assert check.status == OK, check.message
    assert "env ZOOM__WEBHOOKS__SECRET_TOKEN" in check.message and "1 event(s) waiting" in check.message
    assert TOKEN not in check.message


def test_a_token_in_config_toml_is_a_fail_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(f'[zoom.webhooks]\nsecret_token = "{TOKEN}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM__", "MW_", "SOURCES__"))}
    env |= {"DLT_PROJECT_DIR": str(tmp_path), "MW_WAREHOUSE": str(tmp_path / "wh" / "meetings.duckdb")}
    code = (
        "from pipelines.doctor import check_webhooks\nfor c in check_webhooks(): print(c.status, c.message)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("FAIL zoom.webhooks.secret_token is in .dlt/config.toml"), run.stdout
    assert ".dlt/secrets.toml" in run.stdout and TOKEN not in run.stdout + run.stderr
