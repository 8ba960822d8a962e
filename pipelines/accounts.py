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
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("pipelines.accounts")

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


def check_account(
    con: object, account: SourceAccount, *, refresh: bool, has_data: bool, record: bool = True
) -> str:
    """Compare ``account`` with the warehouse's record (``con``: a DuckDB connection), record it when
    there is none (or ``refresh`` starts over); raise :class:`AccountMismatch` for another account.
    Returns what happened: "recorded", "same" or "replaced"."""
    if record:
        con.execute("create schema if not exists ops")  # type: ignore[attr-defined]
        con.execute(  # type: ignore[attr-defined]
            f"create table if not exists {TABLE} (source varchar primary key, host varchar not null, "
            "fingerprint varchar not null, label varchar not null, recorded_at timestamptz not null)"
        )
    row = con.execute(  # type: ignore[attr-defined]
        f"select host, fingerprint, label from {TABLE} where source = ?", [account.source]
    ).fetchone()
    now = dt.datetime.now(dt.UTC)
    if row is not None and (row[0], row[1]) == (account.host, account.fingerprint):
        return "same"
    if row is not None and not refresh:
        name = "Zoom" if account.source == "zoom" else "MEETS"
        raise AccountMismatch(
            f"This warehouse holds {name} data of {row[2]}, but the configuration points at "
            f"{account.label}. One warehouse holds one account: run `python -m pipelines load --refresh` "
            f"to drop the {name} data and load the new account from scratch, or set MW_WAREHOUSE to "
            "another file to keep both."
        )
    if not record:
        return "unrecorded"
    if row is None and has_data:
        log.info(
            "warehouse holds %s data from before accounts were recorded: taken as %s",
            account.source,
            account.label,
        )
    con.execute(  # type: ignore[attr-defined]
        f"insert or replace into {TABLE} values (?, ?, ?, ?, ?)",
        [account.source, account.host, account.fingerprint, account.label, now],
    )
    return "recorded" if row is None else "replaced"


def guard_warehouse(path: Path, account: SourceAccount, *, refresh: bool, dataset: str) -> str:
    """:func:`check_account` on the warehouse file (created if missing)."""
    import duckdb

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        has_data = bool(
            con.execute(
                "select count(*) from information_schema.tables where table_schema = ? "
                "and not starts_with(table_name, '_dlt')",
                [dataset],
            ).fetchone()[0]
        )
        return check_account(con, account, refresh=refresh, has_data=has_data)


def verify_account(path: Path, account: SourceAccount) -> None:
    """Read-only: raise :class:`AccountMismatch` when the warehouse records another account (for
    commands that only read, such as ``plan``); nothing happens without a warehouse or a record."""
    import duckdb

    if not Path(path).exists():
        return
    with duckdb.connect(str(path), read_only=True) as con:
        known = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = ?",
            [TABLE.split(".")[1]],
        ).fetchone()[0]
        if known:
            check_account(con, account, refresh=False, has_data=True, record=False)
