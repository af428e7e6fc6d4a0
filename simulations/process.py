"""Everything a server process shares between its sockets, owned by one object.

The shared frame store (viewers of one run share its frames and HTML), the recent-message
cache, the open sockets per client address and the analysis slots. The consumers all run
on the server's one event-loop thread, so each thread gets its own `ProcessState` (for
the consumers, the process's), and no run is ever touched by two threads. Tests start
from a clean one with `reset()`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from simulations.limits import SocketCounter
from simulations.render.messages import MessageCache
from simulations.runs import RunStore

#: Most analyses computing at once in this process (each in a worker thread).
MAX_CONCURRENT_ANALYSES = 4


@dataclass
class ProcessState:
    store: RunStore = field(default_factory=RunStore)
    messages: MessageCache = field(default_factory=MessageCache)
    sockets: SocketCounter = field(default_factory=SocketCounter)
    _analysis_slots: asyncio.Semaphore | None = None

    @property
    def analysis_slots(self) -> asyncio.Semaphore:
        # Made on first use, inside the running loop.
        if self._analysis_slots is None:
            self._analysis_slots = asyncio.Semaphore(MAX_CONCURRENT_ANALYSES)
        return self._analysis_slots


_local = threading.local()


def current() -> ProcessState:
    """This thread's state (in the server: the process's)."""
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = ProcessState()
    return state


def reset() -> ProcessState:
    """A fresh state for this thread: nothing shared, no socket counted (tests)."""
    _local.state = ProcessState()
    return _local.state
