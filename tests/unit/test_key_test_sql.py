"""dbt_project/macros/tests/unique_not_null.sql (dbt's ``unique`` and ``not_null`` in one query),
rendered with Jinja as dbt renders a generic test (a ``{% test %}`` block is a macro) and run in an
in-memory DuckDB: it must fail on exactly what the two tests it replaces failed on."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

MACRO = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "tests" / "unique_not_null.sql"


def _failures(values: list[object]) -> list[tuple]:
    text = re.sub(r"{%\s*endtest\s*%}", "{% endmacro %}", MACRO.read_text())
    text = re.sub(r"{%\s*test\s+", "{% macro ", text)
    module = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).module
    sql = module.unique_not_null(model="keys", column_name="k")
    con = duckdb.connect()
    con.execute("create table keys (k integer, other varchar)")
    if values:
        con.executemany("insert into keys values (?, 'x')", [[v] for v in values])
    repeated = con.execute(  # what dbt's unique and not_null select
        "select count(*) from (select k from keys where k is not null group by k having count(*) > 1)"
    ).fetchone()[0]
    nulls = con.execute("select count(*) from keys where k is null").fetchone()[0]
    dbt_failed = repeated > 0 or nulls > 0
    rows = sorted(con.execute(sql).fetchall(), key=str)
    assert bool(rows) == dbt_failed  # fails exactly when dbt's unique or not_null would
    return rows


def test_distinct_keys_pass() -> None:
    assert _failures([1, 2, 3]) == []
    assert _failures([]) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 2, 3], [(2, 2)]),  # a repeated key, with how often it occurs
        ([1, None, 3], [(None, 1)]),  # a null key
        ([None, None, 1, 1, 1, 2], [(1, 3), (None, 2)]),  # both: every null counted in one row
    ],
)
def test_repeated_and_null_keys_fail(values: list[object], expected: list[tuple]) -> None:
    assert _failures(values) == sorted(expected, key=str)
