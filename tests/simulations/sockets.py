"""Reading the simulation socket in tests as the page does: every message the server marks
for it is acknowledged (limits.SendWindow), or the server stops sending after a few."""

from __future__ import annotations

import json

from tests.hostile.clients import marker_of
from tests.simulations.html import Message


async def acknowledge(comm, text: str) -> None:
    """Echo the message's marker if the server asked for it, as the page's script does."""
    marker = marker_of(text)
    if marker and marker.group(3):
        await comm.send_to(text_data=json.dumps({"cmd": "ack", "seq": marker.group(1), "token": marker.group(2)}))


async def receive(comm, timeout: float = 2.0, ack: bool = True) -> Message:
    text = await comm.receive_from(timeout)
    if ack:
        await acknowledge(comm, text)
    return Message(text)
