"""Zoom's heavy answers, kept on disk from the moment they arrive until the warehouse holds them.

Participants and per-minute QoS cost Zoom's *heavy* requests, the scarce daily budget. dlt commits
data and state only when a load completes, so an interrupted run (Ctrl-C, SIGTERM, ``kill -9``,
a crash) used to lose every answer it had paid for, and the rerun paid again. The journal closes
that gap: as soon as one meeting's participants and QoS are complete, its answers are written to
one file (``<state dir>/zoom_journal/<key>.json.zst``, written to a temporary name and renamed, so
a file is either whole or absent). A later run reads a meeting from the journal instead of asking
Zoom again; a load that completes empties the journal.

So the checkpoint is one meeting: a kill at any moment wastes at most the requests of the meeting
whose answers were still arriving. The active-hosts report (also heavy) is kept the same way for
the months a completed run would not ask for again (those before the lookback). A file holds exactly what Zoom sent (not our shaping of it), so
the rows a replayed meeting produces are the rows a fresh fetch would, quarantine included. The
files live beside the warehouse (one account per warehouse), hold no credentials, and are dropped
by ``load --refresh``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

log = logging.getLogger("pipelines.zoom.journal")

FORMAT = 1
CODEC = "zstd"
SUFFIX = ".json.zst"


def _dumps(doc: dict[str, Any]) -> bytes:
    """JSON bytes (orjson); an answer holding a lone surrogate (it happens in names Zoom returns, and
    the sources quarantine such records) is written escaped by the standard library instead."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return json.dumps(doc).encode("ascii")


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # escaped lone surrogates (see _dumps)
        return json.loads(body)


def _key(key: str) -> str:
    """A file name for a key (meeting UUIDs hold ``/`` and ``+``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


LISTING_PREFIX = "listing:"


def listing_key(endpoint: str, *parts: object) -> str:
    """The key of a listing's answer: the endpoint and what selects the page (kind, window)."""
    return LISTING_PREFIX + ":".join([endpoint, *map(str, parts)])


def settled(window_end: dt.date, today: dt.date, lookback_days: int) -> bool:
    """Whether a window ends before the lookback: a completed run would not list it again, so an
    interrupted run's answer for it is as good as a new one."""
    return window_end < today - dt.timedelta(days=lookback_days)


@dataclass
class Saved:
    """One meeting's answers as Zoom sent them."""

    meeting_uuid: str
    kind: str
    status: str
    participants: list[dict[str, Any]]
    qos: list[dict[str, Any]]


@dataclass
class FetchJournal:
    """Answers fetched but not yet loaded, one file per meeting (see the module docstring)."""

    folder: Path
    writes: int = 0
    bytes_written: int = 0
    write_seconds: float = 0.0
    replayed: int = 0
    _codec: pa.Codec = field(default_factory=lambda: pa.Codec(CODEC, compression_level=1), repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    def _path(self, key: str) -> Path:
        # a meeting's answers (key: its UUID) and a listing's (key: ``listing_key``) are told apart
        kind = "listing" if key.startswith(LISTING_PREFIX) else "meeting"
        return self.folder / f"{kind}-{_key(key)}{SUFFIX}"

    def __len__(self) -> int:
        return len(self.files())

    def __bool__(self) -> bool:  # a journal is there even when it holds no file
        return True

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.exists() else []

    def meetings(self) -> int:
        """How many meetings' answers are kept."""
        return sum(1 for p in self.files() if p.name.startswith("meeting-"))

    def put(
        self,
        meeting_uuid: str,
        kind: str,
        status: str,
        participants: Sequence[Any],
        qos: Sequence[Any],
    ) -> None:
        """Keep one meeting's answers (whole file or nothing: temporary name, then rename)."""
        self.put_doc(
            meeting_uuid,
            {"kind": kind, "status": status, "participants": list(participants), "qos": list(qos)},
        )

    def get(self, meeting_uuid: str) -> Saved | None:
        """The kept answers of a meeting, or ``None`` (never kept, or unreadable: then fetched again)."""
        doc = self.get_doc(meeting_uuid)
        if doc is None:
            return None
        return Saved(
            meeting_uuid, str(doc["kind"]), str(doc["status"]), list(doc["participants"]), list(doc["qos"])
        )

    def has(self, key: str) -> bool:
        return self._path(key).exists()

    def put_doc(self, key: str, doc: dict[str, Any]) -> None:
        """Keep any answer under ``key`` (a meeting UUID or a :func:`listing_key`), whole or not at all."""
        started = time.perf_counter()
        body = _dumps({"format": FORMAT, "key": key, **doc})
        data = self._codec.compress(body, asbytes=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self._path(key)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            fh.write(len(body).to_bytes(8, "little"))
            fh.write(data)
        os.replace(tmp, final)
        self.writes += 1
        self.bytes_written += len(data) + 8
        self.write_seconds += time.perf_counter() - started

    def get_doc(self, key: str) -> dict[str, Any] | None:
        """What :meth:`put_doc` kept under ``key``, or ``None`` (never kept, or unreadable)."""
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            size = int.from_bytes(raw[:8], "little")
            doc = _loads(self._codec.decompress(raw[8:], decompressed_size=size, asbytes=True))
            if doc.get("format") != FORMAT or doc.get("key") != key:
                raise ValueError("not the answers of " + key)
        except Exception as exc:  # a damaged file costs its requests once more, never the run
            log.warning("ignoring unreadable journal file %s (%s); asking Zoom again", path, exc)
            path.unlink(missing_ok=True)
            return None
        self.replayed += 1
        return doc

    def clear(self) -> int:
        """Forget everything (the warehouse holds it now, or a refresh starts over); returns files removed."""
        removed = 0
        if self.folder.exists():
            for path in self.folder.iterdir():
                if path.name.endswith(SUFFIX) or path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
