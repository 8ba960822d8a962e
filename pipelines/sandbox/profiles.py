"""Sandbox profiles: the same account served the way thin real accounts look.

``SANDBOX_PROFILE=sparse`` omits, per record and with a seeded probability
(``SANDBOX_SPARSE_PROBABILITY``, default 0.3; ``SANDBOX_SPARSE_SEED``, default the account seed),
every field the published spec does not mark as required. Zoom's specs mark almost nothing required
(``GET /users``: ``email`` and ``type``); the sandbox also keeps each record's identity and cursor
fields (ids, uuids, the timestamps a record is listed and paged by, the lists that hold child
records), without which no client could address the record at all. The choice is a pure function of
(seed, endpoint, record id, field), so a record looks the same on every page, retry and run, as a
real account's records do. Nested objects (QoS blocks, MEETS settings and roles) lose fields the
same way, whole blocks included.

``SANDBOX_EMPTY`` (comma separated) empties whole entities: ``recordings`` (Zoom and MEETS),
``course_users``, ``attendance`` (every event answers ``[]``, as the MEETS manual describes for
services without attendance), ``lti_ids`` (no ``ltiIdUser`` / ``ltiIdContext``), ``meetings``
(nothing in the dashboard's windows, no active hosts) and ``meets_recordings``.

The truth (``truth.py``) describes the full account; under a profile the tests check robustness
(the load completes, the raw contract holds, every model and test passes), not counts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipelines.sandbox.http_types import Response

PROFILES = ("full", "sparse")
EMPTY_KINDS = ("recordings", "course_users", "attendance", "lti_ids", "meetings", "meets_recordings")

# endpoint -> (records container, record id key, fields kept)
ZOOM_KEEP: dict[str, tuple[str, str, frozenset[str]]] = {
    "users": ("users", "id", frozenset({"id", "email", "type"})),  # email, type: the spec's required
    "users/meetings": ("meetings", "id", frozenset({"id"})),
    "report/users": ("users", "id", frozenset({"id"})),
    "metrics/meetings": ("meetings", "uuid", frozenset({"uuid", "id", "start_time", "end_time"})),
    "metrics/meetings/participants": ("participants", "user_id", frozenset({"user_id", "join_time"})),
    "metrics/meetings/participants/qos": ("participants", "user_id", frozenset({"user_id", "user_qos"})),
    "users/recordings": ("meetings", "uuid", frozenset({"uuid", "id", "start_time", "recording_files"})),
}
RECORDING_FILE_KEEP = frozenset({"id", "meeting_id", "download_url"})
QOS_SAMPLE_KEEP = frozenset({"date_time"})
MEETS_CONTAINERS = {
    "list_admins": "admins",
    "list_connections": "connections",
    "list_courses": "courses",
    "list_users": "users",
    "list_course_users": "users",
    "list_conferencing_events": "conferencingEvents",
    "list_conference_recordings": "conferenceRecordings",
}
MEETS_KEEP_PREFIXES = ("meetsId",)
MEETS_KEEP = frozenset({"timeBegin", "timeEnd", "timeAdded", "timeJoin", "timeLeave"})


def _u(seed: int, *parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Profile:
    kind: str = "full"
    probability: float = 0.3
    seed: int = 42
    empty: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, account_seed: int) -> Profile:
        env = os.environ
        kind = (env.get("SANDBOX_PROFILE") or "full").strip().lower()
        if kind not in PROFILES:
            raise ValueError(f"SANDBOX_PROFILE={kind!r}: choose one of {', '.join(PROFILES)}")
        empty = frozenset(e.strip() for e in (env.get("SANDBOX_EMPTY") or "").split(",") if e.strip())
        unknown = empty - set(EMPTY_KINDS)
        if unknown:
            raise ValueError(
                f"SANDBOX_EMPTY: unknown {sorted(unknown)}; choose from {', '.join(EMPTY_KINDS)}"
            )
        probability = float(env.get("SANDBOX_SPARSE_PROBABILITY") or 0.3)
        if not 0 <= probability <= 1:
            raise ValueError(f"SANDBOX_SPARSE_PROBABILITY={probability}: must be within [0, 1]")
        seed = int(env.get("SANDBOX_SPARSE_SEED") or account_seed)
        return cls(kind, probability, seed, empty)

    @property
    def active(self) -> bool:
        return self.kind != "full" or bool(self.empty)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "probability": self.probability,
            "seed": self.seed,
            "empty": sorted(self.empty),
        }

    # ------------------------------------------------------------------ applying
    def apply(self, endpoint: str, resp: Response) -> Response:
        """The response as this profile serves it (``endpoint``: a Zoom route name or ``meets/<fn>``)."""
        if not self.active or resp.status != 200 or not resp.is_json:
            return resp
        body = orjson.loads(resp.body)  # type: ignore[arg-type]
        if not isinstance(body, dict):
            return resp
        if endpoint.startswith("meets/"):
            self._meets(endpoint[len("meets/") :], body)
        else:
            self._zoom(endpoint, body)
        resp.body = orjson.dumps(body)
        return resp

    def _zoom(self, endpoint: str, body: dict) -> None:
        if "recordings" in self.empty and endpoint == "users/recordings":
            body["meetings"], body["total_records"], body["next_page_token"] = [], 0, ""
        if "meetings" in self.empty and endpoint in ("metrics/meetings", "report/users"):
            key = "meetings" if endpoint == "metrics/meetings" else "users"
            body[key], body["total_records"], body["next_page_token"] = [], 0, ""
        if self.kind != "sparse" or endpoint not in ZOOM_KEEP:
            return
        container, id_key, keep = ZOOM_KEEP[endpoint]
        for record in body.get(container) or ():
            if not isinstance(record, dict):
                continue
            rid = record.get(id_key) or record.get("email")
            self._thin(record, keep, (endpoint, rid))
            if endpoint == "users/recordings":
                for f in record.get("recording_files") or ():
                    if isinstance(f, dict):
                        self._thin(
                            f, RECORDING_FILE_KEEP, (endpoint, rid, f.get("id") or f.get("download_url"))
                        )
            if endpoint == "metrics/meetings/participants/qos":
                for sample in record.get("user_qos") or ():
                    if isinstance(sample, dict):
                        self._thin(
                            sample, QOS_SAMPLE_KEEP, (endpoint, rid, sample.get("date_time")), nested=True
                        )

    def _meets(self, function: str, body: dict) -> None:
        if function == "list_course_users" and "course_users" in self.empty:
            body["users"] = {}
        if function == "list_conference_recordings" and self.empty & {"recordings", "meets_recordings"}:
            body["conferenceRecordings"] = {}
        if function == "get_conferencing_event_attendance" and "attendance" in self.empty:
            body["attendance"] = []
        if "lti_ids" in self.empty:
            for entities in _maps(body):
                for e in entities:
                    e.pop("ltiIdUser", None)
                    e.pop("ltiIdContext", None)
        if self.kind != "sparse":
            return
        if function == "get_conferencing_event_attendance":
            event = body.get("meetsIdConferencingEvent")
            for i, row in enumerate(body.get("attendance") or ()):
                if isinstance(row, dict):
                    self._thin(row, MEETS_KEEP, (function, event, i), nested=True)
            return
        for name, entities in _named_maps(body):
            for e in entities:
                rid = next((e[k] for k in e if k.startswith("meetsId") and not isinstance(e[k], list)), None)
                self._thin(
                    e, MEETS_KEEP, (function, name, rid), nested=True, keep_prefixes=MEETS_KEEP_PREFIXES
                )

    def _thin(
        self,
        record: dict,
        keep: Iterable[str],
        identity: tuple,
        *,
        nested: bool = False,
        keep_prefixes: tuple[str, ...] = (),
    ) -> None:
        kept = set(keep)
        for key in list(record):
            if key in kept or (keep_prefixes and key.startswith(keep_prefixes)):
                continue
            if _u(self.seed, *identity, key) < self.probability:
                del record[key]
            elif nested and isinstance(record[key], dict):
                inner = record[key]
                for sub in list(inner):
                    if _u(self.seed, *identity, key, sub) < self.probability:
                        del inner[sub]


def _named_maps(body: dict) -> list[tuple[str, list[dict]]]:
    """MEETS entity maps of a list answer (primary and cross-referenced): ``(name, entities)``."""
    out = []
    for name, value in body.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            out.append((name, list(value.values())))
    return out


def _maps(body: dict) -> list[list[dict]]:
    return [entities for _, entities in _named_maps(body)]
