"""dbt on the lake: the ``lake`` target of ``dbt_project/profiles.yml`` reads these variables.

dbt-duckdb runs DuckDB in memory, attaches the lake (``ducklake:postgres:...``) as ``lake`` and
builds the models there. The password and S3 keys are passed as environment variables of this
process only (dbt renders them into DuckDB secrets), never written to a file.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pipelines.lake.connect import install_extensions
from pipelines.lake.settings import LakeSettings


def dbt_env(lake: LakeSettings) -> dict[str, str]:
    """The ``MW_LAKE_*`` variables the ``lake`` profile target reads."""
    install_extensions()  # dbt-duckdb's INSTALL then finds them in DuckDB's extension folder
    env = {
        "MW_LAKE_CATALOG": lake.catalog_dsn(),
        "MW_LAKE_CATALOG_PASSWORD": lake.catalog_password or "",
        "MW_LAKE_DATA_PATH": lake.data_path,
        "MW_LAKE_METADATA_SCHEMA": lake.metadata_schema,
        "MW_LAKE_S3_KEY_ID": lake.aws_access_key_id or "",
        "MW_LAKE_S3_SECRET": lake.aws_secret_access_key or "",
        "MW_LAKE_S3_REGION": lake.s3_region or "us-east-1",
    }
    if lake.s3_endpoint_url:
        ep = urlsplit(lake.s3_endpoint_url)
        env.update(
            MW_LAKE_S3_ENDPOINT=ep.netloc,
            MW_LAKE_S3_USE_SSL="true" if ep.scheme == "https" else "false",
            MW_LAKE_S3_URL_STYLE="path",
        )
    return env
