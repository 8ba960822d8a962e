"""The recordings pipeline into an S3-protocol server (moto's server mode on loopback).

Checks what S3 users care about: every object has the right bytes (SHA-256 against the sandbox),
no multipart upload is left open (they cost money and are invisible), a killed run leaves nothing
that looks complete, and a rerun neither duplicates nor re-downloads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import boto3
import pytest
import recordings_support as rs

from pipelines import embedded
from pipelines.recordings.run import run_recordings
from pipelines.sandbox.account import Scale


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    proc, endpoint = rs.start_moto()
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = request.node.name.replace("_", "-")[:50].strip("-").lower()
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket  # type: ignore[attr-defined]
    yield client
    embedded.reset()


def objects(s3, prefix: str = "") -> dict[str, int]:
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj["Size"]
    return out


def object_sha(s3, key: str) -> str:
    h = hashlib.sha256()
    body = s3.get_object(Bucket=s3.bucket, Key=key)["Body"]
    for block in iter(lambda: body.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def open_uploads(s3) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])


def test_full_copy_to_s3_verifies_every_object(sandbox, s3, moto_endpoint, tmp_path, monkeypatch) -> None:
    warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("RECORDINGS__S3_ENDPOINT_URL", moto_endpoint)  # config, not a flag
    want = rs.expected_files(sandbox)
    dest = f"s3://{s3.bucket}/archive"

    summary = run_recordings(
        dest=dest, plan_from="api", date_from=sandbox.info["start_date"], progress=False, print_summary=False
    )

    assert summary.ok, summary.errors
    rows = rs.inventory(warehouse)
    copied = [r for r in rows if r["status"] == "copied"]
    stored = objects(s3, "archive/")
    data_keys = {k for k in stored if not k.endswith("/meta.json")}
    assert data_keys == {r["dest_url"].split("/", 3)[3] for r in copied}
    got = Counter()
    for r in copied:
        key = r["dest_url"].split("/", 3)[3]
        assert stored[key] == r["size"]
        sha = object_sha(s3, key)
        assert sha == r["sha256"]
        got[(r["size"], sha)] += 1
    assert got == want["zoom"] + want["meets"]
    assert open_uploads(s3) == []
    metas = [k for k in stored if k.endswith("/meta.json")]
    # one meta.json per meeting folder (also where every file turned out gone: it says so)
    assert {k.rsplit("/", 1)[0] for k in metas} >= {k.rsplit("/", 1)[0] for k in data_keys}
    meta = json.loads(s3.get_object(Bucket=s3.bucket, Key=metas[0])["Body"].read())
    assert meta["files"] and all(f["sha256"] for f in meta["files"] if f["status"] == "copied")
    assert rs.assert_no_credentials_on_storage(sandbox) == sum(want["meets"].values())

    again = run_recordings(
        dest=dest, plan_from="api", date_from=sandbox.info["start_date"], progress=False, print_summary=False
    )
    assert again.ok and again.copied == 0 and again.already_copied == summary.copied
    assert objects(s3, "archive/") == stored


def test_kill_9_during_multipart_upload_then_rerun(
    sandbox_factory, s3, moto_endpoint, tmp_path, monkeypatch
) -> None:
    size = 150_000_000
    sb = sandbox_factory(scale=dataclasses.replace(Scale.named("tiny"), big_file_bytes=size))
    warehouse = rs.use_sandbox(monkeypatch, sb, tmp_path)
    dest = f"s3://{s3.bucket}/rec"
    kwargs = {
        "dest": dest,
        "s3_endpoint_url": moto_endpoint,
        "plan_from": "api",
        "date_from": sb.info["start_date"],
        "progress": False,
    }
    env = {
        k: os.environ[k]
        for k in (
            "MW_SANDBOX_URL",
            "MW_WAREHOUSE",
            "MW_STATE_DIR",
            "MW_TOKEN_DIR",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        )
    }
    proc = rs.pipeline_subprocess(kwargs, env)
    deadline = time.monotonic() + 90
    uploads: list[dict] = []
    while time.monotonic() < deadline and proc.poll() is None:
        uploads = open_uploads(s3)
        if uploads:
            parts = s3.list_parts(Bucket=s3.bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])
            if len(parts.get("Parts", [])) >= 3:
                break
        time.sleep(0.05)
    assert uploads, f"never saw a multipart upload; child output: {proc.communicate()[0]!r}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    big_key = uploads[0]["Key"]
    assert big_key not in objects(s3)  # an interrupted upload never looks like a complete object
    assert open_uploads(s3)  # ... but it is still there, costing storage

    summary = run_recordings(**kwargs, print_summary=False)

    assert summary.ok, summary.errors
    assert summary.cleaned_up >= 1
    assert open_uploads(s3) == []
    want = rs.expected_files(sb)
    stored = objects(s3, "rec/")
    data = {k: v for k, v in stored.items() if not k.endswith("/meta.json")}
    assert len(data) == sum(want["zoom"].values()) + sum(want["meets"].values())  # nothing duplicated
    assert Counter((v, object_sha(s3, k)) for k, v in data.items()) == want["zoom"] + want["meets"]
    assert stored[big_key] == size
    rows = {r["dest_url"].split("/", 3)[3]: r for r in rs.inventory(warehouse)}
    assert rows[big_key]["status"] == "copied" and rows[big_key]["upload_id"] is None
    assert rows[big_key]["attempts"] >= 2
