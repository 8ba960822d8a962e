"""The Dagster stack of ``python -m pipelines orchestrate``, started once per session when a stack
test is selected, early, so that its wait for the next cron minute overlaps the other tests (under
pytest-xdist: when the stack test asks for it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `tests.` importable however pytest runs
from tests.fixtures.project_env import isolated_env  # noqa: E402


class RunningStack:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines", "orchestrate", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def processes(self) -> list[int]:
        """Every live process started for this stack (they all carry its DAGSTER_HOME)."""
        mine = f"DAGSTER_HOME={self.home}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if (entry / "stat").read_text().split(") ")[-1].split()[0] == "Z":
                    continue
                if mine in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def kill(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)


# Under pytest-xdist every worker sees every selected test: the stack starts where the stack test
# runs, when it asks for it, not on every worker.
XDIST = "PYTEST_XDIST_WORKER" in os.environ


@pytest.fixture(scope="session", autouse=not XDIST)
def dagster_stack(request) -> Iterator[RunningStack | None]:
    if not any("test_orchestrate_stack" in item.nodeid for item in request.session.items):
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="mw-dagster-"))
    env = isolated_env(
        tmp,
        drop=("RECORDINGS__", "ORCHESTRATE__", "DAGSTER_", "PYTEST_"),
        MW_DAGSTER_HOME=str(tmp / "dagster"),
        # the doctor every minute; the loads and the copy never within a test
        ORCHESTRATE__DOCTOR_CRON="* * * * *",
        ORCHESTRATE__LOAD_CRON="0 0 1 1 *",
        ORCHESTRATE__RECORDINGS_CRON="0 0 1 1 *",
        ORCHESTRATE__STOP_TIMEOUT_SECONDS="5",
    )
    stack = RunningStack(tmp / "dagster", env)
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                stack.proc.wait(timeout=15)
        stack.kill()
        shutil.rmtree(tmp, ignore_errors=True)
