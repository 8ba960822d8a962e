"""The streaming copy: source chunks -> SHA-256 + byte count -> destination, verified before commit.

Why this shape: a recording can be several GB, so nothing is ever held whole, in memory or on a
local disk. The checksum and the byte count are computed on the bytes as they pass (no second
read), and the file is committed under its final name only when the count matches what the source
declared (Zoom's ``file_size`` and the response's ``Content-Length``). Any failure, including
``KeyboardInterrupt``, aborts the upload, so the temporary object or multipart upload goes away.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipelines.recordings.destination import Upload


class VerificationError(Exception):
    """The bytes received do not match what the source declared; nothing was committed."""


@dataclass(frozen=True)
class CopyResult:
    final_url: str
    size: int
    sha256: str
    seconds: float

    @property
    def throughput(self) -> float:
        """Bytes per second."""
        return self.size / self.seconds if self.seconds > 0 else float("inf")


def check_size(received: int, expected_size: int | None, what: str) -> None:
    if expected_size is not None and received != expected_size:
        raise VerificationError(
            f"{what}: received {received} bytes but the source declared {expected_size}; "
            "nothing was committed, the file will be retried on the next run."
        )


def stream_copy(
    chunks: Iterable[bytes],
    upload: Upload,
    *,
    expected_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CopyResult:
    """Copy ``chunks`` into ``upload``; commit only if the size verifies, abort otherwise.

    ``expected_size`` is what the API declared (``None`` when it declares nothing, e.g. Zoom CC
    and TIMELINE files or MEETS recordings). Length checks against ``Content-Length`` belong to
    the chunk source (see :mod:`pipelines.recordings.fetch`), which knows about range resumes.
    """
    started = time.monotonic()
    digest = hashlib.sha256()
    received = 0
    try:
        for chunk in chunks:
            if not chunk:
                continue
            digest.update(chunk)
            received += len(chunk)
            upload.write(chunk)
            if on_progress is not None:
                on_progress(len(chunk))
        check_size(received, expected_size, upload.final_url)
        upload.commit()
    except BaseException:
        upload.abort()
        raise
    return CopyResult(upload.final_url, received, digest.hexdigest(), time.monotonic() - started)
