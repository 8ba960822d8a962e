"""The pipelines on a DuckLake (PostgreSQL catalog from Debian's binaries + moto S3), writers side by side.

One lake is loaded once for the module: ``load`` and ``recordings`` run at the same time as separate
processes while a reader process attaches the lake again and again; then ``transform`` builds the
marts. Everything is compared with the sandbox's ground truth exactly, as on the DuckDB file. Then a
load killed with SIGKILL while it commits leaves the lake readable and the rerun exact.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from _support import assert_meets_equals_truth, assert_zoom_equals_truth, cli, env_for, popen_cli

from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from tests.fixtures.sandbox_client import SandboxClient
from tests.integration import recordings_support as rs
from tests.lake.conftest import BUCKET, ROOT, lake_env

E2E = "e2e"


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """In-process code (reads, checks) sees the same settings as the CLI processes."""
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("MW_", "WAREHOUSE__", "AWS_"))})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def lake_con(env: dict[str, str], read_only: bool = True) -> duckdb.DuckDBPyConnection:
    from pipelines.lake.connect import connect
    from pipelines.lake.settings import lake_settings

    with environ(env):
        return connect(lake_settings(), read_only=read_only)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxClient]:
    srv = SandboxServer(SandboxConfig.from_env(scale=Scale.named("tiny"))).start()
    try:
        yield SandboxClient(srv)
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_lake(postgres, s3_endpoint, sandbox, tmp_path_factory) -> dict[str, Any]:
    """load + recordings + a reader at once on a new lake, then transform; what each process said."""
    tmp = tmp_path_factory.mktemp("lake")
    env = env_for(
        tmp, sandbox.base, **lake_env(postgres, s3_endpoint, E2E), RECORDINGS__S3_ENDPOINT_URL=s3_endpoint
    )
    lake_con(env, read_only=False).close()  # the lake's catalog is created once, before the writers
    stop = tmp / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "lake" / "reader.py"), str(stop)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    dest = f"s3://{BUCKET}/{E2E}-recordings"
    load = popen_cli(["load"], env)
    recordings = popen_cli(["recordings", "--dest", dest, "--plan-from", "api"], env)
    out = {"load": load.communicate(timeout=400)[0], "recordings": recordings.communicate(timeout=400)[0]}
    codes = {"load": load.returncode, "recordings": recordings.returncode}
    stop.touch()
    out["reader"] = reader.communicate(timeout=60)[0]
    transform = cli(["transform"], env, timeout=400)
    codes["transform"] = transform.returncode
    out["transform"] = transform.stdout + transform.stderr
    return {"env": env, "codes": codes, "out": out, "dest": dest, "tmp": tmp}


def test_load_recordings_and_a_reader_at_once(shared_lake: dict[str, Any]) -> None:
    codes, out = shared_lake["codes"], shared_lake["out"]
    assert codes == {"load": 0, "recordings": 0, "transform": 0}, "\n".join(
        f"--- {name} (exit {codes.get(name)}):\n{text[-4000:]}" for name, text in out.items()
    )
    answers = [json.loads(line) for line in out["reader"].splitlines() if line.startswith("{")]
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, errors[:3]
    assert len(answers) >= 3, "the reader did not get answers while the writers ran"
    assert not [a for a in answers if a["duplicates"]], "a snapshot held duplicate keys"
    # consistent snapshots: a later snapshot never holds fewer rows (the writers only add)
    by_snapshot = sorted(answers, key=lambda a: a["snapshot"])
    for before, after in itertools.pairwise(by_snapshot):
        for table, n in before["counts"].items():
            assert after["counts"].get(table, 0) >= n, (table, before, after)
    seen = {t for a in answers for t in a["counts"]}
    assert {"zoom_raw.meetings", "recordings.inventory"} <= seen, "the reader saw neither writer's rows"


def test_lake_equals_the_sandbox_truth(
    shared_lake: dict[str, Any], sandbox: SandboxClient, monkeypatch
) -> None:
    from tests.e2e import test_transform as e2e

    truth = requests.get(f"{sandbox.base}/_sandbox/truth", timeout=60).json()
    con = lake_con(shared_lake["env"])
    try:
        assert_zoom_equals_truth(con, truth)
        assert_meets_equals_truth(con, truth)
        # the recordings inventory: every downloadable file copied once, with the sandbox's bytes
        want = rs.expected_files(sandbox)
        rows = con.execute(
            "select source, size, sha256 from recordings.inventory where status = 'copied' and dest_root = ?",
            [shared_lake["dest"]],
        ).fetchall()
        from collections import Counter

        assert Counter((s, h) for src, s, h in rows if src == "zoom") == want["zoom"]
        assert Counter((s, h) for src, s, h in rows if src == "meets") == want["meets"]
    finally:
        con.close()
    # the marts, with the e2e suite's own comparison (it opens the warehouse through _connect)
    monkeypatch.setattr(e2e, "_connect", lambda _db: lake_con(shared_lake["env"]))
    e2e.assert_marts_match_truth(Path("lake"), truth, sandbox.server.state.account)
    # readers get the published snapshot: the state the successful transform left
    from pipelines.lake.publish import open_published, published_snapshot
    from pipelines.lake.settings import lake_settings

    with environ(shared_lake["env"]):
        lake = lake_settings()
        assert published_snapshot(lake) is not None
        with open_published(lake) as reader:
            assert reader.execute("select count(*) from analytics.fct_meetings").fetchone()[0] == len(
                truth["meetings"]
            )


def _snapshot(env: dict[str, str]) -> int:
    with lake_con(env) as con:
        return con.execute("select max(snapshot_id) from ducklake_snapshots('lake')").fetchone()[0]


def test_a_rebuild_refills_tables_in_place(
    shared_lake: dict[str, Any], sandbox: SandboxClient, monkeypatch
) -> None:
    """A second ``transform`` deletes and inserts the rows of each table model whose columns are
    unchanged, in one commit, instead of replacing the table: the catalog gains no created or dropped
    table (which every session would have to reload), and the marts still equal the truth."""
    from tests.e2e import test_transform as e2e

    env = shared_lake["env"]
    before = _snapshot(env)
    again = cli(["transform"], env, timeout=400)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    with lake_con(env) as con:
        changes = [
            c
            for (c,) in con.execute(
                "select changes from ducklake_snapshots('lake') where snapshot_id > ?", [before]
            ).fetchall()
        ]
    created = sorted(t for c in changes for t in c.get("tables_created", []))
    assert created == ["main.snapshot_info"], created  # what publish records, nothing of dbt's
    assert sum(len(c.get("tables_dropped", [])) for c in changes) == 1
    # the table models (and the incremental ones) delete their old rows and insert the new ones
    # (if any) in one commit each; small tables' rows are inlined in the catalog
    refilled = [c for c in changes if {"tables_deleted_from", "inlined_delete"} & set(c)]
    assert len(refilled) >= 6, changes
    truth = requests.get(f"{sandbox.base}/_sandbox/truth", timeout=60).json()
    monkeypatch.setattr(e2e, "_connect", lambda _db: lake_con(env))
    e2e.assert_marts_match_truth(Path("lake"), truth, sandbox.server.state.account)


def test_killed_writer_leaves_the_lake_readable_and_the_rerun_exact(
    shared_lake: dict[str, Any], sandbox: SandboxClient
) -> None:
    env = {**shared_lake["env"], "MW_PIPELINES_DIR": str(shared_lake["tmp"] / "fresh_pipelines")}
    # a fresh working folder: dlt restores its state from the lake and reloads, committing table by table
    before = _snapshot(env)
    load = popen_cli(["load", "--source", "meets", "--refresh"], env)
    deadline = time.monotonic() + 120
    while _snapshot(env) < before + 4 and time.monotonic() < deadline and load.poll() is None:
        time.sleep(0.05)
    assert load.poll() is None, "the load ended before it could be killed: " + load.communicate()[0][-2000:]
    os.kill(load.pid, signal.SIGKILL)  # mid-load: some tables committed, others not
    load.wait(timeout=30)
    with lake_con(env) as con:  # readable at once
        assert con.execute("select count(*) from zoom_raw.meetings").fetchone()[0] > 0
        con.execute("select count(*) from meets_raw.conferencing_events").fetchone()
    again = cli(["load", "--source", "meets"], env, timeout=400)
    assert again.returncode == 0, again.stdout + again.stderr
    truth = requests.get(f"{sandbox.base}/_sandbox/truth", timeout=60).json()
    with lake_con(env) as con:
        assert_meets_equals_truth(con, truth)
        assert_zoom_equals_truth(con, truth)
