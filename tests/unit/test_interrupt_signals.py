"""Ctrl-C stops a command even when the process was started with SIGINT ignored.

A parent that ignores SIGINT (a shell's background job, a supervisor, a test runner) passes the
ignored disposition on to its children, and Python keeps it: without :func:`pipelines.interrupt.install`
setting SIGINT explicitly, ``kill -INT`` did nothing and the load ran to the end with exit code 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from pipelines.paths import ROOT

PROBE = (
    "import signal; from pipelines import interrupt; "
    "before = signal.getsignal(signal.SIGINT); interrupt.install(); "
    "print(before == signal.SIG_IGN, signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_an_inherited_ignored_sigint_is_handled_again() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        preexec_fn=_ignore_sigint,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "True"]  # started ignored; Ctrl-C raises KeyboardInterrupt again
