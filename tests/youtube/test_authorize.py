"""`python -m pipelines authorize youtube`: Google's installed-app flow against the emulator (its
consent endpoint redirects to the loopback server at once; a stand-in browser follows it), the
refresh token stored 0600 in the token folder, no secret printed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from pipelines.paths import ROOT
from pipelines.sandbox.youtube import YouTubeEmulator

# webbrowser runs a BROWSER command and waits for it (a real browser returns at once): open the
# consent URL from a background child, which follows the redirect to the loopback server
BROWSER = """import subprocess, sys, urllib.request
if len(sys.argv) == 2:
    subprocess.Popen([sys.executable, __file__, sys.argv[1], "fetch"])
else:
    urllib.request.urlopen(sys.argv[1], timeout=30).read()
"""


def _env(tmp_path: Path, emulator: YouTubeEmulator, **extra: str) -> dict[str, str]:
    script = tmp_path / "browser.py"
    script.write_text(BROWSER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOUTUBE__", "MW_"))}
    creds = emulator.credentials()
    env.update(
        MW_TOKEN_DIR=str(tmp_path / "tokens"),
        YOUTUBE__CLIENT_ID=creds["client_id"],
        YOUTUBE__CLIENT_SECRET=creds["client_secret"],
        YOUTUBE__TOKEN_URI=emulator.token_uri,
        YOUTUBE__AUTH_URI=f"{emulator.base_url}/o/oauth2/auth",
        REQUESTS_CA_BUNDLE=str(emulator.ca_path),  # the token exchange (requests)
        SSL_CERT_FILE=str(emulator.ca_path),  # the stand-in browser (urllib)
        BROWSER=f"{sys.executable} {script} %s",
        **extra,
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_authorize_youtube_stores_the_refresh_token_0600(tmp_path: Path) -> None:
    with YouTubeEmulator() as emulator:
        env = _env(tmp_path, emulator)
        assert _cli(env, "publish", "--configured").returncode == 1  # no refresh token yet
        done = _cli(env, "authorize", "youtube")
        assert done.returncode == 0, done.stdout + done.stderr
        token = tmp_path / "tokens" / "youtube_refresh_token"
        assert token.read_text() == emulator.credentials()["refresh_token"]
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        secrets = [emulator.credentials()["client_secret"], emulator.credentials()["refresh_token"]]
        assert not [s for s in secrets if s in done.stdout + done.stderr]
        assert _cli(env, "publish", "--configured").returncode == 0  # client + secret + token file


def test_authorize_youtube_without_a_client_names_the_setting(tmp_path: Path) -> None:
    with YouTubeEmulator() as emulator:
        env = _env(tmp_path, emulator)
        del env["YOUTUBE__CLIENT_ID"]
        done = _cli(env, "authorize", "youtube")
        assert done.returncode == 2 and "youtube.client_id" in done.stderr
        assert "Traceback" not in done.stderr
        bad = _cli({**env, "YOUTUBE__PRIVACY_STATUS": "secret"}, "publish", "--configured")
        assert bad.returncode == 2 and "youtube.privacy_status" in bad.stderr
