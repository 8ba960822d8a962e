"""The recordings pipeline: stream every Zoom and MEETS recording file to object storage, verified
and resumable (plan -> stream -> verify -> inventory).

Entry points: :func:`run_recordings` (library) and :func:`add_arguments` / :func:`run_from_args`
(``python -m pipelines recordings ...``). Heavy imports (duckdb, botocore, the API clients) happen
inside the functions so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.recordings.run import RunSummary

__all__ = ["add_arguments", "run_from_args", "run_recordings"]


def run_recordings(**kwargs: object) -> RunSummary:
    """See :func:`pipelines.recordings.run.run_recordings`."""
    from pipelines.recordings.run import run_recordings as _run

    return _run(**kwargs)  # type: ignore[arg-type]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``recordings`` sub-command's flags."""
    parser.add_argument(
        "--dest",
        default=None,
        help="destination: a folder or any fsspec URL (s3://bucket/prefix, gs://, az://, file://); "
        "default [recordings] dest, MW_RECORDINGS_DEST or ./recordings",
    )
    parser.add_argument(
        "--types",
        default=None,
        help="comma-separated file types to copy: mp4, m4a, chat, chat_message, transcript, cc, "
        "timeline, csv, summary, tb (aliases video, audio, captions, poll); default all",
    )
    parser.add_argument("--video-only", action="store_true", help="copy MP4 video files only")
    parser.add_argument("--users", default=None, help="comma-separated host e-mails or Zoom user ids")
    parser.add_argument("--from", dest="date_from", default=None, help="first meeting date (YYYY-MM-DD, UTC)")
    parser.add_argument("--to", dest="date_to", default=None, help="last meeting date (YYYY-MM-DD, UTC)")
    parser.add_argument(
        "--include-trash",
        action="store_true",
        help="also plan recordings in the Zoom trash (reported, not deleted)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be copied (files, bytes, requests); copy nothing",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="files copied at once (default 2), under the rate limiter",
    )
    parser.add_argument(
        "--plan-from",
        choices=("auto", "warehouse", "api"),
        default=None,
        help="plan from the warehouse's raw tables or by listing the APIs (default auto: the warehouse "
        "when it holds recordings)",
    )
    parser.add_argument("--sources", default=None, help="zoom, meets or zoom,meets (default both)")
    parser.add_argument(
        "--meetings",
        default=None,
        metavar="UUID[,UUID...]",
        help="only these Zoom meeting instances, planned from the API (GET /meetings/{uuid}/recordings); "
        "what the webhook sensor runs for a recording.completed",
    )
    parser.add_argument("--retry-gone", action="store_true", help="try files marked gone at the source again")
    parser.add_argument(
        "--s3-endpoint-url",
        default=None,
        help="S3-compatible endpoint (MinIO, moto...); default [recordings] s3_endpoint_url / AWS_ENDPOINT_URL",
    )
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    """Run from parsed :func:`add_arguments` flags; exit code 0 when nothing failed."""
    summary = run_recordings(
        dest=args.dest,
        types=args.types,
        video_only=args.video_only,
        users=args.users,
        date_from=args.date_from,
        date_to=args.date_to,
        include_trash=args.include_trash,
        dry_run=args.dry_run,
        max_concurrent=args.max_concurrent,
        plan_from=args.plan_from,
        sources=args.sources,
        retry_gone=args.retry_gone,
        s3_endpoint_url=args.s3_endpoint_url,
        progress=False if args.no_progress else None,
        meetings=args.meetings,
    )
    return 0 if summary.ok else 1
