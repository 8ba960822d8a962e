"""Secrets stay secret; credentials go only to the configured hosts; files holding secrets are private.

* A load with DEBUG logging (``-vv``), a failing load and an over-eager retry storm: no secret
  (client secret, access and refresh tokens, the MEETS key, recording passcodes, download tokens)
  appears in stdout/stderr, in any file under the dlt folder or the state folder, in the DuckDB file's
  bytes or in any text value of the warehouse.
* The shared HTTP layer sends no credential to a host that is not configured: a URL on another host
  is refused before anything is sent, and a redirect to another host is followed without the
  ``Authorization`` / MEETS token header (the sandbox's storage host records what it received).
* Token files are created 0600 in a 0700 folder; ``.dlt/secrets.toml`` and the token folder are
  git-ignored (and the project's source folders are not); ``python -m pipelines doctor`` explains what
  is missing without printing a secret value.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import ROOT, cli, connect, env_for

from pipelines.api_client import ApiClient, HeaderTokenAuth, HostNotAllowed, RateLimit, RateLimiter
from pipelines.sandbox.config import MEETS_TOKEN_HEADER
from pipelines.zoom.auth import TokenFile


def sandbox_secrets(sb: Any) -> set[str]:
    state = sb.server.state
    now = state.now()
    found = {sb.info["client_secret"], sb.info["meets_token"]}
    found |= set(state.tokens) | set(state.refresh_tokens) | set(state.download_tokens)
    for rec in state.account.recordings:
        if rec.available_at <= now:
            found |= {s for s in (rec.passcode, rec.password) if s}
    return {s for s in found if len(s) >= 6}


def text_values(warehouse: Path) -> str:
    with connect(warehouse) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        values: list[str] = []
        for schema, table, column in columns:
            values += [
                str(v)
                for (v,) in con.execute(f'select distinct "{column}" from {schema}.{table}').fetchall()
                if v is not None
            ]
    return "\n".join(values)


def files_text(*roots: Path) -> str:
    blob = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                blob.append(path.read_bytes().decode("latin-1"))
    return "\n".join(blob)


def test_a_debug_load_and_failing_loads_leak_no_secret(sandbox_factory: Any, tmp_path: Path) -> None:
    # small scale: passcode-protected recordings; tokens expire mid-run so refreshes are logged too
    sb = sandbox_factory(token_lifetime_requests=40)
    env = env_for(tmp_path, sb.base)
    outputs = []
    ok = cli(["-vv", "load"], env)
    assert ok.returncode == 0, ok.stdout[-3000:]
    outputs.append(ok.stdout + ok.stderr)
    assert "DEBUG" in ok.stderr  # the debug log really was on
    # failing loads: error messages, exceptions and summaries too (refused Zoom secret, refused MEETS key)
    wrong = cli(
        ["-vv", "load", "--source", "zoom"],
        {
            **env,
            "SOURCES__ZOOM__ACCOUNT_ID": sb.info["account_id"],
            "SOURCES__ZOOM__CLIENT_ID": sb.info["client_id"],
            "SOURCES__ZOOM__CLIENT_SECRET": "wrong-but-secret-value-7d1e",
            "SOURCES__ZOOM__API_BASE_URL": sb.info["zoom_api_base_url"],
            "SOURCES__ZOOM__OAUTH_BASE_URL": sb.info["zoom_oauth_base_url"],
        },
    )
    assert wrong.returncode == 1 and "client" in wrong.stdout
    outputs.append(wrong.stdout + wrong.stderr)
    refused = cli(
        ["-vv", "load", "--source", "meets"],
        {
            **env,
            "SOURCES__MEETS__API_TOKEN": "wrong-meets-key-value-5b0c",
            "SOURCES__MEETS__BASE_URL": sb.info["meets_base_url"],
        },
    )
    assert refused.returncode == 1 and "MEETS rejected the API token" in refused.stdout
    outputs.append(refused.stdout + refused.stderr)

    secrets_ = sandbox_secrets(sb) | {"wrong-but-secret-value-7d1e", "wrong-meets-key-value-5b0c"}
    state = sb.server.state
    assert any(rec.passcode for rec in state.account.recordings if rec.available_at <= state.now())
    assert len(state.tokens) >= 2  # tokens expired and were renewed during the run
    warehouse = Path(env["MW_WAREHOUSE"])
    places = {
        "output": "\n".join(outputs),
        "dlt and state folders": files_text(Path(env["MW_PIPELINES_DIR"]), Path(env["MW_STATE_DIR"])),
        "warehouse bytes": warehouse.read_bytes().decode("latin-1"),
        "warehouse values": text_values(warehouse),
    }
    leaks = {where: [s[:4] + "..." for s in secrets_ if s in text] for where, text in places.items()}
    assert leaks == {key: [] for key in places}, leaks


def test_credentials_never_go_to_another_host(sandbox: Any) -> None:
    info = sandbox.info
    api = ApiClient(
        info["meets_base_url"],
        auth=HeaderTokenAuth(MEETS_TOKEN_HEADER, info["meets_token"]),
        limiter=RateLimiter({"meets": RateLimit.per_second(50)}),
    )
    sandbox.admin("reset", {})
    try:
        with pytest.raises(HostNotAllowed):  # refused before anything is sent
            api.request("GET", f"{info['storage_url']}/files/1", category="meets", expect_json=False)
        assert sandbox.admin("storage_requests") == []
        # MEETS answers a download with 303 to a third-party storage host: followed without credentials
        state = sandbox.server.state
        now_ts = int(state.now().timestamp())
        rec = next(r for r in state.account.meets_recordings if r.time_added <= now_ts and not r.gone)
        resp = api.request(
            "GET",
            "download_conference_recording",
            category="meets",
            params={"meetsIdConferenceRecording": rec.id},
            expect_json=False,
            allow_redirects=True,
            stream=True,
        )
        resp.close()
        assert resp.status_code in (200, 206)
        got = sandbox.admin("storage_requests")
        assert got and all(
            {h.lower() for h in r["headers"]}.isdisjoint(
                {"authorization", MEETS_TOKEN_HEADER.lower(), "cookie"}
            )
            for r in got
        )
        assert all(info["meets_token"] not in str(r) for r in got)
        # and a plain client that forwards headers (what we must never do) is refused by that host
        forwarded = requests.get(
            f"{info['meets_base_url']}/download_conference_recording",
            params={"meetsIdConferenceRecording": rec.id},
            headers={MEETS_TOKEN_HEADER: info["meets_token"], "Authorization": "Bearer x"},
            timeout=30,
        )
        assert forwarded.status_code == 403  # the check above can fail
    finally:
        api.close()


def test_token_files_are_private(tmp_path: Path) -> None:
    token_file = TokenFile(tmp_path / "tokens" / "zoom_oauth.json")
    token_file.write({"refresh_token": "rt-secret", "access_token": "at-secret"})
    assert stat.S_IMODE(os.stat(token_file.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(token_file.path.parent).st_mode) == 0o700
    with token_file.locked():
        lock = token_file.path.with_name("zoom_oauth.json.lock")
        assert stat.S_IMODE(os.stat(lock).st_mode) & 0o077 == 0
    token_file.write({"refresh_token": "rt-2", "access_token": "at-2"})  # a rotation keeps the mode
    assert stat.S_IMODE(os.stat(token_file.path).st_mode) == 0o600
    assert [p.name for p in token_file.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def git_ignored(paths: list[str]) -> set[str]:
    out = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_secret_files_are_git_ignored_and_source_files_are_not() -> None:
    secret_paths = [
        ".dlt/secrets.toml",
        ".dlt/dev.secrets.toml",
        ".tokens/zoom_oauth.json",
        ".env",
        "warehouse/meetings.duckdb",
        ".dlt/pipelines/zoom/state.json",
    ]
    assert git_ignored(secret_paths) == set(secret_paths)
    sources = [
        str(p.relative_to(ROOT))
        for folder in ("pipelines", "tests", "dbt_project/models", "bench", "docs")
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    assert sources and git_ignored(sources) == set()


def test_doctor_explains_what_is_missing_and_never_prints_a_secret(tmp_path: Path) -> None:
    base = env_for(tmp_path)
    secret, meets_key = "zoom-secret-value-3f9a", "meets-key-value-81c2"
    cases = {
        "incomplete zoom app": (
            {"SOURCES__ZOOM__CLIENT_SECRET": secret},
            ["client_id not set", "SOURCES__ZOOM__CLIENT_ID"],
        ),
        "general app not authorized": (
            {"SOURCES__ZOOM__CLIENT_ID": "cid", "SOURCES__ZOOM__CLIENT_SECRET": secret},
            ["python -m pipelines authorize"],
        ),
        "s2s app": (
            {
                "SOURCES__ZOOM__ACCOUNT_ID": "acc",
                "SOURCES__ZOOM__CLIENT_ID": "cid",
                "SOURCES__ZOOM__CLIENT_SECRET": secret,
            },
            ["client_secret from env SOURCES__ZOOM__CLIENT_SECRET"],
        ),
        "meets key without base url": ({"SOURCES__MEETS__API_TOKEN": meets_key}, ["no base_url"]),
        "meets configured": (
            {"SOURCES__MEETS__API_TOKEN": meets_key, "SOURCES__MEETS__BASE_URL": "https://x.example/api"},
            ["MEETS token (env SOURCES__MEETS__API_TOKEN)"],
        ),
    }
    for name, (extra, expected) in cases.items():
        run = cli(["doctor"], {**base, **extra}, timeout=60)
        out = run.stdout + run.stderr
        for phrase in expected:
            assert phrase in out, (name, out)
        assert secret not in out and meets_key not in out, name
        assert ("FAIL" in out) == (run.returncode == 1), name
