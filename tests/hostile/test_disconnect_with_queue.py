"""Issue 7, item 5: a client that leaves with commands queued ends its work quietly. Before,
"Exception inside application: Attempt to send on a closed protocol" was logged for about
1 in 5 sockets closed with 38 commands waiting. Here 20 sockets each queue 38 commands
(under the flood guard's burst of 40) and vanish, half with a close handshake, half by
dropping the connection: the server's log gets no traceback, and it goes on serving."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.hostile.clients import open_socket, socket_url

ROUNDS = 20
COMMANDS = 38
CYCLE = [{"cmd": "step"}, {"cmd": "step"}, {"cmd": "back"}, {"cmd": "state"}, {"cmd": "seek", "index": "5"},
         {"cmd": "speed", "speed": "8"}, {"cmd": "play"}, {"cmd": "analyse", "name": "explore"}, {"cmd": "pause"}]


def log_since(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


async def test_sockets_closed_with_commands_queued_leave_no_traceback(production_server):
    log = Path(production_server.log.name)
    offset = log.stat().st_size
    url = socket_url(production_server.port)
    for n in range(ROUNDS):
        ws = await open_socket(url, source="127.0.0.10")
        await ws.recv()  # connected: the state
        for i in range(COMMANDS):
            await ws.send(json.dumps(CYCLE[i % len(CYCLE)]))
        if n % 2:
            ws.transport.abort()
        else:
            await ws.close()
    await asyncio.sleep(2)  # what was queued has had its chance to fail
    # The server goes on: a new socket gets its state.
    ws = await open_socket(url, source="127.0.0.10")
    assert "permalink" in await asyncio.wait_for(ws.recv(), 10)
    await ws.close()
    written = log_since(log, offset)
    assert "Traceback" not in written and "Exception inside application" not in written, written[-3000:]
