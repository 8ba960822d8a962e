"""An interrupted creation of the warehouse file is repaired; anything else is left alone."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse import HEADER_BYTES, NotAWarehouse, repair_interrupted_creation, upgrade_raw_layout


def test_missing_file_is_fine(tmp_path):
    assert repair_interrupted_creation(tmp_path / "w.duckdb") is False


def test_valid_database_is_kept(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 42 as x")
    con.close()
    assert repair_interrupted_creation(path) is False
    assert duckdb.connect(str(path)).execute("select x from t").fetchone() == (42,)


@pytest.mark.parametrize(
    "content", [b"", b"\0" * 100, b"\0" * HEADER_BYTES, b"\x06\xd7o'\xc2\xda\xb3\xb9DUCK" + b"\0" * 50]
)
def test_interrupted_creation_is_removed_and_duckdb_can_start_over(tmp_path, content):
    path = tmp_path / "w.duckdb"
    path.write_bytes(content)
    (tmp_path / "w.duckdb.wal").write_bytes(b"x")
    assert repair_interrupted_creation(path) is True
    assert not path.exists() and not (tmp_path / "w.duckdb.wal").exists()
    duckdb.connect(str(path)).close()  # a fresh warehouse can be created


@pytest.mark.parametrize("content", [b"somebody's spreadsheet" * 2000, b"a small note"])
def test_foreign_file_is_not_deleted(tmp_path, content):
    path = tmp_path / "w.duckdb"
    path.write_bytes(content)
    with pytest.raises(NotAWarehouse, match="not a DuckDB database"):
        repair_interrupted_creation(path)
    assert path.read_bytes() == content


def test_a_warehouse_of_the_earlier_users_layout_is_upgraded_in_place(tmp_path) -> None:
    """Earlier versions keyed zoom_raw.users by a NOT NULL id (Zoom sends none for pending
    users); the upgrade keys it by user_key, keeps every row, and is a no-op the second time."""

    db = tmp_path / "meetings.duckdb"
    with duckdb.connect(str(db)) as con:
        for schema in ("zoom_raw", "zoom_raw_staging"):
            con.execute(f"create schema {schema}")
            con.execute(
                f"create table {schema}.users (id varchar not null, email varchar, _dlt_load_id varchar not null, "
                "_dlt_id varchar not null)"
            )
        con.execute(
            "insert into zoom_raw.users values ('abc', 'A@x.edu', '1', 'r1'), ('', 'B@x.edu ', '1', 'r2')"
        )
    assert upgrade_raw_layout(db) == [
        "zoom_raw.users keyed by user_key",
        "zoom_raw_staging.users keyed by user_key",
    ]
    with duckdb.connect(str(db)) as con:
        assert con.execute("select id, user_key from zoom_raw.users order by 2").fetchall() == [
            ("abc", "abc"),
            ("", "email:b@x.edu"),
        ]
        con.execute("insert into zoom_raw.users values (null, 'c@x.edu', 'email:c@x.edu', '2', 'r3')")
        nullable = dict(
            con.execute(
                "select column_name, is_nullable from information_schema.columns "
                "where table_schema = 'zoom_raw' and table_name = 'users'"
            ).fetchall()
        )
    assert nullable["user_key"] == "NO" and nullable["id"] == "YES"
    assert upgrade_raw_layout(db) == []
    assert upgrade_raw_layout(tmp_path / "absent.duckdb") == []
