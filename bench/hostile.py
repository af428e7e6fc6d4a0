"""`make hostile`: what issue 7's attacks do to everyone else, measured on the real server.

Starts Daphne with production settings on loopback (tests/live.py), then, for each phase,
measures for PHASE_SECONDS what another visitor sees, while the phase's attack runs from
another address in its own process:

- a viewer (127.0.0.20) playing Race Conditions at speed 8 (a frame due every 75 ms;
  4 threads x 5 increments, a new seed when a run ends), acknowledging as the page does:
  the gaps between consecutive frames of a run, p50 and p99;
- a topic page (/topics/race-conditions/, 127.0.0.21) loaded every quarter second: p50,
  p99 (about 75 loads a phase: a p99 of fewer is the maximum of a handful).

Phases: unloaded; item 2 (19 sockets from one address, each 19 messages a second of
`params` with a random switch_chance then `seek` to step 2000); item 2 with `analyse` at
2/s per socket; item 1 (20 sockets asking for the state 10/s, never reading); item 3 (16
concurrent POSTs of 2,000-step Raft runs, again as each answers, waiting out a 429's
Retry-After). Prints each phase's figures, their ratios to the unloaded phase, and what
the attack got (refused, 429s). Timing is printed, never asserted: the machines are
shared and noisy; tests/hostile/ asserts the mechanisms.

    python -m bench.hostile                      # everything
    python -m bench.hostile attack KIND PORT S   # one attack (what the phases run)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile.clients import (  # noqa: E402
    BUSY,
    DROPPED,
    Reader,
    acknowledge,
    cpu_seconds,
    http,
    open_socket,
    percentile,
    position,
    rss_kib,
    socket_url,
)

PHASE_SECONDS = 20
PAGE_EVERY = 0.25
VIEWER, PAGE = "127.0.0.20", "127.0.0.21"
ATTACKER = "127.0.0.30"
TOPIC_PAGE = "/topics/race-conditions/"
STEP = re.compile(r"step=(\d+)")


# --------------------------------------------------------------------------- what another visitor sees


async def viewer(port: int, until: float) -> list[float]:
    """Frame gaps (ms) of a viewer playing at speed 8, within each run."""
    loop = asyncio.get_running_loop()
    ws = await open_socket(socket_url(port), source=VIEWER)
    await acknowledge(ws, await ws.recv())
    for message in ({"cmd": "params", "p.threads": "4", "p.increments": "5"}, {"cmd": "speed", "speed": "8"},
                    {"cmd": "play"}):
        await ws.send(json.dumps(message))
    gaps: list[float] = []
    seed, playing, last = 100, False, None  # last: (arrival, step) of the run's previous frame
    try:
        while (left := until - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except (asyncio.TimeoutError, TimeoutError):
                break
            now = time.perf_counter()
            await acknowledge(ws, message)
            where = position(message)
            if where is None:
                continue
            step = int(STEP.search(where[0]).group(1))
            if playing and last is not None and step == last[1] + 1:
                gaps.append((now - last[0]) * 1000)
            if where[1] == "1":
                playing, last = True, (now, step)
            elif playing:  # the run ended: a new one, and play it
                playing, last, seed = False, None, seed + 1
                await ws.send(json.dumps({"cmd": "reset", "seed": str(seed)}))
                await ws.send(json.dumps({"cmd": "play"}))
    finally:
        ws.transport.abort()
    return gaps


async def page_loads(port: int, until: float) -> list[float]:
    """Milliseconds per load of a topic page, one every PAGE_EVERY seconds."""
    loop = asyncio.get_running_loop()
    times = []
    while loop.time() < until:
        started = loop.time()
        status, _, _, seconds = await http(port, "GET", TOPIC_PAGE, source=PAGE)
        if status != 200:
            raise RuntimeError(f"{TOPIC_PAGE} answered {status}")
        times.append(seconds * 1000)
        await asyncio.sleep(max(0.0, PAGE_EVERY - (loop.time() - started)))
    return times


# --------------------------------------------------------------------------- the attacks (one process)


async def seek_attack(port: int, seconds: float, analyse: bool) -> dict:
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    readers = [Reader(await open_socket(socket_url(port), source=ATTACKER)) for _ in range(19)]
    rng = random.Random(1)
    sent = 0

    async def one(ws) -> None:
        nonlocal sent
        n = 0
        while loop.time() < until:
            if analyse and n % 19 in (0, 10):  # 2 of every 19: analyse at 2/s
                message = {"cmd": "analyse", "name": "explore"}
            elif n % 2:
                message = {"cmd": "seek", "index": "2000"}
            else:
                message = {"cmd": "params", "p.switch_chance": f"{rng.random():.3f}"}
            await ws.send(json.dumps(message))
            sent += 1
            n += 1
            await asyncio.sleep(1 / 19)

    await asyncio.gather(*(r.run(until + 0.5) for r in readers), *(one(r.ws) for r in readers))
    for r in readers:
        r.ws.transport.abort()
    errors = [e for r in readers for e in r.errors]
    return {"sent": sent, "refused (busy)": sum(e.startswith(BUSY) for e in errors),
            "dropped (queue full)": sum(e.startswith(DROPPED) for e in errors),
            "other errors": sum(not e.startswith((BUSY, DROPPED)) for e in errors)}


async def state_attack(port: int, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    sockets = [await open_socket(socket_url(port), source=ATTACKER, max_queue=1) for _ in range(20)]
    sent = 0
    state = json.dumps({"cmd": "state"})
    while loop.time() < until:
        tick = loop.time()
        for ws in sockets:
            await ws.send(state)
            sent += 1
        await asyncio.sleep(max(0.0, 0.1 - (loop.time() - tick)))
    for ws in sockets:
        ws.transport.abort()
    return {"sent": sent}


async def api_attack(port: int, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    body = json.dumps({"seed": 5, "steps": 2000}).encode()
    counts: dict[str, int] = {}

    async def one() -> None:
        while loop.time() < until:
            try:
                status, headers, _, _ = await http(port, "POST", "/api/simulations/raft/runs", body,
                                                   source=ATTACKER, timeout=max(1.0, until - loop.time()))
            except (asyncio.TimeoutError, TimeoutError):
                counts["unanswered at the end"] = counts.get("unanswered at the end", 0) + 1
                return
            counts[str(status)] = counts.get(str(status), 0) + 1
            if status == 429:
                await asyncio.sleep(min(float(headers.get("retry-after", 1)), max(0.0, until - loop.time())))

    await asyncio.gather(*(one() for _ in range(16)))
    return counts


def attack_main(kind: str, port: int, seconds: float) -> None:
    attacks = {
        "seek": lambda: seek_attack(port, seconds, analyse=False),
        "analyse": lambda: seek_attack(port, seconds, analyse=True),
        "state": lambda: state_attack(port, seconds),
        "api": lambda: api_attack(port, seconds),
    }
    started, cpu = time.perf_counter(), time.process_time()
    result = asyncio.run(attacks[kind]())
    # The attacker shares the machine's cores with the server: what it took of them.
    result["attacker CPU"] = f"{(time.process_time() - cpu) / (time.perf_counter() - started):.0%}"
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the phases


PHASES = (
    ("unloaded", None),
    ("item 2: params+seek 19x19/s", "seek"),
    ("item 2: + analyse 2/s", "analyse"),
    ("item 1: 20 non-reading, state 10/s", "state"),
    ("item 3: 16 concurrent POST raft 2000 steps", "api"),
)


async def measure(port: int, pid: int, kind: str | None) -> dict:
    attacker = None
    if kind is not None:
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.hostile", "attack", kind, str(port), str(PHASE_SECONDS),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(1.0)  # its sockets open and the attack is under way
    loop = asyncio.get_running_loop()
    until = loop.time() + PHASE_SECONDS - (1.0 if kind else 0.0)
    rss_before = rss_kib(pid)
    peak = [rss_before]
    cpu_before, started = cpu_seconds(pid), time.perf_counter()

    async def sample() -> None:
        while loop.time() < until:
            peak[0] = max(peak[0], rss_kib(pid))
            await asyncio.sleep(0.25)

    gaps, loads, _ = await asyncio.gather(viewer(port, until), page_loads(port, until), sample())
    cpu = (cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
    result = {}
    if attacker is not None:
        out, _ = await attacker.communicate()
        result = json.loads(out.decode().strip().splitlines()[-1])
    return {"gaps": gaps, "loads": loads, "attack": result, "rss_mb": (rss_before / 1024, peak[0] / 1024),
            "cpu": cpu}


async def warm_up(port: int) -> None:
    until = asyncio.get_running_loop().time() + 3
    await asyncio.gather(viewer(port, until), page_loads(port, until))


def main() -> None:
    from tests.live import running_daphne

    with running_daphne(Path(tempfile.mkdtemp(prefix="hostile-"))) as server:
        # Warm up: the first page load and the first run compile templates and fill caches.
        asyncio.run(warm_up(server.port))
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        rows = []
        for name, kind in PHASES:
            figures = asyncio.run(measure(server.port, server.process.pid, kind))
            rows.append((name, figures))
            gaps, loads = figures["gaps"], figures["loads"]
            print(f"{name:44} frame gap p50={percentile(gaps, 50):5.0f}ms p99={percentile(gaps, 99):5.0f}ms "
                  f"(n={len(gaps)})  page p50={percentile(loads, 50):5.0f}ms p99={percentile(loads, 99):5.0f}ms "
                  f"(n={len(loads)})  server CPU {figures['cpu']:.0%} RSS {figures['rss_mb'][0]:.0f}->{figures['rss_mb'][1]:.0f} MB"
                  + (f"  attack: {figures['attack']}" if figures["attack"] else ""), flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        base_gaps, base_loads = rows[0][1]["gaps"], rows[0][1]["loads"]
        print("\nratios to unloaded (targets: frame gap p99 < 2x, page load < 3x):")
        for name, figures in rows[1:]:
            gap = percentile(figures["gaps"], 99) / percentile(base_gaps, 99)
            page50 = percentile(figures["loads"], 50) / percentile(base_loads, 50)
            page99 = percentile(figures["loads"], 99) / percentile(base_loads, 99)
            print(f"{name:44} frame gap p99 x{gap:.2f}  page load p50 x{page50:.2f} p99 x{page99:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "attack":
        attack_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
