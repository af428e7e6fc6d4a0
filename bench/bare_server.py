"""The baseline: a bare `websockets` server that sends the same pre-rendered frames.

It does what our consumer does on the wire and nothing else: on connect it sends
the first frame (the full state), and on the client's first message it sends
every remaining frame as fast as the socket takes them.

    python -m bench.bare_server PORT FRAMES.json
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def main(port: int, frames_path: str) -> None:
    with open(frames_path) as f:
        frames: list[str] = json.load(f)

    async def stream(websocket) -> None:
        await websocket.send(frames[0])
        await websocket.recv()
        for frame in frames[1:]:
            await websocket.send(frame)
        await websocket.wait_closed()

    async with serve(stream, "127.0.0.1", port, max_size=2**20, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
