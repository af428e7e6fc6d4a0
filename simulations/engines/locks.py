"""Locks & synchronization: threads contending for mutexes, read-write locks, spinlocks,
semaphores, condition variables and atomics on a few CPU cores, tick by tick.

Time is integer ticks (`time_unit = "ticks"`). Each step is one tick: the kernel CPU
scheduler (simulations/engines/kernel/cpu.py, round robin with a quantum) puts ready threads
on cores, and every thread on a core runs one tick of its program. The primitives' rules are
the kernel's (simulations/engines/kernel/sync.py, which cites POSIX and the papers):

* a mutex has one holder and a FIFO queue; a waiter sleeps off the CPU and unlock hands it
  the mutex;
* a spinlock waiter keeps its core and retries every tick: its ticks are drawn as spinning
  on the core timeline and counted in `cpu_spent_spinning`;
* a read-write lock admits many readers or one writer, with reader preference, writer
  preference or a fair FIFO queue (Courtois, Heymans and Parnas 1971);
* a counting semaphore of N permits never goes negative, and value + holders = N;
* a condition variable: wait releases the mutex and sleeps, signal moves one waiter back to
  the mutex's queue; the waiter re-checks its condition in a while loop (POSIX
  pthread_cond_wait: "Spurious wakeups ... may occur", so the predicate must be re-evaluated);
* atomics: fetch-and-add is one indivisible step; a compare-and-swap loop re-reads and
  retries when another thread changed the value first. A cache line is owned by one core at
  a time, so at most one atomic read-modify-write per location per tick (the others stall).

Peterson's algorithm (Peterson 1981) runs on a memory model: sequential consistency, or
x86-TSO (Sewell et al.): each thread's stores wait in a FIFO store buffer before reaching
memory, and its loads read its own buffer first, so both threads can read the other's flag as
0 and enter together, unless an MFENCE drains the buffer before the loads. The analysis
explores every interleaving (kernel/interleavings.py) under SC, TSO and TSO with the fence.

Deadlock: threads take two locks each in a ring of opposite orders; the wait-for graph is
drawn and its cycle highlighted (Coffman, Elphick and Shoshani 1971: mutual exclusion, hold
and wait, no preemption, circular wait), and each fix breaks one condition: shared (read)
locks, try-lock with back-off, a timed lock, or one global lock order. The explorer counts
the interleavings that deadlock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.kernel.cpu import Cpu, CpuThread
from simulations.engines.kernel.interleavings import count_interleavings, reachable
from simulations.engines.kernel.sync import SyncLock, find_cycles, wait_for_edges

Scenario = Literal["mutex", "spinlock", "rwlock", "semaphore", "condvar", "atomic", "peterson", "deadlock"]
LOCK_NAMES = ("A", "B", "C", "D")
#: Ticks of history each core's timeline carries in a frame.
TIMELINE_TICKS = 24
BIG = 10**9  # a burst that never ends: the engine decides when a thread leaves its core


# --------------------------------------------------------------------------- params, actions


class LocksParams(Params):
    scenario: Scenario = Field(
        "mutex",
        title="Scenario",
        description=(
            "mutex, spinlock: threads loop over work and a critical section; rwlock: readers and a "
            "writer; semaphore: a pool of connections; condvar: a producer and consumers; atomic: a "
            "shared counter; peterson: Peterson's software lock on a memory model; deadlock: locks "
            "taken in opposite orders."
        ),
    )
    threads: int = Field(3, ge=2, le=6, title="Threads", description="How many threads (Peterson: always 2; deadlock: up to 4).")
    cores: int = Field(2, ge=1, le=4, title="Cores", description="CPU cores the threads share.")
    quantum: int = Field(4, ge=1, le=8, title="Quantum", description="Ticks a thread runs before a waiting thread takes its core (round robin).")
    cs_length: int = Field(2, ge=1, le=8, title="Critical section", description="Ticks inside each critical section (a read, a connection's use).")
    work_length: int = Field(2, ge=0, le=8, title="Work between", description="Ticks of work outside the lock before each attempt.")
    iterations: int = Field(3, ge=1, le=20, title="Iterations", description="How many times each thread goes round its loop.")
    rw_policy: Literal["reader_pref", "writer_pref", "fair"] = Field(
        "reader_pref", title="Read-write policy",
        description="rwlock: reader preference (writers may starve), writer preference, or one fair FIFO queue.")
    rw_lock: Literal["rwlock", "mutex"] = Field(
        "rwlock", title="Cache lock", description="rwlock scenario: a read-write lock, or a plain mutex for readers too (to compare).")
    permits: int = Field(2, ge=1, le=4, title="Permits", description="semaphore: connections in the pool.")
    timeout: int = Field(0, ge=0, le=20, title="Timeout", description="semaphore and deadlock (timeout fix): ticks a waiter waits before giving up (0: forever).")
    leak: bool = Field(False, title="Leak a connection", description="semaphore: T1 never returns its connection.")
    counter: Literal["mutex", "cas", "fetch_add", "sharded"] = Field(
        "cas", title="Counter", description="atomic: how each increment is made.")
    loop_check: Literal["while", "if"] = Field(
        "while", title="Wait loop", description="condvar: re-check the condition in a while loop after wait (right), or once with if (wrong).")
    spurious_at: int = Field(0, ge=0, le=50, title="Spurious wakeup at", description="condvar: a waiter wakes without a signal at this tick (0: never).")
    memory_model: Literal["sc", "tso", "tso_fence"] = Field(
        "sc", title="Memory model", description="peterson: sequential consistency, x86-TSO store buffers, or TSO with an MFENCE after the stores.")
    flush_delay: int = Field(3, ge=1, le=8, title="Store buffer delay", description="peterson under TSO: ticks a store waits in the buffer before reaching memory.")
    fix: Literal["none", "lock_order", "trylock", "timeout", "shared"] = Field(
        "none", title="Deadlock fix",
        description="deadlock: none; lock_order (breaks circular wait); trylock with back-off (breaks hold and wait); timeout (breaks no preemption); shared read locks (breaks mutual exclusion).")
    backoff: Literal["random", "fixed"] = Field(
        "random", title="Back-off", description="trylock/timeout fixes: a random back-off, or the same fixed one for every thread (livelock).")
    duration: int = Field(60, ge=10, le=400, title="Duration", description="The run stops after this many ticks.")


class SpuriousWakeup(Action):
    """Wake the first thread waiting on the condition variable without a signal."""

    type: Literal["spurious_wakeup"] = "spurious_wakeup"


class AddLoad(Action):
    """Make a thread's next critical section longer (a slow request)."""

    type: Literal["slow_cs"] = "slow_cs"
    thread: int = Field(1, ge=1, le=6, title="Thread", description="Thread number, from 1.")


LocksAction = Annotated[Union[SpuriousWakeup, AddLoad], Field(discriminator="type")]


# --------------------------------------------------------------------------- entity kinds


class ThreadState(TypedDict):
    name: str
    role: str  # "worker", "reader", "writer", "client", "producer", "consumer"
    state: Literal["running", "spinning", "blocked", "in_cs", "ready", "sleeping", "done"]
    holds: tuple[str, ...]  # lock ids
    waiting_for: str | None  # the lock (or condition variable) it waits or spins on
    core: int | None  # 1-based
    op: str  # what it is doing, in C-like words
    cs_done: int
    retries: int  # failed CAS attempts, try-lock failures and timeouts
    slowed: int  # ticks the Slow action added to its next critical section, until it starts


class LockState(TypedDict):
    name: str
    lock_type: Literal["mutex", "rwlock", "spinlock", "semaphore"]
    policy: str | None
    holders: tuple[str, ...]
    waiters: tuple[str, ...]  # in queue order (spinlock: in the order they started spinning)
    waiter_modes: tuple[str, ...]  # "r"/"w" for a read-write lock, "x" otherwise, "s" spinning
    mode: Literal["free", "held", "read", "write"]
    value: int | None  # semaphore: free permits
    permits: int | None


class CondVarState(TypedDict):
    name: str
    mutex: str
    waiters: tuple[str, ...]
    items: int  # the condition's data: items in the buffer


class WaitForState(TypedDict):
    edges: tuple[tuple[str, str], ...]  # waiter -> holder
    cycle: tuple[str, ...]  # thread ids in the (first) cycle, or empty
    cycles: int
    deadlock: bool  # a cycle of waits none of which times out
    conditions: tuple[dict[str, Any], ...]  # deadlock: {name, holds, broken_by}


class CoreState(TypedDict):
    index: int  # 1-based
    thread: str | None
    activity: Literal["run", "cs", "spin", "idle"]
    segments: tuple[tuple[str, int, int, str], ...]  # (thread, start, end, kind) of the last ticks


class MemoryState(TypedDict):
    name: str
    value: int


class StoreBufferState(TypedDict):
    thread: str
    entries: tuple[str, ...]  # oldest first: "flag[0]=1"


ENTITY_KINDS = {
    "thread": ThreadState, "lock": LockState, "condvar": CondVarState, "wait_for": WaitForState,
    "core": CoreState, "memory": MemoryState, "store_buffer": StoreBufferState,
}

METRICS = {
    "time": "Ticks run",
    "cpu_spent_spinning": "Core ticks spent spinning on a lock",
    "throughput": "Critical sections (or increments) completed per tick",
    "deadlocked": "Whether the wait-for graph has a cycle",
    "completed": "Critical sections (or increments) completed",
    "in_cs_violations": "Ticks on which mutual exclusion was broken",
    "blocked_ticks": "Thread ticks spent blocked off the CPU",
    "writer_wait": "rwlock: the longest a writer has waited so far",
    "failed_cas": "atomic: compare-and-swap attempts that failed and retried",
    "counter": "atomic: the counter's value",
    "timeouts": "Waits that timed out",
    "retries": "Try-lock failures and back-offs",
    "items": "condvar: items in the buffer",
    "underflows": "condvar: takes from an empty buffer",
    "stuck": "No thread can ever run again",
}


# --------------------------------------------------------------------------- Peterson's algorithm

#: Peterson's entry and exit for thread i (j = 1 - i), one instruction per step:
#:   flag[i] = 1; turn = j; [mfence;] while (flag[j] && turn == j) {}  CS  flag[i] = 0;
#: Memory: (flag[0], flag[1], turn).
P_FLAG, P_TURN, P_FENCE, P_AWAIT, P_CS, P_EXIT = "flag", "turn", "fence", "await", "cs", "exit"


def peterson_program(model: str) -> tuple[str, ...]:
    base = (P_FLAG, P_TURN) + ((P_FENCE,) if model == "tso_fence" else ()) + (P_AWAIT, P_CS, P_EXIT)
    return base


@dataclass(frozen=True, slots=True)
class PetersonState:
    pcs: tuple[int, int]
    memory: tuple[int, int, int]  # flag[0], flag[1], turn
    buffers: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]  # (loc, value), oldest first
    violated: bool = False


def peterson_start() -> PetersonState:
    return PetersonState((0, 0), (0, 0, 0), ((), ()))


def _load(s: PetersonState, i: int, loc: int) -> int:
    """x86-TSO: a load reads the thread's own newest buffered store to loc, else memory."""
    for bl, bv in reversed(s.buffers[i]):
        if bl == loc:
            return bv
    return s.memory[loc]


def peterson_enabled(prog: tuple[str, ...], s: PetersonState, i: int) -> bool:
    pc = s.pcs[i]
    if pc >= len(prog):
        return False
    op = prog[pc]
    if op == P_AWAIT:
        j = 1 - i
        return not (_load(s, i, j) == 1 and _load(s, i, 2) == j)
    if op == P_FENCE:
        return not s.buffers[i]
    return True


def _store(s: PetersonState, i: int, loc: int, value: int, model: str) -> tuple[tuple[int, int, int], tuple]:
    if model == "sc":
        mem = list(s.memory)
        mem[loc] = value
        return tuple(mem), s.buffers  # type: ignore[return-value]
    bufs = list(s.buffers)
    bufs[i] = bufs[i] + ((loc, value),)
    return s.memory, tuple(bufs)


def peterson_exec(prog: tuple[str, ...], s: PetersonState, i: int, model: str) -> PetersonState:
    """Thread i runs its next instruction (the caller checked it is enabled)."""
    op = prog[s.pcs[i]]
    mem, bufs = s.memory, s.buffers
    if op == P_FLAG:
        mem, bufs = _store(s, i, i, 1, model)
    elif op == P_TURN:
        mem, bufs = _store(s, i, 2, 1 - i, model)
    elif op == P_EXIT:
        mem, bufs = _store(s, i, i, 0, model)
    pcs = list(s.pcs)
    pcs[i] += 1
    ns = PetersonState((pcs[0], pcs[1]), mem, bufs, s.violated)  # type: ignore[arg-type]
    if in_cs_both(prog, ns):
        ns = PetersonState(ns.pcs, ns.memory, ns.buffers, True)
    return ns


def peterson_flush(s: PetersonState, i: int) -> PetersonState:
    """The oldest store in thread i's buffer reaches memory."""
    (loc, value), rest = s.buffers[i][0], s.buffers[i][1:]
    mem = list(s.memory)
    mem[loc] = value
    bufs = list(s.buffers)
    bufs[i] = rest
    return PetersonState(s.pcs, tuple(mem), tuple(bufs), s.violated)  # type: ignore[arg-type]


def in_cs_both(prog: tuple[str, ...], s: PetersonState) -> bool:
    cs = prog.index(P_CS)
    return s.pcs[0] == cs and s.pcs[1] == cs


def peterson_moves(model: str):
    prog = peterson_program(model)

    def moves(s: PetersonState) -> list[tuple[str, PetersonState, int]]:
        out = []
        for i in (0, 1):
            if peterson_enabled(prog, s, i):
                out.append((f"T{i + 1}", peterson_exec(prog, s, i, model), 1))
        for i in (0, 1):
            if s.buffers[i]:
                out.append((f"flush T{i + 1}", peterson_flush(s, i), 1))
        return out

    return prog, moves


def explore_peterson() -> dict[str, Any]:
    """Every interleaving of one entry, critical section and exit per thread, under each
    memory model: how many schedules (and distinct states) break mutual exclusion."""
    rows = []
    for model, label in (("sc", "Sequential consistency"), ("tso", "x86-TSO (store buffers)"), ("tso_fence", "x86-TSO + MFENCE")):
        prog, moves = peterson_moves(model)
        found = count_interleavings(peterson_start(), moves, lambda s: s.violated)
        states, bad_states, _ = reachable(peterson_start(), moves, lambda s: in_cs_both(prog, s))
        bad = found.totals.get(True, 0)
        rows.append({
            "model": model, "label": label, "interleavings": found.total, "violating": bad,
            "states": states, "violating_states": bad_states,
            "example": found.example(True) if bad else [],
        })
    return {"kind": "peterson", "rows": rows, "summary": (
        f"Under SC none of {rows[0]['interleavings']:,} interleavings puts both threads in the critical section; "
        f"under TSO {rows[1]['violating']:,} of {rows[1]['interleavings']:,} do; with the fence, none of {rows[2]['interleavings']:,}.")}


# --------------------------------------------------------------------------- deadlock explorer


def lock_orders(threads: int, fix: str) -> tuple[tuple[int, int], ...]:
    """Thread i takes lock i, then lock i + 1 (a ring: T1 A then B, T2 B then A...); with one
    global order each takes the lower-numbered lock first."""
    n = max(2, min(threads, len(LOCK_NAMES)))
    pairs = []
    for i in range(n):
        a, b = i, (i + 1) % n
        if fix == "lock_order":
            a, b = min(a, b), max(a, b)
        pairs.append((a, b))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class LockGraphState:
    pcs: tuple[int, ...]  # 0: lock first, 1: lock second, 2: unlock second, 3: unlock first, 4: done
    holder: tuple[int, ...]  # per lock: the holding thread, or -1


def deadlock_moves(pairs: tuple[tuple[int, int], ...]):
    def moves(s: LockGraphState) -> list[tuple[int, LockGraphState, int]]:
        out = []
        for t, (a, b) in enumerate(pairs):
            pc = s.pcs[t]
            if pc >= 4:
                continue
            lock = (a, b, b, a)[pc]
            holder = list(s.holder)
            if pc < 2:
                if holder[lock] != -1:
                    continue  # blocked
                holder[lock] = t
            else:
                holder[lock] = -1
            pcs = list(s.pcs)
            pcs[t] += 1
            out.append((t + 1, LockGraphState(tuple(pcs), tuple(holder)), 1))
        return out

    return moves


def explore_deadlock(threads: int) -> dict[str, Any]:
    rows = []
    for fix, label in (("none", "Opposite orders (a ring)"), ("lock_order", "One global lock order")):
        pairs = lock_orders(threads, fix)
        start = LockGraphState((0,) * len(pairs), (-1,) * len(pairs))
        found = count_interleavings(start, deadlock_moves(pairs), lambda s: "deadlock" if any(pc < 4 for pc in s.pcs) else "completed")
        dl = found.totals.get("deadlock", 0)
        rows.append({
            "fix": fix, "label": label,
            "orders": [f"T{t + 1}: {LOCK_NAMES[a]} then {LOCK_NAMES[b]}" for t, (a, b) in enumerate(pairs)],
            "interleavings": found.total, "deadlocking": dl, "states": found.states,
            "example": found.example("deadlock") if dl else [],
        })
    return {"kind": "deadlock", "threads": len(rows[0]["orders"]), "rows": rows, "summary": (
        f"{rows[0]['deadlocking']:,} of {rows[0]['interleavings']:,} interleavings deadlock when the locks are taken in "
        f"opposite orders; with one global order none of {rows[1]['interleavings']:,} do.")}


# --------------------------------------------------------------------------- programs

# Ops: ("work", n) ("cs", n, lock|None, mode, effect) ("lock", L, mode) ("unlock", L)
# ("trylock", L, fail) ("timedlock", L, ticks, fail) ("sleep", base) ("jump", pc)
# ("cas", loc) ("fetch_add", loc) ("shard_add",) ("check", fail_to) ("cv_wait", cv, L, resume)
# ("cv_signal", cv)


@dataclass(slots=True)
class Thread:
    tid: str
    role: str
    ops: list[tuple]
    pc: int = 0
    left: int = 0
    state: str = "ready"
    holds: list[str] = field(default_factory=list)
    waiting_for: str | None = None
    on_grant: int = 0
    deadline: int | None = None
    on_timeout: int = 0
    sleep_until: int = 0
    reg: int | None = None
    cs_done: int = 0
    retries: int = 0
    wait_since: int | None = None
    extra: int = 0  # ticks added to the next critical section (an action)


def _loop(body_fn, iterations: int, start_delay: int = 0) -> list[tuple]:
    ops: list[tuple] = [("work", start_delay)] if start_delay else []
    for _ in range(iterations):
        ops.extend(body_fn(len(ops)))
    return ops


def build_threads(p: LocksParams) -> tuple[list[Thread], list[SyncLock], dict[str, Any]]:
    """The threads' programs, the locks, and the shared data, for the scenario."""
    n = p.threads
    w, cs, it = p.work_length, p.cs_length, p.iterations
    threads: list[Thread] = []
    locks: list[SyncLock] = []
    shared: dict[str, Any] = {"counter": 0, "items": 0, "cv": None}
    sc = p.scenario
    if sc in ("mutex", "spinlock"):
        locks.append(SyncLock("m", sc))
        for i in range(n):
            threads.append(Thread(f"T{i + 1}", "worker", _loop(lambda at: [("work", w), ("lock", "m", "x"), ("cs", cs, "m", "x", "inc"), ("unlock", "m")], it)))
    elif sc == "rwlock":
        kind = p.rw_lock
        locks.append(SyncLock("rw", kind, policy=p.rw_policy if kind == "rwlock" else ""))
        rmode = "r" if kind == "rwlock" else "x"
        wmode = "w" if kind == "rwlock" else "x"
        # Readers arrive one tick apart and read for cs_length ticks: with enough of them the
        # lock is never free of readers.
        for i in range(n - 1):
            threads.append(Thread(f"T{i + 1}", "reader", _loop(
                lambda at: [("lock", "rw", rmode), ("cs", cs, "rw", rmode, "read"), ("unlock", "rw"), ("work", w)], it, start_delay=i)))
        threads.append(Thread(f"T{n}", "writer", _loop(
            lambda at: [("lock", "rw", wmode), ("cs", 1, "rw", wmode, "write"), ("unlock", "rw"), ("work", max(w, 2))], max(1, it // 3), start_delay=2)))
    elif sc == "semaphore":
        locks.append(SyncLock("pool", "semaphore", permits=p.permits))
        for i in range(n):
            leak = p.leak and i == 0

            def body(at: int, leak: bool = leak) -> list[tuple]:
                # work; P (timed: on timeout go to the last op, a tick before retrying); query; V
                # (a leak: forget it); then skip the timeout path.
                wait = ("timedlock", "pool", p.timeout, at + 5) if p.timeout else ("lock", "pool", "x")
                ops = [("work", w), wait, ("cs", cs, None, "x", "query")]
                ops += [("work", 0)] if leak else [("unlock", "pool")]
                ops += [("jump", at + 6), ("work", 1)]
                return ops
            threads.append(Thread(f"T{i + 1}", "client", _loop(body, it)))
    elif sc == "condvar":
        locks.append(SyncLock("m", "mutex"))
        shared["cv"] = {"name": "cv", "mutex": "m", "waiters": []}
        consumers = n - 1
        threads.append(Thread("T1", "producer", _loop(
            lambda at: [("work", max(w, 3)), ("lock", "m", "x"), ("cs", 1, "m", "x", "put"), ("cv_signal", "cv"), ("unlock", "m")],
            it * consumers)))
        for i in range(consumers):
            def body(at: int) -> list[tuple]:
                resume = at + 1 if p.loop_check == "while" else at + 3
                return [("lock", "m", "x"), ("check", at + 3), ("cv_wait", "cv", "m", resume),
                        ("cs", 1, "m", "x", "take"), ("unlock", "m"), ("work", 1)]
            threads.append(Thread(f"T{i + 2}", "consumer", _loop(body, it)))
    elif sc == "atomic":
        if p.counter == "mutex":
            locks.append(SyncLock("m", "mutex"))
        for i in range(n):
            def body(at: int, i: int = i) -> list[tuple]:
                work = [("work", w)] if w else []
                if p.counter == "mutex":
                    return work + [("lock", "m", "x"), ("cs", 1, "m", "x", "inc"), ("unlock", "m")]
                if p.counter == "cas":
                    return work + [("cas", "counter")]
                if p.counter == "fetch_add":
                    return work + [("fetch_add", "counter")]
                return work + [("shard_add",)]
            threads.append(Thread(f"T{i + 1}", "worker", _loop(body, it)))
        shared["shards"] = [0] * n
    elif sc == "deadlock":
        pairs = lock_orders(n, p.fix)
        kind = "rwlock" if p.fix == "shared" else "mutex"
        for k in range(len(pairs)):
            locks.append(SyncLock(LOCK_NAMES[k], kind, policy="reader_pref" if kind == "rwlock" else ""))
        mode = "r" if p.fix == "shared" else "x"
        for t, (a, b) in enumerate(pairs):
            A, B = LOCK_NAMES[a], LOCK_NAMES[b]

            def body(at: int, A: str = A, B: str = B) -> list[tuple]:
                if p.fix in ("trylock", "timeout"):
                    second = ("trylock", B, at + 7) if p.fix == "trylock" else ("timedlock", B, max(p.timeout, 1), at + 7)
                    return [("lock", A, mode), ("cs", cs, None, mode, "hold"), second, ("cs", cs, None, mode, "both"),
                            ("unlock", B), ("unlock", A), ("jump", at + 10),
                            ("unlock", A), ("sleep", max(w, 1)), ("jump", at)]
                return [("lock", A, mode), ("cs", cs, None, mode, "hold"), ("lock", B, mode), ("cs", cs, None, mode, "both"),
                        ("unlock", B), ("unlock", A), ("work", w)]
            threads.append(Thread(f"T{t + 1}", "worker", _loop(body, it)))
    return threads, locks, shared


def _op_words(th: Thread) -> str:
    if th.pc >= len(th.ops):
        return "finished"
    op = th.ops[th.pc]
    k = op[0]
    if k == "work":
        return "working"
    if k == "cs":
        return {"inc": "counter++", "read": "reading the cache", "write": "updating the cache", "query": "using a connection",
                "put": "adding an item", "take": "taking an item", "hold": f"holding {', '.join(th.holds)}",
                "both": "using both locks"}.get(op[4], "critical section")
    if k == "lock":
        return {"r": f"rdlock({op[1]})", "w": f"wrlock({op[1]})"}.get(op[2], f"lock({op[1]})")
    if k == "unlock":
        return f"unlock({op[1]})"
    if k == "trylock":
        return f"trylock({op[1]})"
    if k == "timedlock":
        return f"timedlock({op[1]}, {op[2]})"
    if k == "sleep":
        return "backing off"
    if k == "cas":
        return "CAS(counter)" if th.reg is not None else "load counter"
    if k == "fetch_add":
        return "fetch_add(counter)"
    if k == "shard_add":
        return f"shard[{th.tid}]++"
    if k == "check":
        return "while (items == 0)"
    if k == "cv_wait":
        return f"wait({op[1]}, {op[2]})"
    if k == "cv_signal":
        return f"signal({op[1]})"
    return k


# --------------------------------------------------------------------------- the engine


class LocksEngine(Engine):
    slug = "locks"
    topic_slug = "locks-synchronization"
    title = "Locks & synchronization: mutexes, spinlocks, read-write locks, semaphores, atomics and deadlock"
    description = (
        "Threads contend for shared resources on a few CPU cores, one tick at a time: see who holds each lock, "
        "who waits in its queue and who burns a core spinning; starve a writer, exhaust a connection pool, "
        "break Peterson's algorithm with store buffers, and catch a deadlock in the wait-for graph."
    )
    Params = LocksParams
    Action = LocksAction
    entity_kinds = ENTITY_KINDS
    metrics = METRICS
    time_unit = "ticks"
    actions_vary_per_frame = True  # Spurious wake-up needs a waiter; a finished thread cannot be slowed
    wall_seconds_per_time_unit = 0.25
    max_steps = 400
    analyses = {"explore": "Explore every interleaving", "throughput": "Counter throughput on 1 to 4 cores"}
    presets = (
        Preset("mutex-protects", "A mutex protects a shared resource",
               "Three threads on two cores take turns in the critical section: one holder, the others queue and "
               "sleep off the CPU until unlock hands the mutex on.",
               {"scenario": "mutex", "threads": 3, "cores": 2, "cs_length": 3, "work_length": 1},
               feature="Mutexes for exclusive access", use_case="Shared resource protection"),
        Preset("spinlock-short", "Spinlock for a very short critical section",
               "One-tick critical sections on as many cores as threads: a waiter spins a tick or two and is in, "
               "with no sleep and no wake-up.",
               {"scenario": "spinlock", "threads": 2, "cores": 2, "cs_length": 1, "work_length": 2},
               feature="Spinlocks for short waits"),
        Preset("spinlock-long", "Spinlock with long critical sections and more threads than cores",
               "Four threads on two cores holding the lock for six ticks: the spinners burn whole quanta while the "
               "holder waits for a core. Compare cpu_spent_spinning with the mutex.",
               {"scenario": "spinlock", "threads": 4, "cores": 2, "cs_length": 6, "work_length": 1, "quantum": 3}),
        Preset("mutex-long", "The same load under a mutex",
               "Long critical sections, more threads than cores, but waiters sleep: no core tick is spent spinning.",
               {"scenario": "mutex", "threads": 4, "cores": 2, "cs_length": 6, "work_length": 1, "quantum": 3}),
        Preset("rwlock-readers", "Read-write lock: many readers at once",
               "Readers share the lock; the writer waits until the readers have left, then has it alone.",
               {"scenario": "rwlock", "threads": 4, "cores": 4, "cs_length": 2, "work_length": 3, "iterations": 6,
                "rw_policy": "writer_pref"},
               feature="Read-write locks for optimization"),
        Preset("writer-starvation", "Writer starvation under reader preference",
               "Readers arrive every tick and read for two: under reader preference there is always a reader "
               "inside, so the writer waits as long as readers keep coming.",
               {"scenario": "rwlock", "threads": 4, "cores": 4, "cs_length": 2, "work_length": 0, "iterations": 20,
                "rw_policy": "reader_pref", "duration": 70}),
        Preset("writer-preference", "The fix: writer preference",
               "The same readers, but once the writer queues no new reader is let in: it gets the lock when the "
               "readers inside leave.",
               {"scenario": "rwlock", "threads": 4, "cores": 4, "cs_length": 2, "work_length": 0, "iterations": 20,
                "rw_policy": "writer_pref", "duration": 70}),
        Preset("rwlock-fair", "A fair read-write lock",
               "One FIFO queue: readers arriving after the writer wait behind it.",
               {"scenario": "rwlock", "threads": 4, "cores": 4, "cs_length": 2, "work_length": 0, "iterations": 20,
                "rw_policy": "fair", "duration": 70}),
        Preset("cache-rwlock", "A read-mostly cache under a read-write lock",
               "Readers look up the cache together; the occasional update takes it alone. Compare throughput with "
               "the same cache under a mutex.",
               {"scenario": "rwlock", "threads": 5, "cores": 4, "cs_length": 3, "work_length": 1, "iterations": 6,
                "rw_policy": "fair", "rw_lock": "rwlock"},
               use_case="Cache consistency"),
        Preset("cache-mutex", "The same cache under a mutex",
               "Every lookup excludes every other: readers queue one by one and throughput drops.",
               {"scenario": "rwlock", "threads": 5, "cores": 4, "cs_length": 3, "work_length": 1, "iterations": 6,
                "rw_lock": "mutex"}),
        Preset("counter-cas", "Counter with compare-and-swap",
               "Each increment loads the counter and tries CAS; when another core got there first the CAS fails and "
               "the loop retries. Failed attempts are counted.",
               {"scenario": "atomic", "threads": 3, "cores": 3, "work_length": 0, "iterations": 4, "counter": "cas"},
               feature="Atomic operations for primitives", use_case="Counter updates"),
        Preset("counter-fetch-add", "Counter with fetch-and-add",
               "One indivisible instruction per increment, never retried; the cache line still serialises the cores.",
               {"scenario": "atomic", "threads": 3, "cores": 3, "work_length": 0, "iterations": 4, "counter": "fetch_add"}),
        Preset("counter-mutex", "Counter under a mutex",
               "Lock, increment, unlock: correct, but the cores take turns and the waiters sleep.",
               {"scenario": "atomic", "threads": 3, "cores": 3, "work_length": 0, "iterations": 4, "counter": "mutex"}),
        Preset("counter-sharded", "A sharded counter",
               "Each thread adds to its own slot and a reader sums them: no shared line, so the cores do not wait.",
               {"scenario": "atomic", "threads": 3, "cores": 3, "work_length": 0, "iterations": 4, "counter": "sharded"}),
        Preset("connection-pool", "A database connection pool",
               "Four clients share two connections guarded by a counting semaphore: the third and fourth queue for "
               "a permit; value + holders stays 2.",
               {"scenario": "semaphore", "threads": 4, "cores": 4, "permits": 2, "cs_length": 3, "work_length": 1},
               use_case="Database connection pools"),
        Preset("pool-timeout", "Connection pool with a timeout",
               "Waiters give up after three ticks (sem_timedwait) instead of hanging.",
               {"scenario": "semaphore", "threads": 5, "cores": 4, "permits": 2, "cs_length": 4, "work_length": 1, "timeout": 3}),
        Preset("pool-leak", "A leaked connection exhausts the pool",
               "T1 never returns its connection: after two of its queries both permits are gone and everyone waits.",
               {"scenario": "semaphore", "threads": 3, "cores": 3, "permits": 2, "cs_length": 2, "work_length": 1, "leak": True}),
        Preset("condvar-while", "Condition variable with a while loop",
               "Consumers wait for items; each wake-up re-checks the condition, so a stolen item or a spurious wake-up "
               "just waits again.",
               {"scenario": "condvar", "threads": 3, "cores": 3, "iterations": 2, "loop_check": "while", "spurious_at": 3}),
        Preset("condvar-spurious", "A spurious wake-up with if instead of while",
               "The consumer checks the buffer once; a spurious wake-up at tick 3 sends it to take from an empty buffer.",
               {"scenario": "condvar", "threads": 2, "cores": 2, "iterations": 2, "loop_check": "if", "spurious_at": 3}),
        Preset("peterson-sc", "Peterson's algorithm under sequential consistency",
               "flag[i] = 1; turn = j; wait while flag[j] && turn == j: the threads never share the critical section.",
               {"scenario": "peterson", "threads": 2, "cores": 2, "memory_model": "sc", "iterations": 2}),
        Preset("peterson-tso", "Peterson's algorithm broken by store buffers",
               "Under x86-TSO both threads' stores wait in their buffers; each reads the other's flag as 0 from memory "
               "and both enter the critical section.",
               {"scenario": "peterson", "threads": 2, "cores": 2, "memory_model": "tso", "iterations": 2}),
        Preset("peterson-fence", "Peterson's algorithm with an MFENCE",
               "A fence after the stores drains the buffer before the loads: mutual exclusion is back.",
               {"scenario": "peterson", "threads": 2, "cores": 2, "memory_model": "tso_fence", "iterations": 2}),
        Preset("deadlock", "Deadlock: two locks in opposite orders",
               "T1 takes A then B, T2 takes B then A; each holds one and waits for the other: a cycle in the "
               "wait-for graph, and all four Coffman conditions hold.",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "none"}),
        Preset("deadlock-lock-order", "Fix: one global lock order",
               "Both take A before B: circular wait is impossible, so no deadlock.",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "lock_order"}),
        Preset("deadlock-trylock", "Fix: try-lock with random back-off",
               "The second lock is tried, not waited for: on failure the thread releases its first lock and backs "
               "off (no hold and wait).",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "trylock", "backoff": "random"}),
        Preset("deadlock-timeout", "Fix: a timed lock",
               "pthread_mutex_timedlock gives up after a few ticks and releases what it holds.",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "timeout", "timeout": 3}),
        Preset("deadlock-shared", "Fix: shareable resources",
               "If both only read, read locks let both in: without mutual exclusion nothing waits.",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "shared"}),
        Preset("livelock", "Livelock: symmetric back-off",
               "Try-lock with the same fixed back-off: both threads fail, release, wait the same time and collide "
               "again, forever busy and never done.",
               {"scenario": "deadlock", "threads": 2, "cores": 2, "fix": "trylock", "backoff": "fixed", "duration": 40}),
        Preset("dining-ring", "Three threads in a ring",
               "T1 A then B, T2 B then C, T3 C then A: a three-thread cycle.",
               {"scenario": "deadlock", "threads": 3, "cores": 3, "fix": "none"}),
    )

    def __init__(self, params: LocksParams, rng: random.Random) -> None:
        super().__init__(params, rng)
        self._rng_start = rng.getstate()

    # -- contract hooks --------------------------------------------------------

    @classmethod
    def analyse(cls, name: str, params: Params) -> Mapping[str, Any]:
        p: LocksParams = params  # type: ignore[assignment]
        if name == "explore":
            if p.scenario == "peterson":
                return explore_peterson()
            return explore_deadlock(p.threads if p.scenario == "deadlock" else 2)
        if name == "throughput":
            return throughput_table(p)
        raise KeyError(name)

    @classmethod
    def analysis_inputs(cls, name: str, params: Params) -> Params:
        p: LocksParams = params  # type: ignore[assignment]
        d = LocksParams()
        if name == "explore":
            threads = p.threads if p.scenario == "deadlock" else 2
            return d.model_copy(update={"scenario": "peterson" if p.scenario == "peterson" else "deadlock", "threads": threads})
        return d.model_copy(update={"scenario": "atomic", "threads": p.threads, "iterations": p.iterations, "work_length": p.work_length})

    @classmethod
    def action_buttons(cls, params: Params) -> list[tuple[str, dict[str, Any]]]:
        p: LocksParams = params  # type: ignore[assignment]
        buttons: list[tuple[str, dict[str, Any]]] = []
        if p.scenario == "condvar":
            buttons.append(("Spurious wake-up", {"type": "spurious_wakeup"}))
        n = 2 if p.scenario == "peterson" else p.threads
        buttons += [(f"Slow T{t + 1}", {"type": "slow_cs", "thread": t + 1}) for t in range(n)]
        return buttons

    @classmethod
    def action_unavailable(cls, frame: Frame, action: Mapping[str, Any]) -> str | None:
        if frame.done:
            return "done"
        if action.get("type") == "spurious_wakeup":
            for e in frame.entities:
                if e.kind == "condvar":
                    return None if e.state["waiters"] else "no waiter"
            return "no condition variable"
        if action.get("type") == "slow_cs":
            tid = f"T{action.get('thread')}"
            for e in frame.entities:
                if e.kind == "thread" and e.id == tid:
                    return "finished" if e.state["state"] == "done" else None
        return None

    @property
    def done(self) -> bool:
        return self._done

    # -- running ---------------------------------------------------------------

    def reset(self) -> Frame:
        self.rng.setstate(self._rng_start)
        p = self.params
        self.now = 0
        self.index = 0
        self._done = False
        self.spin_ticks = 0
        self.blocked_ticks = 0
        self.violations = 0
        self.failed_cas = 0
        self.timeouts = 0
        self.retries = 0
        self.completed = 0
        self.underflows = 0
        self.writer_wait = 0
        self.stuck = False
        self.first_cycle: tuple[str, ...] = ()
        self._spurious_pending = False
        self._seen_cycle: tuple[str, ...] = ()
        self._graph: tuple[tuple[tuple[str, str], ...], list[tuple[str, ...]]] = ((), [])
        self.cpu = Cpu(cores=p.cores, policy="rr", quantum=p.quantum)
        if p.scenario == "peterson":
            self.prog = peterson_program(p.memory_model)
            self.ps = peterson_start()
            self.stamps: list[list[int]] = [[], []]  # when each buffered store was made
            self.rounds = [0, 0]
            self.cs_left = [0, 0]
            self.threads = [Thread("T1", "peterson", []), Thread("T2", "peterson", [])]
            self.locks: list[SyncLock] = []
            self.shared: dict[str, Any] = {"counter": 0, "items": 0, "cv": None}
        else:
            self.threads, self.locks, self.shared = build_threads(p)
        self.by_id = {t.tid: t for t in self.threads}
        self.lock_by_id = {lk.id: lk for lk in self.locks}
        for t in self.threads:
            self.cpu.admit(CpuThread(t.tid, length=BIG, remaining=BIG, burst_left=BIG), 0)
            if p.scenario != "peterson":
                self._enter(t, 0)
        self.frame = self._frame(self._intro(), ())
        return self.frame

    def apply(self, action: Any) -> Event | None:
        if self._done:
            raise ValueError("The run has ended; reset to run again.")
        if isinstance(action, SpuriousWakeup):
            cv = self.shared.get("cv")
            if cv is None:
                raise ValueError("This scenario has no condition variable: choose the condvar scenario.")
            if not cv["waiters"]:
                raise ValueError("No thread is waiting on the condition variable, so there is nobody to wake.")
            self._spurious_pending = True
            return Event("spurious", f"{cv['waiters'][0]} will wake up without a signal.", severity="warn")
        if isinstance(action, AddLoad):
            if action.thread > len(self.threads):
                raise ValueError(f"There is no T{action.thread}: this run has {len(self.threads)} threads.")
            th = self.threads[action.thread - 1]
            if th.state == "done":
                raise ValueError(f"{th.tid} has finished.")
            th.extra += 4
            return Event("slow", f"{th.tid}'s next critical section takes 4 ticks longer.", actor=th.tid)
        raise ValueError(f"Unknown action {action!r}")

    def step(self) -> Frame:
        self.index += 1
        if self._done:
            self.frame = self._frame("The run has ended. Try another preset, or change a parameter.", ())
            return self.frame
        events: list[Event] = []
        if self.params.scenario == "peterson":
            self._peterson_tick(events)
        else:
            self._tick(events)
        self.now += 1
        self._check_end(events)
        self.frame = self._frame(self._narrate(events), tuple(events))
        return self.frame

    # -- one tick of the lock scenarios ---------------------------------------

    def _enter(self, th: Thread, pc: int) -> None:
        """Move th to pc, following jumps, and set up the op's duration."""
        while pc < len(th.ops) and th.ops[pc][0] == "jump":
            pc = th.ops[pc][1]
        th.pc = pc
        if pc >= len(th.ops):
            th.state = "done"
            return
        op = th.ops[pc]
        if op[0] == "work":
            th.left = op[1]
            if th.left == 0:
                self._enter(th, pc + 1)
        elif op[0] == "cs":
            th.left = op[1] + th.extra
            th.extra = 0

    def _wake(self, th: Thread) -> None:
        if th.state == "done":
            self.cpu.finish(th.tid, self.now)
            return
        th.state = "ready"
        th.waiting_for = None
        th.deadline = None
        self.cpu.wake(th.tid, self.now)

    def _granted(self, lock: SyncLock, tids: list[str], events: list[Event], by: str, why: str = "") -> None:
        for tid in tids:
            th = self.by_id[tid]
            th.holds.append(lock.id)
            self._track_writer_wait(th)
            th.wait_since = None
            self._enter(th, th.on_grant)
            self._wake(th)
            if lock.lock_type == "semaphore":
                what = f"gets a permit of {lock.id}"
            elif lock.lock_type == "rwlock":
                what = f"gets {lock.id} for {'writing' if lock.writer else 'reading'}"
            else:
                what = f"now holds {lock.id}"
            events.append(Event("handoff", f"{why or by + ' released ' + lock.id}, so {tid} {what} and is ready to run again.", actor=tid))

    def _track_writer_wait(self, th: Thread) -> None:
        if th.role == "writer" and th.wait_since is not None:
            self.writer_wait = max(self.writer_wait, self.now - th.wait_since)

    def _block(self, th: Thread, on: str, on_grant: int) -> None:
        th.state = "blocked"
        th.waiting_for = on
        th.on_grant = on_grant
        if th.wait_since is None:
            th.wait_since = self.now
        self.cpu.block(th.tid, self.now)

    def _tick(self, events: list[Event]) -> None:
        now = self.now
        cv = self.shared.get("cv")
        # Timers: back-offs end, timed waits expire, a spurious wake-up.
        for th in self.threads:
            if th.state == "sleeping" and th.sleep_until <= now:
                self._wake(th)
            elif th.state == "blocked" and th.deadline is not None and th.deadline <= now:
                lock = self.lock_by_id[th.waiting_for]  # type: ignore[index]
                lock.cancel(th.tid)
                self.timeouts += 1
                self.retries += 1
                th.retries += 1
                th.wait_since = None
                events.append(Event("timeout", f"{th.tid} gave up waiting for {lock.id} after its timeout.", actor=th.tid, severity="warn"))
                self._enter(th, th.on_timeout)
                self._wake(th)
                self._granted(lock, lock.admit_waiters(), events, th.tid, f"{th.tid} left the queue of {lock.id}")
        if cv is not None and cv["waiters"] and (self._spurious_pending or (self.params.spurious_at and now == self.params.spurious_at)):
            self._spurious_pending = False
            self._cv_wake(cv, events, spurious=True)
        self.cpu.dispatch(now)
        executed: set[str] = set()
        self._lines: set[str] = set()
        while True:
            left = False
            for core in self.cpu.core_list:
                tid = core.running
                if tid is None or tid in executed:
                    continue
                executed.add(tid)
                th = self.by_id[tid]
                self._exec(th, events)
                if th.state in ("blocked", "sleeping", "done"):
                    if th.state == "done":
                        self.cpu.finish(tid, now)
                        events.append(Event("done", f"{tid} finished its loop.", actor=tid))
                    left = True
            if not left:
                break
            self.cpu.dispatch(now)
        for core in self.cpu.core_list:
            tid = core.running
            if tid is not None:
                th = self.by_id[tid]
                self.cpu.set_activity(tid, {"spinning": "spin", "in_cs": "cs"}.get(th.state, "run"))
        # Threads that want a core but have none are ready; blocked ones count their wait.
        on_core = {c.running for c in self.cpu.core_list}
        for th in self.threads:
            if th.state in ("running", "spinning", "in_cs") and th.tid not in on_core:
                th.state = "ready"
            if th.state == "blocked":
                self.blocked_ticks += 1
        self.cpu.advance(now, now + 1)
        self._check_exclusion(events)

    def _exec(self, th: Thread, events: list[Event]) -> None:
        """th has a core for this tick: one tick of its current op."""
        if th.pc >= len(th.ops):
            th.state = "done"
            return
        op = th.ops[th.pc]
        k = op[0]
        tid = th.tid
        if k == "work":
            th.state = "running"
            th.left -= 1
            if th.left <= 0:
                self._enter(th, th.pc + 1)
        elif k == "cs":
            th.state = "in_cs"
            th.left -= 1
            if th.left <= 0:
                effect = op[4]
                th.cs_done += 1
                if effect in ("inc", "read", "write", "query"):
                    self.completed += 1
                    if effect == "inc":
                        self.shared["counter"] += 1
                elif effect == "put":
                    self.shared["items"] += 1
                    self.completed += 1
                elif effect == "take":
                    self.shared["items"] -= 1
                    self.completed += 1
                    if self.shared["items"] < 0:
                        self.underflows += 1
                        events.append(Event("underflow", f"{tid} took an item from an empty buffer: items is now {self.shared['items']}.", actor=tid, severity="error"))
                elif effect == "both":
                    self.completed += 1
                self._enter(th, th.pc + 1)
        elif k in ("lock", "timedlock"):
            lock = self.lock_by_id[op[1]]
            mode = op[2] if k == "lock" else "x"
            was_spinning = th.state == "spinning"
            if lock.acquire(tid, mode):
                th.holds.append(lock.id)
                self._track_writer_wait(th)
                th.wait_since = None
                th.state = "running"
                if was_spinning:
                    events.append(Event("acquired", f"{tid}'s spin found {lock.id} free and took it.", actor=tid))
                else:
                    events.append(Event("acquired", f"{tid} took {self._lock_words(lock, mode)}.", actor=tid))
                self._enter(th, th.pc + 1)
            elif lock.lock_type == "spinlock":
                th.state = "spinning"
                th.waiting_for = lock.id
                if th.wait_since is None:
                    th.wait_since = self.now
                self.spin_ticks += 1
                if not was_spinning:
                    events.append(Event("spin", f"{tid} found {lock.id} held by {', '.join(lock.holders)} and spins on its core.", actor=tid, severity="warn"))
            else:
                self._block(th, lock.id, th.pc + 1)
                if k == "timedlock":
                    th.deadline = self.now + op[2]
                    th.on_timeout = op[3]
                holders = ", ".join(lock.holders) if lock.holders else "nobody"
                why = (f"no permit is free ({holders} hold them)" if lock.lock_type == "semaphore"
                       else f"{holders} hold{'s' if len(lock.holders) == 1 else ''} it" if lock.holders
                       else "a writer is queued ahead")
                events.append(Event("blocked", f"{tid} wants {lock.id} but {why}: it joins the queue and sleeps off the CPU.", actor=tid, severity="warn"))
        elif k == "trylock":
            lock = self.lock_by_id[op[1]]
            if lock.try_acquire(tid, "x"):
                th.holds.append(lock.id)
                th.state = "running"
                events.append(Event("acquired", f"{tid}'s trylock took {lock.id}.", actor=tid))
                self._enter(th, th.pc + 1)
            else:
                th.retries += 1
                self.retries += 1
                th.state = "running"
                events.append(Event("trylock-failed", f"{tid}'s trylock on {lock.id} failed ({', '.join(lock.holders)} holds it): it will release what it holds and back off.", actor=tid, severity="warn"))
                self._enter(th, op[2])
        elif k == "unlock":
            lock = self.lock_by_id[op[1]]
            th.holds.remove(lock.id)
            granted = lock.release(tid)
            th.state = "running"
            if not granted:
                events.append(Event("released", f"{tid} released {lock.id}.", actor=tid))
            self._enter(th, th.pc + 1)
            self._granted(lock, granted, events, tid)
        elif k == "sleep":
            base = op[1]
            d = base if self.params.backoff == "fixed" else self.rng.randint(1, 2 * base + 1)
            th.sleep_until = self.now + d
            self._enter(th, th.pc + 1)
            th.state = "sleeping"
            self.cpu.block(tid, self.now)
            events.append(Event("backoff", f"{tid} backs off for {d} tick{'s' if d != 1 else ''}.", actor=tid))
        elif k == "cas":
            th.state = "running"
            if th.reg is None:
                th.reg = self.shared["counter"]
            elif "counter" in self._lines:
                pass  # another core owns the line this tick: stall
            elif self.shared["counter"] == th.reg:
                self._lines.add("counter")
                self.shared["counter"] = th.reg + 1
                self.completed += 1
                th.cs_done += 1
                th.reg = None
                self._enter(th, th.pc + 1)
            else:
                self._lines.add("counter")
                events.append(Event("cas-failed", f"{tid}'s CAS expected {th.reg} but found {self.shared['counter']}: another thread got there first, so it retries with {self.shared['counter']}.", actor=tid, severity="warn"))
                th.reg = self.shared["counter"]
                th.retries += 1
                self.failed_cas += 1
        elif k == "fetch_add":
            th.state = "running"
            if "counter" not in self._lines:
                self._lines.add("counter")
                self.shared["counter"] += 1
                self.completed += 1
                th.cs_done += 1
                self._enter(th, th.pc + 1)
        elif k == "shard_add":
            th.state = "running"
            i = self.threads.index(th)
            self.shared["shards"][i] += 1
            self.shared["counter"] += 1
            self.completed += 1
            th.cs_done += 1
            self._enter(th, th.pc + 1)
        elif k == "check":
            th.state = "running"
            if self.shared["items"] > 0:
                self._enter(th, op[1])
            else:
                self._enter(th, th.pc + 1)
        elif k == "cv_wait":
            cv = self.shared["cv"]
            lock = self.lock_by_id[op[2]]
            th.holds.remove(lock.id)
            granted = lock.release(tid)
            cv["waiters"].append(tid)
            th.on_grant = op[3]
            th.state = "blocked"
            th.waiting_for = cv["name"]
            self.cpu.block(tid, self.now)
            events.append(Event("wait", f"{tid} found the buffer empty: wait() releases {lock.id} and sleeps on {cv['name']}.", actor=tid))
            self._granted(lock, granted, events, tid)
        elif k == "cv_signal":
            th.state = "running"
            cv = self.shared["cv"]
            self._enter(th, th.pc + 1)
            if cv["waiters"]:
                self._cv_wake(cv, events, spurious=False, by=tid)

    def _cv_wake(self, cv: dict, events: list[Event], spurious: bool, by: str = "") -> None:
        tid = cv["waiters"].pop(0)
        th = self.by_id[tid]
        lock = self.lock_by_id[cv["mutex"]]
        how = "wakes up without a signal (a spurious wake-up)" if spurious else f"is woken by {by}'s signal"
        if lock.acquire(tid, "x"):
            th.holds.append(lock.id)
            self._enter(th, th.on_grant)
            self._wake(th)
            events.append(Event("wake", f"{tid} {how} and takes {lock.id} back.", actor=tid, severity="warn" if spurious else "info"))
        else:
            th.waiting_for = lock.id
            events.append(Event("wake", f"{tid} {how} and queues for {lock.id}.", actor=tid, severity="warn" if spurious else "info"))

    def _check_exclusion(self, events: list[Event]) -> None:
        """Mutual exclusion, checked every tick: per lock, a writer (or a mutex/spinlock holder)
        is never in its critical section with another thread."""
        by_lock: dict[str, list[tuple[str, str]]] = {}
        for th in self.threads:
            if th.state == "in_cs" and th.pc < len(th.ops):
                op = th.ops[th.pc]
                if op[0] == "cs" and op[2]:
                    by_lock.setdefault(op[2], []).append((th.tid, op[3]))
        for lid, inside in by_lock.items():
            if len(inside) > 1 and any(m in ("x", "w") for _, m in inside):
                self.violations += 1
                events.append(Event("violation", f"{' and '.join(t for t, _ in inside)} are in {lid}'s critical section together.", severity="error"))

    def _check_end(self, events: list[Event]) -> None:
        p = self.params
        if p.scenario != "peterson":
            edges = wait_for_edges(self.locks)
            cycles = find_cycles(edges) if edges else []
            self._graph = (tuple(edges), cycles)
            # A cycle of untimed waits is a deadlock; one where some wait has a timeout is not:
            # that wait will give up (no preemption does not hold).
            dead = [c for c in cycles if all(self.by_id[t].deadline is None for t in c)]
            if cycles and cycles[0] != self._seen_cycle:
                ring = " \u2192 ".join(cycles[0] + (cycles[0][0],))
                if dead:
                    events.append(Event("deadlock", f"Deadlock: {ring}. Each waits for a lock the next one holds, and none will let go.", severity="error"))
                else:
                    events.append(Event("cycle", f"A wait-for cycle formed: {ring}. It is not a deadlock: a timed wait in it will give up.", severity="warn"))
            self._seen_cycle = cycles[0] if cycles else ()
            self.first_cycle = dead[0] if dead else ()
            alive = [t for t in self.threads if t.state != "done"]
            if alive and all(t.state == "blocked" and t.deadline is None for t in alive):
                self.stuck = True
        drained = p.scenario != "peterson" or not any(self.ps.buffers)
        if (all(t.state == "done" for t in self.threads) and drained) or self.stuck or self.now >= p.duration:
            self._done = True

    # -- Peterson ---------------------------------------------------------------

    def _peterson_tick(self, events: list[Event]) -> None:
        p, prog, now = self.params, self.prog, self.now
        s = self.ps
        # Store buffers drain, oldest first, after flush_delay ticks.
        for i in (0, 1):
            if s.buffers[i] and now - self.stamps[i][0] >= p.flush_delay:
                loc, value = s.buffers[i][0]
                s = peterson_flush(s, i)
                self.stamps[i].pop(0)
                events.append(Event("flush", f"T{i + 1}'s store {_ploc(loc)} = {value} left its store buffer and reached memory.", actor=f"T{i + 1}"))
        self.cpu.dispatch(now)
        cs_pc = prog.index(P_CS)
        on_core = {c.running: c for c in self.cpu.core_list if c.running}
        for i in (0, 1):
            th = self.threads[i]
            if th.state == "done":
                continue
            if th.tid not in on_core:
                th.state = "ready"
                continue
            pc = s.pcs[i]
            op = prog[pc]
            if op == P_CS:
                th.state = "in_cs"
                self.cs_left[i] -= 1
                if self.cs_left[i] <= 0:
                    s = peterson_exec(prog, s, i, p.memory_model)
                    th.cs_done += 1
                    self.completed += 1
                continue
            if not peterson_enabled(prog, s, i):
                if op == P_AWAIT:
                    th.state = "spinning"
                    self.spin_ticks += 1
                else:
                    th.state = "running"  # the fence waits for the buffer to drain
                continue
            before = s
            s = peterson_exec(prog, s, i, p.memory_model)
            th.state = "running"
            j = 1 - i
            if op in (P_FLAG, P_TURN, P_EXIT):
                loc, value = {P_FLAG: (i, 1), P_TURN: (2, j), P_EXIT: (i, 0)}[op]
                if p.memory_model == "sc":
                    events.append(Event("store", f"T{i + 1} stored {_ploc(loc)} = {value} to memory.", actor=th.tid))
                else:
                    self.stamps[i].append(now)
                    events.append(Event("store", f"T{i + 1}'s store {_ploc(loc)} = {value} waits in its store buffer; memory still has {_ploc(loc)} = {before.memory[loc]}.", actor=th.tid))
            elif op == P_FENCE:
                events.append(Event("fence", f"T{i + 1}'s MFENCE passed: its store buffer is empty, so its stores are in memory.", actor=th.tid))
            elif op == P_AWAIT:
                self.cs_left[i] = p.cs_length + th.extra
                th.extra = 0
                th.state = "in_cs"  # past the wait loop: inside the critical section
                fj, tn = _load(before, i, j), _load(before, i, 2)
                events.append(Event("enter", f"T{i + 1} read flag[{j}] = {fj} and turn = {tn}, so it enters the critical section.", actor=th.tid))
            if s.pcs[i] >= len(prog):
                self.rounds[i] += 1
                if self.rounds[i] < p.iterations:
                    pcs = list(s.pcs)
                    pcs[i] = 0
                    s = PetersonState((pcs[0], pcs[1]), s.memory, s.buffers, s.violated)  # type: ignore[arg-type]
                else:  # its last stores may still sit in its buffer; they drain on their own
                    th.state = "done"
                    self.cpu.finish(th.tid, now)
        if s.pcs[0] == cs_pc and s.pcs[1] == cs_pc and self.rounds[0] < p.iterations and self.rounds[1] < p.iterations:
            self.violations += 1
            events.append(Event("violation", "T1 and T2 are both in the critical section: mutual exclusion is broken.", severity="error"))
        for i in (0, 1):
            th = self.threads[i]
            if th.state in ("running", "in_cs", "spinning"):
                self.cpu.set_activity(th.tid, {"spinning": "spin", "in_cs": "cs"}.get(th.state, "run"))
        self.ps = s
        self.cpu.advance(now, now + 1)

    # -- words -----------------------------------------------------------------

    def _lock_words(self, lock: SyncLock, mode: str) -> str:
        if lock.lock_type == "semaphore":
            return f"a permit of {lock.id} ({lock.value} left)"
        if lock.lock_type == "rwlock":
            return f"{lock.id} for {'reading' if mode == 'r' else 'writing'}"
        return lock.id

    def _intro(self) -> str:
        p = self.params
        cores = f"{p.cores} core{'s' if p.cores > 1 else ''}"
        return {
            "mutex": f"{p.threads} threads on {cores} share one mutex m: one holder at a time, the others queue and sleep.",
            "spinlock": f"{p.threads} threads on {cores} share one spinlock: a waiter keeps its core and retries every tick.",
            "rwlock": f"{p.threads - 1} readers and one writer share the cache under a {'read-write lock' if p.rw_lock == 'rwlock' else 'mutex'}.",
            "semaphore": f"{p.threads} clients share a pool of {p.permits} connection{'s' if p.permits > 1 else ''}, counted by a semaphore.",
            "condvar": f"A producer adds items and {p.threads - 1} consumer{'s' if p.threads > 2 else ''} wait on a condition variable for them.",
            "atomic": f"{p.threads} threads on {cores} add {p.iterations} each to one counter, by {p.counter.replace('_', '-')}.",
            "peterson": f"Two threads run Peterson's algorithm under {_MODEL_WORDS[p.memory_model]}.",
            "deadlock": "Each thread takes two locks: " + "; ".join(
                f"T{t + 1} {LOCK_NAMES[a]} then {LOCK_NAMES[b]}" for t, (a, b) in enumerate(lock_orders(p.threads, p.fix))) + ".",
        }[p.scenario]

    def _narrate(self, events: list[Event]) -> str:
        order = {"deadlock": 0, "cycle": 0, "violation": 0, "underflow": 0, "timeout": 1, "trylock-failed": 1, "cas-failed": 1,
                 "handoff": 2, "blocked": 2, "spin": 2, "wake": 2, "wait": 2, "enter": 2, "store": 3, "flush": 3}
        picked = sorted(events, key=lambda e: order.get(e.kind, 4))[:2]
        if picked:
            return " ".join(e.text for e in picked)
        if self.stuck:
            return "No thread can run again: every one left is blocked."
        spinners = [t for t in self.threads if t.state == "spinning"]
        if spinners:
            lock = self.lock_by_id.get(spinners[0].waiting_for or "")
            holder = self.by_id.get(lock.holders[0]) if lock is not None and lock.holders else None
            if holder is not None and holder.state == "ready":
                names = " and ".join(t.tid for t in spinners)
                return (f"{names} spin{'s' if len(spinners) == 1 else ''} on {lock.id} while its holder {holder.tid} "
                        "waits for a core: those ticks are wasted.")
        busy = [t for t in self.threads if t.state in ("running", "in_cs", "spinning")]
        if not busy:
            return "No thread is on a core this tick."
        return " ".join(f"{t.tid} is {_STATE_WORDS[t.state]}." for t in busy[:3])

    # -- the frame ---------------------------------------------------------------

    def _frame(self, narration: str, events: tuple[Event, ...]) -> Frame:
        p = self.params
        entities: list[Entity] = []
        cores = {c.running: c.index + 1 for c in self.cpu.core_list if c.running}
        for th in self.threads:
            entities.append(Entity(th.tid, "thread", {
                "name": th.tid, "role": th.role, "state": th.state, "holds": tuple(th.holds),
                "waiting_for": th.waiting_for if th.state in ("blocked", "spinning") else None,
                "core": cores.get(th.tid), "op": self._peterson_op(th) if p.scenario == "peterson" else _op_words(th),
                "cs_done": th.cs_done, "retries": th.retries, "slowed": th.extra,
            }))
        if p.scenario == "peterson":
            names = ("flag[0]", "flag[1]", "turn")
            for k in range(3):
                entities.append(Entity(f"mem-{k}", "memory", {"name": names[k], "value": self.ps.memory[k]}))
            for i in (0, 1):
                entities.append(Entity(f"buf-{i + 1}", "store_buffer", {
                    "thread": f"T{i + 1}", "entries": tuple(f"{names[l]}={v}" for l, v in self.ps.buffers[i])}))
        for lk in self.locks:
            mode = "free" if not lk.holders else ("write" if lk.writer else "read") if lk.lock_type == "rwlock" else "held"
            entities.append(Entity(f"lock-{lk.id}", "lock", {
                "name": lk.id, "lock_type": lk.lock_type, "policy": lk.policy or None,
                "holders": tuple(lk.holders), "waiters": tuple(w for w, _ in lk.waiters),
                "waiter_modes": tuple(m for _, m in lk.waiters),
                "mode": mode, "value": lk.value if lk.lock_type == "semaphore" else None,
                "permits": lk.permits if lk.lock_type == "semaphore" else None,
            }))
        cv = self.shared.get("cv")
        if cv is not None:
            entities.append(Entity("cv", "condvar", {"name": cv["name"], "mutex": cv["mutex"], "waiters": tuple(cv["waiters"]), "items": self.shared["items"]}))
        if p.scenario == "atomic":
            entities.append(Entity("mem-counter", "memory", {"name": "counter", "value": self.shared["counter"]}))
        if p.scenario != "peterson":
            edges, cycles = self._graph
            entities.append(Entity("wait-for", "wait_for", {
                "edges": edges, "cycle": cycles[0] if cycles else (), "cycles": len(cycles),
                "deadlock": bool(self.first_cycle),
                "conditions": _coffman(p) if p.scenario == "deadlock" else (),
            }))
        lo = self.now - TIMELINE_TICKS
        for core in self.cpu.core_list:
            segs = tuple((tid, a, b, kind) for tid, a, b, kind in core.segments[-TIMELINE_TICKS:] if b > lo)
            running = core.running
            th = self.by_id.get(running) if running else None
            activity = "idle" if th is None else {"spinning": "spin", "in_cs": "cs"}.get(th.state, "run")
            entities.append(Entity(f"core-{core.index + 1}", "core", {
                "index": core.index + 1, "thread": running, "activity": activity, "segments": segs}))
        metrics: dict[str, Any] = {
            "time": self.now,
            "cpu_spent_spinning": self.spin_ticks,
            "throughput": round(self.completed / self.now, 3) if self.now else 0.0,
            "deadlocked": bool(self.first_cycle),
            "completed": self.completed,
            "in_cs_violations": self.violations,
            "blocked_ticks": self.blocked_ticks,
        }
        sc = p.scenario
        if sc == "rwlock":
            waiting = [self.now - t.wait_since for t in self.threads if t.role == "writer" and t.wait_since is not None]
            metrics["writer_wait"] = max([self.writer_wait, *waiting])
        if sc == "atomic":
            metrics["failed_cas"] = self.failed_cas
            metrics["counter"] = self.shared["counter"]
        if sc in ("semaphore", "deadlock"):
            metrics["timeouts"] = self.timeouts
        if sc == "deadlock":
            metrics["retries"] = self.retries
        if sc == "condvar":
            metrics["items"] = self.shared["items"]
            metrics["underflows"] = self.underflows
        if sc in ("semaphore", "condvar", "deadlock"):
            metrics["stuck"] = self.stuck
        return Frame(self.index, float(self.now), tuple(entities), metrics, events, narration, self._done)

    def _peterson_op(self, th: Thread) -> str:
        i = self.threads.index(th)
        if th.state == "done":
            return "finished"
        op = self.prog[self.ps.pcs[i]] if self.ps.pcs[i] < len(self.prog) else P_EXIT
        j = 1 - i
        return {P_FLAG: f"flag[{i}] = 1", P_TURN: f"turn = {j}", P_FENCE: "mfence",
                P_AWAIT: f"while (flag[{j}] && turn == {j})", P_CS: "critical section", P_EXIT: f"flag[{i}] = 0"}[op]


_MODEL_WORDS = {"sc": "sequential consistency", "tso": "x86-TSO (store buffers)", "tso_fence": "x86-TSO with an MFENCE after the stores"}
_STATE_WORDS = {"running": "running", "in_cs": "in its critical section", "spinning": "spinning"}


def _ploc(loc: int) -> str:
    return ("flag[0]", "flag[1]", "turn")[loc]


def _coffman(p: LocksParams) -> tuple[dict[str, Any], ...]:
    fix = p.fix
    return (
        {"name": "mutual exclusion", "holds": fix != "shared", "broken_by": "shared read locks"},
        {"name": "hold and wait", "holds": fix != "trylock", "broken_by": "try-lock with back-off"},
        {"name": "no preemption", "holds": fix != "timeout", "broken_by": "a timeout"},
        {"name": "circular wait", "holds": fix != "lock_order", "broken_by": "one global lock order"},
    )


def run_to_end(params: LocksParams, seed: int = 1) -> Frame:
    engine = LocksEngine(params, random.Random(seed))
    frame = engine.reset()
    while not engine.done and engine.index < LocksEngine.max_steps:
        frame = engine.step()
    return frame


def throughput_table(p: LocksParams) -> dict[str, Any]:
    """The counter, made four ways, on 1 to 4 cores: increments per tick (higher is better)."""
    rows = []
    for mode in ("mutex", "cas", "fetch_add", "sharded"):
        cells = []
        for cores in (1, 2, 3, 4):
            q = LocksParams(scenario="atomic", counter=mode, cores=cores, threads=max(p.threads, 4), iterations=p.iterations,
                            work_length=p.work_length, duration=400)
            f = run_to_end(q)
            cells.append({"cores": cores, "throughput": f.metrics["throughput"], "ticks": f.metrics["time"],
                          "failed_cas": f.metrics["failed_cas"]})
        rows.append({"counter": mode, "cells": cells})
    return {"kind": "throughput", "threads": max(p.threads, 4), "rows": rows}
