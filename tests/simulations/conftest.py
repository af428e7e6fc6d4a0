"""Fixtures for the simulation core's tests: a small timed engine registered for the tests only."""

from __future__ import annotations

import pytest

from tests.simulations.pingpong import PingPong  # noqa: F401  (registers "ping-pong")


@pytest.fixture
def engine_cls():
    return PingPong
