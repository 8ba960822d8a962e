"""``python -m pipelines doctor``: check the configuration and explain what is missing.

It never prints a secret value: only whether it is set and where it came from. What it checks:

* every setting of ``[sources.zoom]``, ``[sources.meets]`` and ``[recordings]`` (one line per bad
  or misspelt setting, see :mod:`pipelines.settings_check`) and that the ``.dlt`` toml files parse;
* the files: the warehouse, the serving snapshot, the request budget ledger and the token files
  (readable, not corrupt, not locked, token files 0600), each finding naming the path and what to do;
* the credentials: with a Zoom app configured it asks Zoom's OAuth token endpoint for a token (Zoom
  does not count token requests against the API quotas, and neither does the request ledger). MEETS
  has no token endpoint: every authenticated call is a data call, so its token is not spent on here.
  With no credentials the loads use the embedded sandbox, and the doctor says so (and checks a
  sandbox named by ``MW_SANDBOX_URL``).
* the Zoom webhook receiver's ``[zoom.webhooks]`` settings: its secret token is set (never shown)
  whenever the receiver is meant to run (any of its settings given, or its queue file exists).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import stat
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipelines import paths
from pipelines.settings_check import MEETS, SECTIONS, ZOOM, check_section, dlt_dir, origin_of

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
    out += check_token_files()
    return out


def _mode_check(path: Path, status: str = WARN, topic: str = "secrets") -> list[Check]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [Check(status, topic, f"{path} is readable by others (mode {mode:o}): run chmod 600 {path}")]
    return [Check(OK, topic, f"{path.name} has mode {mode:o}")]


def _zoom_token_file() -> Path:
    from pipelines.zoom.auth import TOKEN_FILE_NAME

    try:
        import dlt

        configured = dlt.config.get("sources.zoom.token_file")
    except Exception:
        configured = None
    return Path(str(configured)).expanduser() if configured else paths.token_dir() / TOKEN_FILE_NAME


def check_token_files() -> list[Check]:
    """Token files: 0600, readable, a JSON object with a refresh token, no refresh stuck holding the lock."""
    out: list[Check] = []
    token_file = _zoom_token_file()
    tdir = paths.token_dir()
    files = sorted(p for p in tdir.iterdir() if p.is_file()) if tdir.is_dir() else []
    if token_file.is_file() and token_file not in files:
        files.append(token_file)
    for f in files:
        out += _mode_check(f, FAIL, "tokens")
        if f.name.endswith((".lock", ".tmp")):
            continue
        if not os.access(f, os.R_OK):
            out.append(Check(FAIL, "tokens", f"{f} is not readable by this user: fix its owner/permissions"))
            continue
        if f != token_file:
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.append(
                Check(
                    FAIL,
                    "tokens",
                    f"{f} is corrupt ({type(exc).__name__}): move it aside and run `python -m pipelines "
                    "authorize` to write a new one",
                )
            )
            continue
        if not isinstance(data, dict) or not data.get("refresh_token"):
            out.append(
                Check(
                    FAIL, "tokens", f"{f} holds no refresh token: run `python -m pipelines authorize` again"
                )
            )
            continue
        lock = f.with_name(f.name + ".lock")
        if lock.exists() and _flock_held(lock):
            out.append(
                Check(
                    WARN,
                    "tokens",
                    f"{lock} is locked: another process is refreshing the Zoom token right now; if that "
                    f"persists, find it with `fuser {lock}` and stop it",
                )
            )
        else:
            out.append(Check(OK, "tokens", f"{f} holds a refresh token"))
    return out


def _flock_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _duckdb_problem(path: Path, exc: Exception, topic: str) -> Check:
    """Locked, corrupt or unreadable: which one, in words, with what to do."""
    text = str(exc).splitlines()[0][:200]
    if "Could not set lock" in text or "Conflicting lock" in text:
        return Check(
            WARN,
            topic,
            f"{path} is locked by another process ({text}): close that client (BI tool, notebook, DuckDB "
            f"shell) or point it at the read-only snapshot {paths.serving_path()}",
        )
    if "ermission denied" in text:
        return Check(FAIL, topic, f"{path} cannot be read ({text}): fix its owner/permissions")
    corrupt = ("not a valid DuckDB database", "Corrupt database", "checksum", "Could not read enough bytes")
    if any(marker in text for marker in corrupt):
        if topic == "serving":
            todo = "delete it and run `make transform` to publish it again (it is a copy of the warehouse)"
        else:
            todo = (
                f"move it aside (mv {path} {path}.corrupt) and run `make load` to rebuild it from the APIs "
                "(or restore it from a backup)"
            )
        return Check(FAIL, topic, f"{path} is corrupt ({text}): {todo}")
    return Check(FAIL, topic, f"{path} cannot be opened ({text})")


def check_lake() -> list[Check]:
    """``[warehouse] kind = "ducklake"``: the catalog answers with these credentials, the data path
    exists, and the lake opens (one line naming the setting otherwise)."""
    from pipelines.lake.connect import LakeUnavailable, connect
    from pipelines.lake.settings import WarehouseSettingError, lake_settings

    try:
        lake = lake_settings()
        con = connect(lake)
        try:
            snapshot = con.execute(
                f"select max(snapshot_id) from ducklake_snapshots('{lake.name}')"
            ).fetchone()[0]
            quarantined = _quarantined(con)
        finally:
            con.close()
    except (WarehouseSettingError, LakeUnavailable) as exc:
        return [Check(FAIL, "warehouse", str(exc))]
    checks = [Check(OK, "warehouse", f"{lake.describe()} opens (snapshot {snapshot})")]
    checks += [
        Check(
            WARN,
            "quarantine",
            f"{n} record(s) the API sent could not be loaded as sent: see {schema}.quarantine",
        )
        for schema, n in quarantined.items()
    ]
    return checks


def check_warehouse() -> list[Check]:
    import duckdb

    from pipelines.lake.settings import WarehouseSettingError, kind

    try:
        if kind() == "ducklake":
            return check_lake()
    except WarehouseSettingError as exc:
        return [Check(FAIL, "warehouse", str(exc))]
    wh = paths.warehouse_path()
    if not wh.exists():
        return [Check(OK, "warehouse", f"{wh} does not exist yet: `make load` creates it")]
    if not os.access(wh, os.R_OK | os.W_OK):
        return [
            Check(FAIL, "warehouse", f"{wh} is not readable and writable by this user: fix its permissions")
        ]
    try:
        con = duckdb.connect(str(wh), read_only=True)
        try:
            quarantined = _quarantined(con)
        finally:
            con.close()
    except duckdb.Error as exc:
        return [_duckdb_problem(wh, exc, "warehouse")]
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


def check_serving() -> list[Check]:
    import duckdb

    from pipelines import warehouse

    try:
        if warehouse.is_lake():  # readers attach the lake at its published snapshot: no file to check
            return [Check(OK, "serving", "DuckLake: readers attach the lake at its published snapshot")]
    except Exception:  # a bad [warehouse] setting: check_warehouse says which
        return []
    snap = paths.serving_path()
    if not snap.exists():
        return [Check(OK, "serving", f"{snap} does not exist yet: `make transform` publishes it")]
    if not os.access(snap, os.R_OK):
        return [Check(FAIL, "serving", f"{snap} is not readable by this user: fix its permissions")]
    try:
        con = duckdb.connect(str(snap), read_only=True)
        try:
            tables = con.execute("select count(*) from information_schema.tables").fetchone()[0]
        finally:
            con.close()
    except duckdb.Error as exc:
        return [_duckdb_problem(snap, exc, "serving")]
    return [Check(OK, "serving", f"{snap} opens read-only ({tables} tables)")]


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
    from pipelines.api_client.budget import is_corrupt

    ledger = paths.ledger_path()
    if not ledger.exists():
        return [Check(OK, "budget", f"no requests spent yet today (no ledger at {ledger})")]
    recovery = (
        "the next load moves it aside to "
        f"{ledger.name}.corrupt-<timestamp> and counts today's daily budget as spent (so it cannot be "
        "exceeded); the day after, the budget is whole again"
    )
    if not os.access(ledger, os.R_OK | os.W_OK) or not os.access(ledger.parent, os.W_OK):
        return [
            Check(
                FAIL, "budget", f"{ledger} (or its folder) is not writable by this user: fix its permissions"
            )
        ]
    try:
        con = sqlite3.connect(str(ledger), timeout=1.0, isolation_level=None)
        try:
            verdict = con.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return [Check(FAIL, "budget", f"{ledger} is corrupt ({verdict}): {recovery}")]
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                return [
                    Check(
                        WARN,
                        "budget",
                        f"{ledger} is locked ({exc}): a load or recordings run is writing it; if that "
                        f"persists, find the process with `fuser {ledger}`",
                    )
                ]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        if is_corrupt(exc):
            return [Check(FAIL, "budget", f"{ledger} is corrupt ({exc}): {recovery}")]
        return [Check(FAIL, "budget", f"{ledger} cannot be opened ({exc})")]
    from pipelines.api_client import RequestBudget

    budget = RequestBudget(ledger)
    try:
        usage = budget.usage()
        reset = budget.replaced_today()
    finally:
        budget.close()
    spent = ", ".join(f"{k}={v}" for k, v in sorted(usage.items())) or "none"
    checks = [Check(OK, "budget", f"requests spent today (UTC) by category: {spent} (ledger {ledger})")]
    if reset:
        checks.append(
            Check(
                WARN,
                "budget",
                f"{ledger} was found corrupt today and replaced (the old file is {reset}): the daily budget "
                "counts as spent until 00:00 UTC; requests without a daily limit go on",
            )
        )
    return checks


def _webhook_settings_given() -> list[str]:
    """The ``[zoom.webhooks]`` settings other than the secret token that are set (any provider)."""
    import dlt

    given = []
    for name in ("max_skew_seconds", "path", "events", "queue_path"):
        try:
            value = dlt.config.get(f"zoom.webhooks.{name}")
        except Exception:
            value = None
        if value not in (None, ""):
            given.append(name)
    return given


def check_webhooks() -> list[Check]:
    """``[zoom.webhooks]``: the receiver (``make webhooks``) needs the app's secret token. It is meant
    to run when any of its settings is given or its queue file exists; otherwise it is optional."""
    from pipelines.webhooks.queue import default_path
    from pipelines.webhooks.settings import WebhookSettingsError, load_settings

    token_from = _secret_source("zoom.webhooks.secret_token")
    others = _webhook_settings_given()
    queue = default_path()
    if not token_from and not others and not queue.exists():
        return [
            Check(OK, "webhooks", "Zoom webhook receiver not configured (optional: see docs/webhooks.md)")
        ]
    if token_from == ".dlt/config.toml":  # dlt reads secrets from secrets.toml and env only
        return [
            Check(
                FAIL,
                "webhooks",
                "zoom.webhooks.secret_token is in .dlt/config.toml, which is committed and not read for "
                "secrets: move it to .dlt/secrets.toml [zoom.webhooks] or the env var ZOOM__WEBHOOKS__SECRET_TOKEN",
            )
        ]
    try:
        settings = load_settings()
    except WebhookSettingsError as exc:
        why = f"[zoom.webhooks] {', '.join(others)} set" if others else f"the queue {queue} exists"
        return [Check(FAIL, "webhooks", f"{exc} ({why}, so the receiver is meant to run)")]
    queue = settings.queue_path or queue
    return [
        Check(
            OK,
            "webhooks",
            f"secret token set ({token_from}); receiver path {settings.path}, events "
            f"{', '.join(settings.events)}; queue {queue}" + _queue_backlog(queue),
        )
    ]


def check_youtube() -> list[Check]:
    """``[youtube]``: optional; once any channel credential is given, all three must be there (the
    refresh token from ``authorize youtube`` or secrets), secrets not in the committed config.toml,
    and every setting valid. Offline: the token is first used by the publish run itself."""
    from pipelines.youtube.settings import YouTubeConfigError, load_settings, token_file

    for key in ("client_secret", "refresh_token"):
        if _secret_source(f"youtube.{key}") == ".dlt/config.toml":
            return [
                Check(
                    FAIL,
                    "youtube",
                    f"youtube.{key} is in .dlt/config.toml, which is committed and not read for secrets: "
                    f"move it to .dlt/secrets.toml [youtube] or the env var YOUTUBE__{key.upper()}",
                )
            ]
    try:
        settings = load_settings()
    except YouTubeConfigError as exc:
        return [Check(FAIL, "youtube", str(exc))]
    given = {
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "refresh_token": settings.refresh_token,
    }
    if not any(given.values()):
        return [Check(OK, "youtube", "YouTube publish not configured (optional: see docs/youtube.md)")]
    missing = [name for name, value in given.items() if not value]
    if missing:
        fixes = {
            "client_id": "youtube.client_id in .dlt/config.toml (or YOUTUBE__CLIENT_ID)",
            "client_secret": "youtube.client_secret in .dlt/secrets.toml (or YOUTUBE__CLIENT_SECRET)",
            "refresh_token": "run `python -m pipelines authorize youtube` once",
        }
        return [
            Check(
                FAIL,
                "youtube",
                "YouTube publish is half configured: missing " + "; ".join(fixes[m] for m in missing),
            )
        ]
    token_from = _secret_source("youtube.refresh_token") or str(token_file())
    return [
        Check(
            OK,
            "youtube",
            f"channel credentials set (refresh token from {token_from}); privacy {settings.privacy_status}, "
            f"playlists {settings.playlists}, daily quota {settings.daily_quota_units} units",
        )
    ]


def _queue_backlog(queue: Path) -> str:
    """`` (N events waiting)`` from the queue file, opened read-only; empty when there is none yet."""
    if not queue.exists():
        return " (not created yet)"
    try:
        con = sqlite3.connect(f"file:{queue}?mode=ro", uri=True, timeout=1.0)
        try:
            (waiting,) = con.execute("select count(*) from events where done_at is null").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f" (could not be read: {exc})"
    return f" ({waiting} event(s) waiting for a run)"


def check_config_files() -> list[Check]:
    """The ``.dlt`` toml files parse (dlt would otherwise stop every command with a parser traceback)."""
    out = []
    for name in ("config.toml", "secrets.toml"):
        path = dlt_dir() / name
        if not path.exists():
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            out.append(
                Check(FAIL, "config", f"{path} cannot be read ({exc.strerror or exc}): fix its permissions")
            )
        except tomllib.TOMLDecodeError as exc:
            out.append(Check(FAIL, "config", f"{path} is not valid TOML ({exc}): fix that line"))
    return out


def check_settings() -> list[Check]:
    """Every bad or misspelt setting, one line each, as the user writes it."""
    out = []
    for section in SECTIONS:
        try:
            problems = check_section(section)
        except Exception as exc:  # e.g. an unparsable toml: reported by check_config_files
            out.append(Check(FAIL, "settings", f"{section} could not be read: {type(exc).__name__}: {exc}"))
            continue
        out += [Check(FAIL, "settings", str(p)) for p in problems]
    if not out:
        out.append(Check(OK, "settings", f"every setting of {', '.join(SECTIONS)} is valid"))
        out += _old_start_date()
    return out


def _old_start_date() -> list[Check]:
    """A ``start_date`` older than Zoom keeps is not an error (the load starts at the limit), but say so."""
    from pipelines.settings_check import configured, validate_values
    from pipelines.zoom.client import earliest_allowed_date, utc_today

    raw, origins = configured(ZOOM)
    typed, _ = validate_values(ZOOM, {k: v for k, v in raw.items() if k == "start_date"}, origins)
    start, earliest = typed.get("start_date"), earliest_allowed_date(utc_today())
    if start is None or start >= earliest:
        return []
    where = f" ({origins['start_date']})" if origins.get("start_date") else ""
    return [
        Check(
            WARN,
            "settings",
            f"{ZOOM}.start_date = '{start.isoformat()}'{where} is older than Zoom's dashboard keeps (six months): "
            f"loads start at {earliest.isoformat()}",
        )
    ]


def _zoom_token_failure(exc: Exception, oauth_url: str) -> Check:
    from pipelines.zoom.auth import _oauth_error_fields

    reason, error = _oauth_error_fields(getattr(exc, "body", None))
    said = (
        f"HTTP {getattr(exc, 'status', None) or '?'} {error or ''}{f': {reason}' if reason else ''}".strip()
    )
    where = {k: origin_of(ZOOM, k) for k in ("account_id", "client_id", "client_secret")}

    def named(key: str) -> str:
        return f"{ZOOM}.{key}" + (f" ({where[key]})" if where[key] else "")

    if "account" in reason.lower():
        what = f"{named('account_id')} is wrong: copy the Account ID from the app's page in the Zoom App Marketplace"
    elif error == "invalid_client" or getattr(exc, "status", None) in (400, 401):
        what = (
            f"{named('client_id')} / {named('client_secret')} are wrong: copy both again from the app's page "
            "in the Zoom App Marketplace (and check the app is activated)"
        )
    else:
        what = f"check {ZOOM}.account_id, client_id and client_secret, and that the app is activated"
    return Check(
        FAIL, "zoom", f"Zoom's token endpoint {oauth_url}/token refused the credentials ({said}): {what}"
    )


_ZOOM_AUTH_KEYS = ("account_id", "client_id", "client_secret", "auth", "oauth_base_url", "token_file")


def check_zoom_token() -> list[Check]:
    """Ask Zoom's OAuth token endpoint for a token with the configured app (no data-call budget spent).

    Only the settings the token needs are resolved, so a bad budget setting does not hide wrong
    credentials (both are reported).
    """
    from pipelines.api_client import DEFAULT_REDACTOR, ApiError, AuthError, RetryPolicy
    from pipelines.settings_check import configured, validate_values
    from pipelines.zoom.auth import OAuthTokenEndpoint, TokenFile, ZoomRefreshTokenAuth

    raw, origins = configured(ZOOM)
    values, problems = validate_values(ZOOM, {k: v for k, v in raw.items() if k in _ZOOM_AUTH_KEYS}, origins)
    if problems:
        return [
            Check(WARN, "zoom", "token not requested: fix the sources.zoom settings reported above first")
        ]
    creds = {k: str(values.get(k) or "") for k in ("account_id", "client_id", "client_secret")}
    oauth_url = str(values.get("oauth_base_url") or "https://zoom.us/oauth").rstrip("/")
    sandbox = not any(creds.values())
    if sandbox:
        if not os.environ.get("MW_SANDBOX_URL"):
            return []  # check_zoom says the embedded sandbox is used
        from pipelines.embedded import sandbox_info

        info = sandbox_info()
        creds = {k: str(info[k]) for k in creds}
        oauth_url = str(info["zoom_oauth_base_url"]).rstrip("/")
    if not creds["client_id"] or not creds["client_secret"]:
        return []  # reported by check_zoom
    DEFAULT_REDACTOR.add(creds["client_secret"])
    auth = str(values.get("auth") or "auto")
    if auth == "auto":
        auth = "s2s" if creds["account_id"] else "oauth"
    token_file = TokenFile(_zoom_token_file())
    if auth == "oauth" and not token_file.exists():
        return []  # "run authorize": reported by check_zoom
    where = "the sandbox" if sandbox else "Zoom"
    endpoint = OAuthTokenEndpoint(
        oauth_url,
        creds["client_id"],
        creds["client_secret"],
        retry=RetryPolicy(max_attempts=2, max_retry_after=5),
        timeout=(5, 15),
    )
    try:
        if auth == "s2s":
            body = endpoint.token(grant_type="account_credentials", account_id=creds["account_id"])
            granted = body.get("scope")
            kind = "a Server-to-Server token"
        else:
            ZoomRefreshTokenAuth(endpoint, token_file).token()
            granted = (token_file.read() or {}).get("scope")
            kind = "an access token from the stored refresh token"
    except AuthError as exc:
        if auth == "oauth" and exc.status is None:
            return [Check(FAIL, "zoom", str(exc))]  # the token file itself (names the path)
        return [_zoom_token_failure(exc, oauth_url)]
    except ApiError as exc:
        return [
            Check(
                WARN,
                "zoom",
                f"could not reach {oauth_url}/token ({exc}): check the network or {ZOOM}.oauth_base_url; "
                "the credentials were not checked",
            )
        ]
    finally:
        endpoint.close()
    found = [Check(OK, "zoom", f"{where} issued {kind} at {oauth_url}/token: the credentials work")]
    if isinstance(granted, str):  # the token answer shows its scopes: are the load's all there?
        from pipelines.zoom.auth import missing_scopes

        for what, classic, granular in missing_scopes(granted):
            found.append(
                Check(
                    FAIL,
                    "zoom",
                    f"the app's token lacks the scope for {what}: add {classic} (or the granular {granular}) "
                    "on the app's Scopes page in the Zoom App Marketplace, then activate the app again",
                )
            )
    return found


def check_meets_token() -> list[Check]:
    if not _secret_source(f"{MEETS}.api_token"):
        return []
    return [
        Check(
            OK,
            "meets",
            "API token not sent: MEETS has no token endpoint (every authenticated call is a data call); "
            "the next load's first request checks it",
        )
    ]


def warehouse_blocker() -> str | None:
    """Why the warehouse cannot be written now (corrupt, locked, unreadable), or None."""
    bad = [c for c in check_warehouse() if c.topic == "warehouse" and c.status != OK]
    return bad[0].message if bad else None


def explain_failure(exc: BaseException) -> tuple[int, str] | None:
    """``(exit code, message)`` for a failure the user can act on, ``None`` for a bug (traceback)."""
    from pipelines.api_client import ApiError
    from pipelines.api_client.budget import LedgerError
    from pipelines.clock import ClockSettingError
    from pipelines.meets.settings import MeetsConfigError
    from pipelines.settings_check import SettingsError
    from pipelines.warehouse import NotAWarehouse

    if isinstance(exc, SettingsError | MeetsConfigError | ClockSettingError):
        return 2, str(exc)  # the configuration: exit 2, like a usage error
    if isinstance(exc, LedgerError):
        return 1, str(exc)
    from pipelines.accounts import AccountMismatch

    if isinstance(exc, ApiError | NotAWarehouse | AccountMismatch) or type(exc).__name__ == "WarehouseLocked":
        return 1, f"{type(exc).__name__}: {exc}"
    return None


def run_doctor() -> int:
    os.environ.setdefault("DLT_PROJECT_DIR", str(paths.ROOT))
    checks: list[Check] = []
    for fn in (
        check_config_files,
        check_settings,
        check_zoom,
        check_zoom_token,
        check_meets,
        check_meets_token,
        check_secret_files,
        check_warehouse,
        check_serving,
        check_budget,
        check_webhooks,
        check_youtube,
    ):
        try:
            checks += fn()
        except Exception as exc:  # doctor must explain, not crash
            checks.append(
                Check(FAIL, fn.__name__.removeprefix("check_"), f"check failed: {type(exc).__name__}: {exc}")
            )
    for c in checks:
        print(f"[{c.status:>4}] {c.topic:<10} {c.message}")
    return 1 if any(c.status == FAIL for c in checks) else 0
