"""Auto-delete warnings of the recordings pipeline: only for dates still ahead, only for files not
copied yet; and no output calls an already copied file "planned".

The clock is pinned (``MW_NOW`` and the sandbox's ``now``) to a day whose account has recordings
past their ``auto_delete_date`` (Zoom trashes a recording at 00:00 UTC of that date) next to ones
Zoom auto-deletes within the warning window, so the test holds on any day the suite runs.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import recordings_support as rs

from pipelines import embedded
from pipelines.recordings.run import run_recordings
from pipelines.sandbox.account import Account, Scale
from pipelines.sandbox.zoom_api import recording_visibility

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fixtures.calendar import first_clock_where, pin

WARN_DAYS = 7  # [recordings] auto_delete_warn_days default
# a small account over two weeks: recordings made 9-12 days before "now" are past their date
SCALE = dataclasses.replace(Scale.named("tiny"), days=14)


@pytest.fixture(autouse=True)
def _forget_sandbox():
    yield
    embedded.reset()


def _auto_delete_days(account: Account, now: datetime) -> list[tuple[int, int]]:
    """``(days from today to auto_delete_date, number of files)`` of every listed Zoom recording."""
    out = []
    for rec in account.recordings:
        if rec.auto_delete and rec.auto_delete_date and recording_visibility(rec, now) == "available":
            out.append(((rec.auto_delete_date - now.date()).days, len(rec.files)))
    return out


def _has_past_and_soon(account: Account, now: datetime) -> bool:
    days = [d for d, _ in _auto_delete_days(account, now)]
    return any(d <= 0 for d in days) and any(0 < d <= WARN_DAYS for d in days)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "auto-delete" in r.getMessage()
    ]


def _setup(sandbox_factory, tmp_path, monkeypatch, caplog) -> tuple[dict, list[tuple[int, int]], datetime]:
    now = first_clock_where(_has_past_and_soon, scale=SCALE)
    pin(monkeypatch, now)
    sb = sandbox_factory(scale=SCALE, now=now)
    rs.use_sandbox(monkeypatch, sb, tmp_path)
    days = _auto_delete_days(sb.server.state.account, sb.server.state.now())
    kwargs = {"dest": str(tmp_path / "rec"), "plan_from": "api", "date_from": sb.info["start_date"]}
    kwargs |= {"sources": "zoom", "progress": False}
    caplog.set_level(logging.INFO, logger="pipelines.recordings")
    return kwargs, days, now


def test_auto_delete_warnings_only_for_dates_still_ahead(
    sandbox_factory, tmp_path, monkeypatch, caplog, capsys
) -> None:
    kwargs, days, now = _setup(sandbox_factory, tmp_path, monkeypatch, caplog)
    n_soon = sum(n for d, n in days if 0 < d <= WARN_DAYS)
    n_past = sum(n for d, n in days if d <= 0)
    first_soon = min(now.date() + timedelta(days=d) for d, _ in days if 0 < d <= WARN_DAYS)
    assert n_soon and n_past

    dry = run_recordings(**kwargs, dry_run=True)
    out = " ".join(capsys.readouterr().out.split())
    assert dry.expiring_soon == n_soon, (dry.expiring_soon, n_soon, n_past)
    assert dry.past_auto_delete == n_past
    assert dry.expiring_first == first_soon.isoformat()
    assert _warnings(caplog) == [
        f"{n_soon} file(s) of recordings Zoom auto-deletes within {WARN_DAYS} days (first on {first_soon}) are "
        "not copied yet; they come early in the plan"
    ]
    assert (
        f"{n_soon} file(s) not copied yet belong to recordings Zoom auto-deletes soon (first on {first_soon})"
        in out
    )
    assert f"{n_past} file(s) not copied yet belong to recordings whose auto-delete date has passed" in out


def test_files_already_copied_are_neither_warned_nor_listed_to_copy(
    sandbox_factory, tmp_path, monkeypatch, caplog, capsys
) -> None:
    kwargs, days, _now = _setup(sandbox_factory, tmp_path, monkeypatch, caplog)
    n_soon = sum(n for d, n in days if 0 < d <= WARN_DAYS)

    # the copy: the warned files are copied, so the summary has nothing left to warn about
    run = run_recordings(**kwargs)
    out = capsys.readouterr().out
    assert run.ok, run.errors
    assert "planned" not in out and "auto-delete" not in out, out
    assert run.expiring_soon == n_soon and run.expiring_not_copied == 0
    caplog.clear()

    # everything is copied: no warning, nothing "planned", no copied file listed as to copy
    again = run_recordings(**kwargs)
    out = capsys.readouterr().out
    assert again.ok and again.copied == 0 and again.already_copied == run.copied
    assert "planned" not in out and "auto-delete" not in out, out
    assert again.expiring_soon == again.past_auto_delete == 0
    assert _warnings(caplog) == []
    dry_again = run_recordings(**kwargs, dry_run=True)
    out = capsys.readouterr().out
    assert "planned" not in out.lower() and "auto-delete" not in out and ".mp4" not in out, out
    assert dry_again.todo_files == 0 and dry_again.expiring_soon == 0
    assert "planned" not in str(dry_again.as_dict()), dry_again.as_dict()
