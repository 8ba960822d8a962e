"""Warehouse file checks shared by the commands that write it.

A ``kill -9`` during the very first load can stop DuckDB while it is still creating the file,
leaving a file shorter than DuckDB's headers or without its magic bytes. DuckDB then refuses to
open it ("not a valid DuckDB database file") and every later run would fail. Such a file can hold
no data, so the next run removes it and starts over; anything else that is not a DuckDB file is
left alone and reported.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("pipelines.warehouse")

HEADER_BYTES = 3 * 4096  # main header + two database headers, written when DuckDB creates a file
MAGIC_OFFSET, MAGIC = 8, b"DUCK"


class NotAWarehouse(RuntimeError):
    """The warehouse path holds a file that is not a DuckDB database (and may hold someone's data)."""


def repair_interrupted_creation(path: Path) -> bool:
    """Remove a warehouse file whose creation was interrupted; return True when one was removed."""
    if not path.exists():
        return False
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    has_magic = head[MAGIC_OFFSET : MAGIC_OFFSET + len(MAGIC)] == MAGIC
    if has_magic and size >= HEADER_BYTES:
        return False  # a real DuckDB file (whatever state its WAL is in, DuckDB recovers it)
    cut_short = has_magic and size < HEADER_BYTES
    only_zeros = size <= HEADER_BYTES and not head.strip(b"\0")
    if not (cut_short or only_zeros):
        raise NotAWarehouse(
            f"{path} exists but is not a DuckDB database; move it away or set MW_WAREHOUSE to another path"
        )
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    log.warning("removed %s: its creation was interrupted (%d bytes, no data); starting it anew", path, size)
    return True
