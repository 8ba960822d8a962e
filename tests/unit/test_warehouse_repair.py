"""An interrupted creation of the warehouse file is repaired; anything else is left alone."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse import HEADER_BYTES, NotAWarehouse, repair_interrupted_creation


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
