"""The marimo notebooks run as scripts against the sandbox snapshot, and `make report` exports them.

Every notebook in ``notebooks/`` is executed as ``python notebooks/<name>.py`` (marimo runs all
cells; a failing cell, or an altair chart that does not validate, exits non-zero) with ``MW_SERVING``
pointing at the snapshot that ``make load`` + ``make transform`` published from the sandbox
(``analytics_snapshot.served``). The recordings notebook also runs on a snapshot with a real
recordings inventory (``python -m pipelines recordings`` for the chat files, then a publish).
``build_reports`` must produce one HTML file per notebook with the vega-lite specs of its plots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.paths import ROOT
from pipelines.report import NOTEBOOKS, NOTEBOOKS_DIR, build_reports, plot_specs

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.e2e.analytics_snapshot import Served, served

# plots each notebook must render (a branch that only shows a note does not count)
MIN_PLOTS = {"quality_overview": 4, "participant_experience": 6, "recordings": 2, "transcripts": 3}


@pytest.fixture(scope="module")
def snapshot() -> Served:
    return served()


def run_notebook(name: str, serving: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MW_")}
    env["MW_SERVING"] = str(serving)
    return subprocess.run(
        [sys.executable, str(NOTEBOOKS_DIR / f"{name}.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_notebook_is_listed() -> None:
    on_disk = {p.stem for p in NOTEBOOKS_DIR.glob("*.py") if not p.name.startswith("_")}
    assert on_disk == set(NOTEBOOKS), "pipelines.report.NOTEBOOKS must list every notebook (make report)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_as_a_script(snapshot: Served, name: str) -> None:
    proc = run_notebook(name, snapshot.serving)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert "No serving snapshot" not in proc.stderr


def test_notebooks_explain_a_missing_snapshot(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "analytics.duckdb"
    for name in NOTEBOOKS:
        proc = run_notebook(name, missing)
        assert proc.returncode == 0, f"{name}:\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr
        assert f"No serving snapshot at {missing}" in proc.stderr and "make run" in proc.stderr


def test_build_reports_exports_html_with_plots(snapshot: Served) -> None:
    files = snapshot.reports()  # build_reports of the snapshot (test_reports_offline opens the same files)
    assert [f.name for f in files] == [f"{n}.html" for n in NOTEBOOKS]
    assert (files[0].parent / "index.html").exists()
    for name, path in zip(NOTEBOOKS, files, strict=True):
        specs = plot_specs(path.read_text(encoding="utf-8"))
        assert len(specs) >= MIN_PLOTS[name], f"{name}: {len(specs)} plots"
        for spec in specs:
            assert "vega-lite" in spec["$schema"]
            # the data travels inside the spec (a static report needs no database), and is not empty
            datasets = spec.get("datasets") or {}
            assert datasets and all(len(rows) > 0 for rows in datasets.values()), (
                f"{name}: a plot without data"
            )


def test_recordings_notebook_with_an_inventory(snapshot: Served, tmp_path: Path) -> None:
    """`make recordings` (chat files only, to stay quick) writes the inventory; publish; the notebook shows it."""
    if _has_recordings_cli():
        snapshot.cli("recordings", "--types", "chat", "--no-progress")
    else:  # until the CLI has `recordings`: the library call it makes
        snapshot.cli_python(
            "from pipelines.recordings import run_recordings; "
            "s = run_recordings(types='chat', progress=False); raise SystemExit(0 if s.ok else 1)"
        )
    serving = tmp_path / "with_inventory.duckdb"
    snapshot.cli_python(
        f"from pathlib import Path; from pipelines.publish import publish_snapshot; "
        f"c = publish_snapshot(target=Path({str(serving)!r})); assert c.get('recordings.inventory'), c"
    )
    proc = run_notebook("recordings", serving)
    assert proc.returncode == 0, proc.stderr[-4000:]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MW_SERVING", str(serving))
        (path,) = build_reports(tmp_path / "reports", notebooks=("recordings",))
    html = path.read_text(encoding="utf-8")
    specs = plot_specs(html)
    assert len(specs) >= 3, "storage, auto-delete and copy-status plots expected"
    assert any("Files by status" in json.dumps(spec) for spec in specs), "no copy-status plot"
    assert "No recordings inventory" not in html  # the report carries outputs, not the notebook's code


def test_transcripts_notebook_without_transcripts(snapshot: Served, tmp_path: Path) -> None:
    """With the transcripts stage off (or not run yet) the marts are empty and there is no search
    index: the notebook says so, and `make report` still exports it."""
    import duckdb

    serving = tmp_path / "no_transcripts.duckdb"
    serving.write_bytes(snapshot.serving.read_bytes())
    with duckdb.connect(str(serving)) as con:
        con.execute("delete from analytics.fct_transcript_segments")
        con.execute("delete from analytics.fct_meeting_talk_time")
        con.execute("drop schema if exists fts_search_documents cascade")
        con.execute("drop schema if exists search cascade")
    proc = run_notebook("transcripts", serving)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-4000:]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MW_SERVING", str(serving))
        (path,) = build_reports(tmp_path / "reports", notebooks=("transcripts",))
    html = path.read_text(encoding="utf-8")
    assert "No transcript, captions or chat in this snapshot yet" in html
    assert plot_specs(html) == []


def _has_recordings_cli() -> bool:
    from tests.e2e.analytics_snapshot import _cli_commands

    return "recordings" in _cli_commands()
