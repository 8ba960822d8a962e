"""One sandbox warehouse and serving snapshot shared by the analysts' e2e tests.

``served()`` builds it once per test session (both ``test_bi_concurrent.py`` and
``test_notebooks.py`` import this module, so the cache is shared): a sandbox at the small scale over
loopback HTTP, then the real commands a user runs, each in its own process with the project's env
vars pointing into a temporary folder:

* ``python -m pipelines load``       (``make load``: the Zoom and MEETS dlt sources)
* ``python -m pipelines transform``  (``make transform``: dbt build, then the serving snapshot)
* ``python -m pipelines recordings --types transcript,cc,chat`` and ``python -m pipelines transcripts``
  (what ``make run`` does after the transform, for the text files only: the copy inventory, the cues
  and the search index), then ``transform --select source:transcripts+`` (the transcript marts) and
  publish, as ``make run`` does

The serving file is wherever the pipeline puts it (``pipelines.paths.serving_path()`` for that
warehouse, ``MW_SERVING`` deliberately unset), so the tests read exactly what a BI tool would.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.paths import ROOT
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale

sys.path.insert(0, str(ROOT))  # `tests.` importable however pytest runs
from tests.fixtures.project_env import isolated_env

SCALE = "small"
LOAD_TIMEOUT = 300


@dataclass
class Served:
    root: Path
    warehouse: Path
    serving: Path
    env: dict[str, str]
    sandbox: SandboxServer
    log: list[str] = field(default_factory=list)
    unpublished_load: bool = False  # a load ran since the last publish (the next one has new data)
    _reports: tuple[tuple[int, int, int], list[Path]] | None = None

    def reports(self) -> list[Path]:
        """``build_reports`` (``make report``) of the published snapshot: built once per snapshot and
        shared by the notebook and offline-report tests (a publish replaces the file: rebuilt)."""
        st = self.serving.stat()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._reports is None or self._reports[0] != key:
            from pipelines.report import build_reports

            out = Path(tempfile.mkdtemp(prefix="reports-", dir=self.root))
            with _env(MW_SERVING=str(self.serving)):
                self._reports = (key, build_reports(out))
        return list(self._reports[1])

    def cli(self, *args: str, timeout: float = LOAD_TIMEOUT, extra_env: dict | None = None):
        """Run ``python -m pipelines <args>`` like ``make`` does; raises with its output on failure."""
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.log.append(f"{' '.join(args)}: exit {proc.returncode} in {time.monotonic() - started:.1f}s")
        if proc.returncode != 0:
            raise AssertionError(
                f"`python -m pipelines {' '.join(args)}` failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def cli_python(self, code: str, timeout: float = LOAD_TIMEOUT):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"`python -c {code!r}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def popen_cli(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def transform(self) -> None:
        """``make transform``: dbt build, then publish the snapshot (the CLI does both)."""
        self.cli("transform")
        self.unpublished_load = False
        if not self.serving.exists():
            raise AssertionError(
                f"`python -m pipelines transform` succeeded but published no snapshot at {self.serving}"
            )

    def advance_clock(self, days: int) -> None:
        """Move the sandbox clock so the next load finds new meetings."""
        offset = self.sandbox.state.config.faults.clock_offset + days * 86400
        self.sandbox.state.set_clock(offset)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables of this process for a while."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_lock = threading.Lock()
_served: Served | None = None


def _cli_commands() -> set[str]:
    from pipelines.cli import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions:  # the sub-commands
        return set(action.choices)
    return set()


def _serving_path(env: dict[str, str]) -> Path:
    out = subprocess.run(
        [sys.executable, "-c", "from pipelines.paths import serving_path; print(serving_path())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def served() -> Served:
    """The shared sandbox warehouse, loaded, transformed and published (built on first use)."""
    global _served
    with _lock:
        if _served is not None:
            return _served
        root = Path(tempfile.mkdtemp(prefix="mw-analysts-"))
        sandbox = SandboxServer(SandboxConfig.from_env(scale=Scale.named(SCALE))).start()

        def cleanup() -> None:
            sandbox.stop()
            shutil.rmtree(root, ignore_errors=True)

        atexit.register(cleanup)
        env = isolated_env(root, sandbox.base_url)
        s = Served(
            root=root,
            warehouse=Path(env["MW_WAREHOUSE"]),
            serving=_serving_path(env),
            env=env,
            sandbox=sandbox,
        )
        s.cli("load")
        s.transform()
        s.cli("recordings", "--types", "transcript,cc,chat", "--no-progress")
        s.cli("transcripts")
        s.cli("transform", "--select", "source:transcripts+")
        _served = s
        return s
