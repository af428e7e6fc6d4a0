"""Sockets from a foreign or missing Origin are refused by the real ASGI application."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from learning_platform.asgi import application

PATH = "/ws/simulations/race-conditions/"

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(headers):
    comm = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected


async def test_a_foreign_origin_is_refused():
    assert not await _connect([(b"origin", b"https://evil.example"), (b"host", b"localhost")])


async def test_a_missing_origin_is_refused():
    assert not await _connect([(b"host", b"localhost")])


async def test_an_allowed_origin_is_accepted():
    assert await _connect([(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")])
