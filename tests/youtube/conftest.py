"""One sandbox warehouse for the publish tests, built once per session by `python -m pipelines run`
(`make run`: load + transform + recordings + publish, the tiny account over eight days) with the YouTube emulator
configured as the channel; each other test publishes from its own copy of it (publish state
emptied) to its own emulator over TLS on loopback."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.paths import ROOT
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.sandbox.youtube import Faults, YouTubeEmulator

sys.path.insert(0, str(ROOT))  # `tests.` importable however pytest runs
from tests.fixtures.project_env import isolated_env


@dataclass
class Built:
    root: Path
    env: dict[str, str]
    emulator: YouTubeEmulator
    run: subprocess.CompletedProcess

    @property
    def warehouse(self) -> Path:
        return Path(self.env["MW_WAREHOUSE"])


def channel_env(emulator: YouTubeEmulator) -> dict[str, str]:
    """The emulator configured as the channel, as a user would configure a real one."""
    creds = emulator.credentials()
    return {
        "YOUTUBE__CLIENT_ID": creds["client_id"],
        "YOUTUBE__CLIENT_SECRET": creds["client_secret"],
        "YOUTUBE__REFRESH_TOKEN": creds["refresh_token"],
        "YOUTUBE__API_ENDPOINT": emulator.api_endpoint,
        "YOUTUBE__TOKEN_URI": emulator.token_uri,
        "YOUTUBE__CA_CERTS": str(emulator.ca_path),
        "YOUTUBE__CHUNK_SIZE_KIB": "256",
        "YOUTUBE__DAILY_QUOTA_UNITS": str(10**9),
    }


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("yt_base")
    # the tiny account over eight days: a handful of meetings with video files, 2 chunks each at 256 KiB
    scale = dataclasses.replace(Scale.named("tiny"), days=8)
    sandbox = SandboxServer(SandboxConfig.from_env(scale=scale)).start()
    env = isolated_env(
        root,
        sandbox.base_url,
        drop=("YOUTUBE__", "RECORDINGS__"),
        keep=("MW_NOW", "SANDBOX_NOW"),  # a pinned clock (the calendar matrix) reaches the commands
        TRANSCRIPTS__ENABLED="false",
    )
    emulator = YouTubeEmulator(Faults(daily_quota=10**9)).start()
    env.update(channel_env(emulator))
    try:
        # `make run` with a channel configured: load + transform + recordings + publish
        run = run_cli(env, "run", timeout=600)
        yield Built(root, env, emulator, run)
    finally:
        emulator.stop()
        sandbox.stop()


@dataclass
class Stage:
    env: dict[str, str]
    warehouse: Path
    emulator: YouTubeEmulator

    def publish(
        self, *args: str, check: bool = True, extra: dict | None = None
    ) -> subprocess.CompletedProcess:
        return run_cli({**self.env, **(extra or {})}, "publish", *args, check=check)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines", "publish", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def stage(built: Built, tmp_path: Path) -> Iterator[Stage]:
    """A copy of the built warehouse + a fresh emulator configured as the channel."""
    warehouse = tmp_path / "warehouse" / "meetings.duckdb"
    warehouse.parent.mkdir(parents=True)
    shutil.copy(built.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:  # nothing published yet, on a new channel
        con.execute("delete from youtube.publications; delete from youtube.quota")
    emulator = YouTubeEmulator(Faults(daily_quota=10**9)).start()
    env = {
        **built.env,
        "MW_WAREHOUSE": str(warehouse),
        "MW_STATE_DIR": str(tmp_path / "state"),
        **channel_env(emulator),
    }
    yield Stage(env, warehouse, emulator)
    emulator.stop()
