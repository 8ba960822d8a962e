"""``python -m pipelines orchestrate`` (Dagster) and ``python -m pipelines webhooks`` (Zoom webhooks)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> dict:
    p = subparser(
        sub, "orchestrate", "run Dagster locally: webserver on 127.0.0.1 and the daemon (schedules, sensors)"
    )
    p.add_argument("--port", type=int, default=None, help="webserver port (default [orchestrate] port, 3000)")
    from pipelines.webhooks.cli import add_arguments as webhooks_arguments
    from pipelines.webhooks.cli import cmd_webhooks

    webhooks_arguments(
        subparser(sub, "webhooks", "receive Zoom webhooks (signature-checked, queued durably for the sensor)")
    )
    return {"orchestrate": cmd_orchestrate, "webhooks": cmd_webhooks}


def cmd_orchestrate(args: argparse.Namespace) -> int:
    from pipelines.orchestrate.stack import run_stack

    return run_stack(port=args.port)


def _not_built(args: argparse.Namespace) -> int:
    print(f"{args.command}: not built yet", file=sys.stderr)
    return 2
