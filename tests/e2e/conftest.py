"""Fixtures of the e2e suite.

``docs/gen_tour.py --print`` (a fresh default-scale sandbox warehouse: load + transform, clock
pinned) is the longest single command of the suite, and one process: when the tour test is
selected it starts as the first e2e test starts (under pytest-xdist: as ``test_docs_match.py``
starts), at a lower CPU priority, so it runs on the core the other e2e tests leave idle;
``test_the_tour_numbers_are_current`` waits for its answer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.` importable however pytest runs
from tests.e2e.tour_run import TOUR_TEST, TourRun

# Under pytest-xdist every worker sees every selected test, so the tour starts only where it is
# asked for: when ``test_docs_match.py`` starts on a worker (see its module fixture).
XDIST = "PYTEST_XDIST_WORKER" in os.environ


@pytest.fixture(scope="session", autouse=not XDIST)
def tour_run(request: pytest.FixtureRequest) -> Iterator[TourRun | None]:
    if not any(item.nodeid.endswith(TOUR_TEST) for item in request.session.items):
        yield None
        return
    run = TourRun()
    try:
        yield run
    finally:
        run.stop()
