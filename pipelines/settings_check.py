"""One place that knows what every setting of ``[sources.zoom]``, ``[sources.meets]`` and
``[recordings]`` may hold, and says so in the user's words.

Why one place: the doctor, every command and the sources' ``load_settings`` must agree on what is
valid, and a problem must be reported the way the user wrote the setting
(``sources.zoom.daily_budget_share = 1.5 (env SOURCES__ZOOM__DAILY_BUDGET_SHARE): must be ...``),
never as an internal name found deep in the rate limiter or the budget ledger, and never as a
traceback. A bad value is one line: the setting, the value (never the value of a secret), where it
came from, and what is allowed. A misspelt key is reported too: a budget that silently falls back
to the default because its key was misspelt is worse than an error.

Values are read through dlt's config providers (env vars such as ``SOURCES__ZOOM__PLAN``,
``.dlt/secrets.toml``, ``.dlt/config.toml``), exactly as the sources read them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipelines import clock

ZOOM, MEETS, RECORDINGS = "sources.zoom", "sources.meets", "recordings"
SECTIONS = (ZOOM, MEETS, RECORDINGS)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


# ----------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class SettingProblem:
    """One bad setting, as the user wrote it."""

    setting: str
    """Dotted name as in the toml files, e.g. ``sources.zoom.rate_safety``."""
    value: str | None
    """``repr`` of the bad value, ``None`` when it is a secret or not set."""
    allowed: str
    """What would be accepted (``must be ...``) or what to do."""
    origin: str | None = None
    """``env SOURCES__ZOOM__RATE_SAFETY`` / ``.dlt/config.toml`` / ``None`` (code or default)."""

    def __str__(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        shown = f" = {self.value}" if self.value is not None else ""
        return f"{self.setting}{shown}{where}: {self.allowed}"


class SettingsError(ValueError):
    """One or more settings are invalid; ``str()`` is one line per bad setting."""

    def __init__(self, problems: Iterable[SettingProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ----------------------------------------------------------------------------- rules
class _Bad(ValueError):
    """A value that does not fit its rule (message: what is allowed)."""


@dataclass(frozen=True)
class Rule:
    """What one setting may hold: ``parse`` turns a raw value into the typed one or raises ``_Bad``."""

    key: str
    parse: Callable[[Any], Any]
    secret: bool = False


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("must be text")
    return value


def _number(low: float | None, high: float | None, *, low_open: bool, example: str) -> Callable[[Any], float]:
    lo = "" if low is None else (f"greater than {low:g}" if low_open else f"at least {low:g}")
    hi = "" if high is None else f"at most {high:g}"
    allowed = f"must be a number {' and '.join(x for x in (lo, hi) if x)} (e.g. {example})"

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise _Bad(allowed)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Bad(allowed) from None
        if math.isnan(number) or math.isinf(number):
            raise _Bad(allowed)
        if low is not None and (number <= low if low_open else number < low):
            raise _Bad(allowed)
        if high is not None and number > high:
            raise _Bad(allowed)
        return number

    return parse


def _integer(
    low: int | None, high: int | None = None, *, example: str, unit: str = ""
) -> Callable[[Any], int]:
    if high is None:
        allowed = f"must be a whole number >= {low}{unit} (e.g. {example})"
    else:
        allowed = f"must be a whole number from {low} to {high}{unit} (e.g. {example})"

    def parse(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise _Bad(allowed)
        try:
            number = int(value.strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise _Bad(allowed) from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise _Bad(allowed)
        return number

    return parse


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parse(value)

    return wrapped


def parse_bool(value: Any) -> bool:
    """A true/false setting as TOML or an env var gives it (``true``/``yes``/``on``/``1`` and their
    opposites); ``ValueError`` ("must be true or false") for anything else."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad("must be true or false")


def _choice(options: Iterable[str], *, lower: bool = True) -> Callable[[Any], str]:
    opts = tuple(options)
    allowed = f"must be one of {', '.join(opts)}"

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad(allowed)
        text = value.strip().lower() if lower else value.strip()
        if text not in opts:
            close = difflib.get_close_matches(text, opts, n=1)
            raise _Bad(allowed + (f" (did you mean {close[0]}?)" if close else ""))
        return text

    return parse


def _url(example: str) -> Callable[[Any], str]:
    allowed = f"must be an http(s) URL such as {example}"

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad(allowed)
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Bad(allowed)
        return value.strip()

    return parse


def _string_list(item: Callable[[str], bool], allowed: str, *, comma: bool = False) -> Callable[[Any], list]:
    def parse(value: Any) -> list:
        items = value
        if isinstance(value, str):
            text = value.strip()
            try:
                items = json.loads(text) if text.startswith("[") else None
            except ValueError:
                raise _Bad(allowed) from None
            if items is None:
                if not comma:
                    raise _Bad(allowed)
                items = [x.strip() for x in text.split(",") if x.strip()]
        if not isinstance(items, list | tuple) or not all(isinstance(x, str) and item(x) for x in items):
            raise _Bad(allowed)
        return list(items)

    return parse


def _host(text: str) -> bool:
    """A host (``zoom.us``, ``host:port``) or an origin (``https://host:port``), as the HTTP client takes them."""
    from pipelines.api_client.client import origin_of

    value = text.strip()
    if not value or any(c.isspace() for c in value):
        return False
    if "://" not in value:
        return bool(_HOST.match(value))
    try:
        scheme, _, _ = origin_of(value)
    except ValueError:
        return False
    return scheme in ("http", "https") and urlsplit(value).path in ("", "/")


def _date_not_in_future(value: Any) -> dt.date:
    allowed = "must be a date yyyy-mm-dd (e.g. 2026-06-01), or unset to start six months back"
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise _Bad(allowed) from None
        if len(value.strip()) > 10 and value.strip()[10] not in "T ":
            raise _Bad(allowed)
    else:
        raise _Bad(allowed)
    today = clock.today()
    if day > today:
        raise _Bad(
            f"is in the future (today is {today.isoformat()} UTC), so a load would find nothing: set a past "
            "date yyyy-mm-dd, or unset it to start six months back"
        )
    return day


def _non_empty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("must not be empty")
    return value


def _header_name(value: Any) -> str:
    if not isinstance(value, str) or not _HEADER_NAME.match(value.strip()):
        raise _Bad("must be an HTTP header name such as X-MEETS-API-Token")
    return value.strip()


def zoom_rules() -> dict[str, Rule]:
    from pipelines.api_client.rate_limit import ZOOM_PLANS
    from pipelines.zoom.client import MAX_PAGE_SIZE, MAX_QOS_PAGE_SIZE
    from pipelines.zoom.settings import AUTH_MODES, MEETING_TYPES

    share = _number(0, 1, low_open=True, example="0.3")
    types = f'must be a list of {" and/or ".join(MEETING_TYPES)}, e.g. ["past"]'
    rules = [
        Rule("account_id", _optional(_text), secret=True),
        Rule("client_id", _optional(_text), secret=True),
        Rule("client_secret", _optional(_text), secret=True),
        Rule("auth", _choice(AUTH_MODES)),
        Rule("api_base_url", _url("https://api.zoom.us/v2")),
        Rule("oauth_base_url", _url("https://zoom.us/oauth")),
        Rule(
            "download_hosts",
            _optional(_string_list(_host, 'must be a list of host names or origins, e.g. ["zoom.us"]')),
        ),
        Rule("redirect_uri", _optional(_url("http://localhost:8080/redirect"))),
        Rule("token_file", _optional(_non_empty)),
        Rule("plan", _choice(sorted(ZOOM_PLANS))),
        Rule("daily_budget_share", share),
        Rule("daily_budget", _optional(_integer(0, example="5000", unit=" requests per UTC day"))),
        Rule("rate_safety", _number(0, 1, low_open=True, example="0.8")),
        Rule("start_date", _optional(_date_not_in_future)),
        Rule("lookback_days", _integer(0, example="2", unit=" days")),
        Rule("page_size", _integer(1, MAX_PAGE_SIZE, example=str(MAX_PAGE_SIZE))),
        Rule("qos_page_size", _integer(1, MAX_QOS_PAGE_SIZE, example=str(MAX_QOS_PAGE_SIZE))),
        Rule(
            "meeting_types",
            _optional(_string_list(lambda t: t in MEETING_TYPES, types)),
        ),
        Rule("proactive_token_refresh", parse_bool),
        Rule("ledger_path", _optional(_non_empty)),
        Rule("timeout_seconds", _number(0, None, low_open=True, example="60")),
    ]
    return {r.key: r for r in rules}


def meets_rules() -> dict[str, Rule]:
    rules = [
        Rule("api_token", _optional(_text), secret=True),
        Rule("base_url", _optional(_url("https://<client>.meets.cirqlive.com/api"))),
        Rule("token_header", _header_name),
        Rule("lookback_days", _number(0, None, low_open=False, example="2")),
        Rule("requests_per_second", _integer(1, example="10")),
        Rule("page_limit", _integer(1, 1000, example="1000")),
        Rule("zoom_attendance_daily_limit", _integer(0, example="2000")),
        Rule("attendance_recheck_days", _number(0, None, low_open=False, example="7")),
        Rule("timeout_seconds", _number(0, None, low_open=True, example="60")),
    ]
    return {r.key: r for r in rules}


def recordings_rules() -> dict[str, Rule]:
    from pipelines.recordings.settings import PLAN_SOURCES

    hosts = _string_list(_host, 'must be a list of host names or origins, e.g. ["zoom.us"]', comma=True)
    rules = [
        Rule("dest", _optional(_non_empty)),
        Rule("s3_endpoint_url", _optional(_url("http://127.0.0.1:9000"))),
        Rule("s3_region", _optional(_text)),
        Rule("max_concurrent", _integer(1, example="2")),
        Rule("part_size_mb", _integer(5, 5120, example="8", unit=" MiB (S3 part size limits)")),
        Rule("parts_in_flight", _integer(1, example="3")),
        Rule("max_attempts", _integer(1, example="3")),
        Rule("auto_delete_warn_days", _integer(0, example="7")),
        Rule("plan_from", _choice(PLAN_SOURCES)),
        Rule("zoom_download_hosts", _optional(hosts)),
    ]
    return {r.key: r for r in rules}


def rules_for(section: str) -> dict[str, Rule]:
    return {ZOOM: zoom_rules, MEETS: meets_rules, RECORDINGS: recordings_rules}[section]()


_SUBTABLES = {RECORDINGS: {"credentials"}}
"""Nested tables a section may hold (checked by their own code)."""


# ----------------------------------------------------------------------------- validation (pure)
def env_name(section: str, key: str) -> str:
    return "__".join([*section.split("."), key]).upper()


def _shown(rule: Rule, value: Any) -> str | None:
    if rule.secret or value is None:
        return None
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return repr(value)


def validate_values(
    section: str, values: Mapping[str, Any], origins: Mapping[str, str | None] | None = None
) -> tuple[dict[str, Any], list[SettingProblem]]:
    """Typed values of ``section`` and the problems; keys absent from ``values`` are not checked.

    ``values`` may hold raw config values (strings from env vars, toml types) or typed ones.
    """
    rules = rules_for(section)
    origins = origins or {}
    typed: dict[str, Any] = {}
    problems: list[SettingProblem] = []
    for key, raw in values.items():
        rule = rules.get(key)
        if rule is None:
            continue
        try:
            typed[key] = rule.parse(raw)
        except _Bad as bad:
            problems.append(SettingProblem(f"{section}.{key}", _shown(rule, raw), str(bad), origins.get(key)))
    return typed, problems


def require_valid(
    section: str, values: Mapping[str, Any], origins: Mapping[str, str | None] | None = None
) -> dict:
    """:func:`validate_values` that raises :class:`SettingsError` on any problem."""
    typed, problems = validate_values(section, values, origins)
    if problems:
        raise SettingsError(problems)
    return typed


# ----------------------------------------------------------------------------- reading the configuration
def dlt_dir() -> Path:
    """The ``.dlt`` folder dlt reads (``DLT_PROJECT_DIR`` or the working directory)."""
    return Path(os.environ.get("DLT_PROJECT_DIR") or os.getcwd()) / ".dlt"


def _toml_tables() -> dict[str, dict]:
    """``{".dlt/config.toml": {...}, ".dlt/secrets.toml": {...}}`` (files that parse)."""
    out: dict[str, dict] = {}
    for name in ("secrets.toml", "config.toml"):
        path = dlt_dir() / name
        try:
            out[f".dlt/{name}"] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # missing, unreadable or malformed: the doctor's file checks explain
    return out


def _section_of(doc: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    node: Any = doc
    for part in section.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def origin_of(section: str, key: str, tables: Mapping[str, Mapping] | None = None) -> str | None:
    """Where a setting is set: ``env NAME``, ``.dlt/secrets.toml``, ``.dlt/config.toml`` or None."""
    env = env_name(section, key)
    if env in os.environ:
        return f"env {env}"
    for name, doc in (tables if tables is not None else _toml_tables()).items():
        if key in _section_of(doc, section):
            return name
    return None


def configured(section: str) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Raw values of ``section`` as dlt's providers give them, and where each one came from."""
    import dlt

    tables = _toml_tables()
    values: dict[str, Any] = {}
    origins: dict[str, str | None] = {}
    for key, rule in rules_for(section).items():
        name = f"{section}.{key}"
        value = None
        for accessor in (dlt.secrets,) if rule.secret else (dlt.config, dlt.secrets):
            try:
                value = accessor.get(name)
            except Exception:  # an unparsable toml: reported by the doctor's file check
                value = None
            if value is not None:
                break
        if value is None:
            continue
        values[key] = value
        origins[key] = origin_of(section, key, tables)
    return values, origins


def known_keys(section: str) -> set[str]:
    """Every key the section's code reads: the rules here plus the fields of its settings class
    (so a setting added there is never reported as unknown before it gets a rule here)."""
    import inspect
    from dataclasses import fields

    known = set(rules_for(section))
    if section == ZOOM:
        from pipelines.zoom.settings import ZoomSourceConfiguration

        known |= {f.name for f in fields(ZoomSourceConfiguration) if not f.name.startswith("_")}
    elif section == MEETS:
        from pipelines.meets.settings import _configured

        known |= set(inspect.signature(_configured).parameters)
    elif section == RECORDINGS:
        from pipelines.recordings.settings import RecordingsSettings

        known |= {f.name for f in fields(RecordingsSettings)} - {"aws_access_key_id", "aws_secret_access_key"}
    return known


def unknown_keys(section: str) -> list[SettingProblem]:
    """Keys set in env vars or toml files under ``section`` that no code reads (misspellings)."""
    known = known_keys(section)
    sub = _SUBTABLES.get(section, set())
    prefix = env_name(section, "")
    found: dict[str, str] = {}
    for var in os.environ:
        if var.startswith(prefix) and "__" not in var[len(prefix) :]:
            found.setdefault(var[len(prefix) :].lower(), f"env {var}")
    for name, doc in _toml_tables().items():
        for key, value in _section_of(doc, section).items():
            if not isinstance(value, Mapping):
                found.setdefault(key, name)
    problems = []
    for key, origin in sorted(found.items()):
        if key in known or key in sub:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {section}.{close[0]}?" if close else f"known: {', '.join(sorted(known))}"
        problems.append(
            SettingProblem(
                f"{section}.{key}", None, f"is not a setting (so it would be ignored): {hint}", origin
            )
        )
    return problems


def check_section(section: str) -> list[SettingProblem]:
    """Every problem of one section's configuration (bad values and unknown keys)."""
    values, origins = configured(section)
    _, problems = validate_values(section, values, origins)
    return problems + unknown_keys(section)


def check_settings(sections: Iterable[str] = SECTIONS) -> list[SettingProblem]:
    """Every problem of the given sections (default: all of them)."""
    return [p for s in sections for p in check_section(s)]


def require_valid_settings(sections: Iterable[str] = SECTIONS) -> None:
    """Raise :class:`SettingsError` (one line per problem) if any setting of ``sections`` is bad.

    Commands call this first, so a bad setting stops them before any request or file is touched.
    """
    problems = check_settings(sections)
    if problems:
        raise SettingsError(problems)
