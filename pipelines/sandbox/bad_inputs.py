"""Bad input on demand: named mutations of specific records of specific endpoints.

A mutation (one JSON object; the corpus in ``tests/reliability/bad_inputs/`` holds them) says which
endpoint, which record and what to break::

    {"name": "zoom-user-unknown-status", "endpoint": "users", "where": {"status": "pending"},
     "kind": "set", "field": "status", "value": "on_vacation", "expect": "quarantine"}

* ``endpoint``: a Zoom route name (``users``, ``users/meetings``, ``users/recordings``,
  ``report/users``, ``metrics/meetings``, ``metrics/meetings/participants``,
  ``metrics/meetings/participants/qos``) or ``meets/<function>`` (``meets/list_users``...,
  ``meets/get_conferencing_event_attendance``);
* the record: the ``nth`` (default 0) record matching ``where`` in the first successful answer of
  that endpoint that has one. From then on it is *pinned* by its id (and, for per-meeting or
  per-event endpoints, by the request path and query), so retries, restarts and later runs see the
  same broken record. ``target: "body"`` breaks the answer itself (MEETS attendance);
* ``kind``: ``set`` (``field`` to ``value``; ``null`` where a list belongs, an unknown enum value, a
  wrong type, a timestamp without zone, a negative duration, "N/A" QoS values...), ``delete``
  (a missing field), ``huge_string`` (``size`` characters, default 1,000,000), ``non_utf8`` (bytes
  that are not UTF-8 inside the JSON string), ``duplicate_across_pages`` (the record is served again
  on every later page of the same listing), ``map_key_mismatch`` (MEETS: the map key is another id);
* ``field``: a dotted path inside the record (``recording_files.0.file_type``,
  ``user_qos.2.audio_input.bitrate``);
* ``expect``: what the project promises for it - ``quarantine`` (the record is kept in the source's
  quarantine table with the reason, not loaded) or ``loaded`` (valid raw data, loaded verbatim; the
  models parse it). The truth (``/_sandbox/truth`` -> ``bad_inputs``) lists every mutation with the
  record it pinned, so a test knows exactly which records belong in quarantine.

Set them with ``POST /_sandbox/bad_inputs`` (``{"mutations": [...]}``; ``{"clear": true}`` first to
replace), ``SandboxConfig(bad_inputs=[...])`` or ``SANDBOX_BAD_INPUTS=<json file or folder>``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

from pipelines.sandbox.http_types import Request, Response

KINDS = ("set", "delete", "huge_string", "non_utf8", "duplicate_across_pages", "map_key_mismatch")
EXPECT = ("quarantine", "loaded")

# endpoint -> (container of the records, id key); MEETS maps are keyed by id, the rest are lists
CONTAINERS: dict[str, tuple[str, str | None]] = {
    "users": ("users", "id"),
    "users/meetings": ("meetings", "id"),
    "users/recordings": ("meetings", "uuid"),
    "meetings/recordings": ("recording_files", "id"),
    "report/users": ("users", "id"),
    "metrics/meetings": ("meetings", "uuid"),
    "metrics/meetings/participants": ("participants", "user_id"),
    "metrics/meetings/participants/qos": ("participants", "user_id"),
    "meets/list_admins": ("admins", "meetsIdAdmin"),
    "meets/list_connections": ("connections", "meetsIdConnection"),
    "meets/list_courses": ("courses", "meetsIdCourse"),
    "meets/list_users": ("users", "meetsIdUser"),
    "meets/list_course_users": ("users", "meetsIdUser"),
    "meets/list_conferencing_events": ("conferencingEvents", "meetsIdConferencingEvent"),
    "meets/list_conference_recordings": ("conferenceRecordings", "meetsIdConferenceRecording"),
    "meets/get_conferencing_event_attendance": ("attendance", None),
}
# endpoints whose records are only unique within one request path/query (per meeting, per event...)
SCOPED = {
    "meetings/recordings",
    "metrics/meetings/participants",
    "metrics/meetings/participants/qos",
    "meets/list_course_users",
    "meets/get_conferencing_event_attendance",
}
_PAGING = {"next_page_token", "page_size", "startAfterId", "limit"}
NON_UTF8 = b"caf\xe9 \xff\xfe broken"


@dataclass
class Mutation:
    name: str
    endpoint: str
    kind: str
    field: str = ""
    value: Any = None
    nth: int = 0
    where: dict[str, Any] = dataclasses.field(default_factory=dict)
    target: str = "record"  # or "body"
    size: int = 1_000_000
    expect: str = "quarantine"
    note: str = ""
    # pinned on first use
    record_id: str | None = None
    scope: str | None = None
    applied: int = 0
    _copy: Any = None
    _seen_scopes: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Mutation:
        known = {f for f in cls.__dataclass_fields__ if not f.startswith("_")}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown mutation key(s) {sorted(unknown)}; known: {sorted(known)}")
        m = cls(**raw)
        if m.endpoint not in CONTAINERS:
            raise ValueError(
                f"mutation {m.name!r}: unknown endpoint {m.endpoint!r}; known: {sorted(CONTAINERS)}"
            )
        if m.kind not in KINDS:
            raise ValueError(f"mutation {m.name!r}: unknown kind {m.kind!r}; known: {KINDS}")
        if m.expect not in EXPECT:
            raise ValueError(f"mutation {m.name!r}: expect must be one of {EXPECT}")
        if m.kind == "map_key_mismatch" and not m.endpoint.startswith("meets/"):
            raise ValueError(f"mutation {m.name!r}: map_key_mismatch applies to MEETS maps only")
        return m


def load_corpus(path: str | Path) -> list[dict[str, Any]]:
    """Mutations from a JSON file (one object or a list) or every ``*.json`` file of a folder."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    out: list[dict[str, Any]] = []
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        out.extend(data if isinstance(data, list) else [data])
    return out


class BadInputs:
    """The active mutations of one sandbox (thread-safe)."""

    def __init__(self, mutations: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self.mutations: list[Mutation] = []
        self.add(mutations or [])

    def add(self, raw: list[dict[str, Any]]) -> None:
        parsed = [Mutation.from_dict(dict(r)) for r in raw]
        with self._lock:
            self.mutations.extend(parsed)

    def clear(self) -> None:
        with self._lock:
            self.mutations.clear()

    def truth(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "name": m.name,
                    "endpoint": m.endpoint,
                    "kind": m.kind,
                    "field": m.field,
                    "record_id": m.record_id,
                    "scope": m.scope,
                    "expect": m.expect,
                    "applied": m.applied,
                    "note": m.note,
                }
                for m in self.mutations
            ]

    # ---------------------------------------------------------------- serving
    def apply(self, endpoint: str, req: Request, resp: Response) -> Response:
        if not self.mutations or resp.status != 200 or not resp.is_json:
            return resp
        with self._lock:
            active = [m for m in self.mutations if m.endpoint == endpoint]
            if not active:
                return resp
            body = orjson.loads(resp.body)  # type: ignore[arg-type]
            placeholders: dict[bytes, bytes] = {}
            for m in active:  # pin first, on the answer as served: mutations never shift each other
                _pin(m, body, req)
            for m in active:
                _apply_one(m, body, req, placeholders)
            raw = orjson.dumps(body)
        for placeholder, bad in placeholders.items():
            raw = raw.replace(placeholder, bad)
        resp.body = raw
        return resp


def _scope(req: Request) -> str:
    query = sorted((k, v) for k, v in parse_qsl(req.raw_query, keep_blank_values=True) if k not in _PAGING)
    form = sorted((k, v[0]) for k, v in req.form.items() if k not in _PAGING)
    return req.path + "?" + "&".join(f"{k}={v}" for k, v in query + form)


def _first_page(req: Request) -> bool:
    token = req.arg("next_page_token")
    start = req.arg("startAfterId")
    return not token and start in (None, "", "0")


def _records(body: dict, endpoint: str) -> list[tuple[str | None, Any, dict]]:
    """``(id, map key or list index, record)`` of an answer, in a deterministic order."""
    container, id_key = CONTAINERS[endpoint]
    raw = body.get(container)
    out: list[tuple[str | None, Any, dict]] = []
    if isinstance(raw, dict):
        for key in sorted(raw, key=lambda k: (len(k), k)):
            rec = raw[key]
            if isinstance(rec, dict):
                out.append((str(rec.get(id_key)) if id_key else str(key), key, rec))
    elif isinstance(raw, list):
        for i, rec in enumerate(raw):
            if isinstance(rec, dict):
                rid = str(rec.get(id_key)) if id_key else str(i + 1)
                out.append((rid, i, rec))
    return out


def _matches(rec: dict, where: dict[str, Any]) -> bool:
    return all(rec.get(k) == v for k, v in where.items())


def _pin(m: Mutation, body: dict, req: Request) -> None:
    """Choose the record of a mutation that has none yet (see the module docstring)."""
    if m.record_id is not None:
        return
    scope = _scope(req)
    if m.target == "body":  # the nth distinct request (per event...) of the endpoint
        if scope not in m._seen_scopes:
            m._seen_scopes.append(scope)
        if len(m._seen_scopes) == m.nth + 1 and m._seen_scopes[-1] == scope:
            m.record_id, m.scope = scope.rsplit("=", 1)[-1], scope
        return
    if m.kind == "duplicate_across_pages" and not _first_page(req):
        return
    candidates = [r for r in _records(body, m.endpoint) if _matches(r[2], m.where)]
    if len(candidates) <= m.nth:
        return
    rid, _, rec = candidates[m.nth]
    m.record_id = rid
    m.scope = scope if (m.endpoint in SCOPED or m.kind == "duplicate_across_pages") else None
    m._copy = copy.deepcopy(rec)


def _apply_one(m: Mutation, body: dict, req: Request, placeholders: dict[bytes, bytes]) -> None:
    scope = _scope(req)
    if m.record_id is None or (m.scope is not None and m.scope != scope):
        return
    if m.target == "body":
        _mutate(m, body, placeholders)
        m.applied += 1
        return
    records = _records(body, m.endpoint)
    container = CONTAINERS[m.endpoint][0]
    if m.kind == "duplicate_across_pages":
        if _first_page(req):
            return
        target = body.get(container)
        dup = copy.deepcopy(m._copy)
        if isinstance(target, list):
            target.append(dup)
        elif isinstance(target, dict):
            target[str(m.record_id)] = dup  # MEETS maps are keyed by id: the same key on a later page
        m.applied += 1
        return
    for rid, key, rec in records:
        if rid != m.record_id:
            continue
        if m.kind == "map_key_mismatch":
            raw = body[container]
            raw[str(int(key) + 900_000) if str(key).isdigit() else f"{key}-x"] = raw.pop(key)
        else:
            _mutate(m, rec, placeholders)
        m.applied += 1


def _mutate(m: Mutation, rec: dict, placeholders: dict[bytes, bytes]) -> None:
    parts = [p for p in m.field.split(".") if p]
    parent: Any = rec
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
    last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
    if m.kind == "delete":
        if isinstance(parent, list):
            parent.pop(last)
        else:
            parent.pop(last, None)
    elif m.kind == "set":
        parent[last] = copy.deepcopy(m.value)
    elif m.kind == "huge_string":
        parent[last] = ("x" * 1023 + " ") * (m.size // 1024) + "x" * (m.size % 1024)
    elif m.kind == "non_utf8":
        marker = f"@@mw-non-utf8-{len(placeholders)}@@"
        placeholders[f'"{marker}"'.encode()] = b'"' + NON_UTF8 + b'"'
        parent[last] = marker
