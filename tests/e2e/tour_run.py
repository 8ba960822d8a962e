"""``python docs/gen_tour.py --print`` run in the background (see ``conftest.py``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOUR_TEST = "test_docs_match.py::test_the_tour_numbers_are_current"


class TourRun:
    """``python docs/gen_tour.py --print`` in the background (stdout and stderr kept in files)."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MW_", "SANDBOX_", "SOURCES__"))}
        # its own dbt target folder: the e2e tests running meanwhile build with dbt_project/target
        self.target = tempfile.mkdtemp(prefix="mw-tour-dbt-target-")
        env["DBT_TARGET_PATH"] = self.target
        self.stdout = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by stop())
        self.stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.args = [sys.executable, "docs/gen_tour.py", "--print"]
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=env,
            stdout=self.stdout,
            stderr=self.stderr,
            text=True,
            preexec_fn=lambda: os.nice(5),  # the foreground tests first
            start_new_session=True,  # stop() ends its children (load, transform) too
        )

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        outputs = []
        for f in (self.stdout, self.stderr):
            f.seek(0)
            outputs.append(f.read())
        return subprocess.CompletedProcess(self.args, self.proc.returncode, *outputs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.target, ignore_errors=True)
