"""Fixtures of the lake suite: one PostgreSQL server (Debian's binaries) and one moto S3 server per
session, and a fresh lake (own catalog schema, own bucket prefix) per use."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from tests.integration.recordings_support import start_moto  # noqa: E402
from tests.lake.postgres import PASSWORD, Postgres, start_postgres  # noqa: E402

BUCKET = "lake-tests"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = start_postgres()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    proc, endpoint = start_moto()
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def lake_env(
    pg: Postgres, endpoint: str, name: str, *, bucket: str = BUCKET, password: str = PASSWORD
) -> dict[str, str]:
    """The ``[warehouse]`` settings of a lake called ``name`` as env vars (secrets included)."""
    return {
        "MW_WAREHOUSE_KIND": "ducklake",
        "WAREHOUSE__CATALOG": f"postgresql://lake@127.0.0.1:{pg.port}/lake",
        "WAREHOUSE__CATALOG_PASSWORD": password,
        "WAREHOUSE__METADATA_SCHEMA": name,
        "WAREHOUSE__DATA_PATH": f"s3://{bucket}/{name}/",
        "WAREHOUSE__S3_ENDPOINT_URL": endpoint,
        "WAREHOUSE__S3_REGION": "us-east-1",
        "WAREHOUSE__CREDENTIALS__AWS_ACCESS_KEY_ID": "test",
        "WAREHOUSE__CREDENTIALS__AWS_SECRET_ACCESS_KEY": "test-secret-key",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
