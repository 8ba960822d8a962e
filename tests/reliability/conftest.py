"""Fixtures of the reliability suite (the shared ``sandbox``/``sandbox_factory`` come from tests/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `_support` importable however pytest runs

from _support import set_env

from pipelines import embedded
from pipelines.sandbox import Scale


@pytest.fixture
def tiny(sandbox_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``tiny(**faults)``: a sandbox at the tiny scale (a full load takes a couple of seconds)."""

    def make(**overrides: Any) -> Any:
        return sandbox_factory(scale=Scale.named("tiny"), **overrides)

    return make


@pytest.fixture
def point_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], Path]]:
    """``point_at(sandbox)``: in-process loads use that sandbox and paths under tmp; returns the warehouse."""

    def point(sb: Any, sub: str = "run") -> Path:
        embedded.reset()
        return set_env(monkeypatch, tmp_path / sub, sb.base)

    yield point
    embedded.reset()
