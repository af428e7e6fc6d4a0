"""`make bench`'s capacity row, one client process's share: VIEWERS viewers, each playing
its own Race Conditions run (4 threads x 5 increments, a distinct seed, opened from its
permalink; a new seed when a run ends, as a student presses Reset) at speed 6, one frame due every 0.1 s (the
controller's BASE_INTERVAL 0.6 s / speed), paced by the server as for the page, and
acknowledged as the page does. 20 viewers per loopback address (the per-address socket
cap), so each address has its own budget as a class behind distinct addresses would.

    python -m bench.capacity PORT VIEWERS FIRST SECONDS [shared]
prints {"opened": N} once its sockets are open, waits for a line on stdin, plays, then
prints {"frames", "seconds", "lags_ms": [...]}

With `shared`, every viewer plays the same seeds in the same order (the run and its
frames computed and rendered once, as for a class watching one run): everything else
(pacing, sending, acknowledging, resetting) is as above, so the server's CPU per frame
is what serving a frame costs without its engine step and render.

A frame's lag is how late it arrived behind its due time: within one run's play, frame
k is due at t0 + k x 0.1 s, t0 chosen so the most punctual frame of the run is on time.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import time

from tests.hostile.clients import acknowledge, error_text, open_socket, position, socket_url

SPEED = 6
#: When a run ends, the viewer resets to its seed plus this (no two viewers' seeds meet).
NEXT_SEED = 1000
INTERVAL = 0.6 / SPEED
PER_ADDRESS = 20
STEP = re.compile(r"step=(\d+)")
ERRORS: dict[str, int] = {}


def run_token(seed: int) -> str:
    from simulations.engines.race_conditions import RaceConditionsEngine
    from simulations.runs import encode_run, parse_run

    return encode_run(RaceConditionsEngine, parse_run(RaceConditionsEngine, {"threads": 4, "increments": 5}, seed, []))


def lags(run: list[tuple[int, float]]) -> list[float]:
    """Lags (ms) of one run's frames, (step, arrival) in order."""
    if len(run) < 2:
        return []
    first = run[0][0]
    offsets = [arrival - (step - first) * INTERVAL for step, arrival in run]
    t0 = min(offsets)
    return [(o - t0) * 1000 for o in offsets]


async def viewer(port: int, n: int, start: asyncio.Event, until: list[float], opened: list[int],
                 seed: int) -> tuple[int, list[float]]:
    source = f"127.0.1.{n // PER_ADDRESS + 1}"
    # The run in the connect URL, as a permalink opens it: its own seed, at speed 6.
    ws = await open_socket(socket_url(port, run=run_token(seed), speed=str(SPEED)), source=source)
    await acknowledge(ws, await ws.recv())
    opened.append(n)
    await start.wait()
    await asyncio.sleep(random.random())  # a class does not press Play in step
    await ws.send(json.dumps({"cmd": "play"}))
    loop = asyncio.get_running_loop()
    frames, all_lags, run, playing = 0, [], [], False
    try:
        while (left := until[0] - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except (asyncio.TimeoutError, TimeoutError):
                break
            now = time.perf_counter()
            await acknowledge(ws, message)
            if error := error_text(message):
                ERRORS[error[:60]] = ERRORS.get(error[:60], 0) + 1
            where = position(message)
            if where is None:
                continue
            step = int(STEP.search(where[0]).group(1))
            if where[1] == "1" or playing:
                if not run or step == run[-1][0] + 1:
                    run.append((step, now))
                    frames += 1
            if where[1] == "1":
                playing = True
            elif playing:  # the run ended: the next seed, and play it
                all_lags.extend(lags(run))
                run, playing, seed = [], False, seed + NEXT_SEED
                await ws.send(json.dumps({"cmd": "reset", "seed": str(seed)}))
                await ws.send(json.dumps({"cmd": "play"}))
        all_lags.extend(lags(run))
    finally:
        ws.transport.abort()
    return frames, all_lags


async def main(port: int, viewers: int, first: int, seconds: float, shared: bool = False) -> None:
    start = asyncio.Event()
    until = [float("inf")]
    opened: list[int] = []
    tasks = []
    for i in range(first, first + viewers):
        tasks.append(asyncio.create_task(viewer(port, i, start, until, opened, seed=1 if shared else i + 1)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    while len(opened) < viewers:
        await asyncio.sleep(0.05)
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
    print(json.dumps({"opened": len(opened)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent: every process's sockets are open
    until[0] = loop.time() + seconds + 1.0  # + the second over which the viewers press Play
    started = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks)
    print(json.dumps({
        "frames": sum(f for f, _ in results),
        "seconds": time.perf_counter() - started,
        "lags_ms": [round(lag, 2) for _, ls in results for lag in ls],
        "errors": ERRORS,
    }), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                     shared=sys.argv[5:] == ["shared"]))
