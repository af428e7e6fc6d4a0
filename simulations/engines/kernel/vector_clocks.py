"""Happens-before with vector clocks, as ThreadSanitizer and FastTrack keep it.

Each thread has a vector clock; each sync object (a lock, an atomic's release sequence)
remembers the clock released into it, and an acquire joins it. Per shared location the
detector keeps the last write (an epoch ``c@t``: thread t's own entry at the access) and
each thread's last read. A data race is two accesses to one location from different
threads, at least one a write, not both atomic, neither happening before the other (Flanagan
and Freund, "FastTrack", PLDI 2009; Lamport 1978 for the clocks). Like TSan it reports the
race in runs whose result happens to be right.

First written for the Race Conditions engine; any engine with threads and shared memory can
use it (Locks & Synchronization joins clocks at every lock hand-off). Plain data only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Access:
    thread: int
    is_write: bool
    atomic: bool
    epoch: int  # the thread's own clock entry at the access
    clock: tuple[int, ...]  # the thread's whole vector clock at the access
    line: int
    code: str
    step: int

    @property
    def kind(self) -> str:
        return ("atomic " if self.atomic else "") + ("write" if self.is_write else "read")


@dataclass(frozen=True, slots=True)
class RaceReport:
    location: str
    earlier: Access
    later: Access


class HappensBeforeDetector:
    """FastTrack-style: per location the last write (an epoch c@t) and each
    thread's last read; per thread and per sync object a vector clock."""

    def __init__(self, threads: int) -> None:
        self.n = threads
        self.clocks = [[0] * threads for _ in range(threads)]
        self.sync: dict[str, list[int]] = {}
        self.last_write: dict[str, Access] = {}
        self.reads: dict[str, dict[int, Access]] = {}

    def tick(self, t: int) -> None:
        self.clocks[t][t] += 1

    def acquire(self, t: int, key: str) -> None:
        released = self.sync.get(key)
        if released is not None:
            mine = self.clocks[t]
            for i, c in enumerate(released):
                if c > mine[i]:
                    mine[i] = c

    def release(self, t: int, key: str) -> None:
        held = self.sync.setdefault(key, [0] * self.n)
        for i, c in enumerate(self.clocks[t]):
            if c > held[i]:
                held[i] = c

    @staticmethod
    def _conflict(prev: Access, atomic: bool, clock: list[int]) -> bool:
        # Not both atomic, and prev does not happen-before now: t has not yet
        # seen prev's thread reach prev's epoch.
        return not (prev.atomic and atomic) and prev.epoch > clock[prev.thread]

    def access(self, t: int, loc: str, is_write: bool, atomic: bool, line: int, code: str, step: int) -> RaceReport | None:
        clock = self.clocks[t]
        me = Access(t, is_write, atomic, clock[t], tuple(clock), line, code, step)
        race: RaceReport | None = None
        write = self.last_write.get(loc)
        if write is not None and write.thread != t and self._conflict(write, atomic, clock):
            race = RaceReport(loc, write, me)
        reads = self.reads.setdefault(loc, {})
        if is_write:
            if race is None:
                for u in sorted(reads):
                    if u != t and self._conflict(reads[u], atomic, clock):
                        race = RaceReport(loc, reads[u], me)
                        break
            # Earlier reads are now either ordered before this write or reported.
            self.last_write[loc] = me
            reads.clear()
        else:
            reads[t] = me
        return race
