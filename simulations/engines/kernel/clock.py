"""A virtual clock and an event queue, in the style of SimPy's core without its
generators: a heap of (time, priority, sequence number, kind, ref) tuples.

Ties break the same way in every run: first by time, then by priority (lower first),
then by the order the entries were scheduled in (the sequence number). Cancelling an
entry marks its sequence number; `pop` skips marked entries (lazy deletion), so
cancelling and re-arming a timer costs O(log n) and the heap stays plain tuples.

Timers are named (`"election:n1"`): setting a timer that exists re-arms it (the old
entry is cancelled), so an election timeout reset is one call. A timer's `start` is when
it was (re)armed, for "heard nothing for 231 ms" narrations and for drawing it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import NamedTuple

#: The kind of queue entry that fires a named timer; its ref is the timer's key.
TIMER = "timer"


@dataclass(slots=True)
class Timer:
    key: str
    owner: str
    kind: str
    start: float
    deadline: float
    seq: int  # the queue entry that fires it


class Occurrence(NamedTuple):
    """One queue entry that came due: `kind` and `ref` are what the scheduler was given
    (for a timer: kind "timer", ref its key, and `timer` the Timer, already disarmed)."""

    time: float
    kind: str
    ref: str | int
    timer: Timer | None = None


@dataclass(slots=True)
class Scheduler:
    now: float = 0.0
    queue: list[tuple[float, int, int, str, str | int]] = field(default_factory=list)
    seq: int = 0
    cancelled: set[int] = field(default_factory=set)
    timers: dict[str, Timer] = field(default_factory=dict)

    # -- raw entries ------------------------------------------------------

    def schedule(self, at: float, kind: str, ref: str | int, priority: int = 0) -> int:
        """Queue `(kind, ref)` to come due at virtual time `at` (not before now); returns
        the entry's sequence number, the handle `cancel` takes."""
        if at < self.now:
            raise ValueError(f"cannot schedule at {at} ms: the clock already reads {self.now} ms")
        self.seq += 1
        heapq.heappush(self.queue, (at, priority, self.seq, kind, ref))
        return self.seq

    def cancel(self, seq: int) -> None:
        self.cancelled.add(seq)

    def _prune(self) -> None:
        queue, cancelled = self.queue, self.cancelled
        while queue and queue[0][2] in cancelled:
            cancelled.discard(heapq.heappop(queue)[2])

    def peek_time(self) -> float | None:
        """When the next live entry comes due, or None when nothing is queued."""
        self._prune()
        return self.queue[0][0] if self.queue else None

    def pop(self) -> Occurrence | None:
        """Advance the clock to the next live entry and return it (None: nothing queued)."""
        self._prune()
        if not self.queue:
            return None
        at, _, seq, kind, ref = heapq.heappop(self.queue)
        self.now = at
        timer = None
        if kind == TIMER:
            timer = self.timers.pop(ref)  # type: ignore[arg-type]
        return Occurrence(at, kind, ref, timer)

    # -- named timers -----------------------------------------------------

    def set_timer(self, key: str, delay: float, *, owner: str = "", kind: str = "", priority: int = 0) -> Timer:
        """Arm (or re-arm) the timer `key` to fire `delay` ms from now."""
        if delay < 0:
            raise ValueError(f"a timer cannot fire in the past (delay {delay} ms)")
        old = self.timers.get(key)
        if old is not None:
            self.cancelled.add(old.seq)
        deadline = round(self.now + delay, 3)  # to the microsecond: times read plainly and tie exactly
        seq = self.schedule(deadline, TIMER, key, priority)
        timer = Timer(key, owner, kind, self.now, deadline, seq)
        self.timers[key] = timer
        return timer

    def cancel_timer(self, key: str) -> bool:
        """Disarm the timer `key`; False when it was not armed."""
        timer = self.timers.pop(key, None)
        if timer is None:
            return False
        self.cancelled.add(timer.seq)
        return True

    def cancel_timers_of(self, owner: str) -> int:
        """Disarm every timer `owner` holds (a crashed node's); returns how many."""
        keys = [k for k, t in self.timers.items() if t.owner == owner]
        for key in keys:
            self.cancel_timer(key)
        return len(keys)

    def timer(self, key: str) -> Timer | None:
        return self.timers.get(key)
