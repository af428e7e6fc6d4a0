"""What one client may cost: message size and rate per socket, sockets per address.

Channels has no throttling of its own. A token bucket per socket refuses a burst and
closes a flood; a cap on open sockets per client address keeps one visitor from holding
the process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
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


# --------------------------------------------------------------------------- costly work

#: What costly work costs, in engine steps: each client address may spend BUDGET_RATE a
#: second on average, BUDGET_BURST at once, across all its sockets. Charged when a message
#: arrives, before it waits to be processed, so a backlog cannot hide a flood.
BUDGET_RATE = 1500.0
BUDGET_BURST = 3000
#: A new run (connect, reset, params, resume) and an analysis, in steps.
NEW_RUN_COST = 40
ANALYSIS_COST = 1000


class Budgets:
    """Per client address, a token bucket of engine steps."""

    #: Past this many addresses, those whose bucket has refilled are forgotten before a new
    #: one is added (a full bucket is what a new one starts as, so nothing changes for them).
    TRACKED = 1024

    def __init__(self, rate: float = BUDGET_RATE, burst: int = BUDGET_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, list[float]] = {}  # client -> [tokens, stamp]
        self.refused = 0

    def charge(self, client: str, cost: float) -> bool:
        """Spend `cost` of the client's budget; False (nothing spent) when it has not that much."""
        if cost <= 0:
            return True
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.TRACKED:
                self.forget_idle()
            bucket = self._buckets[client] = [float(self.burst), now]
        bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if bucket[0] >= cost or (bucket[0] >= self.burst and cost > self.burst):
            # One job larger than the whole burst runs when the bucket is full, then waits it out.
            bucket[0] -= cost
            return True
        self.refused += 1
        return False

    def forget_idle(self) -> None:
        """Drop buckets that have refilled: a client seen once costs nothing for ever."""
        now = self.clock()
        full = [c for c, (tokens, stamp) in self._buckets.items() if tokens + (now - stamp) * self.rate >= self.burst]
        for client in full:
            del self._buckets[client]


#: Commands one socket may have waiting to be processed (a burst of Step presses fits).
QUEUE_LENGTH = 32


class CommandQueue:
    """One socket's waiting commands, bounded. A newer command of a kind where only the
    latest matters (`replaces`) takes the place of a waiting one of its kind."""

    def __init__(self, replaces: tuple[type, ...], length: int = QUEUE_LENGTH) -> None:
        self.replaces = replaces
        self.length = length
        self._items: list[Any] = []
        self._ready = asyncio.Event()
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, command: Any) -> bool:
        """Queue `command`; False when the queue is full (nothing queued)."""
        if isinstance(command, self.replaces):
            for i, waiting in enumerate(self._items):
                if type(waiting) is type(command):
                    del self._items[i]
                    self.coalesced += 1
                    break
        if len(self._items) >= self.length:
            return False
        self._items.append(command)
        self._ready.set()
        return True

    async def get(self) -> Any:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.pop(0)


# --------------------------------------------------------------------------- sending

#: Messages a socket may have sent beyond the last one its page acknowledged. The page
#: acknowledges every ACK_EVERY-th message, echoing a token only a reader can know. An
#: acknowledgement costs Daphne and Channels far more than a frame sent: acknowledging
#: every 8th instead of every 4th took the server's CPU per frame from about 61 to 44 µs
#: (100 viewers of one run, `make bench`); three acknowledgements may be in flight.
SEND_WINDOW = 24
ACK_EVERY = 8


class SendWindow:
    """What a socket may send before its page proves it reads: a client that never reads
    holds at most SEND_WINDOW messages of the server's memory, whatever it sends."""

    def __init__(self, window: int = SEND_WINDOW, every: int = ACK_EVERY) -> None:
        self.window, self.every = window, every
        self.key = secrets.token_bytes(16)
        self.sent = 0
        self.acked = 0
        #: Something was not sent while the window was shut: resync with the full state.
        self.stale = False
        self._open = asyncio.Event()
        self._open.set()

    def token(self, seq: int) -> str:
        # Keyed BLAKE2 is a MAC by itself (RFC 7693 §2.5), a third of HMAC's cost per message.
        return hashlib.blake2s(seq.to_bytes(8, "big"), key=self.key, digest_size=8).hexdigest()

    @property
    def is_open(self) -> bool:
        return self.sent - self.acked < self.window

    def marker(self, prefix: str) -> str:
        """Count one more message sent; the element it ends with: its seq, and on every
        `every`-th message the token to echo and the request to (a token on the others would
        be computed for nothing: the page echoes only what it is asked to)."""
        self.sent += 1
        seq = self.sent
        if not self.is_open:
            self._open.clear()
        if seq % self.every:
            return f'<i id="{prefix}-ack" hidden data-seq="{seq}"></i>'
        return f'<i id="{prefix}-ack" hidden data-seq="{seq}" data-token="{self.token(seq)}" data-ack="1"></i>'

    def ack(self, seq: int, token: str) -> bool:
        """The page read message `seq`; False (nothing changes) for a seq never sent or
        already acknowledged, or a wrong token."""
        if not self.acked < seq <= self.sent or not hmac.compare_digest(token, self.token(seq)):
            return False
        self.acked = seq
        if self.is_open:
            self._open.set()
        return True

    async def wait_open(self) -> None:
        await self._open.wait()
