"""Everything a server process shares between its sockets, owned by one object.

The shared frame store (viewers of one run share its frames and HTML), the recent-message
cache, the open sockets and the budgets per client address, and where analyses compute.
The consumers all run on the server's one event-loop thread, so each thread gets its own
`ProcessState` (for the consumers, the process's), and no run is ever touched by two
threads. Tests start from a clean one with `reset()`.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from simulations.limits import Budgets, SocketCounter
from simulations.render.messages import MessageCache
from simulations.runs import RunStore

#: Worker processes computing analyses: off the event loop, so a class asking for the
#: explorer never stalls another viewer's frames (a thread would share the GIL with it).
ANALYSIS_PROCESSES = 1


#: How much less CPU priority the workers have than the server (os.nice): on a busy machine
#: the server, which answers pages and sends frames, comes first, and the workers take
#: what is left.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    os.nice(WORKER_NICENESS)


def worker_pool(processes: int) -> ProcessPoolExecutor:
    """Processes for costly work (analyses, API runs), at a lower CPU priority than the
    server. forkserver: each worker starts from a clean interpreter, not a fork of a server
    with threads and sockets open."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_lower_priority)


def _analysis_pool() -> Executor:
    return worker_pool(ANALYSIS_PROCESSES)


@dataclass
class ProcessState:
    store: RunStore = field(default_factory=RunStore)
    messages: MessageCache = field(default_factory=MessageCache)
    sockets: SocketCounter = field(default_factory=SocketCounter)
    budgets: Budgets = field(default_factory=Budgets)
    _executor: Executor | None = None

    @property
    def analyses(self) -> Executor:
        """Where analyses compute (made on first use)."""
        if self._executor is None:
            self._executor = _analysis_pool()
            # At exit, drop waiting analyses instead of computing them all first: the server
            # is given seconds to stop, then killed, which would leave the worker behind.
            atexit.register(self.close)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


_local = threading.local()


def current() -> ProcessState:
    """This thread's state (in the server: the process's)."""
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = ProcessState()
    return state


def reset(analyses: Executor | None = None) -> ProcessState:
    """A fresh state for this thread: nothing shared, no socket counted (tests). `analyses`
    replaces the worker processes (a test's thread pool sees its monkeypatches)."""
    old = getattr(_local, "state", None)
    if old is not None:
        old.close()
    _local.state = ProcessState(_executor=analyses)
    return _local.state
