"""The recordings pipeline under ``kill -9`` at random moments, and credentials on foreign hosts.

* 10 trials (seeded): ``run_recordings`` in a child process (a tiny account with one 300 MB file so a
  copy takes a moment), SIGKILL at a random moment, then a normal run in this process. Afterwards
  the destination holds exactly the files the sandbox serves (size and SHA-256, each once), no
  ``.partial`` object is left, the inventory has one ``copied`` row per file and no duplicate key,
  and every folder holding copied files has a ``meta.json`` that lists exactly those files (also the
  folders the killed run had finished, which the rerun finds already copied).
* A Zoom ``download_url`` that points to another host (a bad record served by the sandbox, in the
  listing and in the fresh per-meeting look-up): nothing is sent there with the Zoom token - the
  run refuses that one file with a message naming it, copies the rest, and every request the
  foreign host received (MEETS' signed redirects) carries no credential.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from pipelines.recordings.run import run_recordings
from pipelines.sandbox import Scale
from tests.integration import recordings_support as rs

TRIALS = 10
SEED = 424242


def copied(rows: list[dict], source: str) -> Counter:
    return Counter(
        (r["size"], r["sha256"]) for r in rows if r["source"] == source and r["status"] == "copied"
    )


def assert_exact_copy(sb: Any, warehouse: Path, dest: Path, want: dict[str, Any]) -> None:
    rows = rs.inventory(warehouse)
    assert copied(rows, "zoom") == want["zoom"]
    assert copied(rows, "meets") == want["meets"]
    keys = Counter((r["source"], r["file_key"], r["dest_root"]) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == []
    files = [p for p in rs.local_files(dest) if p.name != "meta.json"]
    assert [p for p in files if p.name.endswith(".partial")] == []  # no half objects
    assert Counter((p.stat().st_size, rs.sha256_file(p)) for p in files) == want["zoom"] + want["meets"]
    assert rs.assert_no_credentials_on_storage(sb) >= 0
    rs.assert_meta_json_current(warehouse, dest)


def test_kill_9_of_the_recordings_pipeline_at_random_moments(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one 300 MB file: the copy must outlast the random kill moments on a fast machine too
    scale = dataclasses.replace(Scale.named("tiny"), big_file_bytes=300_000_000)
    sb = sandbox_factory(scale=scale)
    # what a full copy must give: the sandbox's account at its frozen clock, the same for every
    # trial (hashing the generated 300 MB file takes seconds: once, not once a trial)
    want = rs.expected_files(sb)
    assert sum(want["zoom"].values()) > 1 and max(size for size, _ in want["zoom"]) == 300_000_000
    rng = random.Random(SEED)
    outcomes = []
    for trial in range(TRIALS):
        base = tmp_path / f"t{trial}"
        warehouse = rs.use_sandbox(monkeypatch, sb, base)
        dest = base / "recordings"
        kwargs = {
            "dest": str(dest),
            "plan_from": "api",
            "date_from": sb.info["start_date"],
            "progress": False,
            "max_concurrent": 2,
            "print_summary": False,
        }
        env = {k: os.environ[k] for k in ("MW_SANDBOX_URL", "MW_WAREHOUSE", "MW_STATE_DIR", "MW_TOKEN_DIR")}
        proc = rs.pipeline_subprocess(kwargs, env)
        started = time.monotonic()
        if trial % 2 == 0:  # any moment: start-up, planning, inventory writes, copies
            time.sleep(rng.uniform(0.4, 2.0))
        else:  # once copying has begun: mid-file, at the rename, at meta.json
            while proc.poll() is None and not (dest.exists() and list(dest.rglob("*.partial"))):
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.6))
        kill_after = time.monotonic() - started
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        summary = run_recordings(**kwargs)
        what = f"trial {trial} (kill at {kill_after:.2f}s, killed: {killed})"
        assert summary.ok, (what, summary.errors)
        try:
            assert_exact_copy(sb, warehouse, dest, want)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from exc
        outcomes.append(killed)
        shutil.rmtree(base / "recordings", ignore_errors=True)  # keep the disk footprint to one trial
    assert sum(outcomes) >= TRIALS // 2, outcomes  # most trials were really killed mid-run


def test_a_download_url_on_another_host_never_gets_the_zoom_token(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = sandbox_factory(scale=Scale.named("tiny"))
    foreign = f"{sb.info['storage_url']}/files/1?expires=1&sig=x"
    sb.admin(
        "bad_inputs",
        {
            "mutations": [
                {
                    "name": f"zoom-download-url-elsewhere-{endpoint}",
                    "endpoint": endpoint,
                    "kind": "set",
                    "field": "recording_files.0.download_url"
                    if endpoint == "users/recordings"
                    else "download_url",
                    "value": foreign,
                    "expect": "loaded",
                }
                for endpoint in ("users/recordings", "meetings/recordings")
            ]
        },
    )
    rs.use_sandbox(monkeypatch, sb, tmp_path)
    sb.admin("reset", {})
    summary = run_recordings(
        dest=str(tmp_path / "recordings"),
        plan_from="api",
        date_from=sb.info["start_date"],
        progress=False,
        print_summary=False,
    )
    bad = sb.admin("bad_inputs")
    assert all(b["applied"] for b in bad), bad
    received = rs.storage_requests(sb)
    state = sb.server.state
    for r in received:
        headers = {k.lower(): v for k, v in r["headers"].items()}
        assert "authorization" not in headers and "cookie" not in headers, r
        assert not any(t in str(r) for t in state.tokens), r  # not in the query either
    # the two redirected files are reported as failed (or copied without credentials), never a crash
    # the file whose URL points elsewhere is refused before anything is sent, with a clear message
    assert [r for r in received if r["path"] == "/files/1"] == []
    assert len(summary.errors) == 1 and "Refusing to send Zoom credentials" in summary.errors[0], (
        summary.errors
    )
    assert not any(t in summary.errors[0] for t in state.tokens)
