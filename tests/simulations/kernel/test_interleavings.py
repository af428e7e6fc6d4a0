"""The kernel's interleaving explorer (simulations/engines/kernel/interleavings.py), checked
against brute-force enumeration written here independently, on small programs, as the Race
Conditions tests do for its scenarios."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.kernel.interleavings import (
    CyclicStateSpace,
    ExplorationTooLarge,
    count_interleavings,
    enumerate_interleavings,
    reachable,
)


def straight_line(lengths: tuple[int, ...]):
    """Threads of straight-line code: the state is each thread's pc; the outcome is the
    order in which the threads finished (so outcomes differ between schedules)."""

    def moves(s):
        pcs, finished = s
        out = []
        for t, n in enumerate(lengths):
            if pcs[t] < n:
                new = pcs[:t] + (pcs[t] + 1,) + pcs[t + 1:]
                out.append((t + 1, (new, finished + ((t,) if new[t] == n else ())), 1))
        return out

    return ((0,) * len(lengths), ()), moves, lambda s: s[1]


def lock_program(orders: tuple[tuple[int, int], ...]):
    """Each thread: lock a, lock b, unlock b, unlock a; blocked while the lock is held."""

    def moves(s):
        pcs, holder = s
        out = []
        for t, (a, b) in enumerate(orders):
            pc = pcs[t]
            if pc >= 4:
                continue
            lock = (a, b, b, a)[pc]
            h = list(holder)
            if pc < 2:
                if h[lock] != -1:
                    continue
                h[lock] = t
            else:
                h[lock] = -1
            out.append((t + 1, (pcs[:t] + (pc + 1,) + pcs[t + 1:], tuple(h)), 1))
        return out

    n_locks = 1 + max(max(p) for p in orders)
    return ((0,) * len(orders), (-1,) * n_locks), moves, lambda s: "deadlock" if any(pc < 4 for pc in s[0]) else "ok"


def brute(start, moves, outcome):
    """Every schedule by plain recursion: no memo, no shared code with the kernel."""
    counts: dict = {}

    def walk(s):
        nxt = moves(s)
        if not nxt:
            o = outcome(s)
            counts[o] = counts.get(o, 0) + 1
            return
        for _, n, mult in nxt:
            for _ in range(mult):
                walk(n)

    walk(start)
    return counts


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple))
def test_straight_line_counts_are_multinomial_and_match_brute_force(lengths):
    start, moves, outcome = straight_line(lengths)
    found = count_interleavings(start, moves, outcome)
    total = math.factorial(sum(lengths))
    for n in lengths:
        total //= math.factorial(n)
    assert found.total == total
    assert found.totals == brute(start, moves, outcome)
    listed: dict = {}
    for _, o in enumerate_interleavings(start, moves, outcome):
        listed[o] = listed.get(o, 0) + 1
    assert listed == found.totals


@pytest.mark.parametrize("orders", [((0, 1), (1, 0)), ((0, 1), (0, 1)), ((0, 1), (1, 2), (2, 0)), ((0, 1), (0, 1), (0, 1))])
def test_lock_programs_match_brute_force_and_examples_replay(orders):
    start, moves, outcome = lock_program(orders)
    found = count_interleavings(start, moves, outcome)
    assert found.totals == brute(start, moves, outcome)
    for target in found.totals:
        s = start
        for label in found.example(target):
            s = next(n for lab, n, _ in moves(s) if lab == label)
        assert not moves(s) and outcome(s) == target


def test_two_threads_opposite_orders_by_hand():
    """T1: lA lB uB uA, T2: lB lA uA uB. Both first locks before either second lock (lA lB
    or lB lA first): deadlock, 2 schedules. Otherwise say T1 takes B first: T2's lB must
    follow T1's uB, may come before or after T1's uA (2 ways), and T2's lA follows T1's uA:
    2 schedules, and 2 with the roles swapped: 4 that finish. (Coffman, Elphick and
    Shoshani 1971: the deadlock is the circular wait T1 -> T2 -> T1.)"""
    start, moves, outcome = lock_program(((0, 1), (1, 0)))
    found = count_interleavings(start, moves, outcome)
    assert found.totals["deadlock"] == 2
    assert found.totals == brute(start, moves, outcome) == {"deadlock": 2, "ok": 4}


def test_multiplicity_counts_mirror_images():
    # Two identical one-step threads listed once with multiplicity 2: 2 schedules.
    def moves(s):
        return [] if s else [("T", 1, 2)]

    assert count_interleavings(0, moves, lambda s: s).totals == {1: 2}
    assert len(list(enumerate_interleavings(0, moves, lambda s: s))) == 2


def test_a_cycle_is_refused_and_the_state_limit_holds():
    with pytest.raises(CyclicStateSpace):
        count_interleavings(0, lambda s: [("x", (s + 1) % 3, 1)], lambda s: s)
    start, moves, outcome = straight_line((4, 4, 4))
    with pytest.raises(ExplorationTooLarge):
        count_interleavings(start, moves, outcome, limit=10)
    # reachable works on cyclic graphs: 3 states, one of them 0.
    assert reachable(0, lambda s: [("x", (s + 1) % 3, 1)], lambda s: s == 0) == (3, 1, 0)
