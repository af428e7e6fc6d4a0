"""Issue 7, item 1: a client that never reads cannot grow the server. 20 sockets from one
address (the per-address cap) each ask for the full state 10 times a second and never
read. Before the send window this grew the server by 416 MB in 55 s (about 110 MB in
15 s); now each socket holds at most limits.SEND_WINDOW unread messages, and its
commands wait, coalesced, in its bounded queue."""

from __future__ import annotations

import asyncio
import json

from simulations.limits import SEND_WINDOW
from tests.hostile.clients import Reader, open_socket, rss_kib, socket_url

SOCKETS = 20
RATE = 10  # state requests a second, per socket
SECONDS = 15
#: Far below the ~110 MB the same attack cost before, far above what noise can add.
BOUND_MB = 60


async def test_sockets_that_never_read_cannot_grow_the_server(production_server):
    pid = production_server.process.pid
    before = rss_kib(pid)
    url = socket_url(production_server.port)
    # max_queue=1: the client library stops taking bytes off the connection at once, as a
    # page that never reads (the kernel's buffers fill, then the server's).
    sockets = [await open_socket(url, source="127.0.0.4", max_queue=1) for _ in range(SOCKETS)]
    state = json.dumps({"cmd": "state"})
    peak = before
    loop = asyncio.get_running_loop()
    try:
        end = loop.time() + SECONDS
        while loop.time() < end:
            tick = loop.time()
            for ws in sockets:
                await ws.send(state)
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(max(0.0, 1 / RATE - (loop.time() - tick)))
        peak = max(peak, rss_kib(pid))
        # The window reopens: one of them reads now, and gets what was held back.
        reader = Reader(sockets[0])
        await reader.run(loop.time() + 3)
    finally:
        for ws in sockets:
            ws.transport.abort()
    growth_mb = (peak - before) / 1024
    print(f"\nnon-reading sockets={SOCKETS} state {RATE}/s for {SECONDS}s: "
          f"server RSS {before / 1024:.0f} MB -> peak {peak / 1024:.0f} MB (+{growth_mb:.1f} MB, bound {BOUND_MB} MB)")
    assert growth_mb < BOUND_MB
    assert reader.messages > SEND_WINDOW and not reader.errors, (reader.messages, reader.errors)
    assert production_server.process.poll() is None
