"""``python -m pipelines warehouse``: show the configured warehouse; migrate a DuckDB file into DuckLake."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, subparser: Callable[..., argparse.ArgumentParser]) -> dict:
    subparser(
        sub,
        "warehouse",
        "show the configured warehouse (DuckDB file or DuckLake); migrate a file into a lake",
    )
    return {"warehouse": _not_built}


def _not_built(args: argparse.Namespace) -> int:
    print(f"{args.command}: not built yet", file=sys.stderr)
    return 2
