"""CPU scheduling mechanics shared by engines: cores, one run queue, the policies of OSTEP's
scheduling chapters, context-switch cost, and a Gantt record of who ran where.

Plain data (dataclasses, lists, dicts) so that `copy.deepcopy` of an engine holding a `Cpu`
is exact. Standard library only. Time is integer ticks, as in OSTEP's examples.

The API, small on purpose (the Threads & Processes engine drives it; the Locks engine may use
it for spinning versus blocking on the core timeline):

    cpu = Cpu(cores=2, policy="rr", quantum=1, switch_cost=0, aging=10)
    cpu.admit(CpuThread("A", length=10), now)   # a thread arrives: ready, at the queue's tail
    cpu.dispatch(now)                           # fill idle cores and apply preemption rules
    t = cpu.next_event(now)                     # when a core next needs the engine: a burst
                                                # ends, a quantum expires, a switch completes,
                                                # aging lifts a waiting thread (None: never)
    cpu.advance(now, t)                         # run every core from now to t
    for tid in cpu.burst_done(): ...            # running threads whose burst_left reached 0:
                                                # the engine decides what they do next:
    cpu.set_burst(tid, n)                       #   more CPU work on the same core, or
    cpu.block(tid, now) / cpu.finish(tid, now)  #   leave the core (wait for I/O, a lock, exit)
    cpu.wake(tid, now)                          # a blocked thread is ready again (tail)
    cpu.set_activity(tid, "spin")               # its next run segments are drawn as spinning

Rules (each engine's narration leans on them):
* One global run queue shared by every core (OSTEP's single-queue multiprocessor
  scheduling). Ready threads are ordered by when they became ready (`seq`); ties between
  threads readied at the same tick keep the order the engine readied them in (the engine
  admits arrivals before a quantum's end is handled, so a thread arriving at the tick a
  quantum expires queues ahead of the thread it preempts).
* fifo: the earliest ready runs to the end of its burst (non-preemptive).
* sjf: the ready thread with the least CPU work left runs, non-preemptively (OSTEP: SJF;
  for a fresh job that is its length).
* stcf: shortest time to completion first, preemptive: whenever a thread becomes ready with
  less work left than a running one, it takes the core of the running thread with the most
  left (OSTEP: STCF / PSJF).
* rr: round robin; a thread runs at most `quantum` ticks, then goes to the tail of the queue
  if anything is ready (if nothing is, it keeps the core for another quantum, no switch).
* priority: the lowest effective priority number runs; effective = base - (ticks waited in
  the queue // aging), at least 0, so a starving thread climbs one level per `aging` ticks.
  A dispatched thread keeps the level it was dispatched at until its quantum ends (then it is
  back at its base). Preemptive (a ready thread strictly better than the worst running one
  takes that core), and round robin within a level at each quantum.
* stcf and priority never preempt a thread on the tick it got its core (a switch that has
  just completed is not undone at once): they look again a tick later.
* A context switch costs `switch_cost` ticks on the core, drawn as its own segment, when a
  core starts a thread other than the one it ran last (its first thread ever costs nothing).
  The switch is counted even when it costs 0. A switch in progress is not interrupted.
* Work-conserving: after `dispatch`, no core is idle while a thread is ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Policy = Literal["fifo", "sjf", "stcf", "rr", "priority"]
POLICIES: tuple[str, ...] = ("fifo", "sjf", "stcf", "rr", "priority")
#: Segment kinds on a core's timeline.
RUN, SWITCH, SPIN = "run", "switch", "spin"


@dataclass(slots=True)
class CpuThread:
    tid: str
    length: int = 0  # total CPU work, for the record
    remaining: int = 0  # CPU work left in the whole thread (SJF and STCF read it)
    burst_left: int = 0  # CPU work left before the thread's next non-CPU operation
    priority: int = 0  # 0 is the highest
    state: str = "new"  # new, ready, running, blocked, done
    arrival: int | None = None
    first_run: int | None = None
    completion: int | None = None
    ready_since: int = 0
    seq: int = 0  # queue order
    core: int | None = None
    activity: str = RUN
    run_priority: int = 0  # priority policy: the effective priority it was dispatched at


@dataclass(slots=True)
class Core:
    index: int
    running: str | None = None  # executing (past its switch-in)
    switching_to: str | None = None  # paying the switch cost before it runs
    switch_end: int = 0
    slice_start: int = 0  # when the running thread's current quantum began
    last: str | None = None  # the thread whose context the core holds
    #: [tid, start, end, kind] in time order, adjacent runs of one thread merged.
    segments: list[list] = field(default_factory=list)


@dataclass(slots=True)
class Cpu:
    cores: int = 1
    policy: str = "fifo"
    quantum: int = 1
    switch_cost: int = 0
    aging: int = 10
    threads: dict[str, CpuThread] = field(default_factory=dict)
    core_list: list[Core] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)  # in seq order
    seq: int = 0
    context_switches: int = 0
    #: What dispatch did last, for narration: (core, tid, "dispatch" | "preempt:<victim>" | "continue")
    log: list[tuple[int, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}")
        if not self.core_list:
            self.core_list = [Core(i) for i in range(self.cores)]

    # -- threads entering and leaving the queue ------------------------------

    def admit(self, t: CpuThread, now: int) -> None:
        """A new thread arrives, ready."""
        self.threads[t.tid] = t
        if t.arrival is None:
            t.arrival = now
        self._enqueue(t, now)

    def _enqueue(self, t: CpuThread, now: int) -> None:
        self.seq += 1
        t.seq, t.ready_since, t.state, t.core = self.seq, now, "ready", None
        self.ready.append(t.tid)

    def wake(self, tid: str, now: int) -> None:
        t = self.threads[tid]
        if t.state != "blocked":
            raise ValueError(f"{tid} is not blocked")
        self._enqueue(t, now)

    def _leave_core(self, tid: str, now: int) -> Core:
        t = self.threads[tid]
        core = self.core_list[t.core]  # type: ignore[index]
        core.running = None
        t.core = None
        return core

    def block(self, tid: str, now: int) -> None:
        """The running thread `tid` waits (I/O, a lock, a pipe): it leaves its core."""
        self._leave_core(tid, now)
        self.threads[tid].state = "blocked"

    def finish(self, tid: str, now: int) -> None:
        t = self.threads[tid]
        if t.core is not None:
            self._leave_core(tid, now)
        if tid in self.ready:
            self.ready.remove(tid)
        for core in self.core_list:
            if core.switching_to == tid:
                core.switching_to = None
        t.state, t.completion, t.burst_left, t.remaining = "done", now, 0, 0

    def kill(self, tid: str, now: int) -> None:
        """End a thread wherever it is (a crash): ready, running, switching in or blocked."""
        t = self.threads[tid]
        if t.state == "done":
            return
        remaining = t.remaining
        self.finish(tid, now)
        t.remaining = remaining  # what it never got to do

    def set_burst(self, tid: str, work: int) -> None:
        self.threads[tid].burst_left = work

    def set_activity(self, tid: str, activity: str) -> None:
        self.threads[tid].activity = activity

    # -- choosing -------------------------------------------------------------

    def effective_priority(self, t: CpuThread, now: int) -> int:
        if t.state != "ready":
            return t.priority
        return max(0, t.priority - (now - t.ready_since) // max(1, self.aging))

    def _key(self, t: CpuThread, now: int) -> tuple:
        p = self.policy
        if p in ("sjf", "stcf"):
            return (t.remaining, t.seq)
        if p == "priority":
            return (self.effective_priority(t, now), t.seq)
        return (t.seq,)

    def _best_ready(self, now: int) -> CpuThread | None:
        if not self.ready:
            return None
        if self.policy in ("fifo", "rr"):
            return self.threads[self.ready[0]]
        return min((self.threads[r] for r in self.ready), key=lambda t: self._key(t, now))

    def _start(self, core: Core, t: CpuThread, now: int, how: str) -> None:
        t.run_priority = self.effective_priority(t, now)  # keeps what aging earned until its slice ends
        self.ready.remove(t.tid)
        t.core = core.index
        if core.last is not None and core.last != t.tid:
            self.context_switches += 1
            if self.switch_cost > 0:
                t.state = "ready"  # still waiting: its registers are being loaded
                core.switching_to, core.switch_end, core.last = t.tid, now + self.switch_cost, t.tid
                self._segment(core, "", now, now + self.switch_cost, SWITCH, t.tid)
                self.log.append((core.index, t.tid, how))
                return
        core.last = t.tid
        self._run(core, t, now)
        self.log.append((core.index, t.tid, how))

    def _run(self, core: Core, t: CpuThread, now: int) -> None:
        core.running, core.switching_to, core.slice_start = t.tid, None, now
        t.state, t.core = "running", core.index
        if t.first_run is None:
            t.first_run = now

    def _segment(self, core: Core, tid: str, start: int, end: int, kind: str, into: str = "") -> None:
        segs = core.segments
        if segs and segs[-1][0] == tid and segs[-1][3] == kind and segs[-1][2] == start and kind != SWITCH:
            segs[-1][2] = end
        else:
            segs.append([tid or into, start, end, kind])

    def _preempt(self, core: Core, now: int) -> CpuThread:
        victim = self.threads[core.running]  # type: ignore[index]
        core.running = None
        self._enqueue(victim, now)
        return victim

    def dispatch(self, now: int) -> list[tuple[int, str, str]]:
        """Finish switches that are due, apply quantum and preemption rules, then fill every
        idle core from the queue. Returns what it did: (core, tid, how)."""
        self.log = []
        for core in self.core_list:
            if core.switching_to is not None and core.switch_end <= now:
                self._run(core, self.threads[core.switching_to], now)
        # Quantum expiry (rr, and within a priority level).
        if self.policy in ("rr", "priority"):
            for core in self.core_list:
                if core.running is None or now - core.slice_start < self.quantum:
                    continue
                t = self.threads[core.running]
                if t.burst_left <= 0:
                    continue
                # The timer interrupts every quantum; a boundary that passed with nothing else
                # ready renewed the slice (the thread kept its core, no switch).
                boundary = core.slice_start + (now - core.slice_start) // self.quantum * self.quantum
                t.run_priority = t.priority  # a used-up slice gives back what aging earned
                best = self._best_ready(now)
                if boundary < now or best is None or (
                        self.policy == "priority" and self.effective_priority(best, now) > t.priority):
                    core.slice_start = boundary
                    continue
                victim = self._preempt(core, now)
                self._start(core, best, now, f"quantum:{victim.tid}")
        for core in self.core_list:
            if core.running is None and core.switching_to is None:
                best = self._best_ready(now)
                if best is None:
                    break
                self._start(core, best, now, "dispatch")
        # Preemption by a better ready thread (stcf, priority).
        if self.policy in ("stcf", "priority"):
            while True:
                best = self._best_ready(now)
                if best is None:
                    break
                # A thread that got its core at this very tick keeps it for now: a switch that
                # completes is never undone at once, so every dispatch makes progress.
                running = [c for c in self.core_list if c.running is not None and c.slice_start < now]
                if not running:
                    break
                if self.policy == "stcf":
                    worst = max(running, key=lambda c: (self.threads[c.running].remaining, c.index))
                    if best.remaining >= self.threads[worst.running].remaining:
                        break
                else:
                    worst = max(running, key=lambda c: (self.threads[c.running].run_priority, c.index))
                    if self.effective_priority(best, now) >= self.threads[worst.running].run_priority:
                        break
                victim = self._preempt(worst, now)
                self._start(worst, best, now, f"preempt:{victim.tid}")
        return self.log

    # -- time ----------------------------------------------------------------

    def next_event(self, now: int) -> int | None:
        times: list[int] = []
        for core in self.core_list:
            if core.switching_to is not None:
                times.append(core.switch_end)
            elif core.running is not None:
                t = self.threads[core.running]
                times.append(now + max(0, t.burst_left))
                if self.policy in ("rr", "priority") and self.ready:
                    times.append(max(now, core.slice_start + self.quantum))
        if self.policy in ("stcf", "priority") and self.ready and any(
                c.running is not None and c.slice_start == now for c in self.core_list):
            times.append(now + 1)  # the preemption rules look again once it has run a tick
        if self.policy == "priority" and self.ready and self.aging > 0:
            running = [self.threads[c.running].run_priority for c in self.core_list if c.running is not None]
            if running and all(c.running is not None or c.switching_to is not None for c in self.core_list):
                worst = max(running)
                for r in self.ready:
                    t = self.threads[r]
                    levels = t.priority - worst + 1  # climbs needed to be strictly better
                    if 0 < levels <= t.priority:
                        times.append(max(now + 1, t.ready_since + levels * self.aging))
        return min(times) if times else None

    def advance(self, now: int, to: int) -> None:
        """Run every core from `now` to `to` (nothing else changes in between)."""
        if to <= now:
            return
        dt = to - now
        for core in self.core_list:
            if core.running is None:
                continue
            t = self.threads[core.running]
            t.burst_left -= dt
            t.remaining -= dt
            self._segment(core, t.tid, now, to, t.activity)

    def burst_done(self) -> list[str]:
        """Running threads whose current burst is used up, in core order."""
        return [c.running for c in self.core_list
                if c.running is not None and self.threads[c.running].burst_left <= 0]

    def idle_cores(self) -> int:
        return sum(1 for c in self.core_list if c.running is None and c.switching_to is None)
