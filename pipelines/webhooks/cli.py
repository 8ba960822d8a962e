"""``python -m pipelines webhooks``: the Zoom webhook receiver under uvicorn (``make webhooks``)."""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: behind a TLS reverse proxy)"
    )
    parser.add_argument("--port", type=int, default=8090, help="port to bind (default 8090)")
    parser.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1)",
    )


def cmd_webhooks(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.webhooks.app import create_app
    from pipelines.webhooks.queue import EventQueue
    from pipelines.webhooks.settings import WebhookSettingsError, load_settings

    try:
        settings = load_settings()
    except WebhookSettingsError as exc:
        print(f"webhooks not started: {exc}", file=sys.stderr)
        return 2
    queue = EventQueue(settings.queue_path)
    logging.getLogger("pipelines.webhooks").setLevel(logging.INFO)  # one line per event received
    print(
        f"Zoom webhook receiver on http://{args.host}:{args.port}{settings.path} "
        f"(queue {queue.path}; events stored: {', '.join(settings.events)})",
        flush=True,
    )
    uvicorn.run(
        create_app(settings, queue),
        host=args.host,
        port=args.port,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        access_log=False,  # our own log line per event says what matters, without paths or bodies
        log_level="warning",
    )
    return 0
