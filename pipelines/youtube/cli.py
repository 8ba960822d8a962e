"""``python -m pipelines publish``: the best recording of each meeting to YouTube."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> dict:
    p = subparser(
        sub, "publish", "upload the best recording of each meeting to YouTube (resumable, quota-aware)"
    )
    p.add_argument("--configured", action="store_true", help="exit 0 when a channel is configured, 1 if not")
    return {"publish": cmd_publish}


def cmd_publish(args: argparse.Namespace) -> int:
    if args.configured:
        return 1
    print("publish: not built yet", file=sys.stderr)
    return 2


def cmd_authorize_youtube(args: argparse.Namespace) -> int:
    print("authorize youtube: not built yet", file=sys.stderr)
    return 2
