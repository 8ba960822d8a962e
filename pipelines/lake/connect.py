"""Open the lake: DuckDB (in memory) + the DuckLake attached under one name, extensions offline.

Every connection the project opens on a lake comes from :func:`connect`: the PostgreSQL password
travels in a temporary DuckDB secret (``META_SECRET``), never in the ATTACH string, and the S3 keys
in a temporary S3 secret, so neither appears in logs or errors. After ``USE lake`` the same SQL as
on the file works (``zoom_raw.meetings``, ``analytics.fct_meetings``...).

Failures become one line naming the setting (:class:`LakeUnavailable`): an unreachable catalog,
a rejected password, a missing bucket. The bucket is checked before the catalog is attached, so a
bad data path leaves nothing behind in the catalog.
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from pipelines.lake.settings import LakeSettings

# DuckLake retries a commit that lost the race for the next snapshot id (10 times by default). A
# big commit (a load creating a dozen tables) can lose that race 10 times in a row to a writer
# that commits every few milliseconds (the recordings inventory): measured at the `small` scale.
# More attempts with a gentler backoff let it through; each retry replays the whole commit.
RETRY_SETTINGS = ("set ducklake_max_retry_count = 100", "set ducklake_retry_backoff = 1.2")

EXTENSIONS = {"ducklake": "ducklake", "postgres_scanner": "postgres", "httpfs": "httpfs"}
CATALOG_SECRET, DATA_SECRET = "mw_lake_catalog", "mw_lake_data"

T = TypeVar("T")


class LakeUnavailable(RuntimeError):
    """The lake cannot be opened; the message names the setting and what to do."""


def _sql(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@functools.cache
def install_extensions() -> None:
    """Install the DuckLake, postgres and httpfs extensions from the ``duckdb-extension-*`` wheels
    (pinned to our DuckDB) into DuckDB's extension folder: no download, works offline. Once per process."""
    from duckdb_extensions import import_extension

    con = duckdb.connect()
    try:
        installed = {
            name
            for name, ok in con.execute(
                "select extension_name, installed from duckdb_extensions()"
            ).fetchall()
            if ok
        }
        for package, name in EXTENSIONS.items():
            if name not in installed and package not in installed:
                import_extension(package, con=con)
    finally:
        con.close()


def extension_dir() -> Path:
    """The extension folder laid out ``v1.5.5/linux_amd64/`` (what dbt-duckdb and DuckDB read)."""
    return Path.home() / ".duckdb" / "extensions"


def s3_secret_sql(lake: LakeSettings) -> str:
    from urllib.parse import urlsplit

    parts = ["type s3", "url_style 'path'"]
    if lake.aws_access_key_id:
        parts += [
            f"key_id {_sql(lake.aws_access_key_id)}",
            f"secret {_sql(lake.aws_secret_access_key or '')}",
        ]
    else:
        parts.append("provider credential_chain")
    parts.append(f"region {_sql(lake.s3_region or 'us-east-1')}")
    if lake.s3_endpoint_url:
        ep = urlsplit(lake.s3_endpoint_url)
        parts += [f"endpoint {_sql(ep.netloc)}", f"use_ssl {'true' if ep.scheme == 'https' else 'false'}"]
    bucket = lake.bucket()
    parts.append(f"scope {_sql(f's3://{bucket}')}")
    return f"create or replace temporary secret {DATA_SECRET} ({', '.join(parts)})"


def _classify(exc: BaseException, lake: LakeSettings) -> LakeUnavailable | None:
    text = str(exc)
    low = text.lower()
    where = lake.describe()
    if (
        "password authentication failed" in low
        or "no password supplied" in low
        or "authentication failed" in low
    ):
        return LakeUnavailable(
            f"warehouse.catalog_password: PostgreSQL refused the login for user "
            f"{lake.catalog.get('user', '?')!r} ({where}); set the right password in .dlt/secrets.toml "
            "[warehouse] catalog_password or WAREHOUSE__CATALOG_PASSWORD"
        )
    if "does not exist" in low and "database" in low:
        return LakeUnavailable(
            f"warehouse.catalog: the PostgreSQL database {lake.catalog.get('dbname')!r} does not exist ({where}); "
            "create it (createdb) or fix the catalog setting"
        )
    if "unable to connect to postgres" in low or "connection refused" in low or "could not connect" in low:
        return LakeUnavailable(
            f"warehouse.catalog: PostgreSQL is not reachable ({where}); start it or fix host/port in the setting"
        )
    if "does not match existing data path" in low:
        return LakeUnavailable(
            f"warehouse.data_path = {lake.data_path!r}: this lake (catalog schema {lake.metadata_schema!r}) keeps "
            "its files elsewhere; set data_path to the lake's own path, or another metadata_schema for a new lake"
        )
    if "nosuchbucket" in low or "bucket does not exist" in low or ("404" in text and lake.is_s3):
        return LakeUnavailable(
            f"warehouse.data_path = {lake.data_path!r}: the bucket {lake.bucket()!r} does not exist or is not "
            "visible with these credentials; create it or fix the setting"
        )
    if lake.is_s3 and ("403" in text or "accessdenied" in low or "invalidaccesskeyid" in low):
        return LakeUnavailable(
            f"warehouse.credentials: the object store refused the keys for {lake.data_path!r}; fix "
            "[warehouse.credentials] in .dlt/secrets.toml or WAREHOUSE__CREDENTIALS__*"
        )
    return None


def check_data_path(con: duckdb.DuckDBPyConnection, lake: LakeSettings) -> None:
    """The bucket exists and answers (S3) or the folder can be created (local), before any catalog write."""
    if not lake.is_s3:
        try:
            Path(lake.data_path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeUnavailable(
                f"warehouse.data_path = {lake.data_path!r}: cannot create the folder ({exc})"
            ) from None
        return
    bucket_root = f"s3://{lake.bucket()}/"
    try:
        con.execute("select count(*) from glob(?)", [bucket_root + "__mw_probe_*"]).fetchone()
    except duckdb.Error as exc:
        problem = _classify(exc, lake)
        if problem is None:
            problem = LakeUnavailable(
                f"warehouse.data_path = {lake.data_path!r}: the object store did not answer "
                f"({type(exc).__name__}); check warehouse.s3_endpoint_url and the bucket"
            )
        raise problem from None


def connect(
    lake: LakeSettings,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    check_storage: bool = True,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as ``lake.name`` and in use.

    ``snapshot`` pins the lake at that DuckLake snapshot (a consistent published state).
    A writable connection at the latest snapshot is a new session on the process's one attached
    instance (:func:`session`); closing it leaves the instance attached for the next caller. So is
    a ``read_only`` one when that instance exists already; otherwise a read-only connection
    attaches the lake read-only in an instance of its own (it never creates a catalog)."""
    if snapshot is None and (not read_only or _attached(lake)):
        # a read at the latest snapshot in a process that already attached this lake (the
        # transform's checks after dbt, a load's reads) is a session of that instance: a new
        # instance would cost its extension checks and ATTACH again (0.5-1 s) for one query
        return session(lake, check_storage=check_storage)
    return _open(lake, read_only=read_only, snapshot=snapshot, check_storage=check_storage)


# One DuckDB instance per process and lake, the lake attached once; every writer of the process
# (dlt's load jobs, the inventory, the ledger copy...) gets a session of it (``duplicate()``: its
# own transactions, same attached catalog). A new in-memory DuckDB instance costs about 0.4 s
# before the ATTACH even starts (DuckDB verifies the signatures of the three extensions, ~100 MB,
# for each instance), and dlt opened one per load job: that, not the rows, was most of a lake
# load's time. DuckLake orders the commits of sessions of one instance as it orders those of
# separate processes (same snapshot-id retry, same conflict checks).
_SHARED: dict[tuple, duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def _identity(lake: LakeSettings) -> tuple:
    """Everything the ATTACH depends on (in memory only: it holds the secrets)."""
    return (
        lake.name,
        lake.catalog_dsn(),
        lake.catalog_password,
        lake.metadata_schema,
        lake.data_path,
        lake.s3_endpoint_url,
        lake.s3_region,
        lake.aws_access_key_id,
        lake.aws_secret_access_key,
    )


def _attached(lake: LakeSettings) -> bool:
    """Whether this process already holds an instance with ``lake`` attached."""
    with _SHARED_LOCK:
        return _identity(lake) in _SHARED


def session(lake: LakeSettings, *, check_storage: bool = True) -> duckdb.DuckDBPyConnection:
    """A new session on the process's instance that has ``lake`` attached (read-write, latest
    snapshot), with ``USE lake`` done. The first call attaches (and checks the data path); a
    session that cannot be made (the instance broke) attaches again once."""
    key = _identity(lake)
    with _SHARED_LOCK:
        for attempt in (1, 2):
            base = _SHARED.get(key)
            if base is None:
                base = _open(lake, check_storage=check_storage)
                _SHARED[key] = base
            try:
                con = base.duplicate()
            except duckdb.Error:
                _SHARED.pop(key, None)
                base.close()
                if attempt == 2:
                    raise
                continue
            try:
                con.execute(f"use {lake.name}")
            except BaseException:
                con.close()
                raise
            return con
    raise AssertionError("unreachable")


@atexit.register
def close_sessions() -> None:
    """Detach every shared lake and close its instance (at exit, or to drop a cached attach)."""
    with _SHARED_LOCK:
        while _SHARED:
            _, base = _SHARED.popitem()
            try:
                base.execute("use memory")
                for (name,) in base.execute(
                    "select database_name from duckdb_databases() where type = 'ducklake'"
                ).fetchall():
                    base.execute(f'detach "{name}"')
            except duckdb.Error:
                pass
            base.close()


def _open(
    lake: LakeSettings,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    check_storage: bool = True,
) -> duckdb.DuckDBPyConnection:
    install_extensions()
    con = duckdb.connect()
    try:
        for name in ("ducklake", "postgres", "httpfs"):
            con.execute(f"load {name}")
        for setting in RETRY_SETTINGS:
            con.execute(setting)
        if lake.catalog_password:
            con.execute(
                f"create or replace temporary secret {CATALOG_SECRET} "
                f"(type postgres, password {_sql(lake.catalog_password)})"
            )
        if lake.is_s3:
            con.execute(s3_secret_sql(lake))
        if check_storage and not read_only:
            check_data_path(con, lake)
        attach(con, lake, read_only=read_only, snapshot=snapshot)
        con.execute(f"use {lake.name}")
    except BaseException:
        con.close()
        raise
    return con


def attach(
    con: duckdb.DuckDBPyConnection,
    lake: LakeSettings,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
) -> None:
    """ATTACH ``lake`` as ``lake.name`` on a connection made by :func:`connect` (its secrets exist):
    a second view of the same lake (another snapshot) costs an ATTACH, not a new instance."""
    options = [f"data_path {_sql(lake.data_path)}"]
    if not lake.is_motherduck:
        options.append(f"metadata_schema {_sql(lake.metadata_schema)}")
    if lake.catalog_password:
        options.append(f"meta_secret {_sql(CATALOG_SECRET)}")
    if read_only:
        options.append("read_only")
    if snapshot is not None:
        options.append(f"snapshot_version {int(snapshot)}")
    prefix = "ducklake:" if lake.is_motherduck else "ducklake:postgres:"
    try:
        con.execute(f"attach {_sql(prefix + lake.catalog_dsn())} as {lake.name} ({', '.join(options)})")
    except duckdb.Error as exc:
        problem = _classify(exc, lake)
        if problem is not None:
            raise problem from None
        raise


def is_conflict(exc: BaseException) -> bool:
    """DuckLake refused a commit because another writer changed the same table meanwhile."""
    text = str(exc).lower()
    return "transaction conflict" in text or "failed to commit ducklake transaction" in text


def retry_conflicts(fn: Callable[[], T], *, attempts: int = 8, wait: float = 0.2) -> T:
    """Run ``fn`` again when DuckLake reports a write conflict (another writer committed to the same
    table first): the transaction was rolled back whole, so running it again loses nothing.
    DuckLake already retries commits that do not touch the same rows; this covers the rest."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == attempts:
                raise
            time.sleep(wait * (1.5 ** (attempt - 1)))
    raise AssertionError("unreachable")
