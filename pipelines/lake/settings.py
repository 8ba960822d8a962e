"""``[warehouse]``: which warehouse the pipelines write, the DuckDB file (default) or a DuckLake.

```toml
[warehouse]
kind = "ducklake"                                   # "duckdb" (default): the file MW_WAREHOUSE
catalog = "postgresql://loader@db.internal:5432/lake"  # PostgreSQL holding the lake's catalog
data_path = "s3://my-bucket/lake/"                  # Parquet files: s3://..., or a local folder
# metadata_schema = "lake"                          # PostgreSQL schema of the catalog tables
# s3_endpoint_url = "https://minio.internal:9000"   # S3-compatible storage other than AWS
# s3_region = "eu-central-1"
```
Secrets go to ``.dlt/secrets.toml`` (``[warehouse] catalog_password``, ``[warehouse.credentials]
aws_access_key_id / aws_secret_access_key``) or env vars (``WAREHOUSE__CATALOG_PASSWORD``,
``WAREHOUSE__CREDENTIALS__AWS_SECRET_ACCESS_KEY``...), read through dlt's providers like every other
setting of the project. ``MW_WAREHOUSE_KIND`` overrides ``kind`` (handy for one command).

Only a PostgreSQL catalog is accepted: it is the one that holds several writers at once (a SQLite
catalog lost commits to "database is locked"; a DuckDB-file catalog cannot be attached by a second
process while a writer holds it). A MotherDuck catalog (``md:<database>``) is passed through to
DuckLake as is; it is untested here (no network).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SECTION = "warehouse"
KINDS = ("duckdb", "ducklake")


class WarehouseSettingError(ValueError):
    """A ``[warehouse]`` setting cannot be used; the message names it and says what would work."""


def _lookup(key: str, secret: bool = False) -> Any:
    import dlt

    for accessor in (dlt.secrets,) if secret else (dlt.config, dlt.secrets):
        try:
            value = accessor.get(f"{SECTION}.{key}")
        except Exception:  # an unparsable toml: the doctor's file check explains
            value = None
        if value not in (None, ""):
            return value
    return None


def _origin(key: str) -> str:
    from pipelines.settings_check import _toml_tables

    env = f"{SECTION}__{key}".upper().replace(".", "__")
    if env in os.environ:
        return f"env {env}"
    for name, doc in _toml_tables().items():
        if key.split(".")[-1] in (doc.get(SECTION) or {}):
            return name
    return "default"


def kind() -> str:
    """``duckdb`` or ``ducklake`` (``MW_WAREHOUSE_KIND``, else ``warehouse.kind``, else ``duckdb``)."""
    raw = os.environ.get("MW_WAREHOUSE_KIND") or _lookup("kind") or "duckdb"
    value = str(raw).strip().lower()
    if value not in KINDS:
        raise WarehouseSettingError(
            f"warehouse.kind = {raw!r} ({_origin('kind')}): must be one of {', '.join(KINDS)}"
        )
    return value


@dataclass(frozen=True)
class LakeSettings:
    """A resolved DuckLake: where its catalog and its files are, and how to reach them."""

    catalog: dict[str, str]
    """libpq parameters of the PostgreSQL catalog (no password), or ``{"md": <database>}``."""
    data_path: str
    """``s3://bucket/prefix/`` or an absolute local folder ending in ``/``."""
    metadata_schema: str = "lake"
    name: str = "lake"
    """The name the lake is attached under (the catalog readers and dbt see)."""
    catalog_password: str | None = field(default=None, repr=False)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)

    @property
    def is_s3(self) -> bool:
        return self.data_path.startswith(("s3://", "s3a://", "gs://", "gcs://", "r2://"))

    @property
    def is_motherduck(self) -> bool:
        return "md" in self.catalog

    def catalog_dsn(self) -> str:
        """The libpq key=value string DuckLake attaches (without the password)."""
        if self.is_motherduck:
            return f"md:{self.catalog['md']}"
        return " ".join(f"{k}={v}" for k, v in self.catalog.items())

    def describe(self) -> str:
        """For messages and ``warehouse`` output: no secret."""
        if self.is_motherduck:
            where = f"MotherDuck md:{self.catalog['md']}"
        else:
            c = self.catalog
            where = (
                f"PostgreSQL {c.get('user', '?')}@{c.get('host', 'localhost')}:{c.get('port', '5432')}/"
                f"{c.get('dbname', '?')} schema {self.metadata_schema}"
            )
        return f"DuckLake: catalog {where}, data {self.data_path}"

    def bucket(self) -> str | None:
        return urlsplit(self.data_path).netloc if self.is_s3 else None


_KV = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def parse_catalog(raw: str) -> tuple[dict[str, str], str | None]:
    """``postgresql://user[:pw]@host:port/db``, ``postgres:host=... dbname=...`` or a bare libpq
    string -> (libpq parameters, password found in it); ``md:<db>`` -> ``{"md": db}``.

    Raises :class:`WarehouseSettingError` for catalogs that cannot hold concurrent writers."""
    text = raw.strip()
    low = text.lower()
    if low.startswith("ducklake:"):
        text, low = text[len("ducklake:") :], low[len("ducklake:") :]
    if low.startswith("md:"):
        return {"md": text[3:]}, None
    if low.startswith(("sqlite", "duckdb:")) or low.endswith((".sqlite", ".db", ".duckdb", ".ducklake")):
        raise WarehouseSettingError(
            f"warehouse.catalog = {raw!r} ({_origin('catalog')}): only a PostgreSQL catalog holds "
            "concurrent writers (a SQLite catalog loses commits, a DuckDB-file catalog takes one process); "
            "use postgresql://user@host:5432/database"
        )
    if low.startswith(("postgresql://", "postgres://")):
        u = urlsplit(text)
        params = {
            "host": u.hostname or "localhost",
            "port": str(u.port or 5432),
            "dbname": u.path.lstrip("/"),
        }
        if u.username:
            params["user"] = unquote(u.username)
        return {k: v for k, v in params.items() if v}, (unquote(u.password) if u.password else None)
    if low.startswith("postgres:"):
        text = text[len("postgres:") :]
    pairs = dict(_KV.findall(text))
    if not pairs or "dbname" not in pairs:
        raise WarehouseSettingError(
            f"warehouse.catalog ({_origin('catalog')}): not a PostgreSQL connection "
            "(want postgresql://user@host:5432/database or 'host=... port=... dbname=... user=...')"
        )
    password = pairs.pop("password", None)
    return pairs, (password.strip("'") if password else None)


def lake_settings() -> LakeSettings:
    """Resolve ``[warehouse]`` for a DuckLake; raises :class:`WarehouseSettingError` naming the setting."""
    from pipelines.paths import ROOT

    raw_catalog = _lookup("catalog", secret=False) or _lookup("catalog", secret=True)
    if not raw_catalog:
        raise WarehouseSettingError(
            "warehouse.catalog is not set: a DuckLake needs its PostgreSQL catalog "
            '(warehouse.catalog = "postgresql://user@host:5432/database" in .dlt/config.toml or WAREHOUSE__CATALOG)'
        )
    catalog, inline_password = parse_catalog(str(raw_catalog))
    data_path = str(_lookup("data_path") or (ROOT / "lake"))
    if "://" in data_path and not data_path.startswith(
        ("s3://", "s3a://", "gs://", "gcs://", "r2://", "file://")
    ):
        raise WarehouseSettingError(
            f"warehouse.data_path = {data_path!r} ({_origin('data_path')}): DuckLake writes s3:// (or "
            "S3-compatible, gs://, r2://) URLs or a local folder"
        )
    if data_path.startswith("file://"):
        data_path = data_path[len("file://") :]
    if "://" not in data_path:
        folder = Path(data_path).expanduser()
        data_path = str(folder if folder.is_absolute() else (ROOT / folder).resolve())
    if not data_path.endswith("/"):
        data_path += "/"
    schema = str(_lookup("metadata_schema") or "lake")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
        raise WarehouseSettingError(
            f"warehouse.metadata_schema = {schema!r} ({_origin('metadata_schema')}): letters, digits, _"
        )
    password = _lookup("catalog_password", secret=True) or inline_password
    settings = LakeSettings(
        catalog=catalog,
        data_path=data_path,
        metadata_schema=schema,
        catalog_password=str(password) if password else None,
        s3_endpoint_url=_lookup("s3_endpoint_url"),
        s3_region=_lookup("s3_region"),
        aws_access_key_id=_lookup("credentials.aws_access_key_id", secret=True),
        aws_secret_access_key=_lookup("credentials.aws_secret_access_key", secret=True),
    )
    from pipelines.api_client import DEFAULT_REDACTOR

    for secret in (settings.catalog_password, settings.aws_secret_access_key):
        if secret:
            DEFAULT_REDACTOR.add(secret)
    return settings
