"""Settings validation: every bad ``sources.zoom`` / ``sources.meets`` / ``recordings`` setting is
one line naming the setting as the user writes it, the bad value and what is allowed; never an
internal name, never a traceback. Settings come from env vars here, as dlt reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import settings_check
from pipelines.settings_check import SettingsError, check_settings

ROOT = Path(__file__).resolve().parents[2]
INTERNAL_NAMES = (
    "heavy_daily",
    "budget group",
    "safety must be",
    "fraction must",
    "ConfigValueCannotBeCoerced",
)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith(("SOURCES__", "RECORDINGS__"))]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("MW_SANDBOX_URL", raising=False)
    monkeypatch.setenv("MW_NOW", "2026-11-20T08:00:00Z")
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(ROOT))


def _zoom_error(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> str:
    from pipelines.zoom.settings import load_settings

    monkeypatch.setenv(f"SOURCES__ZOOM__{key.upper()}", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    return str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        (
            "plan",
            "busines",
            "one of business, education, enterprise, free, partner, pro (did you mean business?)",
        ),
        ("daily_budget", "-5", "whole number >= 0"),
        ("daily_budget", "many", "whole number >= 0"),
        ("daily_budget_share", "1.5", "greater than 0 and at most 1"),
        ("daily_budget_share", "0", "greater than 0 and at most 1"),
        ("rate_safety", "0", "greater than 0 and at most 1"),
        ("rate_safety", "abc", "greater than 0 and at most 1"),
        ("start_date", "2026-13-01", "date yyyy-mm-dd"),
        ("start_date", "last monday", "date yyyy-mm-dd"),
        ("lookback_days", "-1", "whole number >= 0"),
        ("page_size", "500", "from 1 to 300"),
        ("qos_page_size", "0", "from 1 to 10"),
        ("meeting_types", '["past", "upcoming"]', "list of past and/or pastOne"),
        ("auth", "s2", "one of auto, s2s, oauth"),
        ("api_base_url", "api.zoom.us/v2", "http(s) URL"),
        ("download_hosts", "zoom.us", 'list of host names or origins, e.g. ["zoom.us"]'),
        ("download_hosts", '["https://zoom.us/rec/"]', "list of host names or origins"),
        ("proactive_token_refresh", "maybe", "true or false"),
        ("timeout_seconds", "-3", "greater than 0"),
    ],
)
def test_a_bad_zoom_setting_is_one_line_naming_setting_value_and_allowed(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, allowed: str
) -> None:
    message = _zoom_error(monkeypatch, key, value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"sources.zoom.{key} = {value!r} (env SOURCES__ZOOM__{key.upper()}): "), message
    assert allowed in message, message
    assert not any(name in message for name in INTERNAL_NAMES), message


def test_a_future_start_date_is_an_error_not_an_empty_load(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _zoom_error(monkeypatch, "start_date", "2026-11-21")  # MW_NOW is 2026-11-20
    assert "sources.zoom.start_date = '2026-11-21'" in message
    assert "in the future (today is 2026-11-20 UTC)" in message
    # today itself is fine
    monkeypatch.setenv("SOURCES__ZOOM__START_DATE", "2026-11-20")
    assert check_settings([settings_check.ZOOM]) == []


def test_a_misspelt_key_is_reported_with_the_key_it_probably_meant(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _zoom_error(monkeypatch, "daily_budjet", "5000")
    assert message.startswith("sources.zoom.daily_budjet (env SOURCES__ZOOM__DAILY_BUDJET): is not a setting")
    assert "did you mean sources.zoom.daily_budget?" in message


def test_overrides_from_code_are_validated_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.zoom.settings import load_settings

    with pytest.raises(
        SettingsError, match=r"^sources.zoom.rate_safety = 0: must be a number greater than 0"
    ):
        load_settings(sandbox=False, rate_safety=0)


def test_every_problem_is_listed_once_and_secrets_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__ZOOM__CLIENT_SECRET", "s3cret-value-9x")
    monkeypatch.setenv("SOURCES__ZOOM__PLAN", "prō")
    monkeypatch.setenv("SOURCES__ZOOM__RATE_SAFETY", "1.2")
    monkeypatch.setenv("SOURCES__MEETS__PAGE_LIMIT", "5000")
    monkeypatch.setenv("SOURCES__MEETS__REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("RECORDINGS__PART_SIZE_MB", "2")
    monkeypatch.setenv("RECORDINGS__PLAN_FROM", "warehose")
    problems = [str(p) for p in check_settings()]
    assert [p.split(" ", 1)[0] for p in problems] == [
        "sources.zoom.plan",
        "sources.zoom.rate_safety",
        "sources.meets.requests_per_second",
        "sources.meets.page_limit",
        "recordings.part_size_mb",
        "recordings.plan_from",
    ], problems
    assert "from 1 to 1000" in problems[3] and "did you mean warehouse?" in problems[5]
    assert not any("s3cret-value-9x" in p for p in problems)


def test_meets_settings_are_validated_when_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.meets.settings import MeetsConfigError, load_settings

    monkeypatch.setenv("SOURCES__MEETS__API_TOKEN", "tok-abcdef")
    monkeypatch.setenv("SOURCES__MEETS__BASE_URL", "https://acme.meets.cirqlive.com/api")
    monkeypatch.setenv("SOURCES__MEETS__LOOKBACK_DAYS", "-2")
    with pytest.raises(MeetsConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "sources.meets.lookback_days = '-2' (env SOURCES__MEETS__LOOKBACK_DAYS): must be a number at least 0 (e.g. 2)"
    )
    monkeypatch.setenv("SOURCES__MEETS__LOOKBACK_DAYS", "3")
    with pytest.raises(
        SettingsError, match=r"sources\.meets\.page_limit = 0: must be a whole number from 1 to 1000"
    ):
        load_settings(page_limit=0)
    assert load_settings().lookback_days == 3


def test_the_default_configuration_is_valid() -> None:
    assert check_settings() == []


def test_a_command_stops_on_a_bad_setting_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "RECORDINGS__", "MW_SANDBOX"))
    }
    env.update(
        {
            "SOURCES__ZOOM__RATE_SAFETY": "0",
            "MW_STATE_DIR": str(tmp_path / "state"),
            "MW_WAREHOUSE": str(tmp_path / "meetings.duckdb"),
        }
    )
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "plan"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "Traceback" not in out and "safety must be" not in out, out
    assert out.strip() == (
        "sources.zoom.rate_safety = '0' (env SOURCES__ZOOM__RATE_SAFETY): "
        "must be a number greater than 0 and at most 1 (e.g. 0.8)"
    ), out


def test_recordings_stops_on_a_bad_recordings_setting(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "RECORDINGS__", "MW_SANDBOX"))
    }
    env.update({"RECORDINGS__PLAN_FROM": "warehose", "MW_WAREHOUSE": str(tmp_path / "meetings.duckdb")})
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "recordings", "--dry-run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 2 and "Traceback" not in out, out
    assert out.strip() == (
        "recordings.plan_from = 'warehose' (env RECORDINGS__PLAN_FROM): must be one of auto, warehouse, api "
        "(did you mean warehouse?)"
    ), out


def test_download_hosts_take_hosts_and_origins_as_the_http_client_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SOURCES__ZOOM__DOWNLOAD_HOSTS", '["zoom.us", "us02web.zoom.us:443", "http://127.0.0.1:8081"]'
    )
    monkeypatch.setenv("RECORDINGS__ZOOM_DOWNLOAD_HOSTS", "zoom.us, http://127.0.0.1:8081")
    assert check_settings() == []
