"""Issue 7, item 2: one address cannot starve everyone inside the per-socket limits.
19 sockets from one address each send 19 messages a second (under the flood guard's 20),
`params` with a random switch_chance then `seek` to step 2000, reading and acknowledging
as the page does. Costly work is charged against the address's budget of engine steps
when it arrives (limits.Budgets), so most of it is refused at once ("busy") or replaced
by a newer command of its kind while it waits (limits.CommandQueue); a viewer on another
address keeps getting its frames. How fast those frames come is `make hostile`'s to
measure, not asserted here."""

from __future__ import annotations

import asyncio
import json
import random

from tests.hostile.clients import BUSY, DROPPED, Reader, open_socket, socket_url

SOCKETS = 19
RATE = 19  # messages a second, per socket
SECONDS = 5


async def attack(ws, until: float, rng: random.Random) -> None:
    loop = asyncio.get_running_loop()
    n = 0
    while loop.time() < until:
        if n % 2 == 0:
            message = {"cmd": "params", "p.switch_chance": f"{rng.random():.3f}"}
        else:
            message = {"cmd": "seek", "index": "2000"}
        await ws.send(json.dumps(message))
        n += 1
        await asyncio.sleep(1 / RATE)


async def test_costly_commands_from_one_address_are_refused_and_others_still_play(production_server):
    port = production_server.port
    loop = asyncio.get_running_loop()
    viewer_ws = await open_socket(socket_url(port, "raft"), source="127.0.0.6")
    viewer = Reader(viewer_ws)
    attackers = [Reader(await open_socket(socket_url(port), source="127.0.0.5")) for _ in range(SOCKETS)]
    await viewer_ws.send(json.dumps({"cmd": "speed", "speed": "8"}))
    await viewer_ws.send(json.dumps({"cmd": "play"}))
    rng = random.Random(7)
    until = loop.time() + SECONDS
    try:
        await asyncio.gather(
            viewer.run(until + 0.5),
            *(a.run(until + 1.0) for a in attackers),
            *(attack(a.ws, until, rng) for a in attackers),
        )
    finally:
        for ws in [viewer_ws, *(a.ws for a in attackers)]:
            ws.transport.abort()
    refused = sum(e.startswith(BUSY) for a in attackers for e in a.errors)
    dropped = sum(e.startswith(DROPPED) for a in attackers for e in a.errors)
    sent = SOCKETS * RATE * SECONDS
    print(f"\nattack: {sent} messages from one address over {SECONDS}s; costly ones refused: {refused}, "
          f"dropped (queue full): {dropped}; viewer on another address: {viewer.messages} messages, "
          f"errors {viewer.errors[:3]}")
    assert refused > sent // 10, "most costly commands are refused on arrival"
    assert viewer.messages >= 10 and not viewer.errors
    assert production_server.process.poll() is None
