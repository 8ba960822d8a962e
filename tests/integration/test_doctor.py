"""``python -m pipelines doctor`` against the sandbox over loopback and against broken files.

Each finding must name the setting as the user writes it, or the exact path, and what to do; a
corrupt file must be called corrupt (not locked); wrong credentials are a FAIL found by asking the
token endpoint, which spends no request of the daily budget.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import embedded
from pipelines.api_client import RequestBudget
from pipelines.doctor import run_doctor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [v for v in os.environ if v.startswith(("SOURCES__", "RECORDINGS__"))]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("MW_SANDBOX_URL", raising=False)
    monkeypatch.delenv("MW_SERVING", raising=False)
    monkeypatch.setenv("MW_WAREHOUSE", str(tmp_path / "warehouse" / "meetings.duckdb"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "warehouse" / "state"))
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(ROOT))
    (tmp_path / "warehouse").mkdir()
    embedded.reset()
    yield tmp_path
    embedded.reset()


def doctor(capsys: pytest.CaptureFixture) -> tuple[int, list[str]]:
    code = run_doctor()
    return code, capsys.readouterr().out.splitlines()


def lines(out: list[str], status: str, topic: str) -> list[str]:
    prefix = f"[{status:>4}] {topic:<10} "
    return [line[len(prefix) :] for line in out if line.startswith(prefix)]


def use_zoom_app(monkeypatch: pytest.MonkeyPatch, sb: Any, **changes: str) -> None:
    info = sb.info
    values = {
        "OAUTH_BASE_URL": info["zoom_oauth_base_url"],
        "API_BASE_URL": info["zoom_api_base_url"],
        "ACCOUNT_ID": info["account_id"],
        "CLIENT_ID": info["client_id"],
        "CLIENT_SECRET": info["client_secret"],
        **changes,
    }
    for key, value in values.items():
        monkeypatch.setenv(f"SOURCES__ZOOM__{key}", value)


# ----------------------------------------------------------------------------- credentials
def test_a_wrong_client_secret_is_a_fail_naming_the_setting(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_zoom_app(monkeypatch, sandbox, CLIENT_SECRET="not-the-secret-4e1f")
    code, out = doctor(capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL", "zoom")
    assert "sources.zoom.client_secret (env SOURCES__ZOOM__CLIENT_SECRET)" in fail, out
    assert f"{sandbox.info['zoom_oauth_base_url']}/token" in fail and "invalid_client" in fail
    assert "not-the-secret-4e1f" not in "\n".join(out)
    stats = sandbox.admin("stats")
    assert stats["by_endpoint"] == {"oauth/token": 1}, stats  # one token request, no data call
    # no request was counted in the daily budget
    assert not (env / "warehouse" / "state" / "request_ledger.sqlite").exists()

    use_zoom_app(monkeypatch, sandbox)
    code, out = doctor(capsys)
    assert code == 0, out
    assert any("issued a Server-to-Server token" in m for m in lines(out, "ok", "zoom")), out


def test_a_wrong_account_id_names_sources_zoom_account_id(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_zoom_app(monkeypatch, sandbox, ACCOUNT_ID="someone-else")
    code, out = doctor(capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL", "zoom")
    assert "sources.zoom.account_id (env SOURCES__ZOOM__ACCOUNT_ID) is wrong" in fail, fail


def test_bad_budget_settings_do_not_hide_a_credentials_check(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_zoom_app(monkeypatch, sandbox, CLIENT_SECRET="wrong", RATE_SAFETY="0", PLAN="busines")
    monkeypatch.setenv("SOURCES__ZOOM__START_DATE", "2999-01-01")
    code, out = doctor(capsys)
    assert code == 1
    settings = lines(out, "FAIL", "settings")
    assert [s.split(" ", 1)[0] for s in settings] == [
        "sources.zoom.plan",
        "sources.zoom.rate_safety",
        "sources.zoom.start_date",
    ], out
    assert "in the future" in settings[2]
    assert any("sources.zoom.client_secret" in f for f in lines(out, "FAIL", "zoom")), out
    assert not lines(out, "ok", "settings")


def test_without_credentials_the_sandbox_is_named_and_checked_when_running(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out = doctor(capsys)
    assert code == 0
    assert any("embedded sandbox" in m for m in lines(out, "ok", "zoom")), out
    assert sandbox.admin("stats")["by_endpoint"] == {}  # nothing asked of a sandbox it does not use
    monkeypatch.setenv("MW_SANDBOX_URL", sandbox.base)
    code, out = doctor(capsys)
    assert code == 0
    assert any("the sandbox issued a Server-to-Server token" in m for m in lines(out, "ok", "zoom")), out


# ----------------------------------------------------------------------------- files
def test_a_corrupt_warehouse_is_reported_as_corrupt_not_locked(
    env: Path, capsys: pytest.CaptureFixture
) -> None:
    wh = env / "warehouse" / "meetings.duckdb"
    wh.write_bytes(os.urandom(40_000))
    code, out = doctor(capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL", "warehouse")
    assert fail.startswith(f"{wh} is corrupt") and "locked" not in fail and "make load" in fail, fail


def test_a_locked_warehouse_is_reported_as_locked(env: Path, capsys: pytest.CaptureFixture) -> None:
    wh = env / "warehouse" / "meetings.duckdb"
    duckdb.connect(str(wh)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys,time; c=duckdb.connect({str(wh)!r}); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        _, out = doctor(capsys)
    finally:
        holder.kill()
        holder.wait()
    (warn,) = lines(out, "warn", "warehouse")
    assert warn.startswith(f"{wh} is locked by another process") and "corrupt" not in warn, warn


def test_a_corrupt_serving_snapshot_names_the_path_and_the_way_back(
    env: Path, capsys: pytest.CaptureFixture
) -> None:
    snap = env / "warehouse" / "serving.duckdb"
    snap.write_bytes(b"\0DUCK" + os.urandom(20_000))
    code, out = doctor(capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL", "serving")
    assert fail.startswith(f"{snap} is corrupt") and "make transform" in fail, fail


def test_a_corrupt_ledger_is_named_and_after_recovery_the_day_counts_as_spent(
    env: Path, capsys: pytest.CaptureFixture
) -> None:
    ledger = env / "warehouse" / "state" / "request_ledger.sqlite"
    ledger.parent.mkdir()
    ledger.write_bytes(b"not a database " * 500)
    code, out = doctor(capsys)
    assert code == 1
    (fail,) = lines(out, "FAIL", "budget")
    assert fail.startswith(f"{ledger} is corrupt") and "corrupt-<timestamp>" in fail, fail
    assert ledger.read_bytes().startswith(b"not a database")  # the doctor only looks
    RequestBudget(ledger, heavy_daily_limit=10).close()  # what the next load does
    code, out = doctor(capsys)
    assert code == 0, out
    (warn,) = lines(out, "warn", "budget")
    assert "was found corrupt today and replaced" in warn and ".corrupt-" in warn, warn


def test_token_files_must_be_private_and_readable_json(env: Path, capsys: pytest.CaptureFixture) -> None:
    tokens = env / "tokens"
    tokens.mkdir(mode=0o700)
    token_file = tokens / "zoom_oauth.json"
    token_file.write_text('{"refresh_token": "abc"', encoding="utf-8")  # cut off
    token_file.chmod(0o644)
    code, out = doctor(capsys)
    assert code == 1
    fails = lines(out, "FAIL", "tokens")
    assert f"{token_file} is readable by others (mode 644): run chmod 600 {token_file}" in fails, out
    assert any(f.startswith(f"{token_file} is corrupt") and "pipelines authorize" in f for f in fails), out
    token_file.write_text('{"refresh_token": "abc"}', encoding="utf-8")
    token_file.chmod(0o600)
    code, out = doctor(capsys)
    assert not lines(out, "FAIL", "tokens") and lines(out, "ok", "tokens"), out


def test_doctor_command_on_a_broken_setup_exits_1_without_a_traceback(tmp_path: Path, sandbox: Any) -> None:
    info = sandbox.info
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "RECORDINGS__", "MW_"))}
    (tmp_path / "warehouse" / "state").mkdir(parents=True)
    (tmp_path / "warehouse" / "meetings.duckdb").write_bytes(os.urandom(30_000))
    (tmp_path / "warehouse" / "state" / "request_ledger.sqlite").write_bytes(b"garbage" * 1000)
    env.update(
        {
            "MW_WAREHOUSE": str(tmp_path / "warehouse" / "meetings.duckdb"),
            "MW_TOKEN_DIR": str(tmp_path / "tokens"),
            "SOURCES__ZOOM__OAUTH_BASE_URL": info["zoom_oauth_base_url"],
            "SOURCES__ZOOM__ACCOUNT_ID": info["account_id"],
            "SOURCES__ZOOM__CLIENT_ID": info["client_id"],
            "SOURCES__ZOOM__CLIENT_SECRET": "wrong-secret-77",
            "SOURCES__ZOOM__DAILY_BUDGET": "-5",
        }
    )
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "doctor"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in out, out
    for phrase in (
        "[FAIL] settings   sources.zoom.daily_budget = '-5' (env SOURCES__ZOOM__DAILY_BUDGET): must be a whole number >= 0",
        "sources.zoom.client_secret (env SOURCES__ZOOM__CLIENT_SECRET)",
        f"{tmp_path / 'warehouse' / 'meetings.duckdb'} is corrupt",
        f"{tmp_path / 'warehouse' / 'state' / 'request_ledger.sqlite'} is corrupt",
    ):
        assert phrase in out, out
    assert "wrong-secret-77" not in out and "heavy_daily" not in out


def test_transform_on_a_corrupt_warehouse_says_so_without_running_dbt(tmp_path: Path) -> None:
    wh = tmp_path / "meetings.duckdb"
    wh.write_bytes(os.urandom(30_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "RECORDINGS__", "MW_"))}
    env.update({"MW_WAREHOUSE": str(wh)})
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "transform"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in out, out
    assert out.strip().startswith(f"transform not started: {wh} is corrupt"), out
    assert "make load" in out and "locked" not in out
    assert not (tmp_path / "serving.duckdb").exists()


def test_a_start_date_older_than_zoom_keeps_is_a_warning_naming_the_real_start(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MW_NOW", "2026-11-20T08:00:00Z")
    monkeypatch.setenv("SOURCES__ZOOM__START_DATE", "2025-01-01")
    code, out = doctor(capsys)
    assert code == 0, out
    (warn,) = lines(out, "warn", "settings")
    assert warn.startswith("sources.zoom.start_date = '2025-01-01' (env SOURCES__ZOOM__START_DATE) is older")
    assert "loads start at 2026-05-22" in warn, warn


def test_load_with_bad_settings_stops_before_any_request_with_one_line_each(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``load`` checks the settings of the sources it was asked for first: one line per bad setting,
    named as the user writes it, exit code 2, no internal class name, nothing asked of any API."""
    sandbox.admin("reset", {})
    run_env = {**os.environ, "MW_SANDBOX_URL": sandbox.base, "SOURCES__ZOOM__PLAN": "busines"}
    run_env["SOURCES__ZOOM__RATE_SAFETY"] = "0"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "load"],
        env=run_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "sources.zoom.plan = 'busines'" in out and "sources.zoom.rate_safety = '0'" in out, out
    assert "SettingsError" not in out and "Traceback" not in out, out
    assert sum(sandbox.admin("stats")["received"].values()) == 0, "a request was sent"
    assert not Path(run_env["MW_WAREHOUSE"]).exists(), "the warehouse was touched"


def test_scopes_missing_from_the_token_are_named_with_the_way_to_add_them(
    env: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Zoom's token answer lists the app's scopes: each call of the load whose scope is missing (classic
    or granular) is a FAIL naming both forms; a granular-only app that has them all passes."""
    thin = sandbox_factory(scopes="user:read:admin report:read:admin dashboard:read:list_meetings:admin")
    use_zoom_app(monkeypatch, thin)
    code, out = doctor(capsys)
    assert code == 1
    fails = lines(out, "FAIL", "zoom")
    needs = (
        "participants",
        "participant QoS",
        "meeting series",
        "series details",
        "recordings",
        "recording files",
    )
    assert len(fails) == len(needs), out
    for what, fail in zip(needs, fails, strict=True):
        assert f"lacks the scope for {what}: add " in fail and "Zoom App Marketplace" in fail, fail
    assert not any("dashboard meetings" in f for f in fails)  # granted by its granular scope

    granular = sandbox_factory(
        scopes=" ".join(
            [
                "user:read:list_users:admin report:read:list_users:admin dashboard:read:list_meetings:admin",
                "dashboard:read:list_meeting_participants:admin dashboard:read:list_meeting_participants_qos:admin",
                "meeting:read:list_meetings:admin meeting:read:meeting:admin",
                "cloud_recording:read:list_user_recordings cloud_recording:read:list_recording_files",
            ]
        )
    )
    use_zoom_app(monkeypatch, granular)
    code, out = doctor(capsys)
    assert code == 0, out
    assert not lines(out, "FAIL", "zoom")
