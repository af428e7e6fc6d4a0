"""Fixtures for the simulation core's tests: a small timed engine served for the tests only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from simulations import process, registry, render
from tests.simulations.pingpong import PingPong


@pytest.fixture(autouse=True)
def ping_pong_served():
    """The toy engine is served (registry, socket, API; drawn by the generic stage) while
    each test here runs, and the process's shared state starts empty."""
    # Analyses compute in threads here, where the tests' monkeypatches reach them (the
    # server's worker processes are tested in test_process.py).
    process.reset(analyses=ThreadPoolExecutor(2))
    with registry.installed(PingPong), render.installed(PingPong.slug, render.GENERIC):
        yield PingPong
    process.reset()


@pytest.fixture
def engine_cls():
    return PingPong
