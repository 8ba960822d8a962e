"""Streaming copy, verification, range resumes and destinations (no network)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
import requests

from pipelines.api_client import ApiError
from pipelines.recordings import destination as dst
from pipelines.recordings.fetch import (
    RestartRequired,
    host_matches,
    meets_gone_message,
    resumable_chunks,
)
from pipelines.recordings.stream import VerificationError, stream_copy


class FakeUpload:
    final_url = "mem://x"

    def __init__(self) -> None:
        self.data = bytearray()
        self.committed = False
        self.aborted = False

    def write(self, chunk: bytes) -> None:
        self.data += chunk

    def commit(self) -> None:
        self.committed = True

    def abort(self) -> None:
        self.aborted = True


def test_stream_copy_hashes_and_counts_while_streaming() -> None:
    chunks = [os.urandom(1000) for _ in range(5)]
    up = FakeUpload()
    seen: list[int] = []
    result = stream_copy(iter(chunks), up, expected_size=5000, on_progress=seen.append)
    assert up.committed and not up.aborted
    assert result.size == 5000 == sum(seen)
    assert result.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_size_mismatch_aborts_and_never_commits() -> None:
    up = FakeUpload()
    with pytest.raises(VerificationError, match="declared 5001"):
        stream_copy(iter([b"x" * 5000]), up, expected_size=5001)
    assert up.aborted and not up.committed


def test_source_error_mid_stream_aborts() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        raise requests.exceptions.ConnectionError("reset")

    up = FakeUpload()
    with pytest.raises(requests.exceptions.ConnectionError):
        stream_copy(chunks(), up)
    assert up.aborted and not up.committed


# ---------------------------------------------------------------------------------- resumes
class FakeResponse:
    def __init__(
        self, data: bytes, *, status: int = 200, cut_at: int | None = None, headers: dict | None = None
    ):
        self.data = data
        self.status_code = status
        self.cut_at = cut_at
        self.headers = headers or {}
        self.closed = False

    def iter_content(self, size: int) -> Iterator[bytes]:
        end = len(self.data) if self.cut_at is None else self.cut_at
        for i in range(0, end, size):
            yield self.data[i : min(i + size, end)]
        if self.cut_at is not None:
            raise requests.exceptions.ChunkedEncodingError("connection broken: IncompleteRead")

    def close(self) -> None:
        self.closed = True


def test_cut_off_body_is_resumed_with_a_range_request() -> None:
    data = os.urandom(10_000)
    offsets: list[int] = []

    def open_at(offset: int) -> FakeResponse:
        offsets.append(offset)
        if offset == 0:
            return FakeResponse(data, cut_at=4096, headers={"Content-Length": str(len(data))})
        return FakeResponse(
            data[offset:],
            status=206,
            headers={"Content-Range": f"bytes {offset}-{len(data) - 1}/{len(data)}"},
        )

    got = b"".join(resumable_chunks(open_at, what="f", chunk_size=1000))
    assert got == data
    assert offsets == [0, 4096]  # resumed exactly where the received bytes end


def test_server_ignoring_the_range_restarts_the_file() -> None:
    data = os.urandom(5000)

    def open_at(offset: int) -> FakeResponse:
        return FakeResponse(data, cut_at=2000 if offset == 0 else None, headers={"Content-Length": "5000"})

    with pytest.raises(RestartRequired):
        b"".join(resumable_chunks(open_at, what="f", chunk_size=1000))


def test_persistent_cut_offs_give_up() -> None:
    data = os.urandom(5000)

    def open_at(offset: int) -> FakeResponse:
        return FakeResponse(
            data[offset:],
            status=200 if offset == 0 else 206,
            cut_at=1000,
            headers={"Content-Range": f"bytes {offset}-4999/5000"} if offset else {"Content-Length": "5000"},
        )

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(resumable_chunks(open_at, what="f", chunk_size=500, max_resumes=2))


def test_short_body_without_error_is_a_verification_failure() -> None:
    def open_at(offset: int) -> FakeResponse:
        return FakeResponse(b"x" * 10, headers={"Content-Length": "20"})

    with pytest.raises(VerificationError, match="Content-Length"):
        b"".join(resumable_chunks(open_at, what="f"))


# ---------------------------------------------------------------------------------- credentials
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://zoom.us/rec/download/abc", True),
        ("https://us06web.zoom.us/rec/download/abc", True),
        ("https://evilzoom.us/rec/download/abc", False),
        ("https://zoom.us.evil.example/rec/download/abc", False),
        ("http://zoom.us/rec/download/abc", False),  # no downgrade to plain http
        ("https://zoom.us:8443/rec", False),
        ("http://127.0.0.1:8080/rec/download/x", True),
        ("http://127.0.0.1:8081/rec/download/x", False),
    ],
)
def test_download_hosts_that_may_see_credentials(url: str, allowed: bool) -> None:
    assert host_matches(url, ["zoom.us", "http://127.0.0.1:8080"]) is allowed


def test_meets_gone_500_is_told_apart_from_a_temporary_500() -> None:
    gone = ApiError(
        "x", status=500, body='{"status": 500, "error": "The conference recording is no longer available"}'
    )
    html = ApiError("x", status=500, body="<html><body>500 upstream timed out</body></html>")
    assert meets_gone_message(gone) == "The conference recording is no longer available"
    assert meets_gone_message(html) is None
    assert meets_gone_message(ApiError("x", status=503, body='{"status": 503, "error": "busy"}')) is None


# ---------------------------------------------------------------------------------- destinations
def test_local_destination_commits_atomically(tmp_path) -> None:
    d = dst.open_destination(str(tmp_path / "out"))
    seen: list[tuple] = []
    up = d.open_upload("u@x/2025-01-01/0900_t_1/gallery_view.mp4", lambda t, u: seen.append((t, u)))
    final = tmp_path / "out/u@x/2025-01-01/0900_t_1/gallery_view.mp4"
    temp = final.with_name(".gallery_view.mp4.partial")
    up.write(b"abc")
    assert temp.exists() and not final.exists()  # visible only as a hidden .partial
    assert seen == [(str(temp), None)]
    up.commit()
    assert final.read_bytes() == b"abc" and not temp.exists()
    assert seen[-1] == (None, None)


def test_local_destination_abort_removes_the_temporary(tmp_path) -> None:
    d = dst.open_destination(str(tmp_path / "out"))
    up = d.open_upload("a/b/c/d.mp4", lambda t, u: None)
    up.write(b"half")
    up.abort()
    assert dst.FsspecDestination.temporaries(d) == []  # type: ignore[arg-type]
    assert not (tmp_path / "out/a/b/c/d.mp4").exists()


def test_crash_leftovers_are_found_and_removed(tmp_path) -> None:
    d = dst.open_destination(str(tmp_path / "out"))
    up = d.open_upload("a/b/c/d.mp4", lambda t, u: None)
    up.write(b"half")  # the process "dies" here: no commit, no abort
    final = d.url_for("a/b/c/d.mp4")
    assert d.cleanup_orphans([final]) == 1
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_destination_refuses_unsafe_paths(tmp_path) -> None:
    d = dst.open_destination(str(tmp_path / "out"))
    with pytest.raises(ValueError):
        d.open_upload("../escape.mp4", lambda t, u: None)
    with pytest.raises(ValueError):
        d.url_for("a/../../b")


def test_roots_are_normalised(tmp_path) -> None:
    assert dst.normalize_root("s3://bucket/prefix/") == "s3://bucket/prefix"
    assert dst.normalize_root(f"file://{tmp_path}/x") == str(tmp_path / "x")
    assert dst.normalize_root("relative/dir").startswith("/")


def test_part_size_grows_only_for_huge_files() -> None:
    five = 5 * dst.MIB
    assert dst.part_size_for(five, None) == five
    assert dst.part_size_for(five, 2_000_000_000) == five
    huge = 100 * 1024**3
    size = dst.part_size_for(five, huge)
    assert size % dst.MIB == 0 and size * (dst.MAX_PARTS - 1) >= huge
    assert dst.part_size_for(1, None) == five  # never below the S3 minimum


def test_part_reader_reads_without_copying_the_buffer() -> None:
    buf = bytearray(os.urandom(1000))
    reader = dst._PartReader(buf, 600)
    assert len(reader) == 600
    assert reader.read(100) == bytes(buf[:100])
    assert reader.tell() == 100
    reader.seek(0)
    assert reader.read() == bytes(buf[:600])
    assert reader.read() == b""
    reader.close()
    buf.extend(b"x")  # the view is released: the buffer is resizable (reusable) again
