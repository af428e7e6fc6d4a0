"""Every interleaving of a small concurrent program, counted exactly.

A program is given as a state machine over plain, hashable states:

* ``moves(state)`` lists the steps that can happen next as ``(label, next_state,
  multiplicity)``: a label is what a schedule records (a thread number, "flush T1"...),
  and a multiplicity above 1 stands for that many mirror-image moves (threads in identical
  local states lead to futures that are the same up to renaming, so an engine may list one
  of them and say how many there are).
* no moves: the run has ended (finished, or stuck: a deadlock is a terminal state too), and
  ``outcome(state)`` names how it ended (a small hashable value: a counter, True/False...).
* ``key(state)`` (default: the state itself) is a canonical form: states with the same key
  must have the same future. It lets the memo merge equivalent states.

`count_interleavings` walks the state graph depth first with a memo (dynamic programming:
the number of complete schedules from a state, per outcome, is the sum over its moves), so a
program with a billion interleavings but a few thousand distinct states is counted in
milliseconds. The graph must be acyclic (every move makes progress); a cycle would recurse
forever, so the walk refuses one. `enumerate_interleavings` lists schedules one by one, for
cross-checks on small programs and for examples. `reachable` visits each distinct state once
and counts those satisfying a predicate ("both threads in the critical section").

First written for the Race Conditions engine; Locks & Synchronization uses it for Peterson's
algorithm under different memory models and for counting the interleavings that deadlock.
Standard library only; states stay plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S")
Move = tuple[Any, Any, int]  # (label, next state, multiplicity)

#: A default safety net: give up past this many distinct states.
STATE_LIMIT = 20_000


class ExplorationTooLarge(Exception):
    """The program has more distinct states than the limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit:,} distinct states")
        self.limit = limit


class CyclicStateSpace(Exception):
    """A state can reach itself: its schedules cannot be counted (a spin loop, a retry)."""


@dataclass
class Exploration(Generic[S]):
    """What `count_interleavings` found: the number of complete schedules per outcome from
    the start, how many distinct (canonical) states it visited, and the memo that gives
    example schedules."""

    start: Any
    totals: dict[Hashable, int]
    states: int
    moves: Callable[[Any], Sequence[Move]] = field(repr=False)
    key: Callable[[Any], Hashable] = field(repr=False)
    memo: dict[Hashable, dict[Hashable, int]] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def example(self, target: Hashable) -> list[Any]:
        """The first schedule, taking moves in the order `moves` lists them, that ends in
        `target` (every successor's counts are in the memo). [] when none does."""
        if not self.totals.get(target):
            return []
        s, schedule = self.start, []
        while True:
            options = self.moves(s)
            if not options:
                return schedule
            for label, nxt, _ in options:
                if self.memo[self.key(nxt)].get(target):
                    s = nxt
                    schedule.append(label)
                    break
            else:  # pragma: no cover - the memo says some move leads there
                raise AssertionError("memo and moves disagree")


def _identity(s: Any) -> Hashable:
    return s


def count_interleavings(
    start: S,
    moves: Callable[[S], Sequence[Move]],
    outcome: Callable[[S], Hashable],
    key: Callable[[S], Hashable] = _identity,
    limit: int = STATE_LIMIT,
) -> Exploration[S]:
    """Count every complete schedule from `start`, per outcome (memoised DP). Raises
    ExplorationTooLarge past `limit` distinct states, CyclicStateSpace on a cycle."""
    memo: dict[Hashable, dict[Hashable, int]] = {}
    active: set[Hashable] = set()

    def count(s: S) -> dict[Hashable, int]:
        k = key(s)
        found = memo.get(k)
        if found is not None:
            return found
        if k in active:
            raise CyclicStateSpace(f"state {k!r} reaches itself")
        if len(memo) >= limit:
            raise ExplorationTooLarge(limit)
        options = moves(s)
        if not options:
            result = {outcome(s): 1}
        else:
            active.add(k)
            result = {}
            for _, nxt, mult in options:
                for o, c in count(nxt).items():
                    result[o] = result.get(o, 0) + c * mult
            active.discard(k)
        memo[k] = result
        return result

    totals = count(start)
    return Exploration(start, totals, len(memo), moves, key, memo)


def enumerate_interleavings(
    start: S,
    moves: Callable[[S], Sequence[Move]],
    outcome: Callable[[S], Hashable],
    limit: int = 1_000_000,
) -> Iterator[tuple[tuple[Any, ...], Hashable]]:
    """Every complete schedule one by one, as (labels, outcome), with no memo: a move of
    multiplicity m is yielded m times (its label the same). For cross-checks and examples on
    small programs; stops with ExplorationTooLarge after `limit` schedules."""
    produced = 0
    stack: list[tuple[S, tuple[Any, ...]]] = [(start, ())]
    while stack:
        s, path = stack.pop()
        options = moves(s)
        if not options:
            produced += 1
            if produced > limit:
                raise ExplorationTooLarge(limit)
            yield path, outcome(s)
            continue
        for label, nxt, mult in reversed(options):
            for _ in range(mult):
                stack.append((nxt, path + (label,)))


def reachable(
    start: S,
    moves: Callable[[S], Sequence[Move]],
    predicate: Callable[[S], bool] = lambda s: False,
    key: Callable[[S], Hashable] = _identity,
    limit: int = STATE_LIMIT,
) -> tuple[int, int, S | None]:
    """Visit each distinct state once (breadth first): (states, how many satisfy
    `predicate`, the first such state found or None). Works on cyclic graphs too."""
    seen = {key(start)}
    frontier = [start]
    hits = 0
    first: S | None = None
    while frontier:
        nxt_frontier = []
        for s in frontier:
            if predicate(s):
                hits += 1
                if first is None:
                    first = s
            for _, nxt, _ in moves(s):
                k = key(nxt)
                if k not in seen:
                    if len(seen) >= limit:
                        raise ExplorationTooLarge(limit)
                    seen.add(k)
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return len(seen), hits, first
