"""Locks & Synchronization: the primitives keep their rules under any schedule.

Sources: POSIX pthread_mutex_lock ("If the mutex is already locked by another thread, the
calling thread shall block until the mutex becomes available"); pthread_rwlock_rdlock /
wrlock and Courtois, Heymans and Parnas, "Concurrent control with readers and writers"
(CACM 14(10), 1971: readers may share the section, writers must have exclusive access;
problem 1 gives readers priority, problem 2 lets writing "take place as early as
possible"); sem_wait ("If the semaphore value is zero, ... blocks until it either locks the
semaphore or is interrupted") and Dijkstra's P/V; pthread_cond_wait ("Spurious wakeups ...
may occur. Since the return ... does not imply anything about the value of this predicate,
the predicate should be re-evaluated upon such return").
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.kernel.sync import SyncLock
from simulations.engines.locks import LocksEngine as Engine

SCENARIOS = ["mutex", "spinlock", "rwlock", "semaphore", "condvar", "atomic", "deadlock", "peterson"]


def make(seed: int = 1, **params) -> Engine:
    e = Engine(Engine.parse_params(params), random.Random(seed))
    e.reset()
    return e


def frames_of(engine: Engine, limit: int = 400):
    frames = [engine.frame]
    while not engine.done and engine.index < limit:
        frames.append(engine.step())
    return frames


def preset(slug: str):
    p = next(p for p in Engine.presets if p.slug == slug)
    return frames_of(make(p.seed, **p.params))


def check_lock_invariants(frame):
    for e in frame.entities:
        if e.kind != "lock":
            continue
        s = e.state
        holders = s["holders"]
        if s["lock_type"] in ("mutex", "spinlock"):
            assert len(holders) <= 1, (frame.index, s)
        if s["lock_type"] == "rwlock" and s["mode"] == "write":
            assert len(holders) == 1, (frame.index, s)  # a writer never shares with readers
        if s["lock_type"] == "semaphore":
            assert s["value"] >= 0
            assert s["value"] + len(holders) == s["permits"]
            assert len(holders) <= s["permits"]
        assert not set(holders) & set(s["waiters"]) or s["lock_type"] == "semaphore"


# -- the kernel primitives, driven by random operation sequences -------------------------


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["mutex", "spinlock", "rwlock-reader_pref", "rwlock-writer_pref", "rwlock-fair", "semaphore"]),
       permits=st.integers(1, 3),
       ops=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["acquire", "release", "try", "cancel"]), st.booleans()), max_size=40))
def test_kernel_locks_never_break_their_rules(kind, permits, ops):
    lock_type, _, policy = kind.partition("-")
    lock = SyncLock("L", lock_type, policy=policy, permits=permits)
    held: dict[str, str] = {}  # thread -> mode it holds
    waiting: set[str] = set()
    for t, op, write in ops:
        tid = f"T{t}"
        mode = ("w" if write else "r") if lock_type == "rwlock" else "x"
        if op in ("acquire", "try") and tid not in held and tid not in waiting:
            ok = lock.acquire(tid, mode) if op == "acquire" else lock.try_acquire(tid, mode)
            if ok:
                held[tid] = mode
            elif op == "acquire" and lock_type != "spinlock":
                waiting.add(tid)
        elif op == "release" and tid in held:
            del held[tid]
            for g in lock.release(tid):
                waiting.discard(g)
                held[g] = "?"
        elif op == "cancel" and tid in waiting:
            lock.cancel(tid)
            waiting.discard(tid)
            for g in lock.admit_waiters():
                waiting.discard(g)
                held[g] = "?"
        assert set(lock.holders) == set(held)
        if lock_type in ("mutex", "spinlock"):
            assert len(lock.holders) <= 1
        if lock_type == "rwlock" and lock.writer:
            assert len(lock.holders) == 1
        if lock_type == "semaphore":
            assert lock.value >= 0 and lock.value + len(lock.holders) == permits


def test_mutex_hands_over_in_fifo_order():
    lock = SyncLock("m", "mutex")
    assert lock.acquire("T1")
    for t in ("T2", "T3", "T4"):
        assert not lock.acquire(t)
    assert lock.waiting() == ["T2", "T3", "T4"]
    order = []
    holder = "T1"
    while True:
        granted = lock.release(holder)
        if not granted:
            break
        order += granted
        holder = granted[0]
    assert order == ["T2", "T3", "T4"]


def test_rwlock_policies_by_the_book():
    """Problem 1 (reader preference): a reader arriving while a writer waits gets in.
    Problem 2 (writer preference): it waits. Fair: it waits behind the writer too."""
    for policy, reader_gets_in in (("reader_pref", True), ("writer_pref", False), ("fair", False)):
        lock = SyncLock("rw", "rwlock", policy=policy)
        assert lock.acquire("R1", "r")
        assert not lock.acquire("W", "w")
        assert lock.acquire("R2", "r") is reader_gets_in, policy
        assert not lock.writer


# -- the engine, over random schedules ----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), threads=st.integers(2, 6), cores=st.integers(1, 4), seed=st.integers(0, 10**6),
       cs=st.integers(1, 4), work=st.integers(0, 3), quantum=st.integers(1, 4),
       policy=st.sampled_from(["reader_pref", "writer_pref", "fair"]), counter=st.sampled_from(["mutex", "cas", "fetch_add", "sharded"]),
       fix=st.sampled_from(["none", "lock_order", "trylock", "timeout", "shared"]), permits=st.integers(1, 3), timeout=st.integers(0, 4),
       model=st.sampled_from(["sc", "tso_fence"]))
def test_a_correct_primitive_never_breaks_mutual_exclusion(scenario, threads, cores, seed, cs, work, quantum, policy, counter, fix,
                                                            permits, timeout, model):
    e = make(seed, scenario=scenario, threads=threads, cores=cores, cs_length=cs, work_length=work, quantum=quantum,
             rw_policy=policy, counter=counter, fix=fix, permits=permits, timeout=timeout, memory_model=model, duration=80)
    for f in frames_of(e):
        assert f.metrics["in_cs_violations"] == 0
        check_lock_invariants(f)
        inside = [x for x in f.entities if x.kind == "thread" and x.state["state"] == "in_cs"]
        on_cores = [x for x in f.entities if x.kind == "thread" and x.state["core"] is not None]
        assert len(on_cores) <= cores
        if scenario in ("mutex", "spinlock") or (scenario == "atomic" and counter == "mutex"):
            assert len(inside) <= 1
    last = f
    finished = all(x.state["state"] == "done" for x in last.entities if x.kind == "thread")
    if scenario == "atomic" and finished:  # (the duration may end a run first: 5 threads on one core)
        assert last.metrics["counter"] == threads * e.params.iterations  # no increment lost


# -- each primitive's behaviour, made visible ---------------------------------------------


def test_mutex_waiters_sleep_off_the_cpu():
    frames = preset("mutex-protects")
    assert frames[-1].metrics["cpu_spent_spinning"] == 0 and frames[-1].metrics["blocked_ticks"] > 0
    for f in frames:
        for x in f.entities:
            if x.kind == "thread" and x.state["state"] == "blocked":
                assert x.state["core"] is None


def test_spinlock_waiters_burn_their_core_and_long_sections_waste_more():
    short, long_, mutex = preset("spinlock-short"), preset("spinlock-long"), preset("mutex-long")
    assert short[-1].metrics["blocked_ticks"] == 0
    spun_short = short[-1].metrics["cpu_spent_spinning"] / max(1, short[-1].metrics["completed"])
    spun_long = long_[-1].metrics["cpu_spent_spinning"] / max(1, long_[-1].metrics["completed"])
    assert spun_long > 5 * spun_short
    assert mutex[-1].metrics["cpu_spent_spinning"] == 0
    assert mutex[-1].metrics["completed"] > long_[-1].metrics["completed"]  # sleeping waiters leave the cores to the holder
    spin_segments = [s for x in long_[-1].entities if x.kind == "core" for s in x.state["segments"] if s[3] == "spin"]
    assert spin_segments  # drawn on the core timeline
    for f in long_:
        for x in f.entities:
            if x.kind == "thread" and x.state["state"] == "spinning":
                assert x.state["core"] is not None


def test_writer_starves_under_reader_preference_and_not_under_the_fixes():
    """Courtois et al.'s problem 1: readers arriving every tick and reading for two keep the
    lock busy, so the writer waits for the whole run; problem 2's writer preference, and a
    fair queue, let it in as soon as the readers inside leave."""
    starve = preset("writer-starvation")
    writer = lambda f: next(x for x in f.entities if x.kind == "thread" and x.state["role"] == "writer")
    assert all("rw" not in writer(f).state["holds"] for f in starve)
    assert starve[-1].metrics["writer_wait"] >= starve[-1].metrics["time"] - 3
    for slug in ("writer-preference", "rwlock-fair"):
        frames = preset(slug)
        assert frames[-1].metrics["writer_wait"] <= 2 + 2
        assert any("rw" in writer(f).state["holds"] for f in frames)


def test_a_read_mostly_cache_does_more_under_a_rwlock_than_a_mutex():
    rw, mx = preset("cache-rwlock"), preset("cache-mutex")
    assert rw[-1].metrics["throughput"] > mx[-1].metrics["throughput"]
    assert any(len(x.state["holders"]) > 1 for f in rw for x in f.entities if x.kind == "lock")
    assert all(len(x.state["holders"]) <= 1 for f in mx for x in f.entities if x.kind == "lock")


def test_cas_retries_are_counted_and_the_counter_is_right():
    cas, fa, mx, sh = (preset(s) for s in ("counter-cas", "counter-fetch-add", "counter-mutex", "counter-sharded"))
    assert cas[-1].metrics["failed_cas"] > 0 and cas[-1].metrics["counter"] == 12
    assert fa[-1].metrics["failed_cas"] == 0 and fa[-1].metrics["counter"] == 12
    assert mx[-1].metrics["counter"] == sh[-1].metrics["counter"] == 12
    assert sh[-1].metrics["throughput"] > fa[-1].metrics["throughput"] > mx[-1].metrics["throughput"]


def test_throughput_analysis_compares_the_counters_on_one_to_four_cores():
    data = Engine.analyse("throughput", Engine.parse_params({"scenario": "atomic"}))
    rows = {r["counter"]: [c["throughput"] for c in r["cells"]] for r in data["rows"]}
    assert set(rows) == {"mutex", "cas", "fetch_add", "sharded"}
    assert rows["sharded"][3] > rows["sharded"][0]  # scales with cores
    assert rows["sharded"][3] > max(rows["mutex"][3], rows["cas"][3])


def test_semaphore_pool_queues_times_out_and_leaks():
    pool = preset("connection-pool")
    assert max(len(x.state["holders"]) for f in pool for x in f.entities if x.kind == "lock") == 2
    assert any(x.state["waiters"] for f in pool for x in f.entities if x.kind == "lock")
    assert pool[-1].done and not pool[-1].metrics["stuck"]
    assert preset("pool-timeout")[-1].metrics["timeouts"] > 0
    leak = preset("pool-leak")
    last = leak[-1]
    sem = next(x for x in last.entities if x.kind == "lock")
    assert last.metrics["stuck"] and sem.state["value"] == 0 and set(sem.state["holders"]) == {"T1"}
    assert not last.metrics["deadlocked"]  # exhausted, not a cycle


def test_condition_variable_needs_the_while_loop():
    ok, bad = preset("condvar-while"), preset("condvar-spurious")
    assert any(ev.kind == "wake" and "spurious" in ev.text for f in ok for ev in f.events)
    assert ok[-1].metrics["underflows"] == 0 and all(f.metrics["items"] >= 0 for f in ok)
    assert any(ev.kind == "wake" and "spurious" in ev.text for f in bad for ev in f.events)
    assert bad[-1].metrics["underflows"] >= 1


def test_spurious_wakeup_action_refused_when_nobody_waits():
    e = make(scenario="mutex")
    with pytest.raises(ValueError):
        e.apply(Engine.parse_action({"type": "spurious_wakeup"}))
    e = make(scenario="condvar", threads=2)
    with pytest.raises(ValueError):
        e.apply(Engine.parse_action({"type": "spurious_wakeup"}))  # nobody waits yet at frame 0
    before = e.snapshot()
    with pytest.raises(ValueError):
        e.apply(Engine.parse_action({"type": "slow_cs", "thread": 6}))
    assert e.step() == before.step()  # the refusal changed nothing
