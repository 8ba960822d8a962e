"""Quarantine: a record the API sent that cannot be loaded as it is goes to ``<dataset>.quarantine``.

Why: one malformed record (a missing id, a string where a number belongs, invalid UTF-8, a
timestamp without a zone, an end before its start...) must neither crash the whole load nor be
dropped silently, nor slip into the raw tables where it would break the models (dlt would add a
``__v_text`` variant column, a key would be null, an accepted-values test would fail). So every
source checks each record against its table's contract (the column hints of ``docs/raw_schema.md``
plus a few rules per table) and routes a failing one here, with the reason and the record as the
API sent it (secrets removed, long strings shortened). The load completes; one warning line per
record names the endpoint, the record id and the field.

Table ``quarantine`` (merge on ``endpoint, record_id, field``: a record seen again on a later run
updates its row, never duplicates it): ``endpoint`` (API path or MEETS function), ``table_name`` (the
raw table the record was meant for), ``record_id`` (its id; ``(no id) sha1:...`` of the payload when
the id itself is missing), ``field``, ``reason``, ``payload`` (JSON text, redacted), ``load_id``,
``seen_at``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dlt

from pipelines import clock
from pipelines.api_client import DEFAULT_REDACTOR

log = logging.getLogger("pipelines.quarantine")

TABLE = "quarantine"
MAX_TEXT = 65_536
"""Strings longer than this (characters) are not loaded: no real name, topic or URL is that long."""
PAYLOAD_STRING = 512
"""In the quarantined payload, strings are cut to this many characters (the reason says why)."""
PRIMARY_KEY = ("endpoint", "record_id", "field")
COLUMNS: dict[str, dict[str, Any]] = {
    "endpoint": {"data_type": "text", "nullable": False},
    "table_name": {"data_type": "text", "nullable": True},
    "record_id": {"data_type": "text", "nullable": False},
    "field": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "payload": {"data_type": "text", "nullable": True},
    "load_id": {"data_type": "text", "nullable": True},
    "seen_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
}
_ZONE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str


# ------------------------------------------------------------------------------------------ checks
def _walk_strings(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk_strings(v, f"{path}[{i}]")


def text_problem(record: Mapping[str, Any]) -> Problem | None:
    """Invalid UTF-8 (decoded as surrogates by the HTTP layer) or an over-long string, anywhere."""
    for path, text in _walk_strings(record, ""):
        if _SURROGATE.search(text):
            return Problem(path, "holds bytes that are not valid UTF-8")
        if len(text) > MAX_TEXT:
            return Problem(path, f"is {len(text):,} characters long (more than {MAX_TEXT:,})")
    return None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp *with* a zone -> aware datetime; anything else -> ``None``."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str) or not _ZONE.search(value.strip()):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _flatten(row: Mapping[str, Any], json_columns: frozenset[str], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name not in json_columns:
            out.update(_flatten(value, json_columns, f"{name}__"))
        else:
            out[name] = value
    return out


def _type_problem(name: str, spec: Mapping[str, Any], value: Any) -> Problem | None:
    kind = spec.get("data_type")
    if value is None:
        return None
    if kind == "bigint":
        if isinstance(value, bool) or not isinstance(value, int):
            return Problem(name, f"should be an integer, got {type(value).__name__} {_short(value)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            return Problem(name, f"should be true/false, got {type(value).__name__} {_short(value)}")
    elif kind == "text":
        if isinstance(value, (bool, Mapping, list, tuple)):
            return Problem(name, f"should be text, got {type(value).__name__} {_short(value)}")
    elif kind == "timestamp":
        if value == "" and spec.get("nullable", True):
            return None
        if isinstance(value, str) and parse_timestamp(value) is None:
            if _looks_like_naive_timestamp(value):
                return Problem(name, f"timestamp without a time zone {_short(value)}")
            return Problem(name, f"is not an ISO 8601 timestamp {_short(value)}")
        if not isinstance(value, (str, dt.datetime)):
            return Problem(name, f"should be a timestamp, got {type(value).__name__} {_short(value)}")
    elif kind == "date":
        if isinstance(value, str) and not _DATE.match(value):
            return Problem(name, f"is not a date (yyyy-mm-dd) {_short(value)}")
        if not isinstance(value, (str, dt.date)):
            return Problem(name, f"should be a date, got {type(value).__name__} {_short(value)}")
    return None


def _looks_like_naive_timestamp(value: str) -> bool:
    try:
        return dt.datetime.fromisoformat(value.strip()).tzinfo is None
    except ValueError:
        return False


def check_row(row: Mapping[str, Any], columns: Mapping[str, Mapping[str, Any]]) -> Problem | None:
    """The row against its table's column hints: required columns present, types right, text sane."""
    problem = text_problem(row)
    if problem is not None:
        return problem
    json_columns = frozenset(n for n, s in columns.items() if s.get("data_type") == "json")
    flat = _flatten(row, json_columns)
    for name, spec in columns.items():
        value = flat.get(name)
        if not spec.get("nullable", True) and (value is None or value == ""):
            return Problem(name, "is required but missing" if name not in flat else "is required but empty")
        problem = _type_problem(name, spec, value)
        if problem is not None:
            return problem
    return None


def check_enum(row: Mapping[str, Any], name: str, allowed: Iterable[str]) -> Problem | None:
    value = row.get(name)
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        return Problem(name, f"unknown value {_short(value)} (known: {', '.join(allowed)})")
    return None


def check_order(row: Mapping[str, Any], start: str, end: str, *, timestamps: bool = True) -> Problem | None:
    """``end`` before ``start``: a negative duration."""
    a, b = row.get(start), row.get(end)
    if timestamps:
        a, b = parse_timestamp(a), parse_timestamp(b)
    elif isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int) or not isinstance(b, int):
        return None
    if a is not None and b is not None and b < a:
        return Problem(end, f"is before {start} (a negative duration)")
    return None


def check_non_negative(row: Mapping[str, Any], name: str) -> Problem | None:
    value = row.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return Problem(name, f"is negative ({value})")
    if isinstance(value, str) and value.strip().startswith("-"):
        return Problem(name, f"is negative ({_short(value)})")
    return None


def check_list(row: Mapping[str, Any], name: str, *, required: bool = False) -> Problem | None:
    if name not in row:
        return Problem(name, "is required but missing") if required else None
    value = row[name]
    if value is None:
        return Problem(name, "is null where a list was expected")
    if not isinstance(value, (list, tuple)):
        return Problem(name, f"should be a list, got {type(value).__name__} {_short(value)}")
    return None


def first(*problems: Problem | None) -> Problem | None:
    return next((p for p in problems if p is not None), None)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------ rows
def record_id(value: Any, payload: Any) -> str:
    """The record's id as text, or a stable digest of the payload when the id is missing."""
    if value is not None and value != "" and not isinstance(value, (Mapping, list)):
        return _sanitize(str(value))[:200]
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode("utf-8", "replace"))
    return f"(no id) sha1:{digest.hexdigest()[:12]}"


def _sanitize(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        value = _sanitize(value)
        if len(value) > PAYLOAD_STRING:
            return value[:PAYLOAD_STRING] + f"...[{len(value):,} characters]"
        return value
    if isinstance(value, Mapping):
        return {str(k): _shorten(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shorten(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _current_load_id() -> str | None:
    try:
        return str(dlt.current.load_package_state()["load_id"])
    except Exception:  # outside an extract step (unit tests)
        return None


class Quarantine:
    """Collects quarantined records of one resource; ``drain()`` hands them to dlt as a table item."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[dict[str, Any]] = []
        self.total = 0

    def add(
        self,
        endpoint: str,
        table: str,
        rid: Any,
        problem: Problem,
        payload: Any,
    ) -> None:
        payload_text = DEFAULT_REDACTOR.redact(json.dumps(_shorten(payload), default=str, ensure_ascii=False))
        row = {
            "endpoint": endpoint,
            "table_name": table,
            "record_id": record_id(rid, _shorten(payload)),
            "field": _sanitize(problem.field)[:200],
            "reason": DEFAULT_REDACTOR.redact(_sanitize(problem.reason)),
            "payload": payload_text,
            "load_id": _current_load_id(),
            "seen_at": clock.now(),
        }
        self.rows.append(row)
        self.total += 1
        log.warning(
            "%s: quarantined a record of %s (endpoint %s, record id %s): field %s %s",
            self.source,
            table,
            endpoint,
            row["record_id"],
            row["field"],
            row["reason"],
        )

    def drain(self) -> Any | None:
        """The collected rows as a dlt item for the ``quarantine`` table (``None`` when empty)."""
        if not self.rows:
            return None
        rows, self.rows = self.rows, []
        return quarantine_item(rows)


def quarantine_item(rows: list[dict[str, Any]]) -> Any:
    hints = dlt.mark.make_hints(
        table_name=TABLE, write_disposition="merge", primary_key=list(PRIMARY_KEY), columns=COLUMNS
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def is_quarantine_page(page: Any) -> bool:
    """Whether a page a transformer received holds quarantine rows (the parent yields both kinds)."""
    return (
        isinstance(page, list)
        and bool(page)
        and isinstance(page[0], Mapping)
        and {"table_name", "record_id", "reason", "seen_at"} <= page[0].keys()
    )
