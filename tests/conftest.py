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
