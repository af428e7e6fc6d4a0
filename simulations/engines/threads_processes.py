"""Threads & processes: a CPU scheduler on 1 to 4 cores, fork and copy-on-write, pipes and
message queues, and parallel speed-up against Amdahl's law.

Sources, read for this engine (tests cite them):
* OSTEP, "Scheduling: Introduction" (cpu-sched.pdf) and its homework simulator
  cpu-sched/scheduler.py: response = first run - arrival, turnaround = completion - arrival;
  FIFO, SJF, STCF, round robin. The policies themselves live in `kernel.cpu`.
* fork(2): "the PID of the child process is returned in the parent, and 0 is returned in the
  child"; the two "run in separate memory spaces ... Memory writes ... performed by one of the
  processes do not affect the other"; Linux implements it "using copy-on-write pages".
* wait(2): the parent collects a child's exit status (or the signal that killed it).
* pipe(7): a read from an empty pipe blocks, a write to a full pipe blocks; when every write
  end is closed a read returns 0 (end of file); a write of at most PIPE_BUF bytes is atomic;
  a write to a pipe with no reader raises SIGPIPE.
* mq_overview(7) / mq_send(3p): a message queue holds at most mq_maxmsg messages; mq_send
  blocks on a full queue, mq_receive on an empty one, and takes the oldest message of the
  highest priority.
* Amdahl 1967, in its usual form S(N) = 1 / ((1 - p) + p / N).

Time is integer ticks (`time_unit = "ticks"`). A step is the next tick at which something
changes: a thread arrives, finishes a burst, blocks, wakes, is preempted, a switch completes.

Model choices, stated: I/O devices serve any number of requests at once (each I/O takes its
own time); a system call (fork, write, read, send) takes no CPU time of its own; copying a
page on a write fault takes no time either (the count of copies is what is shown).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import BaseModel, ConfigDict, Field

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.kernel.cpu import Cpu, CpuThread

Scenario = Literal[
    "scheduler", "fork", "threads", "pipe", "message_queue", "shared_memory", "speedup",
    "web_server", "workers", "event_loop",
]
PIPE_BUF_KB = 4  # Linux: PIPE_BUF is 4096 bytes; the simulated pipe counts in 1 KiB chunks
SEGMENTS_SHOWN = 16
WAITS_SHOWN = 4
#: Signal numbers on Linux (signal(7)); a shell reports a process killed by one as 128 + n.
SIGNALS = {"SIGSEGV": 11, "SIGPIPE": 13}


def amdahl(p: float, n: int) -> float:
    """Amdahl's law: the speed-up of a job whose parallel fraction is p, on n cores."""
    return 1.0 / ((1.0 - p) + p / n)


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    length: int = Field(10, ge=1, le=200, title="Length (ticks of CPU)")
    arrival: int = Field(0, ge=0, le=200, title="Arrival (tick)")
    io_every: int = Field(0, ge=0, le=50, title="I/O every (ticks of CPU, 0: never)")
    io_time: int = Field(0, ge=0, le=50, title="I/O time (ticks)")
    priority: int = Field(0, ge=0, le=9, title="Priority (0 highest)")
    process: int = Field(0, ge=0, le=8, title="Process (0: its own; equal numbers share one process)")


class TPParams(Params):
    scenario: Scenario = Field("scheduler", title="Scenario", description=(
        "scheduler: the jobs below, one thread each; fork: a parent forks and both write pages "
        "(copy-on-write); threads: threads of one process share its heap; pipe: a producer and a "
        "consumer over a bounded pipe; message_queue: a POSIX message queue; shared_memory: two "
        "processes map one page; speedup: a data-parallel job over the cores; web_server, workers, "
        "event_loop: the use cases."))
    policy: Literal["fifo", "sjf", "stcf", "rr", "priority"] = Field("fifo", title="Policy")
    quantum: int = Field(2, ge=1, le=20, title="Quantum (ticks)", description="Round robin's time slice.")
    cores: int = Field(1, ge=1, le=4, title="Cores")
    switch_cost: int = Field(0, ge=0, le=5, title="Context switch cost (ticks)")
    aging: int = Field(10, ge=1, le=100, title="Aging (ticks per priority level)")
    jobs: list[Job] = Field(
        default_factory=lambda: [Job(length=10), Job(length=10), Job(length=10)],
        min_length=1, max_length=8, title="Jobs")
    serial_fraction: float = Field(0.2, ge=0.0, le=1.0, title="Serial fraction (1 - p)")
    work: int = Field(120, ge=12, le=400, title="Work (ticks on one core)")
    sync_cost: int = Field(0, ge=0, le=10, title="Merge cost per worker (ticks)")
    capacity: int = Field(4, ge=1, le=8, title="Pipe / queue capacity")
    server: Literal["pool", "thread_per_request"] = Field("pool", title="Web server model")
    pool_size: int = Field(2, ge=1, le=4, title="Thread pool size")
    requests: int = Field(8, ge=1, le=12, title="Requests in the burst")
    blocking_task: bool = Field(False, title="Event loop: one task makes a blocking call")


class Crash(Action):
    """A thread dereferences a bad pointer: SIGSEGV ends its whole process."""

    type: Literal["crash"] = "crash"
    thread: str = Field(pattern=r"^[A-Z][0-9]{0,2}$", max_length=3, title="Thread")


class AddJob(Action):
    """A new job (its own process) arrives now."""

    type: Literal["add_job"] = "add_job"
    length: int = Field(10, ge=1, le=100, title="Length")


TPAction = Annotated[Union[Crash, AddJob], Field(discriminator="type")]


class CoreState(TypedDict):
    running: str | None
    switching_to: str | None
    segments: list[list]


ThreadStatus = Literal["ready", "running", "blocked", "done"]


class ThreadState(TypedDict):
    """A thread that has arrived (been created): one that has not is no entity yet, since it
    does not exist in the system until then; the intro narration names every job's arrival."""

    process: int
    state: ThreadStatus
    arrival: int
    first_run: int | None
    completion: int | None
    remaining: int
    length: int
    priority: int
    core: int | None
    doing: str
    waits: list[list]  # its last few waits off the core, [start, end] (end = now while it waits)


class PageState(TypedDict):
    page: int
    frame: int
    shared: bool
    cow: bool
    value: int
    use: str


class ProcessState(TypedDict):
    pid: int
    parent: int | None
    name: str
    pages: list[PageState]
    exit_status: int | None
    killed_by: str | None
    fork_return: int | None
    threads: list[str]


class ChannelState(TypedDict):
    type: str
    src: int
    dst: int
    capacity: int
    items: list[str]
    write_closed: bool
    waiting: list[str]


class TaskState(TypedDict):
    loop: str
    state: str
    wakes_at: int | None


class RequestState(TypedDict):
    arrival: int
    started: int | None
    served: int | None
    thread: str | None


class SpeedupState(TypedDict):
    cores: int
    amdahl: float
    measured: float | None


# --------------------------------------------------------------------------
# The event loop's own (cooperative) schedule, planned ahead: one thread, no preemption
# --------------------------------------------------------------------------

LOOP_TASKS = 4


def event_loop_plan(blocking: bool) -> tuple[list[list], list[list]]:
    """(the loop thread's ops, per task its state changes [t, task, state, wakes_at]).
    Each task computes 1 tick, awaits I/O of 4 ticks, computes 1 tick. With `blocking`, task 0
    instead calls a blocking function for 8 ticks (the last task): the thread sits in the kernel
    and no task runs, even those whose I/O has completed. The loop runs ready tasks in FIFO order; with none ready it waits in epoll."""
    scripts = [[("cpu", 1), ("await", 4), ("cpu", 1)] for _ in range(LOOP_TASKS)]
    if blocking:
        scripts[-1] = [("cpu", 1), ("block", 8), ("cpu", 1)]
    ready = list(range(LOOP_TASKS))
    pc = [0] * LOOP_TASKS
    waiting: dict[int, int] = {}
    t = 0
    ops: list[list] = []
    changes: list[list] = [[0, i, "ready", None] for i in range(LOOP_TASKS)]
    done = 0
    while done < LOOP_TASKS:
        for i, w in sorted(waiting.items(), key=lambda kv: (kv[1], kv[0])):
            if w <= t:
                del waiting[i]
                ready.append(i)
                changes.append([t, i, "ready", None])
        if not ready:
            wake = min(waiting.values())
            ops.append(["io", wake - t, "epoll_wait"])
            t = wake
            continue
        i = ready.pop(0)
        while pc[i] < len(scripts[i]):
            kind, n = scripts[i][pc[i]]
            pc[i] += 1
            if kind == "cpu":
                changes.append([t, i, "running", None])
                ops.append(["cpu", n, f"task {i + 1}"])
                t += n
            elif kind == "await":
                waiting[i] = t + n
                changes.append([t, i, "awaiting", t + n])
                break
            else:  # a blocking call: the whole loop thread waits in the kernel
                changes.append([t, i, "blocking", t + n])
                ops.append(["io", n, f"task {i + 1} blocks the loop"])
                t += n
        else:
            done += 1
            changes.append([t, i, "done", None])
            continue
    ops.append(["exit", 0])
    return ops, changes


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


class ThreadsProcessesEngine(Engine):
    slug = "threads-processes"
    topic_slug = "threads-processes"
    title = "Threads & processes: scheduling, fork, IPC and speed-up"
    description = (
        "Processes and their threads on 1 to 4 cores under FIFO, SJF, STCF, round robin or priority "
        "with aging, drawn as a Gantt chart with the cost of every context switch. fork() with "
        "copy-on-write pages, wait() and exit status, pipes and message queues that block, and a "
        "data-parallel job measured against Amdahl's law."
    )
    Params = TPParams
    Action = TPAction
    time_unit = "ticks"
    wall_seconds_per_time_unit = 0.25  # at 1x, four ticks a second
    max_steps = 600
    entity_kinds = {
        "core": CoreState, "thread": ThreadState, "process": ProcessState, "channel": ChannelState,
        "task": TaskState, "request": RequestState, "speedup": SpeedupState,
    }
    metrics = {
        "time": "Virtual time in ticks.",
        "avg_response": "Mean of first run - arrival over threads that have run (OSTEP's response time).",
        "avg_turnaround": "Mean of completion - arrival over threads that have finished.",
        "context_switches": "Times a core started a thread other than the one it ran last.",
        "speedup": ("CPU work done / time elapsed: the speed-up over one core doing the same work back to back. "
                    "In the speed-up scenario, once the job is done: its time on one core without overheads / "
                    "the time it took here (merge and switch costs are not useful work)."),
        "pages_copied": "Pages copied by copy-on-write faults since the start.",
        "memory_pages": "Physical page frames in use by every process (heap and stacks).",
        "avg_latency": "Web server: mean of served - arrival over requests served.",
    }
    presets = ()

    @classmethod
    def action_buttons(cls, params: Params) -> list[tuple[str, dict[str, Any]]] | None:
        eng = cls(params, random.Random(0))
        eng.reset()
        buttons = []
        if params.scenario == "scheduler":  # type: ignore[attr-defined]
            buttons.append(("Add a job of 10", {"type": "add_job", "length": 10}))
        return buttons + [(f"Crash {tid}", {"type": "crash", "thread": tid}) for tid in eng.order[:6]]

    @classmethod
    def action_unavailable(cls, frame: Frame, action: Mapping[str, Any]) -> str | None:
        if action.get("type") == "crash":
            for e in frame.entities:
                if e.kind == "thread" and e.id == action.get("thread"):
                    return "done" if e.state["state"] == "done" else None
            return "not yet"  # not arrived: no entity until it does
        return None

    actions_vary_per_frame = True

    # -- set-up --------------------------------------------------------------

    def reset(self) -> Frame:
        p: TPParams = self.params  # type: ignore[assignment]
        cores = 1 if p.scenario == "event_loop" else p.cores
        self.cpu = Cpu(cores=cores, policy=p.policy, quantum=p.quantum, switch_cost=p.switch_cost, aging=p.aging)
        self.now = 0
        self.index = 0
        self.threads: dict[str, dict[str, Any]] = {}  # tid -> {pid, ops, pc, doing, ...}
        self.order: list[str] = []
        self.admitted: list[str] = []  # in the order they arrived: the frame's thread entities
        self.procs: dict[int, dict[str, Any]] = {}
        self.frames: dict[int, int] = {}  # frame -> value
        self.refs: dict[int, int] = {}  # frame -> reference count
        self.next_frame = 1
        self.copies = 0
        self.channels: dict[str, dict[str, Any]] = {}
        self.arrivals: list[tuple[int, int, str]] = []  # (time, order, tid) not yet admitted
        self.wakes: list[tuple[int, int, str]] = []  # (time, order, tid) I/O completions
        self.requests: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.task_changes: list[list] = []
        self.speedups: list[tuple[int, float, float | None]] = []
        self._wseq = 0
        self._pending: list[str] = []
        self._pending_events: list[Event] = []
        self._done = False
        self._entities: dict[Any, tuple[tuple, Entity]] = {}
        self._mem_version = 0
        intro = getattr(self, "_setup_" + p.scenario)(p)
        events: list[Event] = []
        self._settle(events)
        return self._frame(intro, events)

    # processes, memory, threads

    def _process(self, name: str, parent: int | None = None, heap: int = 2) -> int:
        pid = len(self.procs) + 1
        pages = []
        for i in range(heap):
            f = self._alloc(0)
            pages.append({"page": i, "frame": f, "cow": False, "use": "heap"})
        self.procs[pid] = {"pid": pid, "parent": parent, "name": name, "pages": pages, "exit_status": None,
                           "killed_by": None, "fork_return": None, "threads": [], "children": []}
        if parent is not None:
            self.procs[parent]["children"].append(pid)
        return pid

    def _alloc(self, value: int) -> int:
        self._mem_version += 1
        f = self.next_frame
        self.next_frame += 1
        self.frames[f] = value
        self.refs[f] = 1
        return f

    def _thread(self, tid: str, pid: int, ops: list[list], arrival: int | None = None, priority: int = 0,
                length: int | None = None) -> str:
        work = length if length is not None else sum(o[1] for o in ops if o[0] == "cpu")
        self.threads[tid] = {"pid": pid, "ops": ops, "pc": 0, "doing": "not started", "job": None, "waits": [],
                             "cpu": CpuThread(tid, work, work, 0, priority)}
        self.order.append(tid)
        proc = self.procs[pid]
        proc["threads"].append(tid)
        proc["pages"].append({"page": 100 + len(proc["threads"]), "frame": self._alloc(0), "cow": False,
                              "use": f"stack {tid}"})
        at = self.now if arrival is None else arrival
        self.arrivals.append((at, len(self.order), tid))
        self.arrivals.sort()
        return tid

    def _free_pages(self, proc: dict[str, Any], use: str | None = None) -> None:
        self._mem_version += 1
        keep = []
        for pg in proc["pages"]:
            if use is None or pg["use"] == use:
                self.refs[pg["frame"]] -= 1
                if self.refs[pg["frame"]] == 0:
                    del self.refs[pg["frame"]]
                    del self.frames[pg["frame"]]
            else:
                keep.append(pg)
        proc["pages"] = keep

    # -- scenarios -----------------------------------------------------------

    def _setup_scheduler(self, p: TPParams) -> str:
        shared: dict[int, int] = {}
        for i, job in enumerate(p.jobs):
            tid = chr(ord("A") + i)
            if job.process and job.process in shared:
                pid = shared[job.process]
            else:
                pid = self._process(f"job {tid}", heap=1)
                if job.process:
                    shared[job.process] = pid
            ops: list[list] = []
            left = job.length
            while left > 0:
                burst = min(left, job.io_every) if job.io_every and job.io_time else left
                ops.append(["cpu", burst, "computing"])
                left -= burst
                if left > 0:
                    ops.append(["io", job.io_time, "waiting for I/O"])
            ops.append(["exit", 0])
            self._thread(tid, pid, ops, job.arrival, job.priority, job.length)
        jobs = ", ".join(f"{chr(65 + i)} = {j.length} at {j.arrival}" for i, j in enumerate(p.jobs))
        return (f"{len(p.jobs)} job{'s' if len(p.jobs) != 1 else ''} ({jobs}) on {p.cores} "
                f"core{'s' if p.cores != 1 else ''} under {_POLICY_NAMES[p.policy]}.")

    def _setup_fork(self, p: TPParams) -> str:
        parent = self._process("parent", heap=4)
        for i, pg in enumerate(self.procs[parent]["pages"][:4]):
            self.frames[pg["frame"]] = 10 * (i + 1)
        self._thread("P", parent, [["cpu", 2, "computing"], ["fork", "child"], ["write", 0, 1], ["cpu", 2, "computing"],
                                   ["wait"], ["exit", 0]])
        return ("A parent process with 4 heap pages will call fork(). Watch the child share every page "
                "copy-on-write until one of them writes.")

    def _setup_threads(self, p: TPParams) -> str:
        pid = self._process("server", heap=2)
        self._thread("T1", pid, [["cpu", 2, "computing"], ["write", 0, 7], ["cpu", 2, "computing"], ["exit", 0]])
        self._thread("T2", pid, [["cpu", 3, "computing"], ["read", 0], ["cpu", 1, "computing"], ["exit", 0]])
        self._thread("T3", pid, [["cpu", 1, "computing"], ["write", 1, 5], ["cpu", 2, "computing"], ["exit", 0]])
        return ("One process, three threads: one heap (pages 0 and 1) that all of them address, and a stack "
                "page per thread.")

    def _setup_pipe(self, p: TPParams) -> str:
        w = self._process("writer")
        r = self._process("reader")
        self.channels["pipe"] = {"type": "pipe", "src": w, "dst": r, "capacity": p.capacity, "items": [],
                                 "write_closed": False, "waiting": []}
        wops: list[list] = []
        for i in range(6):
            wops += [["cpu", 1, "producing"], ["pipe_write", "pipe", f"d{i + 1}"]]
        wops += [["close", "pipe"], ["exit", 0]]
        self._thread("W", w, wops)
        self._thread("R", r, [["cpu", 1, "starting"], ["pipe_read", "pipe"], ["cpu", 3, "consuming"],
                              ["goto", 1]])
        return (f"A writer and a reader joined by a pipe that holds {p.capacity} KiB (a real Linux pipe holds "
                f"64 KiB). The writer writes 1 KiB at a time, an atomic write since it is under PIPE_BUF (4 KiB); "
                f"the reader is slower.")

    def _setup_message_queue(self, p: TPParams) -> str:
        s = self._process("sender")
        r = self._process("receiver")
        self.channels["mq"] = {"type": "mqueue", "src": s, "dst": r, "capacity": p.capacity, "items": [],
                               "write_closed": False, "waiting": []}
        sops: list[list] = []
        for i in range(6):
            prio = 5 if i == 3 else 0
            sops += [["cpu", 1, "producing"], ["mq_send", "mq", f"m{i + 1}", prio]]
        sops += [["mq_send", "mq", "stop", 0], ["exit", 0]]
        self._thread("S", s, sops)
        self._thread("Q", r, [["cpu", 2, "starting"], ["mq_recv", "mq"], ["cpu", 2, "handling"], ["goto", 1]])
        return (f"A POSIX message queue (mq_maxmsg {p.capacity}) between two processes. Message m4 is sent with "
                f"priority 5, the rest with 0: mq_receive takes the highest priority first.")

    def _setup_shared_memory(self, p: TPParams) -> str:
        a = self._process("process A", heap=1)
        b = self._process("process B", heap=1)
        f = self._alloc(0)
        self.refs[f] = 2  # (the _alloc above bumped the memory version)
        for pid in (a, b):
            self.procs[pid]["pages"].append({"page": 50, "frame": f, "cow": False, "use": "shm"})
        self._thread("A1", a, [["cpu", 1, "computing"], ["read", 50], ["cpu", 2, "adding 1"], ["write", 50, "+1"],
                               ["exit", 0]])
        self._thread("B1", b, [["cpu", 1, "computing"], ["read", 50], ["cpu", 2, "adding 1"], ["write", 50, "+1"],
                               ["exit", 0]])
        return ("Two processes map one shared page (shm_open and mmap): page 50 is the same frame in both. "
                "Each reads the counter, adds 1 and writes it back, with no lock.")

    def _setup_speedup(self, p: TPParams) -> str:
        pfrac = 1.0 - p.serial_fraction
        measured = {n: self._measure(p, n) for n in range(1, 5)}
        self.speedups = [(n, round(amdahl(pfrac, n), 3), measured.get(n)) for n in range(1, 9)]
        self._speedup_ops(p, p.cores, self._process("job", heap=2))
        return (f"A data-parallel job of {p.work} ticks, {p.serial_fraction:.0%} of it serial, split over "
                f"{p.cores} core{'s' if p.cores != 1 else ''}. Amdahl: S({p.cores}) = "
                f"{amdahl(pfrac, p.cores):.2f}.")

    def _speedup_ops(self, p: TPParams, n: int, pid: int) -> None:
        serial = round(p.work * p.serial_fraction)
        par = p.work - serial
        chunks = [par // n + (1 if i < par % n else 0) for i in range(n)]
        ops: list[list] = []
        if serial:
            ops.append(["cpu", serial, "serial part"])
        ops.append(["spawn", chunks])
        ops.append(["join"])
        if p.sync_cost:
            ops.append(["cpu", p.sync_cost * n, f"merging {n} results"])
        ops.append(["exit", 0])
        self._thread("M", pid, ops, length=serial + p.sync_cost * n)

    @classmethod
    def _measure(cls, p: TPParams, n: int) -> float | None:
        """Run the speed-up job on n cores, headless: one core's time / n cores' time."""
        eng = cls(p.model_copy(update={"cores": n, "scenario": "speedup_measure"}), random.Random(0))
        eng.cpu = Cpu(cores=n, policy=p.policy, quantum=p.quantum, switch_cost=p.switch_cost, aging=p.aging)
        eng._init_measure()
        eng._speedup_ops(p, n, eng._process("job", heap=2))
        eng._settle([])
        for _ in range(4000):
            if eng._done:
                break
            eng._advance([])
        return round(p.work / eng.now, 3) if eng._done and eng.now else None

    def _init_measure(self) -> None:
        self.now, self.index, self.threads, self.order, self.admitted, self.procs = 0, 0, {}, [], [], {}
        self.frames, self.refs, self.next_frame, self.copies, self.channels = {}, {}, 1, 0, {}
        self.arrivals, self.wakes, self.requests, self.tasks, self.task_changes = [], [], [], [], []
        self.speedups, self._wseq, self._pending, self._pending_events, self._done = [], 0, [], [], False
        self._entities = {}
        self._mem_version = 0

    def _setup_web_server(self, p: TPParams) -> str:
        pid = self._process("web server", heap=2)
        for i in range(p.requests):
            self.requests.append({"arrival": i // 2, "started": None, "served": None, "thread": None})
        handle = [["cpu", 1, "parsing"], ["io", 6, "querying the database"], ["cpu", 1, "rendering"], ["served"]]
        if p.server == "pool":
            for i in range(p.pool_size):
                self._thread(f"W{i + 1}", pid, [["take"], *handle, ["goto", 0]], length=2 * p.requests // p.pool_size)
            how = f"a fixed pool of {p.pool_size} threads taking requests from a queue"
        else:
            self._thread("L", pid, [["accept"], ["cpu", 1, "creating a thread"], ["spawn_handler"], ["goto", 0]],
                         length=p.requests)
            how = "a new thread for every request"
        return f"A burst of {p.requests} requests, two per tick, hits a web server that uses {how}."

    def _setup_workers(self, p: TPParams) -> str:
        sup = self._process("supervisor", heap=1)
        self.channels["jobs"] = {"type": "mqueue", "src": sup, "dst": 0, "capacity": p.capacity, "items": [],
                                 "write_closed": False, "waiting": []}
        ops: list[list] = [["fork", "worker"], ["fork", "worker"], ["fork", "worker"]]
        for i in range(6):
            ops.append(["mq_send", "jobs", "poison" if i == 2 else f"job{i + 1}", 0])
        ops += [["mq_send", "jobs", "stop", 0]] * 3
        ops += [["wait"], ["wait"], ["wait"], ["exit", 0]]
        self._thread("S", sup, ops)
        return ("A supervisor forks three worker processes and sends six jobs down a message queue. Job 3 is "
                "poisoned: the worker that takes it will crash.")

    def _setup_event_loop(self, p: TPParams) -> str:
        pid = self._process("asyncio program", heap=1)
        ops, self.task_changes = event_loop_plan(p.blocking_task)
        self.tasks = [{"state": "ready", "wakes_at": None} for _ in range(LOOP_TASKS)]
        self._thread("E", pid, ops)
        extra = f" Task {LOOP_TASKS} calls a blocking function instead of awaiting." if p.blocking_task else ""
        return (f"One thread runs an event loop with {LOOP_TASKS} tasks; each computes, awaits I/O, then "
                f"computes again.{extra}")

    # -- the contract ----------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done

    def step(self) -> Frame:
        events: list[Event] = list(self._pending_events)
        said = list(self._pending)
        self._pending, self._pending_events = [], []
        if not self._done:
            said += self._advance(events)
        else:
            said.append("Every thread has finished.")
        self.index += 1
        if len(said) > 4:  # the rest goes to the log, in order
            events += [Event("more", text) for text in said[3:]]
            said = said[:3] + [f"And {len(said) - 3} more things at this tick, in the log."]
        return self._frame(" ".join(said) or f"Tick {self.now}: the cores keep running.", events)

    def _next_time(self) -> int | None:
        times = [t for t in (self.cpu.next_event(self.now),
                             self.arrivals[0][0] if self.arrivals else None,
                             self.wakes[0][0] if self.wakes else None) if t is not None]
        if self.task_changes:
            later = [c[3] for c in self.task_changes if c[2] == "awaiting" and c[3] > self.now]
            if later:
                times.append(min(later))
        if self.requests:
            later = [r["arrival"] for r in self.requests if r["arrival"] > self.now]
            if later:
                times.append(min(later))
        return min(times) if times else None

    def _advance(self, events: list[Event]) -> list[str]:
        t = self._next_time()
        if t is None:
            self._done = True
            return [f"At tick {self.now} nothing more can run."]
        t = max(t, self.now)
        self.cpu.advance(self.now, t)
        self.now = t
        said = self._settle(events)
        if all(th["cpu"].state == "done" for th in self.threads.values()) and not self.arrivals:
            self._done = True
            said.insert(0, self._summary())
        return said or [f"Tick {t}: the cores keep running."]

    def _summary(self) -> str:
        m = self._metrics()
        p: TPParams = self.params  # type: ignore[assignment]
        if p.scenario == "web_server":
            return (f"All {len(self.requests)} requests served at tick {self.now}: mean latency "
                    f"{m['avg_latency']} ticks, at most {self.peak_pages} page frames in use.")
        if p.scenario == "speedup":
            return (f"Done at tick {self.now}: measured speed-up {m['speedup']} on {p.cores} "
                    f"core{'s' if p.cores != 1 else ''}; Amdahl's law gives {amdahl(1 - p.serial_fraction, p.cores):.2f}.")
        return (f"All done at tick {self.now}: average response {m['avg_response']}, average turnaround "
                f"{m['avg_turnaround']} ticks.")

    # the heart: everything that happens at one tick

    def _settle(self, events: list[Event]) -> list[str]:
        now = self.now
        said: list[str] = []
        while self.arrivals and self.arrivals[0][0] <= now:
            _, _, tid = self.arrivals.pop(0)
            ct = self.threads[tid]["cpu"]
            self.cpu.admit(ct, now)
            self.admitted.append(tid)
            self.threads[tid]["doing"] = "ready"
            if ct.arrival == now and self.params.scenario == "scheduler":  # type: ignore[attr-defined]
                said.append(f"{tid} arrives needing {ct.length} ticks of CPU.")
        while self.wakes and self.wakes[0][0] <= now:
            _, _, tid = self.wakes.pop(0)
            if self.threads[tid]["cpu"].state == "blocked":
                self.cpu.wake(tid, now)
                self._end_wait(tid)
                self.threads[tid]["doing"] = "ready"
                said.append(f"{tid}'s {self.threads[tid].get('waiting', 'I/O')} completes: it is ready again.")
        self._wake_request_takers()
        for t, i, st, w in self.task_changes:
            if st == "awaiting" and w == now:
                loop = self.threads["E"]
                if loop["cpu"].state == "blocked" and loop.get("waiting") == "blocking call":
                    said.append(f"Task {i + 1}'s I/O is complete, but the loop thread is stuck in a blocking call: "
                                f"task {i + 1} waits, frozen.")
                else:
                    said.append(f"Task {i + 1}'s I/O is complete: it is ready to run.")
        for _ in range(200):
            busy = False
            for tid in self.cpu.burst_done():
                busy = True
                said += self._run_ops(tid, events)
            log = self.cpu.dispatch(now)
            for core, tid, how in log:
                busy = True
                ct = self.threads[tid]["cpu"]
                cost = f" after a {self.cpu.switch_cost}-tick context switch" if self.cpu.core_list[core].switching_to == tid else ""
                if how.startswith("preempt:") and self.cpu.policy == "stcf":
                    said.append(f"{tid} (needs {ct.remaining}) preempts {how[8:]} on core {core + 1}{cost}: "
                                f"it has less work left.")
                elif how.startswith("preempt:"):
                    said.append(f"{tid} (priority {ct.run_priority} after aging, base {ct.priority}) preempts "
                                f"{how[8:]} on core {core + 1}{cost}.")
                elif how.startswith("quantum:"):
                    said.append(f"{how[8:]}'s quantum of {self.cpu.quantum} is used up; {tid} runs on core "
                                f"{core + 1}{cost}.")
                else:
                    said.append(f"Core {core + 1} runs {tid}{cost}.")
            if not busy and not self.cpu.burst_done():
                break  # (a switch that completed hands over a thread with work to look at)
        self.peak_pages = max(getattr(self, "peak_pages", 0), len(self.frames))
        return said

    def _end_wait(self, tid: str) -> None:
        waits = self.threads[tid]["waits"]
        if waits and waits[-1][1] is None:
            waits[-1][1] = self.now
            if waits[-1][1] == waits[-1][0]:
                waits.pop()  # woken at once: nothing to draw

    def _block(self, tid: str, why: str, until: int | None = None) -> None:
        self.cpu.block(tid, self.now)
        th = self.threads[tid]
        th["waits"].append([self.now, None])
        del th["waits"][:-WAITS_SHOWN]
        th["doing"] = why
        if until is not None:
            self._wseq += 1
            self.wakes.append((until, self._wseq, tid))
            self.wakes.sort()

    def _wake(self, tid: str) -> None:
        if self.threads[tid]["cpu"].state == "blocked":
            self.cpu.wake(tid, self.now)
            self._end_wait(tid)
            self.threads[tid]["doing"] = "ready"

    def _run_ops(self, tid: str, events: list[Event]) -> list[str]:
        """The running thread `tid` has no CPU work left in its burst: carry out its next
        operations until it has CPU work again, blocks or exits."""
        th = self.threads[tid]
        ops = th["ops"]
        said: list[str] = []
        pid = th["pid"]
        proc = self.procs[pid]
        for _ in range(50):
            if th["cpu"].state != "running":
                return said
            if th["pc"] >= len(ops):
                return said + self._exit_thread(tid, 0, events)
            op = ops[th["pc"]]
            kind = op[0]
            if kind == "cpu":
                th["pc"] += 1
                self.cpu.set_burst(tid, op[1])
                if op[2].startswith("task ") and op[2] != th["doing"]:
                    said.append(f"The loop thread {tid} runs {op[2]} for {op[1]} tick{'s' if op[1] != 1 else ''}.")
                th["doing"] = op[2]
                return said
            if kind == "io":
                th["pc"] += 1
                label = op[2] if len(op) > 2 else "waiting for I/O"
                th["waiting"] = "blocking call" if "blocks the loop" in label else label
                self._block(tid, label, self.now + op[1])
                if "blocks the loop" in label:
                    said.append(f"{label[:6].capitalize()} makes a blocking call: thread {tid} waits in the kernel "
                                f"until tick {self.now + op[1]}, and no other task can run, ready or not.")
                elif label == "epoll_wait":
                    said.append(f"Every task awaits I/O: the loop thread {tid} blocks in epoll_wait until "
                                f"tick {self.now + op[1]}.")
                else:
                    said.append(f"{tid} blocks: {label} until tick {self.now + op[1]}, and leaves its core.")
                return said
            if kind == "exit":
                return said + self._exit_thread(tid, op[1], events)
            th["pc"] += 1
            if kind == "goto":
                th["pc"] = op[1]
            elif kind == "fork":
                said.append(self._fork(tid, op[1], events))
            elif kind == "write":
                said.append(self._write(tid, op[1], op[2]))
            elif kind == "read":
                value = self._page_value(proc, op[1])
                th["doing"] = f"read page {op[1]} = {value}"
                th["read"] = value
                said.append(f"{tid} reads page {op[1]}: {value}.")
            elif kind == "wait":
                live = [c for c in proc["children"] if self.procs[c]["exit_status"] is None]
                reaped = [c for c in proc["children"] if self.procs[c]["exit_status"] is not None
                          and c not in proc.setdefault("reaped", [])]
                if reaped:
                    c = reaped[0]
                    proc["reaped"].append(c)
                    child = self.procs[c]
                    how = (f"killed by {child['killed_by']}" if child["killed_by"]
                           else f"exit status {child['exit_status']}")
                    th["doing"] = f"wait() = {c}"
                    said.append(f"{tid}'s wait() returns pid {c}, {how}.")
                elif live:
                    th["pc"] -= 1
                    self._block(tid, "in wait() for a child")
                    said.append(f"{tid} calls wait(): its child is still running, so it blocks.")
                    return said
                else:
                    th["doing"] = "wait() = -1 (ECHILD)"
            elif kind == "pipe_write":
                r = self._pipe_write(tid, op[1], op[2], events)
                if r is not None:
                    return said + [r]
                said.append(f"{tid} writes {op[2]} (1 KiB) into the pipe.")
            elif kind == "pipe_read":
                r = self._pipe_read(tid, op[1], events)
                said.append(r)
                if th["cpu"].state != "running":
                    return said
            elif kind == "close":
                ch = self.channels[op[1]]
                ch["write_closed"] = True
                th["doing"] = "closed the write end"
                said.append(f"{tid} closes the pipe's write end.")
                for w in list(ch["waiting"]):
                    ch["waiting"].remove(w)
                    self._wake(w)
            elif kind == "mq_send":
                r = self._mq_send(tid, op[1], op[2], op[3])
                said.append(r)
                if th["cpu"].state != "running":
                    return said
            elif kind == "mq_recv":
                r = self._mq_recv(tid, op[1], events)
                said.append(r)
                if th["cpu"].state != "running":
                    return said
            elif kind == "spawn":
                names = []
                for i, chunk in enumerate(op[1]):
                    name = f"W{i + 1}"
                    self._thread(name, pid, [["cpu", chunk, "parallel part"], ["exit", 0]])
                    names.append(name)
                self._admit_now()
                said.append(f"{tid} starts {len(names)} worker thread{'s' if len(names) != 1 else ''} "
                            f"({', '.join(names)}), {op[1][0]} ticks of work each.")
            elif kind == "join":
                others = [t for t in proc["threads"] if t != tid and self.threads[t]["cpu"].state != "done"]
                if others:
                    th["pc"] -= 1
                    self._block(tid, "joining its workers")
                    said.append(f"{tid} waits to join {', '.join(others)}.")
                    return said
                th["doing"] = "joined"
            elif kind == "take":
                r = self._take(tid)
                if r is not None:
                    said.append(r)
                if th["cpu"].state != "running":
                    return said
            elif kind == "accept":
                r = self._accept(tid, events)
                if r is not None:
                    said.append(r)
                if th["cpu"].state != "running":
                    return said
            elif kind == "spawn_handler":
                req = th["job"]
                n = sum(1 for t in proc["threads"] if t.startswith("H")) + 1
                name = f"H{n}"
                self._thread(name, pid, [["cpu", 1, "parsing"], ["io", 6, "querying the database"],
                                         ["cpu", 1, "rendering"], ["served"], ["exit", 0]])
                self.threads[name]["job"] = req
                self.requests[req]["thread"] = name
                self._admit_now()
                said.append(f"{tid} creates thread {name} (a stack page) for request {req + 1}.")
            elif kind == "served":
                req = th["job"]
                self.requests[req]["served"] = self.now
                said.append(f"{tid} sends the response to request {req + 1}: "
                            f"{self.now - self.requests[req]['arrival']} ticks after it arrived.")
            elif kind == "do_job":
                job = th["job"]
                if job == "poison":
                    said.append(self._crash(tid, events, "the poisoned job"))
                    return said
                th["pc"] -= 1
                ops[th["pc"]] = ["cpu", 3, f"working on {job}"]
                self.threads[tid]["ops"] = ops
        return said

    def _admit_now(self) -> None:
        while self.arrivals and self.arrivals[0][0] <= self.now:
            _, _, t = self.arrivals.pop(0)
            self.cpu.admit(self.threads[t]["cpu"], self.now)
            self.admitted.append(t)
            self.threads[t]["doing"] = "ready"

    def _exit_thread(self, tid: str, status: int, events: list[Event]) -> list[str]:
        th = self.threads[tid]
        self.cpu.finish(tid, self.now)
        th["doing"] = "exited"
        proc = self.procs[th["pid"]]
        self._free_pages(proc, f"stack {tid}")
        said = []
        ct = th["cpu"]
        if self.params.scenario == "scheduler":  # type: ignore[attr-defined]
            said.append(f"{tid} completes at tick {self.now}: response {ct.first_run - ct.arrival}, "
                        f"turnaround {self.now - ct.arrival}.")
        else:
            said.append(f"{tid} finishes at tick {self.now}.")
        for other in proc["threads"]:
            o = self.threads[other]
            if o["cpu"].state == "blocked" and o["doing"] == "joining its workers":
                if all(self.threads[t]["cpu"].state == "done" for t in proc["threads"] if t != other):
                    self._wake(other)
        if all(self.threads[t]["cpu"].state == "done" for t in proc["threads"]):
            said += self._exit_process(proc, status, None, events)
        return said

    def _exit_process(self, proc: dict[str, Any], status: int, signal: str | None, events: list[Event]) -> list[str]:
        if proc["exit_status"] is not None:
            return []
        proc["exit_status"] = 128 + SIGNALS[signal] if signal else status
        proc["killed_by"] = signal
        self._free_pages(proc)
        # Channel ends it held: a writer gone closes the write end (the reader sees EOF).
        for ch in self.channels.values():
            if ch["src"] == proc["pid"] and ch["type"] == "pipe":
                ch["write_closed"] = True
            for w in list(ch["waiting"]):
                if self.threads[w]["pid"] != proc["pid"] and ch["write_closed"]:
                    ch["waiting"].remove(w)
                    self._wake(w)
            ch["waiting"] = [w for w in ch["waiting"] if self.threads[w]["pid"] != proc["pid"]]
        said = []
        parent = proc["parent"]
        if parent is not None:
            for t in self.procs[parent]["threads"]:
                if self.threads[t]["doing"] == "in wait() for a child":
                    self._wake(t)
            if signal:
                said.append(f"Process {proc['pid']} ({proc['name']}) is killed by {signal}; its parent "
                            f"will read that from wait().")
        events.append(Event("exit", f"pid {proc['pid']} {'killed by ' + signal if signal else 'exited ' + str(status)}",
                            f"pid {proc['pid']}", "error" if signal else "info"))
        return said

    def _crash(self, tid: str, events: list[Event], why: str, signal: str = "SIGSEGV") -> str:
        th = self.threads[tid]
        proc = self.procs[th["pid"]]
        victims = [t for t in proc["threads"] if self.threads[t]["cpu"].state != "done"]
        for t in victims:
            self.cpu.kill(t, self.now)
            self._end_wait(t)
            self.threads[t]["doing"] = "killed"
            for ch in self.channels.values():
                if t in ch["waiting"]:
                    ch["waiting"].remove(t)
        self._exit_process(proc, 0, signal, events)
        others = [t for t in victims if t != tid]
        also = f", and with it {', '.join(others)}" if others else ""
        if signal == "SIGPIPE":
            return (f"{tid} writes to a pipe whose reader is gone: SIGPIPE ends process {proc['pid']}{also}.")
        return (f"{tid} faults on {why} (SIGSEGV): the kernel ends process {proc['pid']}{also}. Other "
                f"processes keep running.")

    # memory

    def _page(self, proc: dict[str, Any], page: int) -> dict[str, Any]:
        return next(pg for pg in proc["pages"] if pg["page"] == page)

    def _page_value(self, proc: dict[str, Any], page: int) -> int:
        return self.frames[self._page(proc, page)["frame"]]

    def _write(self, tid: str, page: int, value: Any) -> str:
        self._mem_version += 1
        th = self.threads[tid]
        proc = self.procs[th["pid"]]
        pg = self._page(proc, page)
        note = ""
        if pg["cow"]:
            if self.refs[pg["frame"]] > 1:
                self.refs[pg["frame"]] -= 1
                old = pg["frame"]
                pg["frame"] = self._alloc(self.frames[old])
                self.copies += 1
                note = f" A copy-on-write fault copies frame {old} to a new frame {pg['frame']} first."
            else:
                note = " It is the last process using that frame, so the kernel just makes it writable."
            pg["cow"] = False
        if value == "+1":
            value = th.get("read", 0) + 1
        self.frames[pg["frame"]] = value
        th["doing"] = f"wrote page {page} = {value}"
        who = f"{tid} (pid {proc['pid']})"
        if pg["use"] == "shm":
            self.shm_writes = getattr(self, "shm_writes", 0) + 1
            if value != self.shm_writes:
                note += (f" {self.shm_writes} increments, but the page holds {value}: an update was lost. Shared "
                         f"memory needs synchronization (see Locks & Synchronization).")
            else:
                note += " Both processes see the new value at once: it is one frame."
        return f"{who} writes {value} to page {page}.{note}"

    def _fork(self, tid: str, script: str, events: list[Event]) -> str:
        self._mem_version += 1
        th = self.threads[tid]
        parent = self.procs[th["pid"]]
        child = self._process("worker" if script == "worker" else "child", parent=parent["pid"], heap=0)
        cp = self.procs[child]
        for pg in parent["pages"]:
            if pg["use"] == f"stack {tid}":
                continue
            if pg["use"] == "heap":
                self.refs[pg["frame"]] += 1
                pg["cow"] = True
                cp["pages"].append({"page": pg["page"], "frame": pg["frame"], "cow": True, "use": "heap"})
        parent["fork_return"] = child
        cp["fork_return"] = 0
        name = ("C" if script == "child" else "K") + (str(len(parent["children"])) if script == "worker" else "")
        if script == "child":
            ops = [["cpu", 1, "computing"], ["write", 1, 99], ["write", 2, 77], ["cpu", 1, "computing"],
                   ["read", 0], ["exit", 3]]
        else:
            ops = [["mq_recv", "jobs"], ["do_job"], ["goto", 0]]
        self._thread(name, child, ops)
        self._admit_now()
        th["doing"] = f"fork() = {child}"
        events.append(Event("fork", f"pid {parent['pid']} forks pid {child}", tid))
        return (f"{tid} calls fork(): it returns {child} (the child's pid) in the parent and 0 in child pid "
                f"{child}, whose thread is {name}. The {sum(1 for p in cp['pages'])} heap pages are shared, "
                f"marked copy-on-write.")

    # IPC

    def _pipe_write(self, tid: str, name: str, item: str, events: list[Event]) -> str | None:
        ch = self.channels[name]
        th = self.threads[tid]
        if self.procs[ch["dst"]]["exit_status"] is not None:
            return self._crash(tid, events, "a write to a pipe with no reader", "SIGPIPE")
        if len(ch["items"]) >= ch["capacity"]:
            th["pc"] -= 1
            self._block(tid, "writing: the pipe is full")
            ch["waiting"].append(tid)
            return f"The pipe is full ({ch['capacity']} KiB): {tid}'s write blocks until the reader makes room."
        ch["items"].append(item)
        th["doing"] = f"wrote {item}"
        for w in list(ch["waiting"]):
            if self.threads[w]["pid"] == ch["dst"]:
                ch["waiting"].remove(w)
                self._wake(w)
        return None

    def _pipe_read(self, tid: str, name: str, events: list[Event]) -> str:
        ch = self.channels[name]
        th = self.threads[tid]
        if ch["items"]:
            item = ch["items"].pop(0)
            th["doing"] = f"read {item}"
            for w in list(ch["waiting"]):
                if self.threads[w]["pid"] == ch["src"]:
                    ch["waiting"].remove(w)
                    self._wake(w)
            return f"{tid} reads {item} from the pipe ({len(ch['items'])} KiB left in it)."
        if ch["write_closed"]:
            th["pc"] = len(th["ops"])  # read() returned 0: the loop ends
            ops = th["ops"]
            ops.append(["exit", 0])
            th["doing"] = "read() = 0 (EOF)"
            return f"{tid}'s read() returns 0: the pipe is empty and its write end is closed, end of file."
        th["pc"] -= 1
        self._block(tid, "reading: the pipe is empty")
        ch["waiting"].append(tid)
        return f"The pipe is empty: {tid}'s read blocks until the writer writes."

    def _mq_send(self, tid: str, name: str, msg: str, prio: int) -> str:
        ch = self.channels[name]
        th = self.threads[tid]
        if len(ch["items"]) >= ch["capacity"]:
            th["pc"] -= 1
            self._block(tid, "in mq_send: the queue is full")
            ch["waiting"].append(tid)
            return f"The queue holds {ch['capacity']} messages, its maximum: {tid}'s mq_send blocks."
        # mq_send: before every message of lower priority, after those of equal priority.
        items = ch["items"]
        at = len(items)
        prios = ch.setdefault("prios", [])
        for i, q in enumerate(prios):
            if q < prio:
                at = i
                break
        items.insert(at, msg)
        prios.insert(at, prio)
        th["doing"] = f"sent {msg}"
        for w in list(ch["waiting"]):
            if self.threads[w]["doing"].startswith("in mq_receive"):
                ch["waiting"].remove(w)
                self._wake(w)
                break
        where = "" if at == len(items) - 1 else f", ahead of {len(items) - 1 - at} of lower priority"
        return f"{tid} sends {msg}{f' (priority {prio})' if prio else ''}{where}."

    def _mq_recv(self, tid: str, name: str, events: list[Event]) -> str:
        ch = self.channels[name]
        th = self.threads[tid]
        if not ch["items"]:
            th["pc"] -= 1
            self._block(tid, "in mq_receive: the queue is empty")
            ch["waiting"].append(tid)
            return f"The queue is empty: {tid}'s mq_receive blocks."
        msg = ch["items"].pop(0)
        ch["prios"].pop(0)
        for w in list(ch["waiting"]):
            if self.threads[w]["doing"].startswith("in mq_send"):
                ch["waiting"].remove(w)
                self._wake(w)
                break
        th["doing"] = f"received {msg}"
        th["job"] = msg
        events.append(Event("receive", f"{tid} received {msg}", tid))
        if msg == "stop":
            th["pc"] = len(th["ops"])
            th["ops"].append(["exit", 0])
            return f"{tid} receives stop and exits."
        if th["pc"] < len(th["ops"]) and th["ops"][th["pc"]][0] == "cpu" and name == "mq":
            pass
        if name == "jobs":
            th["ops"][th["pc"]] = ["do_job"]
        return f"{tid} receives {msg}."

    def _take(self, tid: str) -> str | None:
        th = self.threads[tid]
        for i, r in enumerate(self.requests):
            if r["thread"] is None and r["arrival"] <= self.now:
                r["thread"], r["started"] = tid, self.now
                th["job"] = i
                th["doing"] = f"request {i + 1}"
                if all(q["thread"] is not None for q in self.requests):
                    for other, o in self.threads.items():
                        if o["cpu"].state == "blocked" and o["doing"] == "waiting for a request":
                            self._wake(other)  # nothing left to take: it will exit
                return f"{tid} takes request {i + 1} from the queue."
        if all(r["thread"] is not None for r in self.requests):
            th["pc"] = len(th["ops"])
            th["ops"].append(["exit", 0])
            return None
        th["pc"] -= 1
        self._block(tid, "waiting for a request")
        return None

    def _accept(self, tid: str, events: list[Event]) -> str | None:
        th = self.threads[tid]
        for i, r in enumerate(self.requests):
            if not r.get("accepted") and r["arrival"] <= self.now:
                r["accepted"] = True
                r["started"] = self.now
                th["job"] = i
                th["doing"] = f"accepted request {i + 1}"
                return None
        if all(r.get("accepted") for r in self.requests):
            th["pc"] = len(th["ops"])
            th["ops"].append(["exit", 0])
            return None
        th["pc"] -= 1
        self._block(tid, "waiting for a request")
        return None

    def _wake_request_takers(self) -> None:
        if not self.requests:
            return
        if any(r["arrival"] <= self.now and r["thread"] is None and not r.get("accepted") for r in self.requests):
            for tid, th in self.threads.items():
                if th["cpu"].state == "blocked" and th["doing"] == "waiting for a request":
                    self._wake(tid)

    # -- actions -------------------------------------------------------------

    def apply(self, action: Any) -> Event | None:
        if isinstance(action, Crash):
            th = self.threads.get(action.thread)
            if th is None:
                raise ValueError(f"there is no thread {action.thread} in this run")
            if th["cpu"].state == "done":
                raise ValueError(f"{action.thread} has already finished")
            if th["cpu"].state == "new":
                raise ValueError(f"{action.thread} has not arrived yet (at tick {self._arrival_tick(action.thread)})")
            events: list[Event] = []
            text = self._crash(action.thread, events, "a bad pointer")
            self._done = False
            self._pending.append(text)
            self._pending += self._settle(events)[:1]
            self._pending_events += events
            return Event("crash", f"{action.thread} crashed (SIGSEGV)", action.thread, "warn")
        if isinstance(action, AddJob):
            if self.params.scenario != "scheduler":  # type: ignore[attr-defined]
                raise ValueError("jobs can be added in the scheduler scenario only")
            n = sum(1 for t in self.order if len(t) == 1) + 0
            if n >= 26:
                raise ValueError("no more job names left")
            tid = chr(ord("A") + n)
            pid = self._process(f"job {tid}", heap=1)
            self._thread(tid, pid, [["cpu", action.length, "computing"], ["exit", 0]], self.now, 0, action.length)
            self._done = False
            self._pending.append(f"Job {tid} of {action.length} ticks arrives at tick {self.now}.")
            self._pending += self._settle([])[1:2]
            return Event("add_job", f"{tid} ({action.length} ticks) added", tid)
        raise ValueError("unknown action")

    def _arrival_tick(self, tid: str) -> int | None:
        return next((t for t, _, x in self.arrivals if x == tid), None)

    # -- frames ----------------------------------------------------------------

    def _metrics(self) -> dict[str, Any]:
        cts = [self.threads[t]["cpu"] for t in self.order]
        ran = [c.first_run - c.arrival for c in cts if c.first_run is not None and c.arrival is not None]
        fin = [c.completion - c.arrival for c in cts if c.completion is not None and c.arrival is not None
               and c.first_run is not None]
        work = sum(c.length - c.remaining for c in cts)
        served = [r["served"] - r["arrival"] for r in self.requests if r["served"] is not None]
        return {
            "time": self.now,
            "avg_response": round(sum(ran) / len(ran), 2) if ran else None,
            "avg_turnaround": round(sum(fin) / len(fin), 2) if fin else None,
            "context_switches": self.cpu.context_switches,
            "speedup": self._speedup(work),
            "pages_copied": self.copies,
            "memory_pages": len(self.frames),
            "avg_latency": round(sum(served) / len(served), 2) if served else None,
        }

    def _speedup(self, work: int) -> float | None:
        if not self.now:
            return None
        if self.speedups:  # the data-parallel job: its time on one core (no overheads) over this run's
            return round(self.params.work / self.now, 2) if self._done else None  # type: ignore[attr-defined]
        return round(work / self.now, 2)

    def _frame(self, narration: str, events: list[Event]) -> Frame:
        ents: list[Entity] = []
        cache = self._entities
        now = self.now
        for core in self.cpu.core_list:
            segments = core.segments
            last = segments[-1] if segments else None
            key = (len(segments), last and tuple(last), min(now, last[2]) if last else 0, core.running, core.switching_to)
            ck = ("core", core.index)
            hit = cache.get(ck)
            if hit is None or hit[0] != key:
                segs = [[s[0], s[1], min(s[2], max(now, s[1])), s[3]] for s in segments[-SEGMENTS_SHOWN:]]
                hit = cache[ck] = (key, Entity(f"core{core.index + 1}", "core", {
                    "running": core.running, "switching_to": core.switching_to, "segments": segs}))
            ents.append(hit[1])
        # An entity is rebuilt only when what it shows changed: frames share the rest (cheaper to
        # build, and the stage caches what it drew for an entity it has seen).
        # Threads in the order they arrived: one that has not arrived does not exist yet, and a
        # thread's place (its colour on the stage) never changes once it has one.
        for tid in self.admitted:
            th = self.threads[tid]
            c = th["cpu"]
            arrival = c.arrival
            waits = th["waits"]
            open_wait = bool(waits) and waits[-1][1] is None
            key = (c.state, arrival, c.first_run, c.completion, c.remaining, c.core, th["doing"], len(waits),
                   waits[0][0] if waits else None, now if open_wait else None)
            hit = cache.get(tid)
            if hit is None or hit[0] != key:
                hit = cache[tid] = (key, Entity(tid, "thread", {
                    "process": th["pid"], "state": c.state, "arrival": arrival, "first_run": c.first_run,
                    "completion": c.completion, "remaining": max(0, c.remaining), "length": c.length,
                    "priority": c.priority, "core": c.core, "doing": th["doing"],
                    "waits": [[a, now if b is None else b] for a, b in waits],
                }))
            ents.append(hit[1])
        refs, frames = self.refs, self.frames
        for pid, proc in self.procs.items():
            # Pages change only through _alloc, _free_pages, _write and _fork, which bump the version.
            key = (self._mem_version, proc["exit_status"], proc["killed_by"], proc["fork_return"], len(proc["threads"]))
            hit = cache.get(pid)
            if hit is None or hit[0] != key:
                pages = tuple((pg["page"], pg["frame"], refs.get(pg["frame"], 0) > 1, pg["cow"],
                               frames.get(pg["frame"], 0), pg["use"]) for pg in proc["pages"])
                hit = cache[pid] = (key, Entity(f"pid{pid}", "process", {
                    "pid": pid, "parent": proc["parent"], "name": proc["name"],
                    "pages": [{"page": a, "frame": b, "shared": c, "cow": d, "value": e, "use": f}
                              for a, b, c, d, e, f in pages],
                    "exit_status": proc["exit_status"], "killed_by": proc["killed_by"],
                    "fork_return": proc["fork_return"], "threads": list(proc["threads"]),
                }))
            ents.append(hit[1])
        for name, ch in self.channels.items():
            ents.append(Entity(name, "channel", {
                "type": ch["type"], "src": ch["src"], "dst": ch["dst"], "capacity": ch["capacity"],
                "items": list(ch["items"]), "write_closed": ch["write_closed"], "waiting": list(ch["waiting"]),
            }))
        if self.task_changes:
            states = [{"state": "ready", "wakes_at": None} for _ in range(LOOP_TASKS)]
            for t, i, st, w in self.task_changes:
                if t > self.now:
                    break
                states[i] = {"state": st, "wakes_at": w}
            for i, st in enumerate(states):
                state = st["state"]
                if state == "awaiting" and st["wakes_at"] <= self.now:
                    state = "ready"  # its I/O is done: runnable, whether or not the loop gets to it
                ents.append(Entity(f"task{i + 1}", "task", {"loop": "E", "state": state, "wakes_at": st["wakes_at"]}))
        for i, r in enumerate(self.requests):
            key = (r["started"], r["served"], r["thread"])
            hit = cache.get(("req", i))
            if hit is None or hit[0] != key:
                hit = cache[("req", i)] = (key, Entity(f"req{i + 1}", "request", {
                    "arrival": r["arrival"], "started": r["started"], "served": r["served"], "thread": r["thread"]}))
            ents.append(hit[1])
        if self.speedups:
            hit = cache.get("speedups")
            if hit is None:
                hit = cache["speedups"] = ((), tuple(Entity(f"n{n}", "speedup", {"cores": n, "amdahl": a, "measured": m})
                                                     for n, a, m in self.speedups))
            ents.extend(hit[1])
        return Frame(self.index, float(self.now), tuple(ents), self._metrics(), tuple(events), narration, self._done)


_POLICY_NAMES = {"fifo": "FIFO", "sjf": "SJF", "stcf": "STCF", "rr": "round robin", "priority": "priority with aging"}


def _jobs(*specs: tuple[int, int]) -> list[dict[str, int]]:
    return [{"length": length, "arrival": arrival} for length, arrival in specs]


ThreadsProcessesEngine.presets = (
    Preset("fifo-equal", "FIFO: three jobs of 10",
           "OSTEP's first example: A, B and C, 10 ticks each, arrive together and run first in, first out. "
           "They finish at 10, 20 and 30: average turnaround 20.",
           {"policy": "fifo", "jobs": _jobs((10, 0), (10, 0), (10, 0))}),
    Preset("convoy", "The convoy effect (FIFO)",
           "A needs 100 ticks and arrives first; B and C need 10 each. Under FIFO the short jobs queue behind "
           "the long one: average turnaround (100 + 110 + 120) / 3 = 110.",
           {"policy": "fifo", "jobs": _jobs((100, 0), (10, 0), (10, 0))}),
    Preset("sjf", "Shortest job first",
           "The same three jobs under SJF: B and C run first, A last. Average turnaround (10 + 20 + 120) / 3 = 50.",
           {"policy": "sjf", "jobs": _jobs((100, 0), (10, 0), (10, 0))}),
    Preset("sjf-late", "SJF when the short jobs come late",
           "A (100) arrives at 0, B and C (10 each) at 10. Non-preemptive SJF must let A finish: "
           "turnarounds 100, 100 and 110, average 103.33.",
           {"policy": "sjf", "jobs": _jobs((100, 0), (10, 10), (10, 10))}),
    Preset("stcf", "STCF preempts the long job",
           "The same arrivals under STCF: at tick 10 B preempts A, then C runs, then A finishes. "
           "Turnarounds 120, 10 and 20, average 50.",
           {"policy": "stcf", "jobs": _jobs((100, 0), (10, 10), (10, 10))}),
    Preset("round-robin", "Round robin, quantum 1",
           "Three jobs of 5 ticks, time slice 1: A, B, C, A, B, C... Response times 0, 1, 2 (average 1), but they "
           "finish at 13, 14 and 15: average turnaround 14, worse than SJF's.",
           {"policy": "rr", "quantum": 1, "jobs": _jobs((5, 0), (5, 0), (5, 0))}),
    Preset("switch-cost", "Round robin pays for every switch",
           "The same three jobs with a context switch costing 1 tick, drawn hatched on the core. Every slice now "
           "costs a switch: 14 switches, and the run takes 29 ticks instead of 15 (average turnaround 27 instead of 14).",
           {"policy": "rr", "quantum": 1, "switch_cost": 1, "jobs": _jobs((5, 0), (5, 0), (5, 0))}),
    Preset("io-overlap", "Blocking on I/O overlaps with computing",
           "A computes 2 ticks, then waits 4 for the disk, five times over; B is a 10-tick CPU job. Under STCF, "
           "when A blocks its core goes to B, and A's I/O overlaps B's computing.",
           {"policy": "stcf", "jobs": [{"length": 10, "arrival": 0, "io_every": 2, "io_time": 4},
                                       {"length": 10, "arrival": 0}]}),
    Preset("priority-aging", "Priority with aging",
           "A low-priority job A (9) competes with high-priority jobs (0) that keep arriving, and would starve. "
           "Aging lifts a waiting job one level every 2 ticks: after 18 ticks A is level with the others and "
           "gets the core at the next quantum's end, long before they are all done.",
           {"policy": "priority", "quantum": 2, "aging": 2,
            "jobs": [{"length": 6, "arrival": 0, "priority": 9}, {"length": 8, "arrival": 0, "priority": 0},
                     {"length": 8, "arrival": 6, "priority": 0}, {"length": 8, "arrival": 12, "priority": 0},
                     {"length": 8, "arrival": 18, "priority": 0}]}),
    Preset("multicore", "Parallel execution on four cores",
           "Two processes of three threads each (A-C in one, D-F in the other) on four cores under round robin: "
           "four threads run at the same instant, and the speed-up metric shows how many cores' worth of work "
           "is done.",
           {"policy": "rr", "quantum": 3, "cores": 4,
            "jobs": [{"length": 9, "arrival": 0, "process": 1}, {"length": 9, "arrival": 0, "process": 1},
                     {"length": 9, "arrival": 0, "process": 1}, {"length": 9, "arrival": 0, "process": 2},
                     {"length": 9, "arrival": 0, "process": 2}, {"length": 9, "arrival": 0, "process": 2}]},
           feature="Parallel execution capability"),
    Preset("threads-share", "Threads share one heap",
           "Three threads of one process: T1 writes 7 to heap page 0 and T2, reading it later, sees 7, since it is "
           "the same frame. Each thread has only its own stack page.",
           {"scenario": "threads"}, feature="Shared memory between threads"),
    Preset("fork-cow", "fork() and copy-on-write",
           "The parent P forks: fork() returns the child's pid in P and 0 in the child C. All four heap pages are "
           "shared copy-on-write; the parent writes page 0 and the child pages 1 and 2: three writes, three pages "
           "copied. The child still reads 10 in page 0: the parent's write is invisible to it. P's wait() "
           "returns the child's exit status, 3.",
           {"scenario": "fork"}, feature="Process isolation for security"),
    Preset("pipe", "A pipe between two processes",
           "The writer fills a 2 KiB pipe faster than the reader drains it: its write blocks while the pipe is "
           "full. When it closes the write end and the pipe is empty, the reader's read() returns 0: end of file.",
           {"scenario": "pipe", "capacity": 2}, feature="Inter-process communication (IPC)"),
    Preset("message-queue", "A POSIX message queue",
           "Six messages through a queue of at most 3, sender and receiver on two cores: the sender blocks when "
           "the queue is full, and m4, sent with "
           "priority 5, is received before the older messages of priority 0.",
           {"scenario": "message_queue", "capacity": 3, "cores": 2}),
    Preset("shared-memory", "Shared memory without a lock",
           "Two processes on two cores map one page and both add 1 to it: both read 0, both write 1. One update "
           "is lost: shared memory needs the synchronization of the Locks & Synchronization topic.",
           {"scenario": "shared_memory", "cores": 2}),
    Preset("web-pool", "Web server: a fixed thread pool",
           "Eight requests arrive, two per tick, at a server with a pool of 2 threads on 2 cores. Requests wait "
           "in the queue for a free thread; memory stays at two stacks. Compare the latency and memory with "
           "the thread-per-request preset.",
           {"scenario": "web_server", "server": "pool", "pool_size": 2, "cores": 2, "switch_cost": 1},
           use_case="Multi-threaded web servers"),
    Preset("web-thread-per-request", "Web server: a thread per request",
           "The same burst; the server creates a thread for each request. Database waits overlap, so latency is "
           "lower, but every thread costs a stack page and the cores pay more context switches.",
           {"scenario": "web_server", "server": "thread_per_request", "cores": 2, "switch_cost": 1}),
    Preset("workers", "Background workers survive a crash",
           "A supervisor forks three worker processes and feeds six jobs through a message queue. The worker "
           "that takes the poisoned job 3 is killed by SIGSEGV; the other two go on and finish every other job, "
           "and the supervisor's wait() reports the signal.",
           {"scenario": "workers", "cores": 2, "capacity": 4}, use_case="Background worker processes"),
    Preset("speedup", "Parallel speed-up against Amdahl's law",
           "A 120-tick job, 20% serial, split over 4 cores: the serial part runs alone, the parallel part in four "
           "24-tick chunks. Measured speed-up 2.5 on 4 cores, as Amdahl's law says; the chart shows the law up "
           "to 8 cores and the speed-ups measured by running this job on 1 to 4 cores.",
           {"scenario": "speedup", "cores": 4, "serial_fraction": 0.2}, use_case="Parallel data processing"),
    Preset("speedup-overhead", "Speed-up with merge and switch costs",
           "The same job with 3 ticks to merge each worker's result and 1 tick per context switch: the measured "
           "points fall below Amdahl's curve, further the more cores.",
           {"scenario": "speedup", "cores": 4, "serial_fraction": 0.2, "sync_cost": 3, "switch_cost": 1}),
    Preset("event-loop", "An event loop interleaves tasks",
           "One thread runs four tasks: each computes a tick, awaits I/O and computes again. While a task awaits, "
           "the loop runs the next one, so four I/O waits overlap on one thread.",
           {"scenario": "event_loop"}, use_case="Asynchronous task execution"),
    Preset("event-loop-blocked", "A blocking call freezes the loop",
           "The same tasks, but task 4 calls a blocking function for 8 ticks instead of awaiting: the loop's "
           "thread sits in the kernel, and tasks 1 to 3, whose I/O is done, wait frozen until it returns.",
           {"scenario": "event_loop", "blocking_task": True}),
    Preset("crash-thread", "A crashing thread takes its process down",
           "Two processes, each with two threads, on two cores. At step 2 thread A faults (SIGSEGV): A and B, its "
           "process's other thread, end together; C and D, in the other process, run on.",
           {"policy": "rr", "quantum": 2, "cores": 2,
            "jobs": [{"length": 8, "process": 1}, {"length": 8, "process": 1}, {"length": 8, "process": 2},
                     {"length": 8, "process": 2}]},
           actions=((2, {"type": "crash", "thread": "A"}),)),
)
