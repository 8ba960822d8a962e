"""BI access while the pipeline works: SQLAlchemy + duckdb-engine (what Superset uses) on the snapshot.

The sandbox warehouse is loaded, transformed and published (``analytics_snapshot.served``). Then a
second ``python -m pipelines load`` runs in a subprocess (the sandbox clock moved a day, so it
writes new rows into the warehouse) and, while it runs, the test connects to the serving file the
way Superset does (``duckdb:///<path>`` with ``read_only``), lists the marts and runs every query of
``docs/example_queries.sql``: the answers must be those of before the load. Finally the transform
re-publishes the snapshot (atomic rename) while a reader connection is open: that reader keeps
seeing its consistent old snapshot, a new connection sees the new data.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from pipelines.report import example_queries

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.e2e.analytics_snapshot import Served, served

MARTS = {
    "dim_users",
    "dim_courses",
    "dim_meeting_series",
    "fct_meetings",
    "fct_participant_sessions",
    "fct_qos_minutes",
    "fct_meeting_quality",
    "fct_participant_quality",
    "fct_recording_files",
}
# no example query may come back empty, and these columns must hold plausible values
PLAUSIBLE = {
    "meetings_by_department": lambda rows: all(r[1] > 0 and r[2] > 0 for r in rows),
    "quality_issue_share": lambda rows: rows[0][0] > 0 and all(0 <= v <= 1 for v in rows[0][1:]),
    "audio_problems_by_network": lambda rows: all(r[1] > 0 and r[2] >= r[1] and 0 <= r[3] <= 1 for r in rows),
    "rejoin_rate_by_device": lambda rows: all(0 <= r[2] <= r[1] and 0 <= r[3] <= 1 for r in rows),
    "recording_storage_by_host": lambda rows: all(r[1] > 0 and r[2] >= r[3] >= 0 for r in rows),
}


@pytest.fixture(scope="module")
def snapshot() -> Served:
    return served()


def engine_for(path: Path) -> Engine:
    """Exactly the Superset recipe of docs/bi.md: the URI plus engine params {"connect_args": {"read_only": true}}."""
    return create_engine(f"duckdb:///{path}", connect_args={"read_only": True})


@contextmanager
def bi_connection(path: Path) -> Iterator:
    engine = engine_for(path)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def run_examples(conn) -> dict[str, list[tuple]]:
    return {
        name: [tuple(r) for r in conn.execute(text(sql)).fetchall()]
        for name, sql in example_queries().items()
    }


def test_example_queries_are_plausible(snapshot: Served) -> None:
    assert len(example_queries()) == 5
    with bi_connection(snapshot.serving) as conn:
        results = run_examples(conn)
    for name, rows in results.items():
        assert rows, f"example query {name} returned nothing"
        assert PLAUSIBLE[name](rows), f"example query {name} returned implausible rows: {rows[:5]}"


def _relations(engine: Engine) -> set[str]:
    """Tables and views of the analytics schema, as a BI tool lists them (fct_qos_minutes is a view)."""
    inspector = inspect(engine)
    return set(inspector.get_table_names(schema="analytics")) | set(
        inspector.get_view_names(schema="analytics")
    )


def test_sqlalchemy_reads_while_a_load_runs(snapshot: Served) -> None:
    engine = engine_for(snapshot.serving)
    try:
        tables_before = _relations(engine)
        assert tables_before >= MARTS, f"marts missing from the snapshot: {MARTS - tables_before}"
        with engine.connect() as conn:
            before = run_examples(conn)
    finally:
        engine.dispose()

    snapshot.advance_clock(days=1)  # the next load finds a new day of meetings
    loader = snapshot.popen_cli("load")
    snapshot.unpublished_load = True
    rounds_during_load = 0
    try:
        while True:
            alive_before = loader.poll() is None
            # a BI tool's pattern: a fresh engine/connection, introspection, then the queries
            engine = engine_for(snapshot.serving)
            try:
                tables = _relations(engine)
                with engine.connect() as conn:
                    during = run_examples(conn)
            finally:
                engine.dispose()
            alive_after = loader.poll() is None
            assert tables == tables_before
            assert during == before, "the snapshot changed under a reader while the load ran"
            if alive_before and alive_after:
                rounds_during_load += 1
            if not alive_after:
                break
            time.sleep(0.05)
        output = loader.stdout.read() if loader.stdout else ""
    finally:
        if loader.poll() is None:
            loader.kill()
        loader.wait(timeout=60)
    assert loader.returncode == 0, f"the concurrent load failed:\n{output[-3000:]}"
    assert rounds_during_load >= 1, "the load ended before a single round of queries: nothing was concurrent"
    assert "meetings" in output  # the load reported what it wrote


def fresh_process_read(path: Path, sql: str):
    """One scalar through SQLAlchemy from another process (another BI client, or a new Superset worker).

    Within one process DuckDB shares a database instance per file: while any connection to the old
    snapshot is open there, a new connection to the same path gets that same old instance.
    """
    code = (
        "import sys; from sqlalchemy import create_engine, text; "
        "e = create_engine('duckdb:///' + sys.argv[1], connect_args={'read_only': True}); "
        "c = e.connect(); print(c.execute(text(sys.argv[2])).scalar()); c.close(); e.dispose()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), sql], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip()


def test_republish_keeps_open_readers_consistent(snapshot: Served) -> None:
    published_sql = "select max(published_at)::varchar from main.snapshot_info"
    meetings_sql = "select count(*) from analytics.fct_meetings"
    new_data = snapshot.unpublished_load
    with bi_connection(snapshot.serving) as old_reader:
        before = run_examples(old_reader)
        meetings_before = old_reader.execute(text(meetings_sql)).scalar()
        published_before = old_reader.execute(text(published_sql)).scalar()

        snapshot.transform()  # dbt build + publish: the serving file is replaced by a rename

        # the open connection still reads its whole, consistent old snapshot
        assert run_examples(old_reader) == before
        assert old_reader.execute(text(meetings_sql)).scalar() == meetings_before
        assert old_reader.execute(text(published_sql)).scalar() == published_before
        # ... while another process opening the file now gets the new one
        assert fresh_process_read(snapshot.serving, published_sql) > published_before
        meetings_elsewhere = int(fresh_process_read(snapshot.serving, meetings_sql))
        assert meetings_elsewhere > meetings_before if new_data else meetings_elsewhere == meetings_before

    # once this process's old connections are closed, it reconnects to the new snapshot too
    with bi_connection(snapshot.serving) as new_reader:
        assert new_reader.execute(text(published_sql)).scalar() > published_before
        assert new_reader.execute(text(meetings_sql)).scalar() == meetings_elsewhere
        after = run_examples(new_reader)
    for name, rows in after.items():
        assert rows and PLAUSIBLE[name](rows), f"example query {name} after re-publishing: {rows[:5]}"
