"""Clients for attacking the real server from loopback: simulation sockets (websockets)
that read and acknowledge as the page does, or never read, and raw HTTP requests, each
from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...: Daphne sees each as
another client address, so one test's attacker and another's viewer have their own
per-address limits). Used by tests/hostile/ and by `make hostile` (bench/hostile.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

ORIGIN = "http://127.0.0.1"
#: The flow-control marker that ends every message the server sends (limits.SendWindow).
MARKER = re.compile(r'<i id="[^"]+-ack" hidden data-seq="(\d+)"(?: data-token="([0-9a-f]+)"( data-ack="1"))?></i>$')
ERROR_BOX = re.compile(r'<div class="sim-error__box"><p>([^<]*)</p>')
PERMALINK = re.compile(r'id="[^"]+-permalink" class="sim-permalink" href="([^"]+)" data-step="(\d+)" '
                       r'data-playing="(\d)" data-speed="([^"]+)"')
BUSY = "The server is busy with your other simulations"
DROPPED = "Too many commands are waiting"


def socket_url(port: int, slug: str = "race-conditions", **query: str) -> str:
    query = {"panel": f"sim-{slug}", **query}
    return f"ws://127.0.0.1:{port}/ws/simulations/{slug}/?" + "&".join(f"{k}={v}" for k, v in query.items())


async def open_socket(url: str, source: str = "127.0.0.1", **options) -> ClientConnection:
    """A simulation socket from `source` (a loopback address)."""
    return await connect(url, origin=ORIGIN, local_addr=(source, 0), max_size=2**22, compression=None,
                         open_timeout=30, ping_interval=None, close_timeout=2, **options)


def marker_of(message: str) -> re.Match | None:
    # The marker ends the message: search only its tail (a bench client reads thousands a second).
    return MARKER.search(message, max(0, len(message) - 240))


async def acknowledge(ws: ClientConnection, message: str) -> None:
    """Echo the message's marker when the server asks for it, as static/js/simulations.js does."""
    marker = marker_of(message)
    if marker and marker.group(3):
        await ws.send(json.dumps({"cmd": "ack", "seq": marker.group(1), "token": marker.group(2)}))


def acknowledge_sync(ws, message: str) -> None:
    """`acknowledge` for websockets' sync client."""
    marker = marker_of(message)
    if marker and marker.group(3):
        ws.send(json.dumps({"cmd": "ack", "seq": marker.group(1), "token": marker.group(2)}))


def error_text(message: str) -> str:
    """The message's error, if it shows one ("" when it clears the error area or has none)."""
    found = ERROR_BOX.search(message)
    return found.group(1) if found else ""


def position(message: str) -> tuple[str, str, str] | None:
    """(the run and step it links to, playing, speed), when the message holds the permalink."""
    found = PERMALINK.search(message)
    return (found.group(1), found.group(3), found.group(4)) if found else None


@dataclass
class Reader:
    """Reads one socket as the page does (acknowledging), keeping what it saw."""

    ws: ClientConnection
    arrivals: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    messages: int = 0

    async def run(self, until: float) -> None:
        """Read until the loop's clock reaches `until` (or the socket closes)."""
        loop = asyncio.get_running_loop()
        while (left := until - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(self.ws.recv(), left)
            except (asyncio.TimeoutError, TimeoutError):
                return
            except Exception:  # closed
                return
            self.arrivals.append(time.perf_counter())
            self.messages += 1
            if error := error_text(message):
                self.errors.append(error)
            await acknowledge(self.ws, message)

    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000 for a, b in zip(self.arrivals, self.arrivals[1:])]


async def http(port: int, method: str, path: str, body: bytes = b"", source: str = "127.0.0.1",
               timeout: float = 60) -> tuple[int, dict[str, str], bytes, float]:
    """One HTTP/1.1 request from `source`: (status, headers lower-cased, body, seconds)."""
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), timeout)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        writer.write(head.encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    seconds = time.perf_counter() - started
    header_block, _, content = raw.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, content, seconds


def rss_kib(pid: int) -> int:
    """The process's resident memory."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise LookupError(pid)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
