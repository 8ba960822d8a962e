"""Bad lake settings: one clear line naming the setting, nothing left behind in the catalog.

Also the migration of an existing DuckDB warehouse file into a lake (``warehouse migrate --to-lake``).
"""

from __future__ import annotations

import os
import subprocess

import duckdb
import pytest
from _support import cli, env_for

from tests.lake.conftest import lake_env
from tests.lake.postgres import BIN, PASSWORD, USER, Postgres
from tests.lake.test_lake import environ, lake_con


def catalog_schemas(pg: Postgres) -> set[str]:
    out = subprocess.run(
        [
            str(BIN / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.port),
            "-U",
            USER,
            "-d",
            "lake",
            "-Atc",
            "select schema_name from information_schema.schemata",
        ],
        env={**os.environ, "PGPASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def open_lake(env: dict[str, str]) -> str:
    from pipelines.lake.connect import LakeUnavailable

    with pytest.raises(LakeUnavailable) as err:
        lake_con(env, read_only=False).close()
    return str(err.value)


def test_bad_inputs_name_the_setting_and_leave_nothing(postgres, s3_endpoint, tmp_path) -> None:
    good = lake_env(postgres, s3_endpoint, "bad_inputs")
    # an unreachable catalog (nothing listens on that port)
    closed = {**good, "WAREHOUSE__CATALOG": "postgresql://lake@127.0.0.1:9/lake"}
    msg = open_lake(closed)
    assert msg.startswith("warehouse.catalog: PostgreSQL is not reachable"), msg
    # a wrong password: named, never shown
    wrong = {**good, "WAREHOUSE__CATALOG_PASSWORD": "not-the-password"}
    msg = open_lake(wrong)
    assert msg.startswith("warehouse.catalog_password:") and "not-the-password" not in msg, msg
    # a missing bucket: refused before the catalog is touched
    nobucket = {**good, "WAREHOUSE__DATA_PATH": "s3://no-such-bucket/lake/"}
    msg = open_lake(nobucket)
    assert msg.startswith("warehouse.data_path") and "no-such-bucket" in msg, msg
    assert "bad_inputs" not in catalog_schemas(postgres)  # no partial lake in the catalog
    # a catalog that cannot hold concurrent writers
    from pipelines.lake.settings import WarehouseSettingError, lake_settings

    with (
        environ({**good, "WAREHOUSE__CATALOG": "sqlite:lake.sqlite"}),
        pytest.raises(WarehouseSettingError) as err,
    ):
        lake_settings()
    assert str(err.value).startswith("warehouse.catalog = 'sqlite:lake.sqlite'") and "PostgreSQL" in str(
        err.value
    )
    # the commands say it in one line, before any request, and exit non-zero
    run = cli(["load"], env_for(tmp_path, None, **wrong), timeout=120)
    assert run.returncode != 0
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if "warehouse." in ln]
    assert len(lines) == 1 and lines[0].startswith("load not started: warehouse.catalog_password"), run.stdout
    assert "not-the-password" not in run.stdout + run.stderr
    # and with the right settings the same lake opens
    lake_con(good, read_only=False).close()
    assert "bad_inputs" in catalog_schemas(postgres)


def test_migrate_a_duckdb_warehouse_into_a_lake(postgres, s3_endpoint, sandbox_factory, tmp_path) -> None:
    from pipelines.sandbox import Scale

    sb = sandbox_factory(scale=Scale.named("tiny"))
    env = env_for(tmp_path, sb.base)
    assert cli(["load", "--source", "meets"], env).returncode == 0  # a DuckDB file warehouse
    file = tmp_path / "warehouse" / "meetings.duckdb"
    with duckdb.connect(str(file), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where not temporary order by 1, 2"
        ).fetchall()
        want = {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}
    lake = {k: v for k, v in lake_env(postgres, s3_endpoint, "migrated").items() if k != "MW_WAREHOUSE_KIND"}
    run = cli(["warehouse", "migrate", "--to-lake"], {**env, **lake})
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"migrated {len(want)} tables" in run.stdout
    with lake_con({**env, **lake}) as con:
        got = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in want}
        state = con.execute("select count(*) from meets_raw._dlt_pipeline_state").fetchone()[0]
    assert got == want and state > 0  # every row, and dlt's state to go on incrementally
    again = cli(["warehouse", "migrate", "--to-lake"], {**env, **lake})
    assert again.returncode == 2 and "already holds" in again.stderr  # never mixes two warehouses
    show = cli(["warehouse"], {**env, **lake, "MW_WAREHOUSE_KIND": "ducklake"})
    assert show.returncode == 0 and "warehouse kind: ducklake" in show.stdout and PASSWORD not in show.stdout
