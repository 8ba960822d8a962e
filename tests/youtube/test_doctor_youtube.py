"""``doctor`` on ``[youtube]``: optional until a channel credential is given, then all three must be
there (the fix named for each one missing), secrets never shown, and a secret in the committed
config.toml named with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.doctor import FAIL, OK, check_youtube
from tests.integration.recordings_support import ROOT

SECRET = "doctor-youtube-client-secret-7f3a"
REFRESH = "doctor-youtube-refresh-token-91be"


def _reload_dlt_config() -> None:
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    Container()[PluggableRunContext].reload()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in [v for v in os.environ if v.startswith(("YOUTUBE__", "MW_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))  # no .dlt toml files of the checkout
    monkeypatch.chdir(tmp_path)
    _reload_dlt_config()  # dlt keeps the providers it built first (an earlier test's project dir)
    yield tmp_path
    monkeypatch.undo()
    _reload_dlt_config()


def test_not_configured_is_fine(env: Path) -> None:
    [check] = check_youtube()
    assert (check.status, check.topic) == (OK, "youtube") and "not configured" in check.message


def test_half_configured_fails_naming_each_missing_part(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOUTUBE__CLIENT_ID", "1234.apps.googleusercontent.com")
    [check] = check_youtube()
    assert check.status == FAIL
    assert "YOUTUBE__CLIENT_SECRET" in check.message and "authorize youtube" in check.message
    assert "youtube.client_id" not in check.message


def test_an_invalid_setting_fails_with_its_name(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOUTUBE__PRIVACY_STATUS", "secret")
    [check] = check_youtube()
    assert check.status == FAIL and check.message.startswith("youtube.privacy_status = 'secret'")


def test_configured_with_the_authorized_token_file_is_ok_and_shows_no_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOUTUBE__CLIENT_ID", "1234.apps.googleusercontent.com")
    monkeypatch.setenv("YOUTUBE__CLIENT_SECRET", SECRET)
    (env / "tokens").mkdir()
    (env / "tokens" / "youtube_refresh_token").write_text(REFRESH)
    [check] = check_youtube()
    assert check.status == OK, check.message
    assert "youtube_refresh_token" in check.message and "privacy private" in check.message
    assert SECRET not in check.message and REFRESH not in check.message


def test_a_secret_in_config_toml_is_a_fail_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        f'[youtube]\nclient_id = "1234"\nclient_secret = "{SECRET}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOUTUBE__", "MW_"))}
    env |= {"DLT_PROJECT_DIR": str(tmp_path), "MW_TOKEN_DIR": str(tmp_path / "tokens")}
    code = "from pipelines.doctor import check_youtube\nfor c in check_youtube(): print(c.status, c.message)"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("FAIL youtube.client_secret is in .dlt/config.toml"), run.stdout
    assert ".dlt/secrets.toml" in run.stdout and SECRET not in run.stdout + run.stderr
