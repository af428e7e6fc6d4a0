"""Race conditions: interleavings, lost updates and happens-before.

Threads (or processes) run tiny programs one instruction per step on a shared
memory. A scheduler picks which thread runs next: a seeded random one, or the
learner by hand. Four scenarios, each with the fixes that apply to it:

* counter: ``tmp = counter; tmp = tmp + 1; counter = tmp`` loses updates when
  two threads interleave; a mutex or ``atomic_fetch_add`` fixes it.
* check_then_act: "if the seat is free, book it" double-books; a mutex around
  check and act fixes it.
* double_checked_locking: the unsynchronised fast path can see the pointer to
  a new object before the constructor's stores (C++11 / JSR-133: without
  release/acquire nothing orders plain stores for other threads); a correctly
  synchronised once-flag (what ``std::call_once`` does) or always locking fixes it.
* file_access: two processes append with ``lseek(fd, 0, SEEK_END)`` then
  ``write``; a stale offset overwrites a line. ``O_APPEND`` fixes it (POSIX
  write(): "the file offset shall be set to the end of the file prior to each
  write and no intervening file modification operation shall occur between
  changing the file offset and the write operation"), and so does ``flock``.

A happens-before race detector runs on every step, as ThreadSanitizer does:
each thread has a vector clock, each shared location remembers its last write
and the last read of each thread (FastTrack-style epochs ``clock@thread``),
lock release→acquire and release/acquire atomics join clocks, and a data race
is two accesses to one location from different threads, at least one a write,
not both atomic, neither happening before the other. Like TSan it reports the
race even in runs whose result happens to be right.

The virtual clock is the step count. All randomness comes from the ``rng``
the engine is given; ties are broken by thread number.

Actions are recorded against the frame the learner was looking at: an action
at step ``s`` is applied after frame ``s`` and before the ``step()`` that
produces frame ``s + 1`` (so a scripted pick at step 0 chooses the first
thread to run).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field, ValidationInfo, field_validator

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.kernel.interleavings import ExplorationTooLarge, count_interleavings
from simulations.engines.kernel.vector_clocks import Access, HappensBeforeDetector, RaceReport

Scenario = Literal["counter", "check_then_act", "double_checked_locking", "file_access"]
Fix = Literal["none", "mutex", "atomic", "once", "o_append"]

#: Which fixes make sense for which scenario (the first is always "none").
FIXES: Mapping[str, tuple[str, ...]] = {
    "counter": ("none", "mutex", "atomic"),
    "check_then_act": ("none", "mutex"),
    "double_checked_locking": ("none", "once", "mutex"),
    "file_access": ("none", "o_append", "mutex"),
}

#: Every appended log line is this many bytes ("P1: hello\n"), so an overwrite
#: replaces exactly one earlier line.
RECORD_BYTES = 10

#: Machine values are small ints, so states compare and hash cheaply in the
#: explorer; the stage shows them in words (see _show and _register_display).
UNSET = -1  # a register not yet assigned, or memory not yet allocated
GARBAGE = -2  # the double-checked-locking object's field before its constructor ran
FIELD_VALUE = 42
POINTER = 1  # instance / p pointing at the object (0 is NULL)


# --------------------------------------------------------------------------
# Params and actions
# --------------------------------------------------------------------------


class RaceParams(Params):
    scenario: Scenario = Field(
        "counter",
        title="Scenario",
        description=(
            "counter: read-modify-write increments (lost updates); check_then_act: "
            "two customers book the same seat; double_checked_locking: lazy "
            "initialisation without a lock on the fast path; file_access: processes "
            "appending to one log file with lseek + write."
        ),
    )
    threads: int = Field(
        2, ge=2, le=4, title="Threads", description="How many threads (processes for file_access) run the program."
    )
    increments: int = Field(
        2,
        ge=1,
        le=5,
        title="Increments per thread",
        description="How many times each thread adds 1 to the counter (counter scenario only).",
    )
    fix: Fix = Field(
        "none",
        title="Fix",
        description=(
            "none: the racy program. counter: mutex or atomic; check_then_act: mutex; "
            "double_checked_locking: once (a release/acquire once-flag, as std::call_once) "
            "or mutex (always lock); file_access: o_append or mutex (flock)."
        ),
    )
    scheduler: Literal["random", "manual"] = Field(
        "random",
        title="Scheduler",
        description=(
            "random: a seeded scheduler picks the next thread each step. manual: you pick "
            "every instruction's thread; a step without a pick waits for you."
        ),
    )
    switch_chance: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="Switch chance",
        description=(
            "Random scheduler: the chance of switching to another thread after each "
            "instruction (0 runs each thread to the end, 1 switches whenever it can)."
        ),
    )

    @field_validator("fix")
    @classmethod
    def _fix_fits_scenario(cls, fix: str, info: ValidationInfo) -> str:
        scenario = info.data.get("scenario")
        if scenario is None:  # the scenario itself was invalid and has its own error
            return fix
        allowed = FIXES[scenario]
        if fix not in allowed:
            raise ValueError(
                f"fix {fix!r} does not apply to the {scenario} scenario; choose one of: {', '.join(allowed)}"
            )
        return fix


class RunThread(Action):
    """Run this thread's next instruction on the next step."""

    type: Literal["run_thread"] = "run_thread"
    thread: int = Field(ge=1, le=4, title="Thread", description="Thread (or process) number, from 1.")


class Preempt(Action):
    """Force a context switch: the next step runs some other ready thread."""

    type: Literal["preempt"] = "preempt"


RaceAction = Annotated[Union[RunThread, Preempt], Field(discriminator="type")]


# --------------------------------------------------------------------------
# Programs: each scenario compiled to instructions, one per step
# --------------------------------------------------------------------------

# Op codes. Strings so that traces and tests read plainly.
LOCK = "lock"
UNLOCK = "unlock"
READ = "read"  # reg <- loc (plain load)
ADD = "add"  # reg <- reg + 1 (register only)
WRITE = "write"  # loc <- reg (plain store)
FETCH_ADD = "fetch_add"  # atomic read-modify-write, seq_cst
CHECK_FREE = "check_free"  # read the seat; jump when it is taken
BOOK = "book"  # seat <- me
LOAD_FLAG = "load_flag"  # read a pointer/flag; jump when it is set
ALLOC = "alloc"  # p = malloc(...): the object's field holds garbage
PUBLISH = "publish"  # instance = p
CONSTRUCT = "construct"  # p->field = 42
SET_DONE = "set_done"  # done.store(true, release)
USE = "use"  # r = instance->field
LSEEK = "lseek"  # off = lseek(fd, 0, SEEK_END)
WRITE_AT = "write_at"  # write(fd, line) at off: a separate step from the lseek
APPEND = "append"  # write(fd, line) with O_APPEND: seek-to-end + write, one step


@dataclass(frozen=True, slots=True)
class Instr:
    op: str
    line: int  # which code line to highlight
    loc: int = -1  # index of the shared location it touches
    order: str = "plain"  # memory order: plain | relaxed | acquire | release | acq_rel
    jump: int = -1  # instruction to go to when the test is decided the "skip" way


@dataclass(frozen=True, slots=True)
class Program:
    scenario: str
    fix: str
    threads: int
    increments: int
    instrs: tuple[Instr, ...]
    code: tuple[tuple[str, ...], ...]  # per thread: its code lines (names differ)
    registers: tuple[str, ...]
    locations: tuple[str, ...]
    initial_memory: tuple[Any, ...]
    lock_name: str | None
    #: (pc, register index) pairs where the register's value is never read again:
    #: the explorer forgets it there so equivalent states merge.
    dead: frozenset[tuple[int, int]]

    @property
    def end(self) -> int:
        return len(self.instrs)

    def loc(self, name: str) -> int:
        return self.locations.index(name)


@lru_cache(maxsize=256)  # asked about ten times a step, for a handful of names
def thread_name(scenario: str, t: int) -> str:
    return f"{'P' if scenario == 'file_access' else 'T'}{t + 1}"


def _counter(fix: str, threads: int, n: int) -> Program:
    head = f"for (i = 0; i < {n}; i++) {{"
    if fix == "atomic":
        lines = (head, "    atomic_fetch_add(&counter, 1);", "}")
        body = (Instr(FETCH_ADD, 1, loc=0, order="acq_rel"),)
        registers: tuple[str, ...] = ()
        dead_in_body: tuple[int, ...] = ()
    elif fix == "mutex":
        lines = (head, "    lock(&m);", "    tmp = counter;", "    tmp = tmp + 1;", "    counter = tmp;", "    unlock(&m);", "}")
        body = (Instr(LOCK, 1), Instr(READ, 2, loc=0), Instr(ADD, 3), Instr(WRITE, 4, loc=0), Instr(UNLOCK, 5))
        registers = ("tmp",)
        dead_in_body = (0, 1, 4)
    else:
        lines = (head, "    tmp = counter;    // load", "    tmp = tmp + 1;    // add, in a register", "    counter = tmp;    // store", "}")
        body = (Instr(READ, 1, loc=0), Instr(ADD, 2), Instr(WRITE, 3, loc=0))
        registers = ("tmp",)
        dead_in_body = (0,)
    instrs = body * n
    dead = {(k * len(body) + d, 0) for k in range(n) for d in dead_in_body} | {(len(instrs), 0)}
    return Program(
        "counter", fix, threads, n, instrs, (lines,) * threads, registers, ("counter",), (0,),
        "m" if fix == "mutex" else None, frozenset(dead) if registers else frozenset(),
    )


def _check_then_act(fix: str, threads: int) -> Program:
    def lines_for(name: str) -> tuple[str, ...]:
        if fix == "mutex":
            return ("lock(&m);", "if (seat_12A == FREE) {", f"    seat_12A = {name};   // book it", "}", "unlock(&m);")
        return ("if (seat_12A == FREE) {   // check", f"    seat_12A = {name};   // act: book it", "}")

    if fix == "mutex":
        instrs = (Instr(LOCK, 0), Instr(CHECK_FREE, 1, loc=0, jump=3), Instr(BOOK, 2, loc=0), Instr(UNLOCK, 4))
    else:
        instrs = (Instr(CHECK_FREE, 0, loc=0, jump=2), Instr(BOOK, 1, loc=0))
    code = tuple(lines_for(thread_name("check_then_act", t)) for t in range(threads))
    return Program(
        "check_then_act", fix, threads, 1, instrs, code, ("booked",), ("seat_12A",), (0,),
        "m" if fix == "mutex" else None, frozenset(),
    )


def _double_checked_locking(fix: str, threads: int) -> Program:
    if fix == "once":
        lines = (
            "if (!done.load(acquire)) {   // fast path",
            "    lock(&m);",
            "    if (!done.load(relaxed)) {",
            "        p = malloc(sizeof(Singleton));",
            "        p->field = 42;   // construct",
            "        instance = p;",
            "        done.store(true, release);  // publish",
            "    }",
            "    unlock(&m);",
            "}",
            "r = instance->field;",
        )
        locations: tuple[str, ...] = ("done", "instance", "field")
        done, inst, fld = 0, 1, 2
        instrs = (
            Instr(LOAD_FLAG, 0, loc=done, order="acquire", jump=8),
            Instr(LOCK, 1),
            Instr(LOAD_FLAG, 2, loc=done, order="relaxed", jump=7),
            Instr(ALLOC, 3, loc=fld),
            Instr(CONSTRUCT, 4, loc=fld),
            Instr(PUBLISH, 5, loc=inst),
            Instr(SET_DONE, 6, loc=done, order="release"),
            Instr(UNLOCK, 8),
            Instr(USE, 10, loc=fld),
        )
        memory: tuple[Any, ...] = (0, 0, UNSET)
    elif fix == "mutex":
        lines = (
            "lock(&m);   // no fast path: always lock",
            "if (instance == NULL) {",
            "    p = malloc(sizeof(Singleton));",
            "    instance = p;    // pointer first...",
            "    p->field = 42;   // ...then construct",
            "}",
            "unlock(&m);",
            "r = instance->field;",
        )
        locations = ("instance", "field")
        inst, fld = 0, 1
        instrs = (
            Instr(LOCK, 0),
            Instr(LOAD_FLAG, 1, loc=inst, jump=5),
            Instr(ALLOC, 2, loc=fld),
            Instr(PUBLISH, 3, loc=inst),
            Instr(CONSTRUCT, 4, loc=fld),
            Instr(UNLOCK, 6),
            Instr(USE, 7, loc=fld),
        )
        memory = (0, UNSET)
    else:
        # `instance = new Singleton(42)` is three machine steps. Plain stores to
        # different locations may become visible to other threads in any order
        # (nothing orders them without release/acquire), so the publish is shown
        # where the compiler and CPU are allowed to put it: before the constructor.
        lines = (
            "if (instance == NULL) {   // fast path, no lock",
            "    lock(&m);",
            "    if (instance == NULL) {",
            "        p = malloc(sizeof(Singleton));",
            "        instance = p;    // may be seen first",
            "        p->field = 42;   // constructor",
            "    }",
            "    unlock(&m);",
            "}",
            "r = instance->field;",
        )
        locations = ("instance", "field")
        inst, fld = 0, 1
        instrs = (
            Instr(LOAD_FLAG, 0, loc=inst, jump=7),
            Instr(LOCK, 1),
            Instr(LOAD_FLAG, 2, loc=inst, jump=6),
            Instr(ALLOC, 3, loc=fld),
            Instr(PUBLISH, 4, loc=inst),
            Instr(CONSTRUCT, 5, loc=fld),
            Instr(UNLOCK, 7),
            Instr(USE, 9, loc=fld),
        )
        memory = (0, UNSET)
    # p is only read by the thread that allocated; once it has published and
    # constructed it never matters again, but it is one value, so no need to forget it.
    return Program(
        "double_checked_locking", fix, threads, 1, instrs, (lines,) * threads, ("p", "r"), locations, memory,
        "m", frozenset(),
    )


def _file_access(fix: str, threads: int) -> Program:
    def lines_for(name: str) -> tuple[str, ...]:
        write = f'write(fd, "{name}: hello\\n", 10);'
        if fix == "o_append":
            return (
                'fd = open("app.log", O_WRONLY | O_APPEND);',
                "off = lseek(fd, 0, SEEK_END);  // ignored",
                write + "  // atomic append",
            )
        if fix == "mutex":
            return ('fd = open("app.log", O_WRONLY);', "flock(fd, LOCK_EX);", "off = lseek(fd, 0, SEEK_END);", write, "flock(fd, LOCK_UN);")
        return ('fd = open("app.log", O_WRONLY);', "off = lseek(fd, 0, SEEK_END);", write + "  // at off")

    if fix == "o_append":
        instrs = (Instr(LSEEK, 1), Instr(APPEND, 2))
    elif fix == "mutex":
        instrs = (Instr(LOCK, 1), Instr(LSEEK, 2), Instr(WRITE_AT, 3), Instr(UNLOCK, 4))
    else:
        instrs = (Instr(LSEEK, 1), Instr(WRITE_AT, 2))
    code = tuple(lines_for(thread_name("file_access", t)) for t in range(threads))
    # `off` is dead before the lseek and after the write.
    dead = frozenset({(0, 0), (len(instrs), 0)} | ({(len(instrs) - 1, 0)} if fix == "mutex" else set()))
    return Program(
        "file_access", fix, threads, 1, instrs, code, ("off",), (), (),
        "flock(app.log)" if fix == "mutex" else None, dead,
    )


def build_program(params: RaceParams) -> Program:
    if params.scenario == "counter":
        return _counter(params.fix, params.threads, params.increments)
    if params.scenario == "check_then_act":
        return _check_then_act(params.fix, params.threads)
    if params.scenario == "double_checked_locking":
        return _double_checked_locking(params.fix, params.threads)
    return _file_access(params.fix, params.threads)


def code_text(line: str) -> str:
    """A code line without its comment, indentation and trailing brace, for the event log."""
    return line.split("//", 1)[0].strip().removesuffix("{").strip()


# --------------------------------------------------------------------------
# The machine: one immutable state, one instruction at a time
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MachineState:
    pcs: tuple[int, ...]
    regs: tuple[tuple[Any, ...], ...]
    memory: tuple[Any, ...]
    lock_holder: int  # 0 when free, else the thread number (from 1)
    waiting: tuple[bool, ...]  # blocked in lock(), woken by the next unlock
    file: tuple[int, ...] = ()  # file_access: writer (from 1) of each 10-byte line
    lost: tuple[int, ...] = ()  # file_access: writers whose lines were overwritten, in order


@dataclass(frozen=True, slots=True)
class Effect:
    """What one instruction did, for the race detector and the narration."""

    thread: int
    pc: int
    instr: Instr
    accesses: tuple[tuple[str, bool, bool], ...] = ()  # (location, is_write, atomic)
    acquire: str | None = None  # sync object whose clock the thread joins
    release: str | None = None  # sync object the thread's clock is released into
    blocked: bool = False
    woke: tuple[int, ...] = ()
    jumped: bool = False
    before: Any = None  # the value read, or the value a write replaced
    after: Any = None  # the value written
    offset: int = -1  # file_access: where the line went
    overwrote: int = 0  # file_access: whose line was overwritten (from 1), or 0


FILE_LOCATION = "app.log"


def initial_state(prog: Program) -> MachineState:
    n = prog.threads
    return MachineState(
        pcs=(0,) * n,
        regs=((UNSET,) * len(prog.registers),) * n if prog.scenario != "check_then_act" else ((0,),) * n,
        memory=prog.initial_memory,
        lock_holder=0,
        waiting=(False,) * n,
    )


def _put(values: tuple[Any, ...], i: int, v: Any) -> tuple[Any, ...]:
    return values[:i] + (v,) + values[i + 1 :]


def execute(prog: Program, s: MachineState, t: int) -> tuple[MachineState, Effect]:
    """Run thread t's next instruction. The caller checks that t may run."""
    pc = s.pcs[t]
    ins = prog.instrs[pc]
    op = ins.op
    nxt = pc + 1
    mem, regs = s.memory, s.regs[t]
    lock_holder, waiting = s.lock_holder, s.waiting
    file, lost = s.file, s.lost
    locs = prog.locations
    eff: dict[str, Any] = {}

    if op == LOCK:
        if lock_holder and lock_holder != t + 1:
            # Blocks: the pc stays on lock() and the thread sleeps until an unlock.
            state = replace(s, waiting=_put(waiting, t, True))
            return state, Effect(t, pc, ins, blocked=True, before=lock_holder)
        lock_holder = t + 1
        eff["acquire"] = f"lock:{prog.lock_name}"
    elif op == UNLOCK:
        lock_holder = 0
        # Every sleeper wakes and retries lock() when it next runs (as with a futex).
        eff["woke"] = tuple(i for i, w in enumerate(waiting) if w)
        waiting = (False,) * len(waiting)
        eff["release"] = f"lock:{prog.lock_name}"
    elif op == READ:
        v = mem[ins.loc]
        regs = (v,)
        eff.update(accesses=((locs[ins.loc], False, False),), before=v)
    elif op == ADD:
        regs = (regs[0] + 1,)
        eff["after"] = regs[0]
    elif op == WRITE:
        eff.update(accesses=((locs[ins.loc], True, False),), before=mem[ins.loc], after=regs[0])
        mem = _put(mem, ins.loc, regs[0])
    elif op == FETCH_ADD:
        v = mem[ins.loc]
        mem = _put(mem, ins.loc, v + 1)
        key = f"atomic:{locs[ins.loc]}"
        # A read-modify-write: TSan checks it as an atomic write, acq_rel on its sync clock.
        eff.update(accesses=((locs[ins.loc], True, True),), acquire=key, release=key, before=v, after=v + 1)
    elif op == CHECK_FREE:
        v = mem[ins.loc]
        eff.update(accesses=((locs[ins.loc], False, False),), before=v)
        if v:
            nxt, eff["jumped"] = ins.jump, True
    elif op == BOOK:
        eff.update(accesses=((locs[ins.loc], True, False),), before=mem[ins.loc], after=t + 1)
        mem = _put(mem, ins.loc, t + 1)
        regs = (1,)
    elif op == LOAD_FLAG:
        v = mem[ins.loc]
        atomic = ins.order != "plain"
        eff.update(accesses=((locs[ins.loc], False, atomic),), before=v)
        if ins.order == "acquire":
            eff["acquire"] = f"atomic:{locs[ins.loc]}"
        if v:
            nxt, eff["jumped"] = ins.jump, True
    elif op == ALLOC:
        # TSan treats fresh memory as written by the allocating thread, so a read
        # of it by a thread that is not ordered after the allocation is a race.
        mem = _put(mem, ins.loc, GARBAGE)
        regs = (POINTER, regs[1])
        eff.update(accesses=((locs[ins.loc], True, False),), after=GARBAGE)
    elif op == PUBLISH:
        mem = _put(mem, ins.loc, POINTER)
        eff.update(accesses=((locs[ins.loc], True, False),), before=0, after=POINTER)
    elif op == CONSTRUCT:
        eff.update(accesses=((locs[ins.loc], True, False),), before=mem[ins.loc], after=FIELD_VALUE)
        mem = _put(mem, ins.loc, FIELD_VALUE)
    elif op == SET_DONE:
        mem = _put(mem, ins.loc, 1)
        eff.update(accesses=((locs[ins.loc], True, True),), release=f"atomic:{locs[ins.loc]}", before=0, after=1)
    elif op == USE:
        v = mem[ins.loc]
        regs = (regs[0], v)
        eff.update(accesses=(("instance", False, False), (locs[ins.loc], False, False)), before=v)
    elif op == LSEEK:
        off = len(file) * RECORD_BYTES
        regs = (off,)
        # Each system call is atomic with respect to the others on a regular file
        # (POSIX XSH 2.9.7), so for the race detector these are atomic accesses.
        eff.update(accesses=((FILE_LOCATION, False, True),), before=off)
    elif op == WRITE_AT:
        off = regs[0]
        slot = off // RECORD_BYTES
        if slot < len(file):
            eff["overwrote"] = file[slot]
            lost = lost + (file[slot],)
            file = _put(file, slot, t + 1)
        else:
            file = file + (t + 1,)
        eff.update(accesses=((FILE_LOCATION, True, True),), offset=off)
    elif op == APPEND:
        off = len(file) * RECORD_BYTES
        file = file + (t + 1,)
        eff.update(accesses=((FILE_LOCATION, True, True),), offset=off)
    else:  # pragma: no cover - every op is listed above
        raise AssertionError(op)

    state = MachineState(
        pcs=_put(s.pcs, t, nxt),
        regs=_put(s.regs, t, regs),
        memory=mem,
        lock_holder=lock_holder,
        waiting=waiting,
        file=file,
        lost=lost,
    )
    return state, Effect(t, pc, ins, **eff)


def finished(prog: Program, s: MachineState, t: int) -> bool:
    return s.pcs[t] >= prog.end


def all_finished(prog: Program, s: MachineState) -> bool:
    return not s.pcs or min(s.pcs) >= prog.end  # min: asked a few times a step, in C


def would_block(prog: Program, s: MachineState, t: int) -> bool:
    return prog.instrs[s.pcs[t]].op == LOCK and s.lock_holder not in (0, t + 1)


# --------------------------------------------------------------------------
# Outcomes: what a finished run ended with, and whether that is correct
# --------------------------------------------------------------------------


def outcome(prog: Program, s: MachineState) -> int:
    """One small integer per final outcome: the counter's value, the number of
    confirmed bookings, uses that saw garbage, or lines lost."""
    if prog.scenario == "counter":
        return s.memory[0]
    if prog.scenario == "check_then_act":
        return sum(1 for r in s.regs if r[0])
    if prog.scenario == "double_checked_locking":
        return sum(1 for r in s.regs if r[1] == GARBAGE)
    return len(s.lost)


def correct_outcome(prog: Program) -> int:
    if prog.scenario == "counter":
        return prog.threads * prog.increments
    if prog.scenario == "check_then_act":
        return 1
    return 0


def outcome_label(prog: Program, key: int) -> str:
    n = prog.threads
    if prog.scenario == "counter":
        return f"counter = {key}"
    if prog.scenario == "check_then_act":
        return "1 booking" if key == 1 else f"{key} customers told they booked"
    if prog.scenario == "double_checked_locking":
        if key == 0:
            return "every use saw field = 42"
        return f"{key} use{'s' if key > 1 else ''} saw garbage"
    return f"{n - key} of {n} lines kept" + ("" if key == 0 else f", {key} lost")


# --------------------------------------------------------------------------
# The happens-before race detector (vector clocks, as ThreadSanitizer): in the kernel,
# simulations/engines/kernel/vector_clocks.py (Access, RaceReport, HappensBeforeDetector)
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# The explorer: every interleaving, counted exactly
# --------------------------------------------------------------------------


def explorer_runnable(prog: Program, s: MachineState) -> list[int]:
    """Threads whose next instruction can complete: not finished, and not at
    a lock() some other thread holds (a blocked thread cannot run)."""
    return [t for t in range(prog.threads) if s.pcs[t] < prog.end and not would_block(prog, s, t)]


def _canonical(prog: Program, s: MachineState) -> tuple[Any, ...]:
    """A key equal for states with the same future up to renaming threads:
    every thread runs the same instructions, so only the multiset of thread-local
    states matters, with dead registers forgotten and thread ids dropped."""
    dead = prog.dead
    holder = s.lock_holder - 1
    locals_ = []
    for t in range(prog.threads):
        pc = s.pcs[t]
        regs = s.regs[t]
        if dead:
            regs = tuple(UNSET if (pc, i) in dead else v for i, v in enumerate(regs))
        locals_.append((pc, regs, t == holder))
    locals_.sort()
    if prog.scenario == "check_then_act":
        shared: tuple[Any, ...] = (bool(s.memory[0]),)
    elif prog.scenario == "file_access":
        shared = (len(s.file), len(s.lost))
    else:
        shared = s.memory
    return (tuple(locals_), shared)


#: The unsynchronised counter is the one program whose state space grows fast
#: (every thread's register can hold a different stale value): the explorer
#: counts at most this many increments per thread, by thread count, so that an
#: analysis stays under about 0.3 s (measured: 2x5 1.6k states, 3x3 5.7k, 4x2 5.9k;
#: 3x4 would be 34k states, about a second).
EXPLORE_MAX_INCREMENTS: Mapping[int, int] = {2: 5, 3: 3, 4: 2}

#: A safety net behind the table above: give up past this many distinct states.
EXPLORE_STATE_LIMIT = 20_000


def explore(params: RaceParams) -> dict[str, Any]:
    reduced = None
    cap = EXPLORE_MAX_INCREMENTS[params.threads]
    if params.scenario == "counter" and params.fix == "none" and params.increments > cap:
        reduced = {
            "increments": params.increments,
            "explored_increments": cap,
            "reason": (
                f"{params.threads} threads x {params.increments} unsynchronised increments have too many "
                f"distinct states to count quickly, so the explorer counts {cap} increment"
                f"{'s' if cap > 1 else ''} per thread."
            ),
        }
        params = params.model_copy(update={"increments": cap})
    prog = build_program(params)

    def moves(s: MachineState) -> list[tuple[int, MachineState, int]]:
        # Threads in identical local states lead to mirror-image futures: list one of
        # them (the lowest numbered) and how many there are.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for t in explorer_runnable(prog, s):
            groups.setdefault((s.pcs[t], s.regs[t]), []).append(t)
        return [(members[0] + 1, execute(prog, s, members[0])[0], len(members)) for members in groups.values()]

    start = initial_state(prog)
    try:
        found = count_interleavings(
            start, moves, lambda s: outcome(prog, s), key=lambda s: _canonical(prog, s), limit=EXPLORE_STATE_LIMIT
        )
    except ExplorationTooLarge:
        return {
            "scenario": prog.scenario,
            "fix": prog.fix,
            "threads": prog.threads,
            "increments": prog.increments,
            "error": (
                f"Too many distinct states to explore (more than {EXPLORE_STATE_LIMIT:,}): "
                "use fewer threads or increments."
            ),
        }
    totals = found.totals
    example = found.example  # the first schedule, in thread order, that ends in an outcome
    states = found.states

    total = sum(totals.values())
    good = correct_outcome(prog)
    outcomes = []
    for key in sorted(totals):
        c = totals[key]
        outcomes.append(
            {
                "key": key,
                "label": outcome_label(prog, key),
                "count": c,
                "percent": round(100.0 * c / total, 2),
                "correct": key == good,
                "example": example(key),
            }
        )
    bad = total - totals.get(good, 0)
    return {
        "reduced": reduced,
        "scenario": prog.scenario,
        "fix": prog.fix,
        "threads": prog.threads,
        "increments": prog.increments,
        "total": total,
        "bad": bad,
        "states": states,
        "correct_label": outcome_label(prog, good),
        "outcomes": outcomes,
        "summary": _explore_summary(prog, total, bad),
    }


def _explore_summary(prog: Program, total: int, bad: int) -> str:
    what = {
        "counter": "lose an update",
        "check_then_act": "double-book the seat",
        "double_checked_locking": "let a thread use an uninitialised object",
        "file_access": "lose a line",
    }[prog.scenario]
    if bad == 0:
        return f"None of the {total:,} interleavings {what}: the fix rules every bad one out."
    return f"{bad:,} of {total:,} interleavings {what}."


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------

_BLOCKED_BECAUSE = {
    "counter": "read counter until {h} has written it back and unlocked",
    "check_then_act": "check the seat until {h} has checked, booked and unlocked",
    "double_checked_locking": "look at instance until {h} has finished and unlocked",
    "file_access": "find the end of the file until {h} has written its line and released the flock",
}


def _show(loc: str, value: Any) -> str:
    """How a shared value reads on the stage."""
    if loc == "seat_12A":
        return "FREE" if not value else f"T{value}"
    if loc == "instance":
        return "&obj" if value else "NULL"
    if loc == "done":
        return "true" if value else "false"
    if loc == "field":
        return "\u2014" if value == UNSET else "?" if value == GARBAGE else str(value)
    return str(value)


def _register_display(scenario: str, reg: str, value: int) -> Any:
    if value == UNSET:
        return None
    if scenario == "check_then_act":
        return "yes" if value else "no"
    if reg == "p":
        return "&obj"
    if value == GARBAGE:
        return "?"
    return value


def _location_label(loc: str) -> str:
    return "instance->field" if loc == "field" else loc


def _clock(c: tuple[int, ...] | list[int]) -> str:
    return "[" + ", ".join(str(x) for x in c) + "]"


# -- what a frame holds: each entity kind's state, and the metrics -------------


class ThreadState(TypedDict):
    name: str  # "T1" (threads) or "P1" (processes, file scenario)
    code: tuple[str, ...]  # the thread's program, one line of C each
    line: int | None  # the line it runs next (None: finished)
    executed_line: int | None  # the line it ran this step, if it ran
    pc: int
    status: Literal["ready", "running", "blocked", "done"]
    registers: dict[str, Any]  # register -> value as shown ("i" counts increments done)
    clock: tuple[int, ...]  # its vector clock, as the race detector keeps it
    holds_lock: bool


class MemoryState(TypedDict):
    name: str
    value: int
    display: str  # the value as C would print it ("NULL", "0x1", "garbage")
    last_writer: str | None
    access: Literal["read", "write"] | None  # what this step did to it
    by: str | None  # the thread that did it


class LockState(TypedDict):
    name: str
    holder: str | None
    waiters: tuple[str, ...]


class FileState(TypedDict):
    name: str
    size: int  # bytes
    lines: tuple[dict[str, Any], ...]  # {offset, text, writer, overwrote, written}
    lost: tuple[str, ...]  # lines overwritten by a stale offset


class RaceState(TypedDict):
    location: str
    earlier: dict[str, Any]  # {thread, kind, line, code, clock} of the first access
    later: dict[str, Any]  # the same for the access that races with it


ENTITY_KINDS = {"thread": ThreadState, "memory": MemoryState, "lock": LockState, "file": FileState, "race": RaceState}

METRICS = {
    "step": "Steps run",
    "counter": "The shared counter's value in memory",
    "expected": "What the counter should end at",
    "increments_done": "Increments whose store has happened",
    "lost_updates": "Increments done minus the counter: increments overwritten by a store of an older value",
    "seat": "Who holds seat 12A",
    "bookings_confirmed": "Customers told the seat is theirs",
    "expected_bookings": "Bookings a correct program confirms",
    "double_bookings": "Confirmations beyond the one seat",
    "uses": "Threads that have read instance->field",
    "uninitialised_uses": "Reads of the field before the constructor's store",
    "objects_created": "Objects constructed",
    "lines_in_file": "Lines in the log file",
    "expected_lines": "Lines a correct program leaves",
    "lost_lines": "Lines overwritten at a stale offset",
    "races_flagged": "Data races the detector reported",
    "threads_done": "Threads that finished their program",
    "awaiting_input": "Whether the run waits for you to pick a thread",
}


class RaceConditionsEngine(Engine):
    slug = "race-conditions"
    topic_slug = "race-conditions"
    title = "Race conditions: interleavings, lost updates and happens-before"
    waiting_hint = "Press one of the Run buttons below to run that thread's next instruction."
    description = (
        "Threads step through tiny programs on shared memory, one instruction at a time. Let a seeded "
        "scheduler interleave them or pick each step yourself; switch on a fix and see why it works. "
        "A vector-clock race detector flags unsynchronised accesses as they happen, and the explorer "
        "counts the outcomes of every possible interleaving."
    )
    Params = RaceParams
    Action = RaceAction
    analyses = {"explore": "Explore every interleaving"}
    entity_kinds = ENTITY_KINDS
    metrics = METRICS
    actions_vary_per_frame = True  # a thread's Run button is unavailable while it blocks or after it ends
    lead = (
        "Two threads add 1 to the same counter. Press Play and watch the shared counter: "
        "does it end at the total?"
    )
    preset_answers = {"manual-interleave": ("Show a losing schedule", "manual-interleave-answer")}
    internals_label = "Show the race detector's vector clocks (each thread's count of the steps it has seen of every thread)"
    presets = (
        Preset(
            "counter-lost-update",
            "Lost update",
            "Two threads increment a shared counter twice each; the scheduler interleaves their "
            "load and store so one increment overwrites another.",
            {"scenario": "counter", "threads": 2, "increments": 2, "fix": "none"},
            seed=1,
            feature="Detection through testing",
            use_case="Counter increment race",
        ),
        Preset(
            "counter-mutex",
            "Counter with a mutex",
            "The same program with lock/unlock around the increment: the second thread blocks "
            "until the first has written back, so nothing is lost.",
            {"scenario": "counter", "threads": 2, "increments": 2, "fix": "mutex"},
            seed=1,
            feature="Prevention with locks",
        ),
        Preset(
            "counter-atomic",
            "Counter with atomic_fetch_add",
            "Each increment is one indivisible read-modify-write: no interleaving can split it.",
            {"scenario": "counter", "threads": 3, "increments": 2, "fix": "atomic"},
            seed=1,
        ),
        Preset(
            "check-then-act",
            "Check-then-act: double booking",
            "Two customers check that seat 12A is free, then both book it.",
            {"scenario": "check_then_act", "threads": 2, "fix": "none"},
            seed=2,
            use_case="Check-then-act patterns",
        ),
        Preset(
            "check-then-act-mutex",
            "Check-then-act under a mutex",
            "Check and book inside one critical section: the second customer sees the seat taken.",
            {"scenario": "check_then_act", "threads": 2, "fix": "mutex"},
            seed=2,
        ),
        Preset(
            "double-checked-locking",
            "Double-checked locking, broken",
            "A thread on the unlocked fast path sees the pointer before the constructor ran and "
            "reads garbage.",
            {"scenario": "double_checked_locking", "threads": 3, "fix": "none"},
            seed=5,
            feature="Debugging with sanitizers",
            use_case="Double-checked locking",
        ),
        Preset(
            "double-checked-locking-fixed",
            "Double-checked locking with a once-flag",
            "call_once-style release/acquire: seeing the flag set guarantees seeing the object built.",
            {"scenario": "double_checked_locking", "threads": 3, "fix": "once"},
            seed=13,
        ),
        Preset(
            "file-append-race",
            "Two processes append to one log",
            "lseek to the end, then write: both find the same end and one line overwrites the other.",
            {"scenario": "file_access", "threads": 2, "fix": "none"},
            seed=2,
            use_case="File access conflicts",
        ),
        Preset(
            "file-append-o-append",
            "Appending with O_APPEND",
            "Both processes find the same end with lseek, as in the racy run, but the kernel moves to "
            "the end and writes in one atomic step: no line is lost.",
            {"scenario": "file_access", "threads": 2, "fix": "o_append"},
            seed=2,
        ),
        Preset(
            "file-append-flock",
            "Appending under flock",
            "An exclusive file lock around lseek + write serialises the appends.",
            {"scenario": "file_access", "threads": 2, "fix": "mutex"},
            seed=1,
        ),
        Preset(
            "manual-interleave",
            "Interleave by hand",
            "You are the scheduler: each Run button runs one instruction of that thread. Two threads "
            "add 1 to a counter; find an order that ends with 1 instead of 2.",
            {"scenario": "counter", "threads": 2, "increments": 1, "fix": "none", "scheduler": "manual"},
            seed=1,
        ),
        Preset(
            "manual-interleave-answer",
            "A losing schedule, by hand",
            "One answer to Interleave by hand: T1 loads, T2 loads, T1 adds and stores, T2 adds and "
            "stores: the counter ends at 1, not 2.",
            {"scenario": "counter", "threads": 2, "increments": 1, "fix": "none", "scheduler": "manual"},
            seed=1,
            actions=(
                (0, {"type": "run_thread", "thread": 1}),
                (1, {"type": "run_thread", "thread": 2}),
                (2, {"type": "run_thread", "thread": 1}),
                (3, {"type": "run_thread", "thread": 1}),
                (4, {"type": "run_thread", "thread": 2}),
                (5, {"type": "run_thread", "thread": 2}),
            ),
        ),
        Preset(
            "race-detector",
            "Race detector on a lucky run",
            "The threads happen to run one after the other and the counter is right, yet the "
            "detector flags the race: nothing orders T2's load after T1's store.",
            {"scenario": "counter", "threads": 2, "increments": 1, "fix": "none", "switch_chance": 0.0},
            seed=1,
            feature="Race detection tools",
        ),
    )

    def __init__(self, params: RaceParams, rng: random.Random) -> None:
        super().__init__(params, rng)
        self.program = build_program(params)
        self._rng_start = rng.getstate()  # reset() replays the same random choices

    # -- the contract ----------------------------------------------------

    @classmethod
    def analyse(cls, name: str, params: Params) -> Mapping[str, Any]:
        if name != "explore":
            raise KeyError(name)
        return explore(params)  # type: ignore[arg-type]

    @classmethod
    def analysis_inputs(cls, name: str, params: Params) -> Params:
        """The explorer walks every interleaving, so how this run's scheduler picks threads
        (random or by hand, and how often it switches) is not among its inputs."""
        defaults = RaceParams()
        return params.model_copy(update={"scheduler": defaults.scheduler, "switch_chance": defaults.switch_chance})

    @classmethod
    def action_buttons(cls, params: Params) -> list[tuple[str, dict[str, Any]]]:
        """One "Run T1"... ("Run P1"... for processes) per thread of this run, and "Preempt"
        where it means something: only the random scheduler switches threads by itself
        (manual mode refuses it), and at switch chance 1 it already switches at every step."""
        p: RaceParams = params  # type: ignore[assignment]
        buttons: list[tuple[str, dict[str, Any]]] = [
            (f"Run {thread_name(p.scenario, t)}", {"type": "run_thread", "thread": t + 1}) for t in range(p.threads)
        ]
        if p.scheduler == "random" and p.switch_chance < 1:
            buttons.append(("Preempt", {"type": "preempt"}))
        return buttons

    @classmethod
    def action_advances(cls, action: Any) -> bool:
        """"Run T1" and "Preempt" take effect at once: the step they choose is taken."""
        return True

    @classmethod
    def action_unavailable(cls, frame: Frame, action: Mapping[str, Any]) -> str | None:
        """What apply() would refuse after this frame, read from the thread entities (always
        the first ones, in thread order): a finished or blocked thread cannot be picked, and
        preempting needs another thread that is ready."""
        kind = action.get("type")
        if kind == "run_thread":
            t = int(action["thread"])
            entities = frame.entities
            if t < 1 or t > len(entities) or entities[t - 1].kind != "thread":
                return "no such thread"
            status = entities[t - 1].state["status"]
            return status if status in ("done", "blocked") else None
        if kind == "preempt":
            if frame.done:
                return "done"
            for e in frame.entities:
                if e.kind != "thread":
                    break
                if e.state["status"] == "ready":
                    return None
            return "no other thread ready"
        return None

    @property
    def done(self) -> bool:
        return all_finished(self.program, self.state)

    @property
    def awaiting_input(self) -> bool:
        """Manual scheduler with no thread picked: step() would only wait."""
        return self.params.scheduler == "manual" and self._pick is None and not self.done

    def reset(self) -> Frame:
        self.rng.setstate(self._rng_start)
        prog = self.program
        self.state = initial_state(prog)
        self.detector = HappensBeforeDetector(prog.threads)
        self.index = 0
        self.current: int | None = None  # the thread that ran last
        self._pick: int | None = None
        self._preempt = False
        self.races = 0
        self.writes = 0  # counter: increments completed
        self.last_writer: dict[str, int] = {}
        self.overwritten: dict[int, list[str]] = {}  # file_access: slot -> lines lost there
        #: thread -> (what its entity shows, the entity): a step changes one or two threads,
        #: and the others' entities are handed on unchanged (entities are never mutated).
        self._threads_shown: dict[int, tuple[tuple, Entity]] = {}
        self.frame = self._frame(self._intro(), (), ran=None, effect=None, races=())
        return self.frame

    def apply(self, action: Any) -> Event | None:
        name = self._name
        if self.done:
            raise ValueError("Every thread has finished; reset to run again.")
        if isinstance(action, RunThread):
            t = action.thread - 1
            if t >= self.program.threads:
                raise ValueError(f"There is no {name(t)}: this run has {self.program.threads} threads.")
            if finished(self.program, self.state, t):
                raise ValueError(f"{name(t)} has finished its program; pick another thread.")
            if self.state.waiting[t]:
                holder = self.state.lock_holder
                raise ValueError(
                    f"{name(t)} is blocked on {self.program.lock_name}, which {name(holder - 1)} holds; "
                    f"it can run again once {name(holder - 1)} unlocks it."
                )
            self._pick = t
            self._preempt = False
            return Event("pick", f"{name(t)} will run next.", actor=name(t))
        if isinstance(action, Preempt):
            if self.params.scheduler == "manual":
                raise ValueError("In manual mode you already choose every step: pick a thread instead.")
            others = [t for t in self._schedulable() if t != self.current]
            if not others:
                raise ValueError("No other thread is ready, so there is nothing to switch to.")
            self._preempt = True
            self._pick = None
            who = name(self.current) if self.current is not None else "the running thread"
            return Event("preempt", f"Preempted {who}: the next step runs a different thread.", severity="warn")
        raise ValueError(f"Unknown action {action!r}")

    def step(self) -> Frame:
        prog = self.program
        if self.done:
            self.index += 1
            self.frame = self._frame(
                "Every thread has finished. Try another schedule, or switch a fix on or off.",
                (), ran=None, effect=None, races=(),
            )
            return self.frame
        t = self._choose()
        if t is None:
            self.index += 1
            ready = ", ".join(self._name(u) for u in self._schedulable())
            self.frame = self._frame(
                f"Your move: pick the thread that runs next ({ready} can run).", (), ran=None, effect=None, races=()
            )
            return self.frame
        pre = self.state
        post, eff = execute(prog, pre, t)
        self.state = post
        self.current = t
        self.index += 1
        races = self._detect(eff)
        events, narration = self._describe(pre, post, eff, races)
        self._record(eff)
        self.frame = self._frame(narration, tuple(events), ran=t, effect=eff, races=races)
        return self.frame

    # -- scheduling ------------------------------------------------------

    def _schedulable(self) -> list[int]:
        """Threads the scheduler may run: not finished and not asleep in lock().
        A thread about to lock a held mutex may run: it blocks, and that is shown."""
        s = self.state
        return [t for t in range(self.program.threads) if s.pcs[t] < self.program.end and not s.waiting[t]]

    def _choose(self) -> int | None:
        if self._pick is not None:
            t, self._pick = self._pick, None
            return t
        if self.params.scheduler == "manual":
            return None
        candidates = self._schedulable()
        preempt, self._preempt = self._preempt, False
        cur = self.current
        if cur in candidates and not preempt and self.rng.random() >= self.params.switch_chance:
            return cur
        others = [c for c in candidates if c != cur] or candidates
        return others[self.rng.randrange(len(others))]

    def _record(self, eff: Effect) -> None:
        """Bookkeeping the machine state does not need but the stage shows."""
        if eff.blocked:
            return
        for loc, is_write, _ in eff.accesses:
            if is_write:
                self.last_writer[loc] = eff.thread
        if eff.instr.op in (WRITE, FETCH_ADD):
            self.writes += 1
        if eff.overwrote:
            slot = eff.offset // RECORD_BYTES
            self.overwritten.setdefault(slot, []).append(f"{self._name(eff.overwrote - 1)}: hello")

    # -- race detection --------------------------------------------------

    def _detect(self, eff: Effect) -> tuple[RaceReport, ...]:
        """Acquire, then the accesses, then release, as TSan orders them."""
        d, t = self.detector, eff.thread
        d.tick(t)
        if eff.acquire:
            d.acquire(t, eff.acquire)
        line = eff.instr.line
        code = code_text(self.program.code[t][line])
        races = []
        for loc, is_write, atomic in eff.accesses:
            found = d.access(t, loc, is_write, atomic, line, code, self.index)
            if found is not None:
                races.append(found)
        if eff.release:
            d.release(t, eff.release)
        self.races += len(races)
        return tuple(races)

    # -- words -----------------------------------------------------------

    def _name(self, t: int | None) -> str:
        return "nobody" if t is None else thread_name(self.program.scenario, t)

    def _intro(self) -> str:
        p, prog = self.params, self.program
        n = p.threads
        pick = " You pick which thread runs each step." if p.scheduler == "manual" else ""
        if prog.scenario == "counter":
            total = n * p.increments
            how = {
                "none": "Each increment is three steps (load, add, store) and a switch can come between any two.",
                "mutex": "Each increment is wrapped in lock(&m) / unlock(&m), so only one thread at a time can be inside it.",
                "atomic": "Each increment is one atomic_fetch_add: load, add and store in one indivisible step.",
            }[p.fix]
            times = {1: "once", 2: "twice"}.get(p.increments, f"{p.increments} times")
            return f"{n} threads each add 1 to a shared counter {times}, so it should end at {total}. {how}{pick}"
        if prog.scenario == "check_then_act":
            how = (
                "Checking and booking are two steps, and another customer can check in between."
                if p.fix == "none"
                else "Check and book run under one mutex, so no one can check while another is between the two."
            )
            return f"{n} customers each book seat 12A if it is free; exactly one should get it. {how}{pick}"
        if prog.scenario == "double_checked_locking":
            how = {
                "none": "The first check has no lock, and nothing orders the constructor's store before the pointer's.",
                "once": "A once-flag stored with release and checked with acquire, as std::call_once does.",
                "mutex": "Every thread takes the lock before looking at instance: safe, but every call pays for the lock.",
            }[p.fix]
            return f"{n} threads lazily create one shared object and read its field, which should be 42. {how}{pick}"
        how = {
            "none": "Each process finds the end with lseek and then writes there: two separate system calls.",
            "o_append": "The file is opened with O_APPEND, so each write() moves to the end and writes in one atomic step.",
            "mutex": "Each process holds flock(LOCK_EX) from its lseek to the end of its write.",
        }[p.fix]
        return f"{n} processes each append one line to app.log; all {n} lines should survive. {how}{pick}"

    def _describe(
        self, pre: MachineState, post: MachineState, eff: Effect, races: tuple[RaceReport, ...]
    ) -> tuple[list[Event], str]:
        prog, name = self.program, self._name
        t, ins, op = eff.thread, eff.instr, eff.instr.op
        me = name(t)
        code = code_text(prog.code[t][ins.line])
        events = [Event("exec", f"{me}: {code}", actor=me)]
        text: str

        if eff.blocked:
            h = name(eff.before - 1)
            why = _BLOCKED_BECAUSE[prog.scenario].format(h=h)
            if prog.fix == "once":  # the check inside the lock reads done, not instance
                why = f"check done again until {h} has finished and unlocked"
            elif prog.scenario == "check_then_act" and pre.memory[0] not in (0, eff.before):
                # Someone else holds the seat: the holder sees it taken (or already has) and books nothing.
                why = f"check the seat until {h} has seen it taken and unlocked"
            text = f"{me} blocks: {h} holds {prog.lock_name}, so {me} cannot {why}."
            events.append(Event("blocked", f"{me} waits for {prog.lock_name} (held by {h}).", actor=me, severity="warn"))
        elif op == LOCK:
            if prog.scenario == "file_access":
                text = f"{me} took the exclusive flock on app.log. Any other process that asks for it now waits until {me} releases it."
            else:
                text = f"{me} locked {prog.lock_name}. Anyone else who reaches lock() now waits until {me} unlocks it."
        elif op == UNLOCK:
            woke = ", ".join(name(u) for u in eff.woke)
            text = f"{me} released the flock" if prog.scenario == "file_access" else f"{me} unlocked {prog.lock_name}"
            text += f"; {woke} wake{'s' if len(eff.woke) == 1 else ''} up and can try again." if eff.woke else "."
            text += f" Whoever takes it next happens-after everything {me} did while holding it."
        elif prog.scenario == "counter":
            text = self._counter_words(pre, post, eff, events)
        elif prog.scenario == "check_then_act":
            text = self._booking_words(pre, eff, events)
        elif prog.scenario == "double_checked_locking":
            text = self._dcl_words(pre, eff, events)
        else:
            text = self._file_words(pre, post, eff, events)

        for race in races:
            events.append(self._race_event(race))
        if races and self.races == len(races):  # the run's first: say what the detector saw
            e, l = races[0].earlier, races[0].later
            text += (
                f" Race detector: {name(e.thread)}'s {e.kind} and {name(l.thread)}'s {l.kind} of "
                f"{_location_label(races[0].location)} are not ordered by any lock or atomic: a data race."
            )
        elif races:
            text += " The race detector flags this access too."
        if all_finished(prog, post):
            events.append(self._final_event(post))
        return events, text

    def _race_event(self, race: RaceReport) -> Event:
        name = self._name
        e, l = race.earlier, race.later
        return Event(
            "race",
            f"Data race on {_location_label(race.location)}: {name(e.thread)} {e.kind} ({e.code}) at clock {_clock(e.clock)} "
            f"and {name(l.thread)} {l.kind} ({l.code}) at clock {_clock(l.clock)}. Neither happens-before the "
            f"other: {name(l.thread)}'s clock has seen {name(e.thread)} only up to {l.clock[e.thread]}, "
            f"but {name(e.thread)}'s {e.kind} was at {name(e.thread)}'s time {e.epoch}.",
            actor=name(l.thread),
            severity="error",
        )

    def _final_event(self, s: MachineState) -> Event:
        prog = self.program
        got, want = outcome(prog, s), correct_outcome(prog)
        ok = got == want
        if prog.scenario == "counter":
            text = f"All threads finished: counter = {got}, expected {want}."
            if not ok:
                text += f" {want - got} update{'s' if want - got != 1 else ''} lost."
        elif prog.scenario == "check_then_act":
            text = f"All customers done: {got} told they booked seat 12A, which holds {_show('seat_12A', s.memory[0])}."
        elif prog.scenario == "double_checked_locking":
            text = "All threads done: " + ("every use saw field = 42." if ok else f"{got} use{'s' if got > 1 else ''} read garbage.")
        else:
            text = f"All processes done: app.log has {len(s.file)} line{'s' if len(s.file) != 1 else ''}" + (
                "." if ok else f"; {got} line{'s' if got > 1 else ''} lost."
            )
        if self.races:
            text += f" The detector flagged {self.races} race{'s' if self.races > 1 else ''}."
        return Event("finished", text, severity="success" if ok and not self.races else "error" if not ok else "warn")

    def _mid_increment(self, s: MachineState, t: int) -> list[int]:
        """Other threads that have loaded counter and not yet stored it."""
        prog = self.program
        out = []
        for u in range(prog.threads):
            pc = s.pcs[u]
            if u != t and pc < prog.end and prog.instrs[pc].op in (ADD, WRITE):
                out.append(u)
        return out

    def _loaded(self, s: MachineState, u: int) -> int:
        """The counter value thread u loaded; u is between its load and its store."""
        return s.regs[u][0] - (1 if self.program.instrs[s.pcs[u]].op == WRITE else 0)

    def _names(self, items: list[Any], *, threads: bool = True) -> str:
        """"T1", "T1 and T2", "T1, T2 and T3" (or plain values with threads=False)."""
        words = [self._name(u) if threads else str(u) for u in items]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]

    def _counter_words(self, pre: MachineState, post: MachineState, eff: Effect, events: list[Event]) -> str:
        # The counter's value is the number of increments its stored value carries (each store
        # writes what it loaded plus one), so lost_updates = increments done - counter, and a
        # store of w over b moves it by b + 1 - w: up when it writes an older count, down when
        # it writes back a count that an earlier store had set back. Every move gets a log line.
        name, t, op = self._name, eff.thread, eff.instr.op
        me = name(t)
        fix = self.program.fix
        if op == FETCH_ADD:
            return (
                f"{me} ran atomic_fetch_add: it read {eff.before} and stored {eff.after} in one indivisible step, "
                "so no other thread could load the old value in between and no increment can be lost."
            )
        if op == READ:
            x = eff.before
            if fix == "mutex":
                return f"{me} loaded counter = {x} while holding m: no one else can load it before {me} stores it back."
            busy = self._mid_increment(pre, t)
            # Threads that loaded the same value and have not stored: every one of them will
            # store x + 1, and none of their values carries another's increment, so at most
            # one of these increments can ever be in the counter.
            same = [u for u in busy if self._loaded(pre, u) == x]
            if same:
                k = len(same)
                if k == 1:
                    return (
                        f"{me} loaded counter = {x}, but {name(same[0])} already loaded {x} too and has not stored back "
                        f"yet: both will store {x + 1}, so at most one of the two increments can count. Unless another "
                        "store comes between theirs, the second will overwrite the first."
                    )
                return (
                    f"{me} loaded counter = {x}, but {self._names(same)} already loaded {x} too and have not stored "
                    f"back yet: all {k + 1} will store {x + 1}, so at most one of these {k + 1} increments can count."
                )
            if busy:
                # u loaded a value the counter no longer holds: some store came after u's load,
                # and u's value does not carry that store's increment.
                u = busy[0]
                return (
                    f"{me} loaded counter = {x}. {name(u)} loaded {self._loaded(pre, u)} earlier and has not stored "
                    f"back yet; the counter has changed since, so {name(u)}'s store will leave it short of the "
                    "increments done."
                )
            return (
                f"{me} loaded counter = {x} into its register. Nothing stops another thread from storing to "
                f"counter before {me} stores tmp + 1 back."
            )
        if op == ADD:
            now, x = post.memory[0], eff.after - 1
            # The detector forgets every read of counter at each store to it, so this thread's
            # read is still recorded exactly when no store has come since its load.
            untouched = t in self.detector.reads.get("counter", {})
            if untouched:
                says = f"still says {now}"
            elif now == x:
                says = f"says {now} again, but another thread has stored to it since {me} loaded it"
            else:
                says = f"now says {now}, not the {x} {me} loaded"
            return f"{me} added 1 in its own register: tmp = {eff.after}. The shared counter {says}; other threads cannot see tmp."
        # WRITE
        before, wrote = eff.before, eff.after
        prev_writer = self.last_writer.get("counter")
        moved = before + 1 - wrote  # how far lost_updates moves with this store
        lost_now = self.writes + 1 - wrote  # _record counts this store after the words are made
        if moved > 0:
            who = name(prev_writer) if prev_writer is not None else "another thread"
            lost = f"{moved} increment{'s' if moved > 1 else ''}"
            events.append(
                Event(
                    "lost-update",
                    f"Lost update: {me} stored {wrote} over {before}; {lost} erased. Lost so far: {lost_now}.",
                    actor=me,
                    severity="error",
                )
            )
            return (
                f"{me} stored counter = {wrote} over the {before} that {who} stored: {lost} lost, because {me} "
                f"loaded counter before {who} stored its result."
            )
        if moved < 0:
            back = f"{-moved} increment{'s' if -moved > 1 else ''}"
            events.append(
                Event(
                    "update-restored",
                    f"{me} stored {wrote} over {before}: it had loaded {wrote - 1}, more than the counter held, so "
                    f"{back} counted lost {'are' if -moved > 1 else 'is'} back. Lost so far: {lost_now}.",
                    actor=me,
                    severity="warn",
                )
            )
            return (
                f"{me} stored counter = {wrote} over {before}: it loaded {wrote - 1} before the counter was set back "
                f"below that, so this store brings back {back} that had been counted lost."
            )
        if fix == "none":
            # Every thread still between load and store loaded before this store. One that
            # loaded less than this store wrote will write back a smaller count.
            stale = [u for u in self._mid_increment(post, t) if self._loaded(post, u) < wrote]
            if len(stale) == 1:
                u = stale[0]
                x = self._loaded(post, u)
                k = wrote - x
                return (
                    f"{me} stored counter = {wrote}. {name(u)} loaded {x} before this store and has not stored yet: "
                    f"if no other store comes first, its store of {x + 1} will overwrite this one, erasing "
                    f"{k} increment{'s' if k > 1 else ''}."
                )
            if stale:
                values = self._names([self._loaded(post, u) for u in stale], threads=False)
                return (
                    f"{me} stored counter = {wrote}. {self._names(stale)} loaded older values ({values}) before this "
                    "store and have not stored yet: if one of them stores next, it will overwrite this one and "
                    "erase increments."
                )
        return f"{me} stored counter = {wrote}." + (
            f" It still holds m, so no other thread has loaded counter since {me} did." if fix == "mutex" else ""
        )

    def _booking_words(self, pre: MachineState, eff: Effect, events: list[Event]) -> str:
        name, t, op = self._name, eff.thread, eff.instr.op
        me = name(t)
        prog = self.program
        if op == CHECK_FREE:
            if eff.jumped:
                return f"{me} sees seat 12A taken by {name(eff.before - 1)}, so it tells its customer the seat is gone."
            if prog.fix == "mutex":
                return f"{me} sees seat 12A free, and holds m: no one else can check until {me} has booked it."
            between = [u for u in range(prog.threads) if u != t and pre.pcs[u] < prog.end and prog.instrs[pre.pcs[u]].op == BOOK]
            if between:
                k = len(between)
                return (
                    f"{me} sees seat 12A free too: {self._names(between)} {'has' if k == 1 else 'have'} checked but "
                    f"not booked yet, so {'both' if k == 1 else f'all {k + 1}'} will book it."
                )
            return f"{me} sees seat 12A free and will book it. Nothing stops another customer checking in the gap before {me} books."
        # BOOK
        if eff.before:
            prev = name(eff.before - 1)
            events.append(
                Event(
                    "double-booking",
                    f"Double booking: {me} booked seat 12A over {prev}'s booking.",
                    actor=me,
                    severity="error",
                )
            )
            # Everyone told so far (their booked register is set), and now this customer too.
            told = [u for u in range(prog.threads) if pre.regs[u][0] or u == t]
            everyone = f"Both {self._names(told)} were" if len(told) == 2 else f"{self._names(told)} were all"
            return (
                f"{me} booked seat 12A over {prev}'s booking: its check was stale by the time it acted. "
                f"{everyone} told the seat is theirs."
            )
        return f"{me} booked seat 12A and told its customer."

    def _dcl_words(self, pre: MachineState, eff: Effect, events: list[Event]) -> str:
        name, t, op = self._name, eff.thread, eff.instr.op
        me = name(t)
        prog, fix = self.program, self.program.fix
        under_lock = pre.lock_holder == t + 1
        field = pre.memory[prog.loc("field")]
        if op == LOAD_FLAG:
            if fix == "once":
                if under_lock:
                    if eff.jumped:
                        return f"Holding m, {me} sees done == true: another thread already built the object, so {me} skips to using it."
                    return f"Holding m, {me} sees done == false, so it builds the object."
                if eff.jumped:
                    return (
                        f"{me}'s acquire load sees done == true, stored with release: everything written before that "
                        f"store (field = 42, instance = p) is now visible to {me}."
                    )
                return f"{me}'s acquire load sees done == false, so it takes the slow path through the lock."
            if under_lock:
                # With the mutex fix this is the only check: there is no unlocked one before it.
                checks = "checks instance" if fix == "mutex" else "checks again"
                if eff.jumped:
                    return f"Holding m, {me} {checks} and finds the object already created, so it does not make a second one."
                found = "it is NULL" if fix == "mutex" else "instance is still NULL"
                return f"Holding m, {me} {checks}: {found}, so {me} creates the object."
            if eff.jumped:
                if field == GARBAGE:
                    # The pointer is published and the constructor's store has not happened yet;
                    # whether it lands before this thread's read of the field is up to the schedule.
                    maker = name(self.last_writer.get("instance"))
                    return (
                        f"{me} sees instance != NULL without locking and skips the lock, but {maker}'s constructor has "
                        f"not stored field = 42 yet: if {me} reads the field before that store, it gets a half-built object."
                    )
                return (
                    f"{me} sees instance != NULL without locking and skips straight to using it. Nothing orders this read "
                    "after the constructor's store; this time the store happened to come first."
                )
            return f"{me} sees instance == NULL without locking, so it takes the slow path: lock m, then check again."
        if op == ALLOC:
            return f"{me} allocated memory for the object; its field holds garbage until the constructor runs."
        if op == PUBLISH:
            if fix == "none":
                return (
                    f"{me} stored the pointer into instance before the constructor ran: plain stores may become visible "
                    "in either order, since nothing orders them for other threads. A thread on the fast path can now "
                    "see a non-NULL pointer to garbage."
                )
            if fix == "mutex":
                # It holds m: every other thread is still before its lock(), and checks instance only
                # after taking m, that is after this thread has constructed the object and unlocked;
                # its later read of instance->field, after its own unlock, comes after that too.
                return (
                    f"{me} stored the pointer before constructing, but it holds m, and every other thread first looks "
                    f"at instance after taking m, so after {me} has constructed the object and unlocked: none can see "
                    "it half-built."
                )
            return f"{me} stored instance = p. No one reads it until they have seen done == true, which comes next."
        if op == CONSTRUCT:
            text = f"{me}'s constructor stored field = 42."
            # Without the fix the creator holds m here, so a thread waiting to read the field saw
            # the pointer on the unlocked fast path, before this store.
            early = [
                u for u in range(prog.threads)
                if fix == "none" and u != t and pre.pcs[u] < prog.end and prog.instrs[pre.pcs[u]].op == USE
            ]
            if early:
                k = len(early)
                text += (
                    f" {self._names(early)} already saw the pointer and {'has' if k == 1 else 'have'} not read the "
                    f"field yet: {'it' if k == 1 else 'they'} will read 42, but only because this store happened to come first."
                )
            return text
        if op == SET_DONE:
            return (
                f"{me} stored done = true with release: every write before it (field = 42, instance = p) "
                "happens-before any acquire load that reads true. That is what std::call_once does."
            )
        # USE
        if eff.before == GARBAGE:
            events.append(
                Event(
                    "uninitialised-use",
                    f"{me} read instance->field = garbage: the object was published before it was constructed.",
                    actor=me,
                    severity="error",
                )
            )
            return (
                f"{me} read instance->field and got garbage: it saw the pointer before the constructor stored 42. "
                "This is why double-checked locking without release/acquire is broken."
            )
        return f"{me} read instance->field = {eff.before}."

    def _file_words(self, pre: MachineState, post: MachineState, eff: Effect, events: list[Event]) -> str:
        name, t, op = self._name, eff.thread, eff.instr.op
        me = name(t)
        prog = self.program
        if op == LSEEK:
            off = eff.before
            if prog.fix == "o_append":
                return f"{me}'s lseek returns {off}. With O_APPEND that value does not matter: write() itself moves to the end."
            if prog.fix == "mutex":
                return f"{me}'s lseek finds the end at offset {off}. It holds the flock, so no one can append before {me} writes."
            same = [
                u
                for u in range(prog.threads)
                if u != t and pre.pcs[u] < prog.end and prog.instrs[pre.pcs[u]].op == WRITE_AT and pre.regs[u][0] == off
            ]
            if same:
                if len(same) == 1:
                    return (
                        f"{me}'s lseek also returns offset {off}: {name(same[0])} has found the end but not written yet, "
                        "so both will write at the same offset and one line will overwrite the other."
                    )
                return (
                    f"{me}'s lseek also returns offset {off}: {self._names(same)} have found the end but not written yet, "
                    f"so all {len(same) + 1} will write at that offset and only the last line written there will survive."
                )
            return f"{me}'s lseek finds the end of app.log at offset {off}. Until {me} writes, another process can append and move the real end."
        if op == APPEND:
            return (
                f"{me}'s write() moved to the end ({eff.offset}) and wrote its line there in one step: with O_APPEND, "
                "POSIX allows no other file change between setting the offset and writing."
            )
        # WRITE_AT
        if eff.overwrote:
            victim = name(eff.overwrote - 1)
            events.append(
                Event("lost-line", f"{me} overwrote {victim}'s line at offset {eff.offset}: it is lost.", actor=me, severity="error")
            )
            return (
                f"{me} wrote its line at offset {eff.offset}, over {victim}'s line: that line is lost. Each system call "
                "is atomic, so a data race detector stays silent; the bug is the gap between lseek and write."
            )
        return f"{me} wrote its line at offset {eff.offset}, the end of the file, which is now {len(post.file) * RECORD_BYTES} bytes."

    # -- frames ----------------------------------------------------------

    def _frame(
        self,
        narration: str,
        events: tuple[Event, ...],
        *,
        ran: int | None,
        effect: Effect | None,
        races: tuple[RaceReport, ...],
    ) -> Frame:
        prog, s = self.program, self.state
        entities: list[Entity] = []
        end, clocks, threads_shown = prog.end, self.detector.clocks, self._threads_shown
        ran_line = effect.instr.line if effect is not None else None
        for t in range(prog.threads):
            pc = s.pcs[t]
            if pc >= end:
                status = "done"
            elif s.waiting[t]:
                status = "blocked"
            elif t == ran:
                status = "running"
            else:
                status = "ready"
            executed = ran_line if t == ran else None
            clock = tuple(clocks[t])
            shown = (pc, status, executed, s.regs[t], clock, s.lock_holder == t + 1)
            kept = threads_shown.get(t)
            if kept is not None and kept[0] == shown:
                entities.append(kept[1])
                continue
            registers: dict[str, Any] = {}
            if prog.scenario == "counter":
                per = len(prog.instrs) // prog.increments
                registers["i"] = min(pc // per, prog.increments)
            for i, reg in enumerate(prog.registers):
                registers[reg] = _register_display(prog.scenario, reg, s.regs[t][i])
            entities.append(
                Entity(
                    f"t{t + 1}",
                    "thread",
                    {
                        "name": self._name(t),
                        "code": prog.code[t],
                        "line": prog.instrs[pc].line if pc < end else None,
                        "executed_line": executed,
                        "pc": pc,
                        "status": status,
                        "registers": registers,
                        "clock": clock,
                        "holds_lock": s.lock_holder == t + 1,
                    },
                )
            )
            threads_shown[t] = (shown, entities[-1])
        touched: dict[str, str] = {}
        if effect is not None and not effect.blocked:
            for loc, is_write, _ in effect.accesses:
                if is_write or loc not in touched:
                    touched[loc] = "write" if is_write else "read"
        for i, loc in enumerate(prog.locations):
            writer = self.last_writer.get(loc)
            entities.append(
                Entity(
                    f"mem-{loc}",
                    "memory",
                    {
                        "name": _location_label(loc),
                        "value": s.memory[i],
                        "display": _show(loc, s.memory[i]),
                        "last_writer": self._name(writer) if writer is not None else None,
                        "access": touched.get(loc),  # "read" or "write" this step, or None
                        "by": self._name(effect.thread) if loc in touched else None,  # type: ignore[union-attr]
                    },
                )
            )
        if prog.lock_name:
            entities.append(
                Entity(
                    "lock",
                    "lock",
                    {
                        "name": prog.lock_name,
                        "holder": self._name(s.lock_holder - 1) if s.lock_holder else None,
                        "waiters": tuple(self._name(u) for u in range(prog.threads) if s.waiting[u]),
                    },
                )
            )
        if prog.scenario == "file_access":
            entities.append(self._file_entity(effect))
        for k, race in enumerate(races):
            e, l = race.earlier, race.later
            entities.append(
                Entity(
                    f"race-{self.index}-{k + 1}",
                    "race",
                    {
                        "location": _location_label(race.location),
                        "earlier": {"thread": self._name(e.thread), "kind": e.kind, "line": e.line, "code": e.code, "clock": e.clock},
                        "later": {"thread": self._name(l.thread), "kind": l.kind, "line": l.line, "code": l.code, "clock": l.clock},
                    },
                )
            )
        return Frame(
            index=self.index,
            time=float(self.index),
            entities=tuple(entities),
            metrics=self._metrics(),
            events=events,
            narration=narration,
            done=all_finished(prog, s),
        )

    def _file_entity(self, effect: Effect | None) -> Entity:
        s = self.state
        written_slot = effect.offset // RECORD_BYTES if effect is not None and effect.offset >= 0 else -1
        lines = []
        overwritten = self.overwritten
        for slot, writer in enumerate(s.file):
            lines.append(
                {
                    "offset": slot * RECORD_BYTES,
                    "text": f"{self._name(writer - 1)}: hello",
                    "writer": self._name(writer - 1),
                    "overwrote": tuple(overwritten.get(slot, ())),
                    "written": slot == written_slot,
                }
            )
        return Entity(
            "file",
            "file",
            {
                "name": FILE_LOCATION,
                "size": len(s.file) * RECORD_BYTES,
                "lines": tuple(lines),
                "lost": tuple(f"{self._name(w - 1)}: hello" for w in s.lost),
            },
        )

    def _metrics(self) -> dict[str, Any]:
        prog, s = self.program, self.state
        m: dict[str, Any] = {"step": self.index}
        if prog.scenario == "counter":  # item by item: update(**kwargs) builds a dict to copy
            counter = s.memory[0]
            m["counter"] = counter
            m["expected"] = correct_outcome(prog)
            m["increments_done"] = self.writes
            m["lost_updates"] = self.writes - counter
        elif prog.scenario == "check_then_act":
            booked = outcome(prog, s)
            m.update(
                seat=_show("seat_12A", s.memory[0]),
                bookings_confirmed=booked,
                expected_bookings=1,
                double_bookings=max(0, booked - 1),
            )
        elif prog.scenario == "double_checked_locking":
            m.update(
                uses=sum(1 for r in s.regs if r[1] != UNSET),
                uninitialised_uses=outcome(prog, s),
                objects_created=0 if s.memory[prog.loc("field")] == UNSET else 1,
            )
        else:
            m.update(lines_in_file=len(s.file), expected_lines=prog.threads, lost_lines=len(s.lost))
        end = prog.end
        m["races_flagged"] = self.races
        m["threads_done"] = sum([pc >= end for pc in s.pcs])
        m["awaiting_input"] = self.awaiting_input
        return m
