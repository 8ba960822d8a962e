"""Progress when nobody watches a terminal: ``make load > load.log``, CI, cron.

The live bar needs a terminal; elsewhere the Zoom load prints a plain line every
``MW_PROGRESS_SECONDS`` (phase, meetings detailed / listed, QoS rows, requests per category), never a
carriage return, each line short enough not to wrap in a log viewer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from _support import cli, env_for

from pipelines.zoom.pipeline import _Progress

LINE = re.compile(
    r"^zoom \d+:\d\d(:\d\d)? (?P<phase>.+?) \| meetings (?P<detailed>[\d,]+)/(?P<listed>[\d,]+) \| "
    r"QoS [\d,]+ \| req L/M/H/RI \d+/\d+/\d+/\d+$"
)


def test_a_load_without_a_terminal_prints_plain_progress_lines(tiny: Any, tmp_path: Path) -> None:
    sandbox = tiny(enforce_rate_limits=False, latency_ms=15)  # a few seconds of requests
    truth = sandbox.admin("truth")
    env = env_for(tmp_path, sandbox.base, MW_PROGRESS_SECONDS="0.5")
    done = cli(["load", "--source", "zoom"], env, timeout=240)  # output captured: no terminal
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "\r" not in out, "a carriage-return progress bar went to a log"
    lines = [line for line in out.splitlines() if line.startswith("zoom ") and " | meetings " in line]
    assert len(lines) >= 2, f"expected periodic progress lines every 0.5 s, got:\n{out[-3000:]}"
    for line in lines:
        assert LINE.match(line), line
        assert len(line) < 100, line
    listed = [int(LINE.match(line)["listed"].replace(",", "")) for line in lines]
    detailed = [int(LINE.match(line)["detailed"].replace(",", "")) for line in lines]
    assert listed == sorted(listed) and detailed == sorted(detailed), "progress went backwards"
    assert max(listed) <= truth["zoom"]["meetings"]
    assert any(d > 0 for d in detailed), "no line while meetings were being detailed"


def test_plain_lines_stay_short_whatever_the_phase_and_numbers() -> None:
    line = _Progress.plain_line(
        "meetings 2026-01-01..2026-02-01 " * 5, 12_345, 23_456, 7_200_000, {"heavy": 30_000}, 3725
    )
    assert line.startswith("zoom 1:02:05 meetings") and "... | meetings 12,345/23,456 |" in line
    assert len(line) < 100 and "\r" not in line and "\n" not in line
    short = _Progress.plain_line("meeting details", 3, 40, 900, {"light": 9, "heavy": 30}, 42)
    assert short == "zoom 0:42 meeting details | meetings 3/40 | QoS 900 | req L/M/H/RI 9/0/30/0"


def test_no_plain_lines_when_the_interval_is_zero(monkeypatch: Any) -> None:
    monkeypatch.setenv("MW_PROGRESS_SECONDS", "0")
    assert _Progress.interval() == 0
    monkeypatch.setenv("MW_PROGRESS_SECONDS", "soon")
    assert _Progress.interval() == _Progress.DEFAULT_INTERVAL
