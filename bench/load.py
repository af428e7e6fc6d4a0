"""N concurrent viewers, each on its own socket: open them all, then start them all
at once and count the frames that arrive until each viewer has its whole run.

    python -m bench.load URL VIEWERS FRAMES_PER_VIEWER START_MESSAGE [SERVER_PID]
prints one JSON line: {"frames": ..., "seconds": ..., "bytes": ..., "server_rss_open_kib": ...,
"server_cpu_seconds": ...} (the server's resident memory once every viewer's socket is open,
and the CPU time it spent while they played, if SERVER_PID is given: CPU per frame is the
figure a busy machine disturbs least)
"""

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect

from tests.hostile.clients import ORIGIN, acknowledge, cpu_seconds, rss_kib


async def viewer(url: str, start_message: str, expected: int, ready: asyncio.Event,
                 opened: list) -> tuple[int, int]:
    async with connect(url, origin=ORIGIN, max_size=2**22, compression=None,
                       open_timeout=60, ping_interval=None) as ws:
        await acknowledge(ws, await ws.recv())  # the full state sent on connect
        opened.append(1)
        await ready.wait()
        await ws.send(start_message)
        frames = size = 0
        while frames < expected:
            message = await ws.recv()
            frames += 1
            size += len(message)
            await acknowledge(ws, message)
        return frames, size


async def main(url: str, viewers: int, expected: int, start_message: str, server_pid: int | None) -> None:
    ready = asyncio.Event()
    opened: list = []
    # Open sockets in small batches so the accept queue is never the bottleneck.
    tasks = []
    for i in range(viewers):
        tasks.append(asyncio.create_task(viewer(url, start_message, expected, ready, opened)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    while len(opened) < viewers:
        await asyncio.sleep(0.01)
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
    server_rss_open = rss_kib(server_pid) if server_pid else None
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    ready.set()
    results = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    cpu = None if cpu_before is None else cpu_seconds(server_pid) - cpu_before
    print(json.dumps({
        "frames": sum(f for f, _ in results),
        "seconds": seconds,
        "bytes": sum(b for _, b in results),
        "server_rss_open_kib": server_rss_open,
        "server_cpu_seconds": cpu,
    }))


if __name__ == "__main__":
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], pid))
