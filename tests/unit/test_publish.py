"""The serving snapshot: a republish takes only the new rows of the big incremental fact.

Real DuckDB files: a warehouse shaped like the marts (fct_qos_minutes with its key and
_dbt_loaded_at, a small mart), published, changed the way an incremental dbt run changes it
(a minute re-loaded with a new value, new minutes appended, a mart rebuilt), republished.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.publish import publish_snapshot

RUN_1, RUN_2, RUN_3 = "2026-01-01 00:00:00", "2026-01-02 00:00:00", "2026-01-03 00:00:00"


def _warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema analytics")
        con.execute(
            "create table analytics.fct_qos_minutes as "
            "select 'm' || (i % 7) as meeting_uuid, 'p' || (i % 3) as participant_id, "
            "timestamp '2026-01-01' + to_minutes(i) as minute_at, "
            "cast(s as enum('audio_input', 'cpu')) as stream, i * 1.0 as latency_ms, "
            f"timestamp '{RUN_1}' as _dbt_loaded_at "
            "from range(1000) as t(i), (values ('audio_input'), ('cpu')) as v(s)"
        )
        con.execute(
            "create table analytics.fct_meetings as select 'm' || i as meeting_uuid from range(7) as t(i)"
        )


def _same(a: Path, b: Path, table: str) -> bool:
    with duckdb.connect(str(a), read_only=True) as con:
        con.execute(f"attach '{b}' as other (read_only)")
        for x, y in (
            (f"analytics.{table}", f"other.analytics.{table}"),
            (f"other.analytics.{table}", f"analytics.{table}"),
        ):
            if con.execute(
                f"select count(*) from (select * from {x} except all select * from {y})"
            ).fetchone()[0]:
                return False
    return True


def test_republish_refreshes_the_minutes_fact_in_place(tmp_path: Path) -> None:
    wh, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _warehouse(wh)
    first: list[str] = []
    counts = publish_snapshot(wh, serving, schemas=("analytics",), refreshed_in_place=first)
    assert counts == {"analytics.fct_qos_minutes": 2000, "analytics.fct_meetings": 7}
    assert first == []  # nothing to start from: copied whole

    with duckdb.connect(str(wh)) as con:  # what an incremental run does
        # a re-loaded minute: its rows are replaced (same key, new value, new run)
        con.execute(
            "delete from analytics.fct_qos_minutes where minute_at = timestamp '2026-01-01' + to_minutes(10)"
        )
        con.execute(
            "insert into analytics.fct_qos_minutes select 'm3', 'p1', timestamp '2026-01-01' + to_minutes(10), "
            f"s, 999.0, timestamp '{RUN_2}' from (values ('audio_input'), ('cpu')) as v(s)"
        )
        con.execute(
            "insert into analytics.fct_qos_minutes select 'm9', 'p0', timestamp '2026-01-02' + to_minutes(i), "
            f"'cpu', 5.0, timestamp '{RUN_2}' from range(50) as t(i)"
        )
        con.execute("insert into analytics.fct_meetings values ('m9')")
    second: list[str] = []
    counts = publish_snapshot(wh, serving, schemas=("analytics",), refreshed_in_place=second)
    assert second == ["analytics.fct_qos_minutes"]
    assert counts == {"analytics.fct_qos_minutes": 2050, "analytics.fct_meetings": 8}
    assert _same(wh, serving, "fct_qos_minutes") and _same(wh, serving, "fct_meetings")

    with duckdb.connect(str(wh)) as con:  # a full refresh: every row rewritten by a new run
        con.execute(
            f"update analytics.fct_qos_minutes set _dbt_loaded_at = timestamp '{RUN_3}', latency_ms = 1"
        )
    third: list[str] = []
    publish_snapshot(wh, serving, schemas=("analytics",), refreshed_in_place=third)
    assert third == []  # copied whole, cheaper than replacing every row
    assert _same(wh, serving, "fct_qos_minutes")


def test_a_foreign_file_at_the_serving_path_is_replaced_not_reused(tmp_path: Path) -> None:
    wh, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _warehouse(wh)
    with duckdb.connect(str(serving)) as con:
        con.execute("create table stray as select 1 as x")
    done: list[str] = []
    publish_snapshot(wh, serving, schemas=("analytics",), refreshed_in_place=done)
    assert done == []
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert tables == {"fct_qos_minutes", "fct_meetings", "snapshot_info"}
