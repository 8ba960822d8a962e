"""Refresh-token rotation under crash (General app, rotating refresh tokens).

Zoom invalidates the old refresh token the moment it answers a refresh; the new one then exists only
in the answer. The design (``pipelines/zoom/auth.py``): the new token is written to the token file
atomically (temp + fsync + rename) *before* the new access token is used, and SIGINT/SIGTERM that
arrive in between are held until it is on disk. The test hook ``MW_TEST_CRASH_AT`` makes
``python -m pipelines load`` signal itself at a named point:

* killed (-9) right after persisting, before use: the next run authenticates and loads the truth;
* SIGTERM / Ctrl-C right after Zoom answered, before persisting: held; the token is saved, the
  process then stops; the next run authenticates;
* kill -9 in the window between Zoom's answer and the rename (a few milliseconds, no process can
  defer SIGKILL, and Zoom offers no way to recover the lost answer): the next run stops with a
  clear message to run ``python -m pipelines authorize`` again - and never prints a token.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
import requests
from _support import assert_zoom_equals_truth, cli, connect, env_for

from pipelines.zoom.pipeline import authorize_zoom


def authorized(sb: Any, tmp: Path) -> tuple[dict[str, str], Path]:
    """Authorize the General app against the sandbox; the CLI env configured for it."""
    token_file = tmp / "tokens" / "zoom_oauth.json"
    info = sb.info
    oauth = {
        "api_base_url": info["zoom_api_base_url"],
        "oauth_base_url": info["zoom_oauth_base_url"],
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "redirect_uri": info["redirect_uri"],
    }
    printed: list[str] = []

    def browser(prompt: str) -> str:
        url = next(line.strip() for text in printed for line in text.splitlines() if "/authorize?" in line)
        return requests.get(url, allow_redirects=False, timeout=30).headers["Location"]

    authorize_zoom(
        input_fn=browser,
        print_fn=printed.append,
        account_id="",
        auth="oauth",
        token_file=str(token_file),
        **oauth,
    )
    # the access token from the code exchange has "expired": the next load must rotate
    data = json.loads(token_file.read_text())
    data["expires_at"] = 0
    token_file.write_text(json.dumps(data))
    os.chmod(token_file, 0o600)
    env = env_for(
        tmp,
        None,
        SOURCES__ZOOM__CLIENT_ID=info["client_id"],
        SOURCES__ZOOM__CLIENT_SECRET=info["client_secret"],
        SOURCES__ZOOM__AUTH="oauth",
        SOURCES__ZOOM__API_BASE_URL=info["zoom_api_base_url"],
        SOURCES__ZOOM__OAUTH_BASE_URL=info["zoom_oauth_base_url"],
        SOURCES__ZOOM__DOWNLOAD_HOSTS=json.dumps([info["zoom_download_host"]]),
        SOURCES__ZOOM__START_DATE=info["start_date"],
        SOURCES__ZOOM__PLAN=info["plan"],
    )
    return env, token_file


def refresh_token_in(token_file: Path) -> str:
    return json.loads(token_file.read_text())["refresh_token"]


@pytest.mark.parametrize(
    ("point", "sig", "expected_rc"),
    [
        ("zoom-refresh-persisted", "KILL", -signal.SIGKILL),
        ("zoom-refresh-answered", "TERM", 128 + signal.SIGTERM),  # stopped cleanly, as `kill` asks
        ("zoom-refresh-answered", "INT", 128 + signal.SIGINT),
    ],
)
def test_crash_around_the_refresh_then_the_next_run_authenticates(
    point: str, sig: str, expected_rc: int, tiny: Any, tmp_path: Path
) -> None:
    sb = tiny()
    env, token_file = authorized(sb, tmp_path)
    before = refresh_token_in(token_file)
    crashed = cli(
        ["load", "--source", "zoom"], {**env, "MW_TEST_CRASH_AT": point, "MW_TEST_CRASH_SIGNAL": sig}
    )
    assert crashed.returncode == expected_rc, crashed.stdout + crashed.stderr
    rotated = refresh_token_in(token_file)
    assert rotated != before  # Zoom rotated, and the new token reached the file
    assert rotated in sb.server.state.refresh_tokens  # ...and it is the one Zoom accepts now
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    again = cli(["load", "--source", "zoom"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    with connect(tmp_path / "warehouse" / "meetings.duckdb") as con:
        assert_zoom_equals_truth(con, sb.admin("truth"))
    assert refresh_token_in(token_file) in sb.server.state.refresh_tokens


def test_kill_9_between_zoom_answering_and_the_save_asks_to_authorize_again(
    tiny: Any, tmp_path: Path
) -> None:
    sb = tiny()
    env, token_file = authorized(sb, tmp_path)
    before = refresh_token_in(token_file)
    crashed = cli(["load", "--source", "zoom"], {**env, "MW_TEST_CRASH_AT": "zoom-refresh-answered"})
    assert crashed.returncode == -signal.SIGKILL
    assert refresh_token_in(token_file) == before  # the file is intact (old token), never half-written
    assert before not in sb.server.state.refresh_tokens  # ...but Zoom has already rotated it

    again = cli(["load", "--source", "zoom"], env)
    out = again.stdout + again.stderr
    assert again.returncode == 1
    assert "refresh token was rejected" in out and "python -m pipelines authorize" in out
    for secret in (
        before,
        sb.info["client_secret"],
        *sb.server.state.refresh_tokens,
        *sb.server.state.tokens,
    ):
        assert secret not in out
    assert not list(token_file.parent.glob(".zoom_oauth.json.*.tmp"))  # no temp file left behind
