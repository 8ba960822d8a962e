"""``python -m pipelines warehouse``: show the configured warehouse; migrate a DuckDB file into DuckLake.

``warehouse`` prints which warehouse the commands use (the file or the lake, no secret) and whether
it opens. ``warehouse migrate --to-lake`` copies every table of the DuckDB file (``MW_WAREHOUSE``, or
``--from``) into the lake configured in ``[warehouse]`` (catalog + data_path; ``kind`` may still be
``duckdb`` while migrating), in one DuckLake transaction: the lake holds all of it or none of it.
dlt's state tables travel with the data, so the next load on the lake goes on incrementally where
the file left off. dbt's views are not copied (the next ``make transform`` creates them).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> dict:
    p = subparser(
        sub,
        "warehouse",
        "show the configured warehouse (DuckDB file or DuckLake); migrate a file into a lake",
    )
    actions = p.add_subparsers(dest="warehouse_action")
    text = "copy the DuckDB warehouse file into the DuckLake configured in [warehouse] (one transaction)"
    m = actions.add_parser("migrate", help=text, description=text)
    m.add_argument(
        "--to-lake", action="store_true", required=True, help="the lake of [warehouse] catalog/data_path"
    )
    m.add_argument("--from", dest="source", default=None, help="the DuckDB file (default: MW_WAREHOUSE)")
    return {"warehouse": cmd_warehouse}


def cmd_warehouse(args: argparse.Namespace) -> int:
    from pipelines.lake.connect import LakeUnavailable
    from pipelines.lake.settings import WarehouseSettingError

    try:
        if getattr(args, "warehouse_action", None) == "migrate":
            return migrate_to_lake(Path(args.source) if args.source else None)
        return show()
    except (WarehouseSettingError, LakeUnavailable, MigrationRefused) as exc:
        print(f"warehouse: {exc}", file=sys.stderr)
        return 2


def show() -> int:
    from pipelines import warehouse
    from pipelines.lake.settings import kind

    print(f"warehouse kind: {kind()}")
    print(f"  {warehouse.describe()}")
    if not warehouse.is_lake():
        from pipelines.paths import serving_path, warehouse_path

        path = warehouse_path()
        size = f"{path.stat().st_size / 1e6:,.1f} MB" if path.exists() else "not created yet (`make load`)"
        print(f"  file: {size}; readers use the snapshot {serving_path()}")
        return 0
    from pipelines.lake.publish import published_snapshot

    lake = warehouse.lake_settings()
    with warehouse.connect() as con:
        snapshot = con.execute(f"select max(snapshot_id) from ducklake_snapshots('{lake.name}')").fetchone()[
            0
        ]
        tables = con.execute(
            "select schema_name, count(*) from duckdb_tables() where database_name = ? group by 1 order by 1",
            [lake.name],
        ).fetchall()
    print(f"  snapshot {snapshot}; published for readers: {published_snapshot(lake)}")
    for schema, n in tables:
        print(f"  {schema}: {n} tables")
    return 0


class MigrationRefused(RuntimeError):
    """The migration would mix two warehouses or has nothing to copy."""


def _select_list(con, schema: str, table: str) -> str:
    """Columns of ``src.schema.table``, ENUMs as varchar (DuckLake has no ENUM type)."""
    cols = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = 'src' "
        "and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    out = []
    for name, dtype in cols:
        q = '"' + name.replace('"', '""') + '"'
        out.append(f"cast({q} as varchar) as {q}" if str(dtype).upper().startswith("ENUM") else q)
    return ", ".join(out)


def migrate_to_lake(source: Path | None = None) -> int:
    from pipelines import warehouse
    from pipelines.lake.connect import connect
    from pipelines.lake.settings import lake_settings
    from pipelines.paths import warehouse_path

    source = Path(source or warehouse_path())
    if not source.exists():
        raise MigrationRefused(
            f"no DuckDB warehouse at {source} (MW_WAREHOUSE or --from): nothing to migrate"
        )
    warehouse.upgrade_raw_layout(source)  # the lake starts in the current raw layout
    lake = lake_settings()
    started = time.monotonic()
    con = connect(lake)
    try:
        literal = "'" + source.as_posix().replace("'", "''") + "'"
        try:
            con.execute(f"attach {literal} as src (read_only)")
        except Exception as exc:
            raise MigrationRefused(
                f"{source} cannot be opened read-only ({str(exc).splitlines()[0]}): close the process using it"
            ) from None
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'src' "
            "and not temporary order by 1, 2"
        ).fetchall()
        if not tables:
            raise MigrationRefused(f"{source} holds no tables: nothing to migrate")
        held = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() where database_name = ? "
            "and schema_name in (select unnest(?))",
            [lake.name, sorted({s for s, _ in tables})],
        ).fetchall()
        if held:
            raise MigrationRefused(
                f"the lake ({lake.describe()}) already holds {len(held)} of these tables (e.g. {held[0][0]}): "
                "migrate into an empty lake (another warehouse.metadata_schema / data_path)"
            )
        counts: dict[str, int] = {}
        con.execute("begin")
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f"create table {name} as select {_select_list(con, schema, table)} from src.{name}")
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {name}").fetchone()[0]
        con.execute("commit")  # one DuckLake snapshot: all the tables or none
        wrong = {
            t: (n, m)
            for t, n in counts.items()
            if n
            != (
                m := con.execute(f"select count(*) from src.{t.split('.')[0]}.{t.split('.')[1]}").fetchone()[
                    0
                ]
            )
        }
        con.execute("detach src")
    finally:
        con.close()
    if wrong:
        raise MigrationRefused(f"row counts differ after the copy: {wrong}")
    rows = sum(counts.values())
    print(
        f"migrated {len(counts)} tables ({rows:,} rows) from {source} into {lake.describe()} "
        f"in {time.monotonic() - started:.1f} s"
    )
    print(
        '  next: set [warehouse] kind = "ducklake" (or MW_WAREHOUSE_KIND=ducklake) and run `make transform`; '
        f"the file {source} is left as it was"
    )
    return 0
