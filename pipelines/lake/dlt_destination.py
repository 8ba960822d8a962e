"""dlt's own ``ducklake`` destination (dlt >= 1.31) pointed at the configured lake.

The catalog credentials and S3 keys are handed to dlt as credential objects (dlt marks the ATTACH
statement that carries the PostgreSQL password as secret); nothing is written to config files.
"""

from __future__ import annotations

from typing import Any

from pipelines.lake.connect import RETRY_SETTINGS, install_extensions
from pipelines.lake.settings import LakeSettings


def ducklake_destination(lake: LakeSettings) -> Any:
    import dlt
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
    credentials.statements = ["load ducklake", *RETRY_SETTINGS]  # on every connection dlt opens
    return dlt.destinations.ducklake(credentials=credentials)
