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


def _transcripts_warehouse(path: Path, said: list[tuple[str, int, str]]) -> None:
    """A warehouse with transcript cues (meeting, cue number, text) and its search index built."""
    from pipelines.transcripts import search, stage

    with duckdb.connect(str(path)) as con:
        stage.ensure_tables(con)
        con.execute("delete from transcripts.cues")
        for meeting, cue, text in said:
            con.execute(
                "insert into transcripts.cues (file_key, cue_index, meeting_uuid, file_type, start_offset_s, "
                "end_offset_s, speaker, text) values (?, ?, ?, 'TRANSCRIPT', ?, ?, 'Ada', ?)",
                [f"f-{meeting}", cue, meeting, cue * 5.0, cue * 5.0 + 4, text],
            )
        search.build_index(con)


def _hits(path: Path, word: str, attach: bool) -> list[tuple]:
    from pipelines.report import open_serving
    from pipelines.transcripts import search

    con = open_serving(path) if attach else duckdb.connect(str(path), read_only=True)
    with con:
        hits = search.search(con, word, limit=100)
    return [(h.meeting_uuid, round(h.score, 9), [(s.cue_index, s.text) for s in h.snippets]) for h in hits]


def test_the_snapshot_carries_the_search_index(tmp_path: Path) -> None:
    """Search can read the snapshot: the documents and the full-text index are published, copied
    again only when the warehouse's index was rebuilt, and dropped when it is gone."""
    wh, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    said = [
        ("m1", 1, "the posterior follows from bayes rule"),
        ("m1", 2, "bayes again, bayes always"),
        ("m2", 1, "a façade of variance"),
        ("m2", 2, "bayes once"),
        ("m3", 1, "nothing to see"),
    ]
    _transcripts_warehouse(wh, said)
    counts = publish_snapshot(wh, serving, schemas=("analytics",))
    assert counts["search.documents"] == len(said)
    for word in ("bayes", "facade", "posterior rule"):
        assert _hits(serving, word, attach=True) == _hits(wh, word, attach=False) != []
    assert [h[0] for h in _hits(serving, "bayes", attach=True)] == ["m1", "m2"]

    with duckdb.connect(str(serving), read_only=True) as con:
        built = con.execute("select built_at from search.index_state").fetchone()
    publish_snapshot(wh, serving, schemas=("analytics",))  # nothing rebuilt: the copy is kept
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select built_at from search.index_state").fetchone() == built

    _transcripts_warehouse(wh, [*said, ("m3", 2, "bayes bayes bayes bayes")])  # a rebuild: copied again
    publish_snapshot(wh, serving, schemas=("analytics",))
    assert {h[0] for h in _hits(serving, "bayes", attach=True)} == {"m1", "m2", "m3"}
    assert _hits(serving, "bayes", attach=True) == _hits(wh, "bayes", attach=False)

    with duckdb.connect(str(wh)) as con:  # docs/transcripts.md's removal
        con.execute("drop schema search cascade")
        con.execute("drop schema fts_search_documents cascade")
    assert "search.documents" not in publish_snapshot(wh, serving, schemas=("analytics",))
    with duckdb.connect(str(serving), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert not schemas & {"search", "fts_search_documents"}


def test_republish_replaces_only_the_touched_meetings_rows(tmp_path: Path) -> None:
    """The per-meeting marts take the rows of the meetings and MEETS events the dbt runs since the
    snapshot recomputed (intermediate.int_meetings__touched_log); a full build is copied whole. From
    the third publish on the snapshot before the current one is brought up to date in place."""
    wh, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute("create schema analytics")
        con.execute("create schema intermediate")
        con.execute(
            "create table analytics.fct_participant_sessions as select 'm' || (i % 5) as meeting_uuid, "
            "case when i % 5 = 0 then null else i % 5 end as meets_event_id, i as n from range(50) as t(i)"
        )
        con.execute(
            "create table intermediate.int_meetings__touched_log as select null::varchar as meeting_uuid, "
            f"null::bigint as meets_event_id, timestamp '{RUN_1}' as run_started_at, true as is_full_build"
        )

    def run(when: str, meetings: list[str], events: list[int], change: str) -> None:
        with duckdb.connect(str(wh)) as con:  # what an incremental dbt run does
            con.execute(change)
            for m in meetings:
                con.execute(
                    "insert into intermediate.int_meetings__touched_log values (?, null, ?, false)", [m, when]
                )
            for e in events:
                con.execute(
                    "insert into intermediate.int_meetings__touched_log values (null, ?, ?, false)", [e, when]
                )

    def publish() -> list[str]:
        done: list[str] = []
        publish_snapshot(wh, serving, schemas=("analytics",), refreshed_in_place=done)
        assert _same(wh, serving, "fct_participant_sessions")
        return done

    assert publish() == []  # nothing to start from
    # meeting m1 recomputed with one row fewer; MEETS event 3's rows replaced with new values
    run(
        RUN_2,
        ["m1"],
        [3],
        "delete from analytics.fct_participant_sessions where meeting_uuid = 'm1' and n = 1",
    )
    run(RUN_2, [], [], "update analytics.fct_participant_sessions set n = n + 1000 where meets_event_id = 3")
    assert publish() == ["analytics.fct_participant_sessions"]
    assert (tmp_path / ".serving.duckdb.previous").exists()
    run(RUN_3, ["m9"], [], "insert into analytics.fct_participant_sessions values ('m9', null, 7)")
    assert publish() == ["analytics.fct_participant_sessions"]  # the retired snapshot, two runs behind
    run(
        "2026-01-04 00:00:00",
        [],
        [],
        "insert into intermediate.int_meetings__touched_log "
        "values (null, null, timestamp '2026-01-04', true)",
    )
    assert publish() == []  # a full build since: copied whole
