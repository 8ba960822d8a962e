"""Absence is normal: the raw contract holds and every model and test passes when the APIs leave
things out.

* the models read only what ``docs/raw_schema.md`` promises: ``dbt build`` passes on a warehouse
  that holds the contract's tables, empty, with exactly the contract's columns;
* after any load the warehouse has every table and column of the document, with its type, even
  when the APIs never sent the field or the entity had no rows;
* the sandbox's sparse profile (each optional field of each record omitted with a seeded
  probability) at several seeds, and accounts with whole entities missing (no recordings; a MEETS
  domain without course users, attendance or LTI ids; no meetings at all; no MEETS recording yet):
  load, then ``dbt build`` with every test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import embedded, raw_contract
from pipelines.sandbox import SandboxConfig, SandboxServer, Scale
from pipelines.sandbox.profiles import Profile
from pipelines.transform import run_transform

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "warehouse" / "meetings.duckdb"
    for var in [
        v for v in os.environ if v.startswith(("SOURCES__ZOOM__", "SOURCES__MEETS__", "MW_", "SANDBOX_"))
    ]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("MW_WAREHOUSE", str(db))
    monkeypatch.setenv("MW_PIPELINES_DIR", str(tmp_path / "dlt_pipelines"))
    monkeypatch.setenv("MW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MW_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    embedded.reset()
    yield db
    embedded.reset()


def documented_contract() -> dict:
    """The contract as docs/raw_schema.md states it (and it must be the sources' own)."""
    parsed = raw_contract.parse_markdown(raw_contract.DOC.read_text(encoding="utf-8"))
    assert parsed == raw_contract.contract(), (
        "docs/raw_schema.md is stale: python -m pipelines.raw_contract --write-doc"
    )
    return parsed


def load_and_transform(db: Path, monkeypatch: pytest.MonkeyPatch, **sandbox: Any) -> dict[str, Any]:
    from pipelines.meets.pipeline import run_meets_load
    from pipelines.zoom.pipeline import run_zoom_load

    server = SandboxServer(SandboxConfig.from_env(scale=Scale.named("tiny"), **sandbox)).start()
    try:
        monkeypatch.setenv("MW_SANDBOX_URL", server.base_url)
        embedded.reset()
        zoom = run_zoom_load(show=False, progress=False)
        run_meets_load()
    finally:
        server.stop()
    assert zoom.get("stopped") is None, zoom["stopped"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert raw_contract.problems(con, documented_contract()) == []
    assert run_transform(quiet=True) == 0, "dbt build (models and tests) failed"
    return zoom


def test_the_models_read_only_the_documented_contract(warehouse: Path) -> None:
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        raw_contract.create_empty(con, documented_contract())
    assert run_transform(quiet=True) == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from analytics.fct_meetings").fetchone()[0] == 0


@pytest.mark.parametrize(("seed", "probability"), [(1, 0.3), (2, 0.3), (3, 0.6)])
def test_sparse_records_load_and_every_model_passes(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, seed: int, probability: float
) -> None:
    load_and_transform(warehouse, monkeypatch, profile=Profile("sparse", probability, seed))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # the profile really thinned the records: optional fields are null in many raw rows
        missing_os = con.execute(
            "select count(*) from zoom_raw.participant_sessions where os is null"
        ).fetchone()[0]
        assert missing_os > 0
        assert con.execute("select count(*) from analytics.fct_participant_sessions").fetchone()[0] > 0


@pytest.mark.parametrize(
    "empty",
    [
        ("recordings",),  # an account that never records
        ("course_users", "attendance", "lti_ids"),  # a MEETS domain without rosters, attendance or LTI ids
        ("meetings",),  # zero meetings in the window
        ("meets_recordings",),  # a first run before MEETS knows any recording
    ],
    ids=lambda e: "+".join(e),
)
def test_missing_entities_load_and_every_model_passes(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, empty: tuple[str, ...]
) -> None:
    load_and_transform(warehouse, monkeypatch, profile=Profile("full", empty=frozenset(empty)))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        count = lambda t: con.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: E731
        if "recordings" in empty:
            assert count("zoom_raw.recordings") == count("analytics.fct_recording_files") == 0
        if "course_users" in empty:
            assert count("meets_raw.course_users") == count("meets_raw.attendance") == 0
            assert count("meets_raw.users where lti_id_user is not null") == 0
        if "meetings" in empty:
            assert count("zoom_raw.meetings") == count("analytics.fct_meetings") == 0
        if "meets_recordings" in empty:
            assert count("meets_raw.conference_recordings") == 0
