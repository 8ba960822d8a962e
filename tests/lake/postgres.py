"""A throwaway PostgreSQL server from Debian's binaries (initdb + pg_ctl), for the lake tests and bench.

We run as root and PostgreSQL refuses to, so the server runs as the ``postgres`` user in a temporary
data directory it owns, on a free port of 127.0.0.1, with password authentication (so a wrong password
is really refused). ``stop()`` shuts it down and removes the directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("MW_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER, PASSWORD, DATABASE = "lake", "lake-secret", "lake"


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess:
    run_as = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    return subprocess.run([*run_as, *cmd], check=True, capture_output=True, text=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    port: int
    data_dir: Path

    host: str = "127.0.0.1"

    def dsn(self, password: str | None = PASSWORD, database: str = DATABASE) -> str:
        """A libpq key=value DSN (what DuckDB's postgres extension and DuckLake take)."""
        pw = f" password={password}" if password is not None else ""
        return f"host={self.host} port={self.port} dbname={database} user={USER}{pw}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop")
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb + pg_ctl start on a free port; a user and a database for the lake, password required."""
    if not (BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL server binaries not found in {BIN} (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="mw-pg-"))
    data = base / "data"
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    _as_postgres(
        str(BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    )
    port = _free_port()
    _as_postgres(
        str(BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "log"),
        "-w",
        "-t",
        "30",
        "-o",
        f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=100",
        "start",
    )
    pg = Postgres(port=port, data_dir=data)
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    deadline = time.monotonic() + 20
    while True:
        r = subprocess.run(
            [
                str(BIN.parent / "bin" / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-c",
                f"create database {DATABASE}",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if r.returncode == 0 or "already exists" in r.stderr:
            return pg
        if time.monotonic() > deadline:
            pg.stop()
            raise RuntimeError(f"PostgreSQL did not accept connections: {r.stderr.strip()}")
        time.sleep(0.1)
