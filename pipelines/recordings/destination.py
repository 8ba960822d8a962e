"""Destinations: where verified recording files are committed (any fsspec URL; S3 natively).

Two ways to make "a crash never leaves a half file that looks complete" true:

* **Generic fsspec** (local folders, ``file://``, ``gs://``, ``az://``, ``memory://``): the bytes go
  to a hidden temporary sibling ``.<name>.partial`` and are renamed (``fs.mv``) to the final name
  only after verification. On a local disk the rename is atomic.
* **S3 and S3-compatible stores** (``s3://``, MinIO via ``endpoint_url``): the object is written as
  a *multipart upload* of the final key. An upload in progress is invisible to readers, so it *is*
  the temporary object; ``CompleteMultipartUpload`` is the atomic commit and
  ``AbortMultipartUpload`` the cleanup. Why not a temporary key plus a server-side copy: the copy
  of a multi-GB video costs as much again as the upload (a multipart copy on the server), and the
  temporary key would be visible to readers. Parts are uploaded concurrently while the download
  continues, with a bounded number of parts in memory (``part_size * parts_in_flight``).
  Files smaller than one part are buffered and sent with one ``PutObject`` after verification.

A crashed run leaves either a ``.partial`` file or an open multipart upload; both are recorded in
the inventory before the first byte is written, so the next run removes them
(:meth:`Destination.cleanup`). ``cleanup_orphans`` also aborts S3 uploads of our keys whose id
never reached the inventory (a crash between ``CreateMultipartUpload`` and the inventory write).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import fsspec

from pipelines.recordings import naming

log = logging.getLogger("pipelines.recordings")

MIB = 1 << 20
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * MIB
DEFAULT_PARTS_IN_FLIGHT = 3
MAX_PARTS = 10_000

# Callback the copy calls as soon as a temporary object / multipart upload exists (or ends).
TemporaryHook = Callable[[str | None, str | None], None]


class Upload(Protocol):
    """One file being written. ``write`` bytes, then exactly one of ``commit`` / ``abort``."""

    final_url: str

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Destination(Protocol):
    root: str

    def url_for(self, relative: str) -> str: ...

    def open_upload(
        self, relative: str, on_temporary: TemporaryHook, size_hint: int | None = None
    ) -> Upload: ...

    def put_small(self, relative: str, data: bytes) -> None: ...

    def cleanup(self, final_url: str, temp_url: str | None, upload_id: str | None) -> None: ...

    def cleanup_orphans(self, final_urls: Iterable[str]) -> int: ...

    def size_of(self, final_url: str) -> int | None: ...

    def temporaries(self) -> list[str]: ...

    def close(self) -> None: ...


def normalize_root(dest: str) -> str:
    """Canonical form of ``--dest``: absolute local path for folders, the URL without a trailing
    slash otherwise (the inventory keys rows by it)."""
    if "://" not in dest:
        return os.path.abspath(os.path.expanduser(dest))
    if dest.startswith("file://"):
        return os.path.abspath(dest[len("file://") :])
    return dest.rstrip("/")


@dataclass
class StorageOptions:
    """Object-store settings: ``endpoint_url`` (MinIO, moto...), ``region``, optional static keys
    (otherwise the usual AWS/GCP/Azure credential chains apply) and extra fsspec options."""

    endpoint_url: str | None = None
    region: str | None = None
    key: str | None = None
    secret: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    part_size: int = DEFAULT_PART_SIZE
    parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT
    upload_threads: int = 0  # part-upload threads shared by the files being copied (0: parts_in_flight)


def open_destination(dest: str, options: StorageOptions | None = None) -> Destination:
    options = options or StorageOptions()
    root = normalize_root(dest)
    if root.startswith(("s3://", "s3a://")):
        return S3Destination(root, options)
    return FsspecDestination(root, options)


# ---------------------------------------------------------------------------------------- generic
class _FsspecUpload:
    def __init__(self, dest: FsspecDestination, final_path: str, on_temporary: TemporaryHook) -> None:
        self.dest = dest
        self.fs = dest.fs
        self.final_path = final_path
        self.final_url = dest.to_url(final_path)
        parent, _, name = final_path.rpartition("/")
        self.temp_path = f"{parent}/{naming.temp_name(name)}"
        self.on_temporary = on_temporary
        on_temporary(dest.to_url(self.temp_path), None)  # recorded before the first byte exists
        self.fs.makedirs(parent, exist_ok=True)
        self._file = self.fs.open(self.temp_path, "wb")
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.written += len(chunk)

    def commit(self) -> None:
        self._file.close()
        stored = self.fs.size(self.temp_path)
        if stored != self.written:
            self.abort()
            raise OSError(f"temporary file {self.temp_path} holds {stored} bytes, expected {self.written}")
        self.fs.mv(self.temp_path, self.final_path)
        self.on_temporary(None, None)

    def abort(self) -> None:
        discard = getattr(self._file, "discard", None)
        try:
            if callable(discard):
                discard()
            else:
                self._file.close()
        except Exception:  # best effort: the rm below is what matters
            log.debug("closing %s failed during abort", self.temp_path, exc_info=True)
        try:
            if self.fs.exists(self.temp_path):
                self.fs.rm(self.temp_path)
        except FileNotFoundError:
            pass
        self.on_temporary(None, None)


class FsspecDestination:
    """Any fsspec file system; temporary sibling + rename."""

    def __init__(self, root: str, options: StorageOptions) -> None:
        self.root = root
        self.options = options
        storage: dict[str, Any] = dict(options.extra)
        self.fs, self.base = fsspec.core.url_to_fs(root, **storage)
        self.base = self.base.rstrip("/")
        self.protocol = root.split("://", 1)[0] if "://" in root else "file"

    def to_url(self, path: str) -> str:
        if self.protocol == "file":
            return path
        return f"{self.protocol}://{path}"

    def _path(self, url_or_path: str) -> str:
        if self.protocol == "file":
            return url_or_path
        return url_or_path.split("://", 1)[1] if "://" in url_or_path else url_or_path

    def url_for(self, relative: str) -> str:
        return naming.join(self.root, relative)

    def open_upload(self, relative: str, on_temporary: TemporaryHook, size_hint: int | None = None) -> Upload:
        return _FsspecUpload(self, naming.join(self.base, relative), on_temporary)

    def put_small(self, relative: str, data: bytes) -> None:
        final = naming.join(self.base, relative)
        parent, _, name = final.rpartition("/")
        temp = f"{parent}/{naming.temp_name(name)}"
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.pipe_file(temp, data)
        self.fs.mv(temp, final)

    def cleanup(self, final_url: str, temp_url: str | None, upload_id: str | None) -> None:
        if temp_url:
            path = self._path(temp_url)
            if self.fs.exists(path):
                self.fs.rm(path)

    def cleanup_orphans(self, final_urls: Iterable[str]) -> int:
        """Remove ``.partial`` siblings of the given files (crash before the inventory write)."""
        removed = 0
        for url in final_urls:
            path = self._path(url)
            parent, _, name = path.rpartition("/")
            temp = f"{parent}/{naming.temp_name(name)}"
            if self.fs.exists(temp):
                self.fs.rm(temp)
                removed += 1
        return removed

    def size_of(self, final_url: str) -> int | None:
        try:
            return int(self.fs.size(self._path(final_url)))
        except FileNotFoundError:
            return None

    def close(self) -> None:
        """Nothing to release (fsspec instances are shared)."""

    def temporaries(self) -> list[str]:
        """Every ``.partial`` file under the root (tests and diagnostics)."""
        if not self.fs.exists(self.base):
            return []
        return sorted(p for p in self.fs.find(self.base, withdirs=False) if p.endswith(".partial"))


# ---------------------------------------------------------------------------------------- S3
def part_size_for(configured: int, size_hint: int | None) -> int:
    """``configured``, raised for files so big that 10,000 parts would not hold them (MiB-aligned).

    Files of unknown size use ``configured`` (8 MiB parts: up to ~78 GiB).
    """
    size = max(configured, MIN_PART_SIZE)
    if size_hint is not None and size_hint > size * (MAX_PARTS - 1):
        needed = -(-size_hint // (MAX_PARTS - 1))
        size = -(-needed // MIB) * MIB
    return size


def split_s3(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


class _PartReader(io.RawIOBase):
    """A seekable, read-only file over the first ``size`` bytes of a part buffer, without copying it.

    Why not ``bytes``/``io.BytesIO``: botocore wraps a ``bytes``/``bytearray`` body in
    ``io.BytesIO`` to stream its checksum trailer, which copies a ``bytearray`` (one extra part in
    memory per part in flight); a file object is read in small chunks instead. Seekable, so
    botocore can rewind it for a retry.
    """

    def __init__(self, buffer: bytearray, size: int) -> None:
        super().__init__()
        self._view = memoryview(buffer)[:size]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._view) - self._pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = bytes(self._view[self._pos : end])
        self._pos = end
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, min(len(self._view), base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._view.release()
        super().close()


class _S3Upload:
    """Multipart upload of the final key with a bounded number of parts in flight.

    Part buffers are ``bytearray`` s of ``part_size`` reused from a small pool: incoming chunks are
    copied into the current buffer (one ``memcpy``), full buffers are uploaded while the next one
    fills, and a buffer returns to the pool when its part is acknowledged. Memory is therefore
    ``part_size * parts_in_flight`` whatever the file size (one buffer fills while the others
    upload; when all are in flight the writer waits for the oldest), without allocation churn.
    """

    def __init__(self, dest: S3Destination, key: str, on_temporary: TemporaryHook, part_size: int) -> None:
        self.dest = dest
        self.bucket = dest.bucket
        self.key = key
        self.final_url = f"s3://{self.bucket}/{key}"
        self.on_temporary = on_temporary
        self.part_size = part_size
        self.max_in_flight = max(1, dest.options.parts_in_flight)
        self._pool: list[bytearray] = []
        self._current: bytearray | None = None
        self._filled = 0
        self.upload_id: str | None = None
        self._parts: list[dict] = []
        self._pending: list[tuple[int, concurrent.futures.Future, Any, bytearray]] = []
        self._next_part = 1
        self.written = 0

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while len(view):
            if self._current is None:
                self._current = self._pool.pop() if self._pool else bytearray(self.part_size)
                self._filled = 0
            n = min(len(view), self.part_size - self._filled)
            self._current[self._filled : self._filled + n] = view[:n]
            self._filled += n
            self.written += n
            view = view[n:]
            if self._filled == self.part_size:
                self._flush_part()

    def _flush_part(self) -> None:
        """Upload the current buffer as the next part (asynchronously)."""
        assert self._current is not None
        if self.upload_id is None:
            # CRC32 per part, combined by the store on completion (what boto3 does too). Without an
            # algorithm some stores (moto) compute a full-object CRC64 over the whole file at
            # completion, which takes longer than the upload itself.
            resp = self.dest.call(
                "create_multipart_upload", Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="CRC32"
            )
            self.upload_id = resp["UploadId"]
            self.on_temporary(self.final_url, self.upload_id)
        if self._next_part > MAX_PARTS:
            raise OSError(f"{self.final_url}: more than {MAX_PARTS} parts; raise part_size")
        buffer, size = self._current, self._filled
        self._current, self._filled = None, 0
        number = self._next_part
        self._next_part += 1
        # http: botocore sends a full bytes-like buffer in one sendall() (no copy, no read loop).
        # https: botocore would wrap bytes in BytesIO (a copy) for its checksum trailer, so it gets
        # a reader over the buffer; so does a short last part, rather than a copy of it.
        plain = self.dest.plain_http and size == len(buffer)
        body: _PartReader | bytearray = buffer if plain else _PartReader(buffer, size)
        future = self.dest.submit(
            "upload_part",
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
            ContentLength=size,
        )
        self._pending.append((number, future, body, buffer))
        if len(self._pending) >= self.max_in_flight:
            self._collect(wait_for_all=False)

    def _collect(self, *, wait_for_all: bool) -> None:
        """Wait for the first part to finish (any of them, not only the oldest, so one slow part
        does not hold the buffers of faster ones), or for all; recycle their buffers."""
        futures = [p[1] for p in self._pending]
        mode = concurrent.futures.ALL_COMPLETED if wait_for_all else concurrent.futures.FIRST_COMPLETED
        done, _ = concurrent.futures.wait(futures, return_when=mode)
        still: list[tuple[int, concurrent.futures.Future, Any, bytearray]] = []
        for number, future, body, buffer in self._pending:
            if future not in done:
                still.append((number, future, body, buffer))
                continue
            resp = future.result()  # raises the part's error: the caller aborts the upload
            if isinstance(body, _PartReader):
                body.close()  # releases the view, so the buffer can be reused
            self._parts.append({"PartNumber": number, "ETag": resp["ETag"]})
            self._pool.append(buffer)
        self._pending = still

    def commit(self) -> None:
        if self.upload_id is None:
            # smaller than one part: one atomic PUT of the verified bytes
            data = bytes(memoryview(self._current)[: self._filled]) if self._current is not None else b""
            self._current, self._pool = None, []
            self.dest.call("put_object", Bucket=self.bucket, Key=self.key, Body=data)
            return
        if self._current is not None and self._filled:
            self._flush_part()
        if self._pending:
            self._collect(wait_for_all=True)
        self._current, self._pool = None, []
        self.dest.call(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": sorted(self._parts, key=lambda p: p["PartNumber"])},
        )
        self.on_temporary(None, None)

    def abort(self) -> None:
        self._current, self._pool = None, []
        for _, future, _, _ in self._pending:
            future.cancel()
        for _, future, _, _ in self._pending:
            with contextlib.suppress(BaseException):  # the abort below is what matters
                future.result(timeout=120)
        self._pending.clear()
        if self.upload_id is not None:
            try:
                self.dest.call(
                    "abort_multipart_upload", Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
                )
            except Exception:
                log.warning("could not abort multipart upload of %s; the next run retries", self.final_url)
                return
        self.on_temporary(None, None)


class S3Destination:
    """S3 (or S3-compatible) bucket + prefix, through botocore's (thread-safe, synchronous) client.

    Why botocore rather than s3fs here: the multipart protocol is ours (bounded buffers, abort on
    error, cleanup of orphans); botocore brings the standard credential chain (env, profiles,
    instance roles, ``AWS_ENDPOINT_URL``) and retries, without an event-loop thread and aiohttp
    (about 10 MB less resident memory). Parts are sent from a small thread pool.
    """

    def __init__(self, root: str, options: StorageOptions) -> None:
        import botocore.config
        import botocore.session

        if options.part_size < MIN_PART_SIZE:
            raise ValueError("part_size must be at least 5 MiB (the S3 minimum)")
        self.root = root
        self.options = options
        self.bucket, prefix = split_s3(root)
        self.prefix = prefix.strip("/")
        config = botocore.config.Config(
            max_pool_connections=max(10, options.parts_in_flight * 4),
            retries={"max_attempts": 6, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        )
        session = botocore.session.get_session()
        kwargs: dict[str, Any] = {"config": config}
        if options.endpoint_url:
            kwargs["endpoint_url"] = options.endpoint_url
        if options.key and options.secret:
            kwargs["aws_access_key_id"] = options.key
            kwargs["aws_secret_access_key"] = options.secret
        kwargs["region_name"] = options.region or session.get_config_variable("region") or "us-east-1"
        kwargs.update(options.extra)
        self.client = session.create_client("s3", **kwargs)
        self.plain_http = self.client.meta.endpoint_url.startswith("http://")
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchUpload", "NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                raise FileNotFoundError(f"{method}: {code}") from exc
            raise

    def submit(self, method: str, **kwargs: Any) -> concurrent.futures.Future:
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=max(2, self.options.upload_threads or self.options.parts_in_flight),
                    thread_name_prefix="s3-part",
                )
        return self._pool.submit(self.call, method, **kwargs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.client.close()

    def key_for(self, relative: str) -> str:
        return naming.join(self.prefix, relative) if self.prefix else _checked(relative)

    def url_for(self, relative: str) -> str:
        return f"s3://{self.bucket}/{self.key_for(relative)}"

    def open_upload(self, relative: str, on_temporary: TemporaryHook, size_hint: int | None = None) -> Upload:
        return _S3Upload(
            self, self.key_for(relative), on_temporary, part_size_for(self.options.part_size, size_hint)
        )

    def put_small(self, relative: str, data: bytes) -> None:
        self.call("put_object", Bucket=self.bucket, Key=self.key_for(relative), Body=data)

    def cleanup(self, final_url: str, temp_url: str | None, upload_id: str | None) -> None:
        if upload_id:
            bucket, key = split_s3(final_url)
            with contextlib.suppress(FileNotFoundError):  # NoSuchUpload: completed or aborted already
                self.call("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)

    def open_uploads(self) -> list[tuple[str, str]]:
        """``(key, upload id)`` of every multipart upload in progress under the prefix."""
        out: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.prefix:
            kwargs["Prefix"] = self.prefix + "/"
        while True:
            resp = self.call("list_multipart_uploads", **kwargs)
            out.extend((u["Key"], u["UploadId"]) for u in resp.get("Uploads", []))
            if not resp.get("IsTruncated"):
                return out
            kwargs["KeyMarker"] = resp.get("NextKeyMarker")
            kwargs["UploadIdMarker"] = resp.get("NextUploadIdMarker")

    def cleanup_orphans(self, final_urls: Iterable[str]) -> int:
        """Abort uploads in progress whose key is one of ours (never other writers' uploads)."""
        ours = {split_s3(u)[1] for u in final_urls}
        aborted = 0
        for key, upload_id in self.open_uploads():
            if key in ours:
                self.call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
                aborted += 1
        return aborted

    def size_of(self, final_url: str) -> int | None:
        bucket, key = split_s3(final_url)
        try:
            return int(self.call("head_object", Bucket=bucket, Key=key)["ContentLength"])
        except FileNotFoundError:
            return None

    def temporaries(self) -> list[str]:
        return [f"s3://{self.bucket}/{k}#{u}" for k, u in self.open_uploads()]


def _checked(relative: str) -> str:
    if not naming.is_safe_relative(relative):
        raise ValueError(f"unsafe relative path {relative!r}")
    return relative
