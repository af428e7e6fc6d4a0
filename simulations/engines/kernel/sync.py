"""Synchronisation primitives as plain data, and the wait-for graph.

A `SyncLock` is one of four kinds, each with the rules its primary source gives:

* ``mutex``: one holder; a thread that finds it held joins a FIFO wait queue and sleeps
  (off the CPU); unlock hands the mutex straight to the first waiter. POSIX
  pthread_mutex_lock: "If the mutex is already locked by another thread, the calling thread
  shall block until the mutex becomes available"; which waiter gets it is left to the
  scheduling policy, FIFO here so that the queue reads in order.
* ``spinlock``: one holder; a thread that finds it held keeps its core and retries
  (pthread_spin_lock: "the calling thread shall not return ... until the lock becomes
  available"; it spins). Spinners are listed in the order they started; whoever retries
  first after the release wins (test-and-set has no queue).
* ``rwlock``: many readers or one writer (pthread_rwlock_rdlock / wrlock; Courtois, Heymans
  and Parnas 1971). Policies: ``reader_pref`` (their problem 1: no reader waits unless a
  writer holds the lock, so writers may starve), ``writer_pref`` (their problem 2: once a
  writer waits, no new reader is admitted), ``fair`` (one FIFO queue: a newcomer waits
  whenever anyone is queued; at a release the head is admitted, with the readers right
  behind it when it is a reader).
* ``semaphore``: a counter of permits (Dijkstra's P and V; sem_wait "decrements ... If the
  semaphore value is currently zero, then the calling thread shall not return ... until it
  either locks the semaphore or the call is interrupted"; sem_post hands a permit to a
  waiter when there is one). `holders` lists the threads that took a permit and have not
  posted, so ``value + len(holders) == permits`` always, and value is never negative.

Every operation returns what happened, and the caller moves threads on and off its CPU.
`wait_for_edges` and `find_cycles` give the wait-for graph (a waiter -> each holder of the
lock it waits for) and its elementary cycles (Coffman, Elphick and Shoshani 1971: with
single-unit resources a cycle is a deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

LOCK_TYPES = ("mutex", "rwlock", "spinlock", "semaphore")
RW_POLICIES = ("reader_pref", "writer_pref", "fair")


@dataclass(slots=True)
class SyncLock:
    id: str
    lock_type: str
    policy: str = ""  # rwlock only
    permits: int = 1  # semaphore only
    value: int = 0  # semaphore: free permits
    holders: list[str] = field(default_factory=list)
    writer: bool = False  # rwlock: the holder is a writer
    #: (thread, mode) in arrival order; mode "r"/"w" (rwlock), "x" (mutex, semaphore), "s" (spinning).
    waiters: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.lock_type not in LOCK_TYPES:
            raise ValueError(f"unknown lock type {self.lock_type!r}")
        if self.lock_type == "semaphore" and not self.holders:
            self.value = self.permits

    # -- reading ------------------------------------------------------------

    def waiting(self) -> list[str]:
        return [w for w, _ in self.waiters]

    def is_waiting(self, tid: str) -> bool:
        return any(w == tid for w, _ in self.waiters)

    def _compatible(self, mode: str) -> bool:
        """Could a request in `mode` be granted now, ignoring the queue?"""
        if self.lock_type == "semaphore":
            return self.value > 0
        if self.lock_type == "rwlock":
            if mode == "r":
                return not (self.holders and self.writer)
            return not self.holders
        return not self.holders

    def admits(self, mode: str) -> bool:
        """Would a newcomer in `mode` be granted now, given the queue and the policy?"""
        if not self._compatible(mode):
            return False
        if self.lock_type == "rwlock":
            if self.policy == "reader_pref":
                return True
            if self.policy == "writer_pref":
                return mode == "w" or not any(m == "w" for _, m in self.waiters)
            return not self.waiters  # fair: FIFO, nobody overtakes
        if self.lock_type == "mutex" or self.lock_type == "semaphore":
            return not self.waiters  # FIFO: a newcomer never jumps the queue
        return True  # spinlock: whoever tries while it is free

    # -- changing -----------------------------------------------------------

    def _grant(self, tid: str, mode: str) -> None:
        if self.lock_type == "semaphore":
            self.value -= 1
        if self.lock_type == "rwlock":
            self.writer = mode == "w"
        self.holders.append(tid)

    def acquire(self, tid: str, mode: str = "x") -> bool:
        """Try to take the lock. True: granted. False: `tid` now waits (queued, or spinning)."""
        if tid in self.holders and self.lock_type in ("mutex", "spinlock"):
            raise ValueError(f"{tid} already holds {self.id}")
        if self.admits(mode):
            self.waiters = [w for w in self.waiters if w[0] != tid]
            self._grant(tid, mode)
            return True
        if not self.is_waiting(tid):
            self.waiters.append([tid, "s" if self.lock_type == "spinlock" else mode])
        return False

    def try_acquire(self, tid: str, mode: str = "x") -> bool:
        """pthread_mutex_trylock: take it if it is free now, never wait."""
        if self.admits(mode):
            self._grant(tid, mode)
            return True
        return False

    def cancel(self, tid: str) -> None:
        """A waiter gives up (a timeout): it leaves the queue. The lock is otherwise unchanged,
        but a queued writer leaving may let readers in: call `admit_waiters` after."""
        self.waiters = [w for w in self.waiters if w[0] != tid]

    def release(self, tid: str) -> list[str]:
        """`tid` unlocks (posts). Returns the waiters granted the lock now, in order: they
        hold it and may run."""
        if tid not in self.holders:
            if self.lock_type == "semaphore":  # any thread may post a semaphore
                if self.waiters:
                    w = self.waiters.pop(0)[0]
                    self.holders.append(w)
                    return [w]
                self.value += 1
                return []
            raise ValueError(f"{tid} does not hold {self.id}")
        self.holders.remove(tid)
        if self.lock_type == "semaphore":
            self.value += 1
        if self.lock_type == "rwlock" and not self.holders:
            self.writer = False
        return self.admit_waiters()

    def admit_waiters(self) -> list[str]:
        """Grant the lock to the waiters the rules let in now (spinners are not handed the
        lock: they find it free when they next retry)."""
        granted: list[str] = []
        if self.lock_type == "spinlock":
            return granted
        if self.lock_type in ("mutex", "semaphore"):
            while self.waiters and self._compatible("x"):
                w = self.waiters.pop(0)[0]
                self._grant(w, "x")
                granted.append(w)
            return granted
        # rwlock
        if self.policy == "reader_pref":
            if not (self.holders and self.writer):
                readers = [w for w, m in self.waiters if m == "r"]
                if readers:
                    for r in readers:
                        self._grant(r, "r")
                    self.waiters = [w for w in self.waiters if w[1] != "r"]
                    return readers
            if not self.holders:
                for i, (w, m) in enumerate(self.waiters):
                    if m == "w":
                        del self.waiters[i]
                        self._grant(w, "w")
                        return [w]
            return granted
        if self.policy == "writer_pref":
            if not self.holders:
                for i, (w, m) in enumerate(self.waiters):
                    if m == "w":
                        del self.waiters[i]
                        self._grant(w, "w")
                        return [w]
            if not (self.holders and self.writer) and not any(m == "w" for _, m in self.waiters):
                readers = [w for w, _ in self.waiters]
                for r in readers:
                    self._grant(r, "r")
                self.waiters = []
                return readers
            return granted
        # fair: from the head of the one queue, while compatible
        while self.waiters:
            w, m = self.waiters[0]
            if not self._compatible(m):
                break
            self.waiters.pop(0)
            self._grant(w, m)
            granted.append(w)
            if m == "w":
                break
        return granted


# --------------------------------------------------------------------------- the wait-for graph


def wait_for_edges(locks: Iterable[SyncLock]) -> list[tuple[str, str]]:
    """Waiter -> holder, for every lock and every thread waiting for it (spinners too),
    sorted, without repeats or self-loops."""
    edges = set()
    for lock in locks:
        for w, _ in lock.waiters:
            for h in lock.holders:
                if h != w:
                    edges.add((w, h))
    return sorted(edges)


def find_cycles(edges: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
    """Every elementary cycle of the directed graph, each once: rotated to start at its
    smallest node, the list sorted. Small graphs only (a few threads): a depth-first search
    from each node that only visits nodes greater than its start."""
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    for v in succ.values():
        v.sort()
    cycles: list[tuple[str, ...]] = []
    for start in sorted(succ):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in reversed(succ.get(node, ())):
                if nxt == start:
                    cycles.append(tuple(path))
                elif nxt > start and nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return sorted(set(cycles))


def deadlocked_threads(cycles: Sequence[Sequence[str]]) -> list[str]:
    return sorted({t for c in cycles for t in c})


def as_mapping(locks: Iterable[SyncLock]) -> Mapping[str, SyncLock]:
    return {lock.id: lock for lock in locks}
