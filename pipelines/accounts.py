"""One account per warehouse: the warehouse remembers which Zoom account and MEETS domain it holds.

Incremental loads trust the warehouse's state (cursors, which meetings were fetched). Pointed at
another account, a load would merge two accounts' data and skip most of the new one's history as
"already loaded". So every load first compares the configured account with the one recorded in
``ops.source_accounts`` and refuses another one, naming both and the ways out.

What identifies an account (nothing secret is stored: ids are hashed):
- Zoom: the API host and the account id (Server-to-Server apps) or the app's client id (General
  apps, whose tokens belong to the account that authorized them);
- MEETS: the API base URL (one MEETS domain per institution).
The sandbox's loopback port changes from run to run, so loopback hosts compare without the port.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TABLE = "ops.source_accounts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class AccountMismatch(RuntimeError):
    """The configuration points at another account than the one the warehouse holds."""


@dataclass(frozen=True)
class SourceAccount:
    source: str  # zoom | meets
    host: str  # API host (and path for MEETS); "loopback" for a local sandbox
    fingerprint: str  # sha256 of the account's id, 16 hex characters
    label: str  # for people: "Zoom account 3f2a9c1b at api.zoom.us", "the embedded sandbox"


def _host(url: str, with_path: bool = False) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in LOOPBACK or host.startswith("127."):
        host = "loopback"
    elif parts.port:
        host = f"{host}:{parts.port}"
    return host + (parts.path.rstrip("/") if with_path else "")


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def zoom_account(api_base_url: str, account_id: str, client_id: str, sandbox: bool) -> SourceAccount:
    host = _host(api_base_url)
    fp = _fingerprint(f"account:{account_id}" if account_id else f"client:{client_id}")
    what = f"the embedded sandbox (account {fp[:8]})" if sandbox else f"Zoom account {fp[:8]} at {host}"
    return SourceAccount("zoom", host, fp, what)


def meets_account(base_url: str, sandbox: bool) -> SourceAccount:
    host = _host(base_url, with_path=True)
    what = "the embedded sandbox" if sandbox else f"MEETS at {host}"
    return SourceAccount("meets", host, _fingerprint(host), what)


def _recorded(con: Any, source: str) -> tuple[str, str, str] | None:
    """The warehouse's record for ``source``: (host, fingerprint, label), or None."""
    return con.execute(f"select host, fingerprint, label from {TABLE} where source = ?", [source]).fetchone()


def _mismatch(row: tuple[str, str, str], account: SourceAccount) -> AccountMismatch | None:
    if (row[0], row[1]) == (account.host, account.fingerprint):
        return None
    name = "Zoom" if account.source == "zoom" else "MEETS"
    return AccountMismatch(
        f"This warehouse holds {name} data of {row[2]}, but the configuration points at "
        f"{account.label}. One warehouse holds one account: run `python -m pipelines load --refresh` "
        f"to drop the {name} data and load the new account from scratch, or set MW_WAREHOUSE to "
        "another file to keep both."
    )


def check_account(con: Any, account: SourceAccount, *, refresh: bool, lake: bool = False) -> str:
    """Compare ``account`` with the warehouse's record (``con``: a DuckDB connection), record it when
    there is none (or ``refresh`` starts over); raise :class:`AccountMismatch` for another account.
    Returns what happened: "recorded", "same" or "replaced". ``lake``: a DuckLake, which has no
    keys, so the record is replaced by a delete + insert in one transaction."""
    con.execute("create schema if not exists ops")
    con.execute(
        f"create table if not exists {TABLE} (source varchar {'not null' if lake else 'primary key'}, "
        "host varchar not null, "
        "fingerprint varchar not null, label varchar not null, recorded_at timestamptz not null)"
    )
    row = _recorded(con, account.source)
    if row is not None:
        other = _mismatch(row, account)
        if other is None:
            return "same"
        if not refresh:
            raise other
    values = [account.source, account.host, account.fingerprint, account.label, dt.datetime.now(dt.UTC)]
    if lake:
        con.execute("begin")
        con.execute(f"delete from {TABLE} where source = ?", [account.source])
        con.execute(f"insert into {TABLE} values (?, ?, ?, ?, ?)", values)
        con.execute("commit")
    else:
        con.execute(f"insert or replace into {TABLE} values (?, ?, ?, ?, ?)", values)
    return "recorded" if row is None else "replaced"


def guard_warehouse(path: Path, account: SourceAccount, *, refresh: bool) -> str:
    """:func:`check_account` on the warehouse file (created if missing), or on the configured lake."""
    import duckdb

    from pipelines import warehouse

    if warehouse.is_lake():  # the Zoom and MEETS loads may record at once: a conflict is retried
        from pipelines.lake.connect import retry_conflicts

        def check() -> str:
            with warehouse.connect() as con:
                return check_account(con, account, refresh=refresh, lake=True)

        return retry_conflicts(check)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        return check_account(con, account, refresh=refresh)


def verify_account(path: Path, account: SourceAccount) -> None:
    """Read-only: raise :class:`AccountMismatch` when the warehouse records another account (for
    commands that only read, such as ``plan``); nothing happens without a warehouse or a record."""
    import duckdb

    from pipelines import warehouse

    lake = warehouse.is_lake()
    if not lake and not Path(path).exists():
        return
    with warehouse.connect(read_only=True) if lake else duckdb.connect(str(path), read_only=True) as con:
        known = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = ?",
            [TABLE.split(".")[1]],
        ).fetchone()[0]
        row = _recorded(con, account.source) if known else None
        other = _mismatch(row, account) if row is not None else None
        if other is not None:
            raise other
