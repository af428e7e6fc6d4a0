"""Locks & Synchronization: deadlock and Peterson's algorithm.

Deadlock: Coffman, Elphick and Shoshani, "System Deadlocks" (Computing Surveys 3(2), 1971)
give four necessary conditions (mutual exclusion, hold and wait, no preemption, circular
wait); with single-unit resources a cycle in the wait-for graph is a deadlock. Each fix
here breaks one condition and must make the deadlock go away.

Peterson, "Myths about the mutual exclusion problem" (IPL 12(3), 1981): flag[i] = true;
turn = j; wait while flag[j] && turn == j. Correct under sequential consistency. Sewell,
Sarkar, Owens, Zappa Nardelli and Myreen, "x86-TSO: A Rigorous and Usable Programmer's
Model for x86 Multiprocessors" (CACM 53(7), 2010): stores wait in a per-thread FIFO store
buffer and loads read their own buffer first, so the SB test (x = 1; r = y || y = 1; s = x)
may end with r = s = 0 (§8, "Loads May Be Reordered with Older Stores"); an MFENCE, which
drains the buffer, forbids it. Peterson's entry is that test: both threads can read the
other's flag as 0 and enter together.
"""

from __future__ import annotations

import functools
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.kernel.interleavings import count_interleavings
from simulations.engines.kernel.sync import find_cycles
from simulations.engines.locks import (
    LockGraphState,
    LocksEngine as Engine,
    deadlock_moves,
    explore_deadlock,
    explore_peterson,
    in_cs_both,
    lock_orders,
    peterson_moves,
    peterson_start,
)


def run(slug: str):
    p = next(p for p in Engine.presets if p.slug == slug)
    e = Engine(Engine.parse_params(p.params), random.Random(p.seed))
    frames = [e.reset()]
    while not e.done:
        frames.append(e.step())
    return frames


def brute(start, moves, outcome) -> dict:
    """Every schedule by plain recursion, walked one by one (no memo of counts, no kernel
    code): the counts per outcome. Only the successor lists are cached, to keep it quick."""
    counts: dict = {}
    moves = functools.lru_cache(maxsize=None)(moves)

    def walk(s):
        nxt = moves(s)
        if not nxt:
            o = outcome(s)
            counts[o] = counts.get(o, 0) + 1
        for _, n, mult in nxt:
            for _ in range(mult):
                walk(n)

    walk(start)
    return counts


def wait_for(frame):
    return next(x for x in frame.entities if x.kind == "wait_for").state


# -- the cycle detector against brute force -----------------------------------------------


def brute_cycles(edges):
    nodes = sorted({a for a, _ in edges} | {b for _, b in edges})
    es = set(edges)
    found = set()
    for k in range(1, len(nodes) + 1):
        for perm in itertools.permutations(nodes, k):
            if perm[0] != min(perm):
                continue
            if all((perm[i], perm[(i + 1) % k]) in es for i in range(k)) and (k > 1 or (perm[0], perm[0]) in es):
                found.add(perm)
    return sorted(found)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABCDE"), st.sampled_from("ABCDE")).filter(lambda e: e[0] != e[1]), max_size=12, unique=True))
def test_the_detector_finds_exactly_the_cycles_of_the_wait_for_graph(edges):
    assert find_cycles(edges) == brute_cycles(edges)


# -- deadlock in the animation ------------------------------------------------------------


@pytest.mark.parametrize("slug,cycle", [("deadlock", ("T1", "T2")), ("dining-ring", ("T1", "T2", "T3"))])
def test_opposite_orders_deadlock_and_the_cycle_is_drawn(slug, cycle):
    frames = run(slug)
    last = frames[-1]
    assert last.metrics["deadlocked"] and last.metrics["stuck"]
    assert tuple(wait_for(last)["cycle"]) == cycle
    assert all(c["holds"] for c in wait_for(last)["conditions"])  # all four Coffman conditions
    assert any(ev.kind == "deadlock" for f in frames for ev in f.events)


@pytest.mark.parametrize("slug,broken", [("deadlock-lock-order", "circular wait"), ("deadlock-trylock", "hold and wait"),
                                         ("deadlock-timeout", "no preemption"), ("deadlock-shared", "mutual exclusion")])
def test_each_fix_breaks_one_condition_and_every_thread_finishes(slug, broken):
    frames = run(slug)
    last = frames[-1]
    assert not any(f.metrics["stuck"] for f in frames)
    assert all(x.state["state"] == "done" for x in last.entities if x.kind == "thread")
    conds = {c["name"]: c["holds"] for c in wait_for(last)["conditions"]}
    assert [n for n, h in conds.items() if not h] == [broken]
    if slug in ("deadlock-lock-order", "deadlock-shared"):
        assert not any(f.metrics["deadlocked"] for f in frames)


def test_symmetric_back_off_livelocks():
    frames = run("livelock")
    last = frames[-1]
    assert last.metrics["completed"] == 0 and last.metrics["retries"] >= 10
    assert not any(f.metrics["deadlocked"] for f in frames)  # nobody is stuck: they keep moving
    assert any(x.state["state"] == "sleeping" for f in frames for x in f.entities if x.kind == "thread")


# -- the deadlock explorer ----------------------------------------------------------------


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_lock_ordering_makes_deadlock_unreachable_in_the_explorer(threads):
    data = explore_deadlock(threads)
    ring, ordered = data["rows"]
    assert ring["deadlocking"] > 0 and ordered["deadlocking"] == 0
    # Cross-checked against plain enumeration of every schedule.
    for fix, row in (("none", ring), ("lock_order", ordered)):
        pairs = lock_orders(threads, fix)
        start = LockGraphState((0,) * len(pairs), (-1,) * len(pairs))
        outcome = lambda s: "deadlock" if any(pc < 4 for pc in s.pcs) else "completed"
        counts = brute(start, deadlock_moves(pairs), outcome)
        assert sum(counts.values()) == row["interleavings"] and counts.get("deadlock", 0) == row["deadlocking"]


def test_two_thread_deadlock_counts_by_hand():
    """See tests/simulations/kernel/test_interleavings.py: 6 schedules, 2 deadlock (both
    take their first lock before either takes its second); in one order, lA lB uB uA twice
    serialised at the first lock: 2 schedules."""
    ring, ordered = explore_deadlock(2)["rows"]
    assert (ring["interleavings"], ring["deadlocking"]) == (6, 2)
    assert (ordered["interleavings"], ordered["deadlocking"]) == (2, 0)
    assert ring["example"] == [1, 2]


# -- Peterson -----------------------------------------------------------------------------


def test_peterson_holds_under_sc_and_fails_under_tso_unless_fenced():
    rows = {r["model"]: r for r in explore_peterson()["rows"]}
    assert rows["sc"]["violating"] == 0 and rows["sc"]["violating_states"] == 0
    assert rows["tso"]["violating"] > 0 and rows["tso"]["violating_states"] > 0
    assert rows["tso_fence"]["violating"] == 0 and rows["tso_fence"]["violating_states"] == 0


@pytest.mark.parametrize("model", ["sc", "tso", "tso_fence"])
def test_peterson_explorer_matches_brute_force_and_its_example_replays(model):
    prog, moves = peterson_moves(model)
    found = count_interleavings(peterson_start(), moves, lambda s: s.violated)
    assert brute(peterson_start(), moves, lambda s: s.violated) == found.totals
    if found.totals.get(True):
        s = peterson_start()
        both = False
        for label in found.example(True):
            s = next(n for lab, n, _ in moves(s) if lab == label)
            both = both or in_cs_both(prog, s)
        assert both and s.violated


def test_the_tso_violation_is_the_store_buffering_pattern():
    """In the first violating schedule both threads have buffered flag[i] = 1 and read the
    other's flag as 0 from memory: the SB outcome r = s = 0."""
    row = next(r for r in explore_peterson()["rows"] if r["model"] == "tso")
    ex = row["example"]
    first_flush = ex.index(next(x for x in ex if x.startswith("flush")))
    assert first_flush >= 6  # each thread ran flag, turn, await before any store reached memory


@pytest.mark.parametrize("slug,broken", [("peterson-sc", False), ("peterson-tso", True), ("peterson-fence", False)])
def test_peterson_animation(slug, broken):
    frames = run(slug)
    assert (frames[-1].metrics["in_cs_violations"] > 0) is broken
    for f in frames:
        inside = [x for x in f.entities if x.kind == "thread" and x.state["state"] == "in_cs"]
        assert (len(inside) > 1) <= broken
    if broken:
        f = next(f for f in frames if any(ev.kind == "violation" for ev in f.events))
        bufs = [x for x in f.entities if x.kind == "store_buffer"]
        mem = {x.state["name"]: x.state["value"] for x in f.entities if x.kind == "memory"}
        # Both threads' flag stores are still buffered; memory shows neither flag set.
        assert mem["flag[0]"] == 0 or mem["flag[1]"] == 0
        assert any(b.state["entries"] for b in bufs)
