"""The contract suite runs on every engine the site serves, and on the tests' toy engine:
an engine is tested the day it is added to `simulations.engines.ENGINES`."""

from __future__ import annotations


from simulations import registry
from tests.simulations.pingpong import PingPong

#: Every served engine, then the toy one (tests/simulations/conftest.py serves it).
ENGINES = [*registry.all_engines(), PingPong]


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, ids=[e.slug for e in ENGINES])
