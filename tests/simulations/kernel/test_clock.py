"""The kernel's virtual clock, event queue and timers."""

from __future__ import annotations

import copy

import pytest

from simulations.engines.kernel import Scheduler


def drain(s: Scheduler) -> list[tuple[float, str, object]]:
    out = []
    while (occ := s.pop()) is not None:
        out.append((occ.time, occ.kind, occ.ref))
    return out


def test_ties_break_by_time_then_priority_then_scheduling_order():
    s = Scheduler()
    s.schedule(5.0, "b", "late-prio", priority=1)
    s.schedule(5.0, "a", "first")
    s.schedule(1.0, "c", "earliest", priority=9)
    s.schedule(5.0, "a", "second")
    assert drain(s) == [(1.0, "c", "earliest"), (5.0, "a", "first"), (5.0, "a", "second"), (5.0, "b", "late-prio")]


def test_the_same_schedule_pops_the_same_way_every_time():
    def run():
        s = Scheduler()
        for i in range(50):
            s.schedule(float(i % 7), "k", i, priority=i % 3)
        return drain(s)

    assert run() == run()


def test_clock_advances_to_each_entry_and_refuses_the_past():
    s = Scheduler()
    s.schedule(3.5, "x", 1)
    s.pop()
    assert s.now == 3.5
    with pytest.raises(ValueError):
        s.schedule(1.0, "x", 2)
    assert s.pop() is None and s.now == 3.5


def test_cancelled_entries_never_come_due():
    s = Scheduler()
    keep = s.schedule(2.0, "x", "keep")
    gone = s.schedule(1.0, "x", "gone")
    s.cancel(gone)
    assert s.peek_time() == 2.0
    assert drain(s) == [(2.0, "x", "keep")]
    assert keep not in s.cancelled and not s.cancelled


def test_reset_timer_fires_once_at_its_new_deadline():
    s = Scheduler()
    s.set_timer("election:n1", 150.0, owner="n1", kind="election")
    s.schedule(100.0, "deliver", 7)
    assert s.pop().ref == 7
    t = s.set_timer("election:n1", 150.0, owner="n1", kind="election")  # heartbeat arrived: reset
    assert (t.start, t.deadline) == (100.0, 250.0)
    occ = s.pop()
    assert (occ.time, occ.kind, occ.ref) == (250.0, "timer", "election:n1")
    assert occ.timer.start == 100.0 and s.timer("election:n1") is None
    assert s.pop() is None  # the first arming never fires


def test_cancel_timer_and_cancel_all_of_an_owner():
    s = Scheduler()
    s.set_timer("election:n1", 10, owner="n1")
    s.set_timer("heartbeat:n1", 5, owner="n1")
    s.set_timer("election:n2", 20, owner="n2")
    assert s.cancel_timer("heartbeat:n1") and not s.cancel_timer("heartbeat:n1")
    assert s.cancel_timers_of("n1") == 1
    assert [o.ref for o in iter(s.pop, None)] == ["election:n2"]


def test_deepcopy_goes_on_identically():
    s = Scheduler()
    for i in range(10):
        s.schedule(float(10 - i), "k", i)
    s.set_timer("t", 4.5, owner="a")
    s.cancel(3)
    s.pop()
    twin = copy.deepcopy(s)
    assert drain(twin) == drain(s)


def test_timer_deadlines_are_kept_to_the_microsecond():
    s = Scheduler()
    s.schedule(0.1, "x", 1)
    s.pop()
    t = s.set_timer("t", 0.2)
    assert t.deadline == 0.3  # not 0.30000000000000004
