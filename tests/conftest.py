"""Shared fixtures: a live sandbox over loopback HTTP, and helpers to talk to it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.sandbox import SandboxConfig, SandboxServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.sandbox_client import SandboxClient

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

# pytest-xdist (`make test` runs `pytest -n 2 --dist loadfile`): each worker builds with dbt in its
# own target folder (partial parsing, manifests and the no-op note are per folder), inherited by the
# commands the tests start; the workers' files run side by side, so nothing else is shared.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if XDIST_WORKER and "DBT_TARGET_PATH" not in os.environ:
    os.environ["DBT_TARGET_PATH"] = str(
        Path(__file__).resolve().parents[1] / "dbt_project" / "target" / XDIST_WORKER
    )


@pytest.fixture
def sandbox_factory() -> Iterator:
    """Start sandboxes with custom settings: ``sandbox_factory(plan="pro", p429=0.3)``."""
    started: list[SandboxServer] = []

    def make(**overrides: object) -> SandboxClient:
        cfg = SandboxConfig.from_env(**overrides)
        srv = SandboxServer(cfg).start()
        started.append(srv)
        return SandboxClient(srv)

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> SandboxClient:
    """A fresh sandbox at the small test scale with every fault off."""
    return sandbox_factory()


# Under pytest-xdist's `--dist loadfile` the files go to the workers in collection order, so the
# longest suites go first and the many short unit files last, where they fill the workers' tails
# (a 1-minute file started last would leave one worker idle for that minute).
_XDIST_ORDER = ("reliability", "e2e", "lake", "youtube", "orchestrate", "integration", "webhooks")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not XDIST_WORKER and not getattr(config.option, "numprocesses", None):
        return

    def rank(item: pytest.Item) -> int:
        parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
        return _XDIST_ORDER.index(parts[0]) if parts and parts[0] in _XDIST_ORDER else len(_XDIST_ORDER)

    items.sort(key=rank)  # stable: the order within a suite is kept
