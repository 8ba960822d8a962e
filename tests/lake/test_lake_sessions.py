"""One attached DuckDB instance per process: dlt's load jobs and the project's writers take sessions of it.

A new DuckDB instance costs ~0.4 s (extension signatures) before its ATTACH, and dlt's own ``ducklake``
destination opened one per load job (docs/scale-out.md, *What it costs*). A table in the instance's
in-memory ``memory`` database is seen by every session of that instance and by no other instance: it
tells whether dlt's connections and ours are sessions of the same one, and whether closing them left
the lake attached.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.lake.conftest import lake_env
from tests.lake.test_lake import environ


def test_dlt_and_the_project_share_one_attached_instance(postgres, s3_endpoint, tmp_path) -> None:
    import dlt

    from pipelines.lake.connect import close_sessions, connect
    from pipelines.lake.dlt_destination import ducklake_destination
    from pipelines.lake.settings import lake_settings

    with environ(lake_env(postgres, s3_endpoint, "sessions")):
        lake = lake_settings()
    close_sessions()
    try:
        first = connect(lake)
        first.execute("create table memory.main.instance_probe as select 42 as answer")
        first.close()
        pipeline = dlt.pipeline(
            "sessions_probe",
            destination=ducklake_destination(lake),
            dataset_name="probe",
            pipelines_dir=str(tmp_path / "dlt"),
        )
        pipeline.run(
            [{"id": i} for i in range(3)], table_name="rows", write_disposition="merge", primary_key="id"
        )
        pipeline.run(
            [{"id": i} for i in range(2, 5)], table_name="rows", write_disposition="merge", primary_key="id"
        )
        with pipeline.sql_client() as client:  # dlt's connection: a session of the same instance
            assert client.execute_sql("select answer from memory.main.instance_probe") == [(42,)]
            assert client.execute_sql("select count(*) from rows") == [(5,)]
        # dlt closed its sessions without detaching: ours still reads the lake and the probe
        con = connect(lake)
        assert con.execute("select answer from memory.main.instance_probe").fetchall() == [(42,)]
        assert con.execute("select id from probe.rows order by id").fetchall() == [(i,) for i in range(5)]
        # the second merge (delete the staged keys, insert the staged rows) was one commit: no
        # snapshot of probe.rows has its delete without its insert (a reader never saw rows 2-4 gone)
        meta = f'"__ducklake_metadata_{lake.name}"."{lake.metadata_schema}"'
        (rows_id,) = con.execute(
            f"select t.table_id from {meta}.ducklake_table t join {meta}.ducklake_schema s using (schema_id) "
            "where s.schema_name = 'probe' and t.table_name = 'rows' and t.end_snapshot is null"
        ).fetchone()
        touched = [
            {kind for kind, ids in changes.items() if str(rows_id) in ids}
            for (changes,) in con.execute(f"select changes from ducklake_snapshots('{lake.name}')").fetchall()
        ]
        deletes = [kinds for kinds in touched if kinds & {"tables_deleted_from", "inlined_delete"}]
        assert len(deletes) == 1, touched
        assert deletes[0] & {"tables_inserted_into", "inlined_insert"}, touched
        con.close()
        # a read at the latest snapshot, once the process has the lake attached, is a session too
        latest = connect(lake, read_only=True)
        assert latest.execute("select answer from memory.main.instance_probe").fetchall() == [(42,)]
        snapshot = latest.execute(
            f"select max(snapshot_id) from ducklake_snapshots('{lake.name}')"
        ).fetchone()[0]
        latest.close()
        # a reader at a snapshot opens its own instance: the probe is not there
        reader = connect(lake, read_only=True, snapshot=snapshot)
        with pytest.raises(duckdb.CatalogException):
            reader.execute("select * from memory.main.instance_probe")
        assert reader.execute("select id from probe.rows order by id").fetchall() == [(i,) for i in range(5)]
        reader.close()
    finally:
        close_sessions()
