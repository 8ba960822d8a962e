"""``meta.json``: one per meeting folder, describing the files the inventory says are there.

Why it is rebuilt from the inventory and not from what a run touched: a run killed with ``kill -9``
never reaches its last step, and the next run finds most files already copied, so a folder's
``meta.json`` must not depend on the run that copied its files. After every run (and as soon as a
folder's last file of the run is settled), each folder that holds inventory rows gets a document
built from those rows; it is written only when it differs from the one last written there (its
digest is kept in ``recordings.meta_json``), so a rerun that changes nothing writes nothing.

The document: ``source``, ``meeting`` (what the latest plan said about the meeting), ``files`` (every
file of the folder with its status: ``copied`` ones are in the folder, with size and SHA-256; the
others say why they are not) and ``written_at``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pipelines import clock
from pipelines.recordings.destination import Destination
from pipelines.recordings.inventory import FolderMeta, Inventory, InventoryRow
from pipelines.recordings.model import COPIED, PLANNED

log = logging.getLogger("pipelines.recordings")

NAME = "meta.json"


def relative_to(root: str, url: str) -> str | None:
    """``url`` relative to the destination ``root`` (``None`` when it lies elsewhere)."""
    prefix = root.rstrip("/") + "/"
    return url[len(prefix) :] if url.startswith(prefix) else None


def folder_of(root: str, url: str) -> str | None:
    relative = relative_to(root, url)
    if relative is None or "/" not in relative:
        return None
    return relative.rsplit("/", 1)[0]


def jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def meeting_json(meeting: dict) -> str:
    """The plan's meeting metadata as stored (canonical JSON, so equal metadata compares equal)."""
    return json.dumps(
        {k: jsonable(v) for k, v in meeting.items()}, ensure_ascii=False, sort_keys=True, default=str
    )


def document(source: str, meeting: dict, rows: Iterable[InventoryRow]) -> dict[str, Any]:
    """The folder's document without ``written_at`` (what the digest covers)."""
    members = sorted(rows, key=lambda r: r.dest_url)
    return {
        "source": source,
        "meeting": meeting,
        "files": [
            {
                "name": r.dest_url.rsplit("/", 1)[-1],
                "file_key": r.file_key,
                "status": r.status,
                "size": r.size,
                "sha256": r.sha256,
                "declared_size": r.expected_size,
                "error": r.error if r.status != COPIED else None,
            }
            for r in members
        ],
    }


def digest(doc: dict[str, Any]) -> str:
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def render(doc: dict[str, Any]) -> bytes:
    full = {**doc, "written_at": clock.now().isoformat(timespec="seconds")}
    return json.dumps(full, indent=1, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


class MetaWriter:
    """Writes the ``meta.json`` of folders whose document changed (thread-safe)."""

    def __init__(self, dest: Destination, inventory: Inventory, root: str) -> None:
        self.dest = dest
        self.inventory = inventory
        self.root = root
        self.written = 0
        self.failed = 0
        self._lock = threading.Lock()

    def folder(self, folder: str) -> None:
        """Bring one folder's ``meta.json`` up to date (after its last file of the run settled).

        A failure here is only logged at debug level: :meth:`all` tries again at the end of the run.
        """
        rows = [
            r
            for r in self.inventory.rows_under(self.root, f"{self.root.rstrip('/')}/{folder}/")
            if folder_of(self.root, r.dest_url) == folder
        ]
        error = self._write(folder, rows, self.inventory.folder_meta(self.root, folder))
        if error is not None:
            log.debug("could not write %s/%s yet: %s", folder, NAME, error)

    def all(self) -> None:
        """Bring every folder of the destination up to date: those holding files that are not just
        ``planned``, and those that got a ``meta.json`` before."""
        by_folder: dict[str, list[InventoryRow]] = {}
        for row in self.inventory.rows(self.root).values():
            folder = folder_of(self.root, row.dest_url)
            if folder is not None:
                by_folder.setdefault(folder, []).append(row)
        known = self.inventory.folders_meta(self.root)
        failures: list[tuple[str, str]] = []
        for folder, rows in sorted(by_folder.items()):
            settled = any(r.status != PLANNED for r in rows)
            meta = known.get(folder)
            if settled or (meta is not None and meta.digest is not None):
                error = self._write(folder, rows, meta)
                if error is not None:
                    failures.append((folder, error))
        if failures:
            folder, error = failures[0]
            log.warning(
                "could not write %d %s file(s) (first %s/%s: %s); the recordings are safe and the next run "
                "writes them",
                len(failures),
                NAME,
                folder,
                NAME,
                error,
            )

    def _write(self, folder: str, rows: list[InventoryRow], known: FolderMeta | None) -> str | None:
        """Write the folder's document when it differs from the last one written; the error, if any."""
        if not rows:
            return None
        source = known.source if known and known.source else rows[0].source
        meeting = json.loads(known.meeting) if known and known.meeting else {}
        doc = document(source, meeting, rows)
        wanted = digest(doc)
        if known is not None and known.digest == wanted:
            return None
        try:
            self.dest.put_small(f"{folder}/{NAME}", render(doc))
        except Exception as exc:  # the digest stays old, so the next attempt writes it again
            with self._lock:
                self.failed += 1
            return f"{type(exc).__name__}: {exc}"
        self.inventory.meta_written(self.root, folder, source, wanted)
        with self._lock:
            self.written += 1
        return None
