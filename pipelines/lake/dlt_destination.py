"""dlt's own ``ducklake`` destination (dlt >= 1.31) pointed at the configured lake.

The catalog credentials and S3 keys are handed to dlt as credential objects (dlt marks the ATTACH
statement that carries the PostgreSQL password as secret); nothing is written to config files.

One change to how dlt connects: stock dlt opens a new DuckDB instance for every load job (and for
the load's own client), loads the extensions and ATTACHes the lake there, and DETACHes it when the
job ends: about 0.5 s per job on an idle machine, several seconds each when the jobs of a package
run in parallel on two cores. Here every dlt client takes a session of the process's one attached
instance (:func:`pipelines.lake.connect.session`, the same one the project's own writers use) and
closing it detaches nothing. SQL, transactions, merges and the loader's parallelism are dlt's own.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

from pipelines.lake.connect import RETRY_SETTINGS, install_extensions, session
from pipelines.lake.settings import LakeSettings

# the lakes this process configured, by what dlt's credentials say of them (no secrets in the key)
_LAKES: dict[tuple, LakeSettings] = {}
_LAKES_LOCK = threading.Lock()


def _lake_key(credentials: Any) -> tuple:
    c = credentials.catalog
    where = (c.host, c.port, c.database) if c is not None else None
    return (credentials.ducklake_name, credentials.metadata_schema, where)


@functools.cache
def _classes() -> tuple[type, type]:
    """dlt's DuckLake client and destination factory, their connections taken from :func:`session`."""
    import duckdb
    from dlt.destinations.impl.ducklake.ducklake import DuckLakeClient
    from dlt.destinations.impl.ducklake.factory import ducklake
    from dlt.destinations.impl.ducklake.sql_client import DuckLakeSqlClient
    from dlt.destinations.sql_client import raise_open_connection_error

    class SharedLakeSqlClient(DuckLakeSqlClient):
        _shared = False

        @raise_open_connection_error
        def open_connection(self) -> duckdb.DuckDBPyConnection:
            with _LAKES_LOCK:
                lake = _LAKES.get(_lake_key(self.credentials))
            if lake is None:  # not configured by ducklake_destination: dlt's own way
                self._shared = False
                return super().open_connection()
            con = session(lake)
            try:
                if self.credentials.session_timezone:  # what dlt's pool sets on its connections
                    tz = str(self.credentials.session_timezone).replace("'", "''")
                    con.execute(f"set TimeZone = '{tz}'")
                with contextlib.suppress(duckdb.Error):  # as dlt: the dataset may not exist yet
                    con.execute(f"set search_path = '{self.fully_qualified_dataset_name()}'")
            except BaseException:
                con.close()
                raise
            self._conn, self._shared = con, True
            return con

        def truncate_tables(self, *tables: str) -> None:
            # dlt empties the staging tables before a load with one DELETE per table, each its
            # own DuckLake commit (a round of catalog writes); in one transaction they are one
            if not tables:
                return
            with self.begin_transaction():
                super().truncate_tables(*tables)

        def close_connection(self) -> None:
            if not self._shared:
                return super().close_connection()
            if self._conn is not None:
                try:  # closing a session rolls back what it left open; the lake stays attached
                    self._conn.close()
                finally:
                    self._conn, self._shared = None, False

    class SharedLakeClient(DuckLakeClient):
        def __init__(self, schema: Any, config: Any, capabilities: Any) -> None:
            super().__init__(schema, config, capabilities)
            self.sql_client = SharedLakeSqlClient(
                dataset_name=config.normalize_dataset_name(schema),
                staging_dataset_name=config.normalize_staging_dataset_name(schema),
                credentials=config.credentials,
                capabilities=capabilities,
                override_data_path=config.override_data_path,
                automatic_migration=config.automatic_migration,
            )

    class SharedDuckLake(ducklake):
        @property
        def client_class(self) -> type:
            return SharedLakeClient

        @property
        def destination_type(self) -> str:  # what the pipelines' state records: dlt's ducklake
            return "dlt.destinations.ducklake"

        @classmethod
        def adjust_capabilities(cls, caps: Any, config: Any, naming: Any) -> Any:
            # one load job at a time. In parallel (dlt's choice for a PostgreSQL catalog) the jobs'
            # commits race for the next snapshot id and lose to each other, each retry waiting and
            # replaying the commit; on two cores the package took 1.6x as long as in sequence
            caps = super().adjust_capabilities(caps, config, naming)
            caps.loader_parallelism_strategy = "sequential"
            # dlt runs a job's SQL (a merge: DELETE the staged keys, INSERT the staged rows) in a
            # transaction only when the destination says it has them; dlt's DuckDB capabilities
            # leave that unset, so each statement committed alone: two DuckLake snapshots per
            # merged table, and a reader at the latest snapshot could see the old rows deleted
            # before the new ones arrived. DuckLake transactions cover DML: one commit per merge.
            caps.supports_transactions = True
            return caps

    return SharedLakeClient, SharedDuckLake


def ducklake_destination(lake: LakeSettings) -> Any:
    from dlt.common.configuration.specs import AwsCredentials, ConnectionStringCredentials
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.destinations.impl.ducklake.configuration import DuckLakeCredentials

    install_extensions()  # dlt's ATTACH autoloads ducklake; it must already be installed (offline)
    if lake.is_motherduck:
        catalog = ConnectionStringCredentials({"drivername": "md", "database": lake.catalog["md"]})
    else:
        c = lake.catalog
        catalog = ConnectionStringCredentials(
            {
                "drivername": "postgres",
                "username": c.get("user"),
                "password": lake.catalog_password,
                "host": c.get("host", "localhost"),
                "port": int(c.get("port", 5432)),
                "database": c.get("dbname"),
            }
        )
    if lake.is_s3:
        creds = AwsCredentials()
        creds.aws_access_key_id = lake.aws_access_key_id
        creds.aws_secret_access_key = lake.aws_secret_access_key
        creds.region_name = lake.s3_region or "us-east-1"
        creds.endpoint_url = lake.s3_endpoint_url
        storage = FilesystemConfiguration(bucket_url=lake.data_path.rstrip("/"), credentials=creds)
    else:
        storage = FilesystemConfiguration(bucket_url="file://" + lake.data_path.rstrip("/"))
    credentials = DuckLakeCredentials(
        ducklake_name=lake.name, metadata_schema=lake.metadata_schema, catalog=catalog, storage=storage
    )
    credentials.statements = ["load ducklake", *RETRY_SETTINGS]  # on every connection dlt opens itself
    with _LAKES_LOCK:
        _LAKES[_lake_key(credentials)] = lake
    _, factory = _classes()
    return factory(credentials=credentials)
