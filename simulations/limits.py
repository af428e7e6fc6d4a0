"""What one client may cost: message size and rate per socket, sockets per address.

Channels has no throttling of its own. A token bucket per socket refuses a burst and
closes a flood; a cap on open sockets per client address keeps one visitor from holding
the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

MAX_MESSAGE_BYTES = 16 * 1024
#: Token bucket per connection: RATE messages a second on average, bursts of BURST.
RATE = 20.0
BURST = 40
#: Messages refused in one flood before the socket is closed.
FLOOD_STRIKES = 25
MAX_SOCKETS_PER_CLIENT = 20
#: Most frames one unpaced bench play may send.
MAX_BENCH_STEPS = 100_000
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


class TokenBucket:
    def __init__(self, rate: float = RATE, burst: int = BURST, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    @property
    def full(self) -> bool:
        now = self.clock()
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class FloodGuard:
    """One socket's message budget: `admit()` says whether to process a message, to refuse
    it (telling the client once per flood), or to close the socket (a flood that goes on)."""

    ADMIT, REFUSE, WARN, CLOSE = "admit", "refuse", "warn", "close"

    def __init__(self, bucket: TokenBucket | None = None, strikes: int = FLOOD_STRIKES) -> None:
        self.bucket = bucket or TokenBucket()
        self.max_strikes = strikes
        self.strikes = 0

    def admit(self) -> str:
        if self.strikes and self.bucket.full:  # quiet long enough: the flood is over
            self.strikes = 0
        if self.bucket.take():
            return self.ADMIT
        self.strikes += 1
        if self.strikes >= self.max_strikes:
            return self.CLOSE
        return self.WARN if self.strikes == 1 else self.REFUSE


def bench_mode() -> bool:
    """Unpaced play (`play` with `pace=off`) for `make bench`. Off unless the process was
    started with SIMULATIONS_BENCH=1 (settings.SIMULATIONS_BENCH), and even then only
    for loopback clients, whose per-client socket cap is lifted in this mode so one
    bench client can open 1,000. It does not depend on DEBUG: the bench measures
    production settings."""
    return bool(getattr(settings, "SIMULATIONS_BENCH", False))


def bench_client(client: str) -> bool:
    return bench_mode() and client in LOOPBACK


def max_sockets_per_client(client: str) -> int:
    if bench_client(client):  # one bench process opens 1,000 sockets
        return 1_000_000
    return int(getattr(settings, "SIMULATIONS_MAX_SOCKETS_PER_CLIENT", MAX_SOCKETS_PER_CLIENT))


def client_key(scope: Mapping[str, Any]) -> str:
    """The address a socket counts against (Daphne's peer, or X-Forwarded-For's first
    address under --proxy-headers: see the README)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SocketCounter:
    """Open sockets per client address, in this process."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def try_open(self, client: str) -> bool:
        if self.open.get(client, 0) >= max_sockets_per_client(client):
            return False
        self.open[client] = self.open.get(client, 0) + 1
        return True

    def close(self, client: str) -> None:
        left = self.open.get(client, 1) - 1
        if left > 0:
            self.open[client] = left
        else:
            self.open.pop(client, None)
