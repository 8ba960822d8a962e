"""``python -m pipelines doctor``: check the configuration and explain what is missing.

It never prints a secret value: only whether it is set and where it came from.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipelines import paths

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    status: str
    topic: str
    message: str


def _secret_source(key: str) -> str | None:
    """Where a dlt secret/config value comes from ("env" / "secrets.toml" / "config.toml"), or None."""
    env_key = key.upper().replace(".", "__")
    if os.environ.get(env_key):
        return f"env {env_key}"
    import dlt

    try:
        value = dlt.secrets.get(key)
    except Exception:  # a malformed toml is reported by its own check
        value = None
    if value:
        return ".dlt/secrets.toml"
    try:
        value = dlt.config.get(key)
    except Exception:
        value = None
    return ".dlt/config.toml" if value else None


def check_zoom() -> list[Check]:
    keys = {k: _secret_source(f"sources.zoom.{k}") for k in ("account_id", "client_id", "client_secret")}
    if not keys["client_id"] and not keys["client_secret"]:
        return [Check(OK, "zoom", "no Zoom credentials configured: loads harvest the embedded sandbox")]
    missing = [k for k in ("client_id", "client_secret") if not keys[k]]
    if missing:
        return [
            Check(
                FAIL,
                "zoom",
                f"incomplete Zoom app credentials: {', '.join(missing)} not set; set them in .dlt/secrets.toml "
                f"[sources.zoom] or as SOURCES__ZOOM__{missing[0].upper()}",
            )
        ]
    where = ", ".join(f"{k} from {v}" for k, v in keys.items() if v)
    if keys["account_id"]:
        return [Check(OK, "zoom", f"Server-to-Server OAuth app configured ({where})")]
    token_files = sorted(paths.token_dir().glob("zoom*")) if paths.token_dir().exists() else []
    if not token_files:
        return [
            Check(
                FAIL,
                "zoom",
                "General (user-authorized) app configured but no refresh token yet: run "
                "`python -m pipelines authorize` once",
            )
        ]
    return [Check(OK, "zoom", f"General app configured ({where}); refresh token file present")]


def check_meets() -> list[Check]:
    token = _secret_source("sources.meets.api_token")
    base = _secret_source("sources.meets.base_url")
    if not token:
        return [Check(OK, "meets", "no MEETS API token configured: loads harvest the embedded sandbox")]
    if not base:
        return [
            Check(
                FAIL,
                "meets",
                "MEETS API token set but no base_url: set [sources.meets] base_url "
                "(https://<client>.meets.cirqlive.com/...) in .dlt/config.toml",
            )
        ]
    return [Check(OK, "meets", f"MEETS token ({token}) and base URL ({base}) configured")]


def check_secret_files() -> list[Check]:
    out: list[Check] = []
    secrets_file = paths.ROOT / ".dlt" / "secrets.toml"
    if secrets_file.exists():
        ignored = (
            subprocess.run(
                ["git", "check-ignore", "-q", str(secrets_file)], cwd=paths.ROOT, capture_output=True
            ).returncode
            == 0
        )
        out.append(
            Check(OK, "secrets", ".dlt/secrets.toml is git-ignored")
            if ignored
            else Check(
                FAIL,
                "secrets",
                ".dlt/secrets.toml is NOT git-ignored: add it to .gitignore before committing",
            )
        )
        out += _mode_check(secrets_file)
    tdir = paths.token_dir()
    if tdir.exists():
        for f in sorted(p for p in tdir.iterdir() if p.is_file()):
            out += _mode_check(f)
    return out


def _mode_check(path: Path) -> list[Check]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [
            Check(WARN, "secrets", f"{path.name} is readable by others (mode {mode:o}): run chmod 600 {path}")
        ]
    return [Check(OK, "secrets", f"{path.name} has mode {mode:o}")]


def check_warehouse() -> list[Check]:
    import duckdb

    wh = paths.warehouse_path()
    if not wh.exists():
        return [Check(OK, "warehouse", f"{wh} does not exist yet: `make load` creates it")]
    try:
        con = duckdb.connect(str(wh), read_only=True)
        try:
            quarantined = _quarantined(con)
        finally:
            con.close()
    except duckdb.IOException as exc:
        return [
            Check(
                WARN,
                "warehouse",
                f"{wh} is locked by another process ({str(exc).splitlines()[0][:160]}); close that client or "
                "point BI tools at the published read-only snapshot instead",
            )
        ]
    checks = [Check(OK, "warehouse", f"{wh} opens read-only")]
    for schema, n in quarantined.items():
        checks.append(
            Check(
                WARN,
                "quarantine",
                f"{n} record(s) the API sent could not be loaded as sent: see {schema}.quarantine "
                "(endpoint, record_id, field, reason); they are re-checked on every run",
            )
        )
    return checks


def _quarantined(con) -> dict[str, int]:
    """Rows in ``zoom_raw.quarantine`` / ``meets_raw.quarantine`` (only the non-empty ones)."""
    out = {}
    for (schema,) in con.execute(
        "select table_schema from information_schema.tables where table_name = 'quarantine' "
        "and table_schema in ('zoom_raw', 'meets_raw') order by 1"
    ).fetchall():
        n = con.execute(f"select count(*) from {schema}.quarantine").fetchone()[0]
        if n:
            out[schema] = n
    return out


def check_budget() -> list[Check]:
    ledger = paths.ledger_path()
    if not ledger.exists():
        return [Check(OK, "budget", "no requests spent yet today (no ledger)")]
    from pipelines.api_client import RequestBudget

    budget = RequestBudget(ledger)
    try:
        usage = budget.usage()
    finally:
        budget.close()
    spent = ", ".join(f"{k}={v}" for k, v in sorted(usage.items())) or "none"
    return [Check(OK, "budget", f"requests spent today (UTC) by category: {spent}")]


def run_doctor() -> int:
    os.environ.setdefault("DLT_PROJECT_DIR", str(paths.ROOT))
    checks: list[Check] = []
    for fn in (check_zoom, check_meets, check_secret_files, check_warehouse, check_budget):
        try:
            checks += fn()
        except Exception as exc:  # doctor must explain, not crash
            checks.append(
                Check(FAIL, fn.__name__.removeprefix("check_"), f"check failed: {type(exc).__name__}: {exc}")
            )
    for c in checks:
        print(f"[{c.status:>4}] {c.topic:<10} {c.message}")
    return 1 if any(c.status == FAIL for c in checks) else 0
