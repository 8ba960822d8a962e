"""The transcripts stage reads the copies back from an S3-protocol store (moto on loopback) with the
recordings pipeline's own settings: every cue of every copied text file arrives, once."""

from __future__ import annotations

import boto3
import duckdb
import pytest
import recordings_support as rs

from pipelines import embedded
from pipelines.recordings.run import run_recordings
from pipelines.sandbox.truth import transcript_truth
from pipelines.transcripts.stage import run_transcripts


def test_cues_are_read_back_from_s3(sandbox, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, endpoint = rs.start_moto()
    try:
        warehouse = rs.use_sandbox(monkeypatch, sandbox, tmp_path)
        for var, value in (
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("RECORDINGS__S3_ENDPOINT_URL", endpoint),
        ):
            monkeypatch.setenv(var, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="archive")
        copy = run_recordings(
            dest="s3://archive/zoom",
            types="transcript,cc,chat",
            sources="zoom",
            plan_from="api",
            date_from=sandbox.info["start_date"],
            progress=False,
            print_summary=False,
        )
        assert copy.ok and copy.copied > 0
        summary = run_transcripts()
        truth = transcript_truth(sandbox.server.state.account, sandbox.server.state.now())["files"]
        assert (summary.files_parsed, summary.files_quarantined) == (len(truth), 0)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            n, urls = con.execute(
                "select (select count(*) from transcripts.cues), "
                "(select count(*) filter (where dest_url like 's3://archive/zoom/%') from transcripts.files)"
            ).fetchone()
        assert n == sum(len(f["cues"]) for f in truth.values()) and urls == len(truth)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        embedded.reset()
