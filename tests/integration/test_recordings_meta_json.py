"""``meta.json`` after runs that could not write it (killed, storage refusing small writes).

A run killed after its copies leaves files and an inventory that agree but no ``meta.json``; the
next run finds every file copied. It must still give every folder that holds copied files a
``meta.json`` listing exactly those files, also where an older ``meta.json`` lists fewer, also for
folders the run itself does not plan, and it must not rewrite the ones that are current.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import recordings_support as rs

from pipelines import embedded
from pipelines.recordings.destination import FsspecDestination
from pipelines.recordings.run import run_recordings
from pipelines.sandbox.account import Scale


@pytest.fixture(autouse=True)
def _forget_sandbox():
    yield
    embedded.reset()


def _metas(dest: Path) -> dict[Path, tuple[int, bytes]]:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in dest.rglob("meta.json")}


def test_a_rerun_after_a_crash_writes_missing_and_stale_meta_json(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = sandbox_factory(scale=dataclasses.replace(Scale.named("tiny"), days=5))
    warehouse = rs.use_sandbox(monkeypatch, sb, tmp_path)
    dest = tmp_path / "recordings"
    kwargs = {"dest": str(dest), "plan_from": "api", "date_from": sb.info["start_date"], "progress": False}
    kwargs |= {"print_summary": False}

    # 1. the Zoom videos only: their folders get a meta.json that lists the videos
    videos = run_recordings(**kwargs, video_only=True, sources="zoom")
    assert videos.ok and videos.copied > 0
    rs.assert_meta_json_current(warehouse, dest)

    # 2. everything, but no meta.json gets written (what kill -9 after the copies leaves): the
    #    videos' meta.json files are now stale, the other folders have none
    real_put_small = FsspecDestination.put_small

    def refuse_meta(self, relative: str, data: bytes) -> None:
        raise OSError(f"simulated crash before {relative}")

    monkeypatch.setattr(FsspecDestination, "put_small", refuse_meta)
    rest = run_recordings(**kwargs)
    assert rest.ok and rest.copied > 0
    with pytest.raises(AssertionError):
        rs.assert_meta_json_current(warehouse, dest)
    folders = rs.folders_with_files(dest)
    without = [f for f in folders if not (f / "meta.json").exists()]
    assert 0 < len(without) < len(folders)  # both cases are there: missing and stale
    monkeypatch.setattr(FsspecDestination, "put_small", real_put_small)

    # 3. a rerun that plans only MEETS finds everything copied; every folder is brought up to date,
    #    the Zoom ones too, with the meeting metadata their plan gave
    meets_only = run_recordings(**kwargs, sources="meets")
    assert meets_only.ok and meets_only.copied == 0 and meets_only.already_copied > 0
    rs.assert_meta_json_current(warehouse, dest)
    for folder in folders:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        assert meta["meeting"].get("host_email"), (folder, meta["meeting"])
        assert meta["source"] in ("zoom", "meets")
        assert "passcode" not in json.dumps(meta).lower()

    # 4. nothing changed: no meta.json is rewritten
    before = _metas(dest)
    again = run_recordings(**kwargs)
    assert again.ok and again.copied == 0
    assert _metas(dest) == before
