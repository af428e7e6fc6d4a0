"""The CPU scheduler of the Threads & Processes engine (simulations/engines/kernel/cpu.py).

Worked cases from OSTEP chapter 7, "Scheduling: Introduction" (Arpaci-Dusseau, cpu-sched.pdf), §7.3
to §7.6; a cross-check against the logic of OSTEP's homework simulator
(ostep-homework, cpu-sched/scheduler.py) and against a tick-by-tick reference for random job
sets; hypothesis properties of every policy on 1 to 4 cores.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.kernel.cpu import Cpu, CpuThread
from simulations.engines.threads_processes import ThreadsProcessesEngine as TP


def play(params: dict, actions: dict[int, dict] | None = None, limit: int = 2000):
    engine = TP(TP.parse_params(params), random.Random(1))
    frames = [engine.reset()]
    actions = actions or {}
    while not engine.done and len(frames) < limit:
        if len(frames) - 1 in actions:
            engine.apply(TP.parse_action(actions[len(frames) - 1]))
        frames.append(engine.step())
    assert engine.done
    return engine, frames


def jobs(*specs):
    return [{"length": length, "arrival": arrival} for length, arrival in specs]


def threads_of(frame):
    return {e.id: e.state for e in frame.entities if e.kind == "thread"}


# --------------------------------------------------------------------------- OSTEP's numbers


def test_fifo_three_jobs_of_10_average_turnaround_20():
    """OSTEP §7.3, Figure 7.1: A, B, C of 10 arrive at 0; they finish at 10, 20, 30."""
    _, frames = play({"policy": "fifo", "jobs": jobs((10, 0), (10, 0), (10, 0))})
    last = frames[-1]
    assert [threads_of(last)[t]["completion"] for t in "ABC"] == [10, 20, 30]
    assert last.metrics["avg_turnaround"] == 20


def test_fifo_convoy_effect_average_turnaround_110():
    """OSTEP §7.3, Figure 7.2: A = 100, B = C = 10: (100 + 110 + 120) / 3 = 110."""
    _, frames = play({"policy": "fifo", "jobs": jobs((100, 0), (10, 0), (10, 0))})
    assert frames[-1].metrics["avg_turnaround"] == 110


def test_sjf_average_turnaround_50():
    """OSTEP §7.4, Figure 7.3: SJF runs B, C, then A: (10 + 20 + 120) / 3 = 50."""
    _, frames = play({"policy": "sjf", "jobs": jobs((100, 0), (10, 0), (10, 0))})
    assert frames[-1].metrics["avg_turnaround"] == 50


def test_late_arrivals_sjf_103_33_versus_stcf_50():
    """OSTEP §7.4 Figure 7.4 (SJF with B, C arriving at 10: 103.33) and §7.5 Figure 7.5 (STCF:
    ((120 - 0) + (20 - 10) + (30 - 10)) / 3 = 50)."""
    _, sjf = play({"policy": "sjf", "jobs": jobs((100, 0), (10, 10), (10, 10))})
    _, stcf = play({"policy": "stcf", "jobs": jobs((100, 0), (10, 10), (10, 10))})
    assert sjf[-1].metrics["avg_turnaround"] == pytest.approx(103.33, abs=0.005)
    assert stcf[-1].metrics["avg_turnaround"] == 50
    done = threads_of(stcf[-1])
    assert (done["A"]["completion"], done["B"]["completion"], done["C"]["completion"]) == (120, 20, 30)


def test_round_robin_quantum_1_response_1_turnaround_14():
    """OSTEP §7.6, Figure 7.7: three jobs of 5, time slice 1: response (0 + 1 + 2) / 3 = 1; they
    finish at 13, 14, 15, average turnaround 14."""
    _, frames = play({"policy": "rr", "quantum": 1, "jobs": jobs((5, 0), (5, 0), (5, 0))})
    last = frames[-1]
    assert last.metrics["avg_response"] == 1
    assert last.metrics["avg_turnaround"] == 14
    assert [threads_of(last)[t]["completion"] for t in "ABC"] == [13, 14, 15]


@pytest.mark.parametrize(
    ("slug", "response", "turnaround"),
    [
        ("fifo-equal", 10, 20),  # §7.3, Figure 7.1
        ("convoy", 70, 110),  # §7.3, Figure 7.2
        ("sjf", 10, 50),  # §7.4, Figure 7.3
        ("sjf-late", pytest.approx(63.33, abs=0.005), pytest.approx(103.33, abs=0.005)),  # §7.4, Figure 7.4
        ("stcf", pytest.approx(3.33, abs=0.005), 50),  # §7.5, Figure 7.5
        ("round-robin", 1, 14),  # §7.6, Figure 7.7
    ],
)
def test_the_ostep_presets_give_the_numbers_they_quote(slug, response, turnaround):
    """The presets a learner opens are OSTEP chapter 7's (cpu-sched) worked cases, and their
    end frame shows the chapter's averages (response: first run - arrival; turnaround:
    completion - arrival), the figures each preset's description quotes."""
    p = next(p for p in TP.presets if p.slug == slug)
    _, frames = play(dict(p.params))
    last = frames[-1]
    assert (last.metrics["avg_response"], last.metrics["avg_turnaround"]) == (response, turnaround)
    quoted = f"{turnaround.expected:.2f}" if hasattr(turnaround, "expected") else f"{turnaround}"
    assert re.search(rf"[Aa]verage (turnaround )?(\([^)]*\) / 3 = )?{re.escape(quoted)}\b", p.description), p.description
    assert f"average turnaround {last.metrics['avg_turnaround']}" in last.narration


def test_context_switch_cost_is_paid_per_switch_and_drawn():
    _, frames = play({"policy": "rr", "quantum": 1, "switch_cost": 1, "jobs": jobs((5, 0), (5, 0), (5, 0))})
    last = frames[-1]
    segs = next(e for e in last.entities if e.kind == "core").state["segments"]
    switches = last.metrics["context_switches"]
    assert switches == 14 and last.time == 15 + switches * 1
    assert all(end - start == 1 for _, start, end, kind in segs if kind == "switch")


def test_io_blocks_the_thread_and_frees_its_core():
    """OSTEP §7.8: a job that issues I/O blocks, and the scheduler runs another meanwhile."""
    _, frames = play({"policy": "stcf", "jobs": [{"length": 10, "io_every": 2, "io_time": 4}, {"length": 10}]})
    saw_overlap = False
    for f in frames:
        th = threads_of(f)
        core = next(e for e in f.entities if e.kind == "core").state
        if th["A"]["state"] == "blocked":
            assert core["running"] != "A"
            saw_overlap |= core["running"] == "B"
    assert saw_overlap


def test_priority_with_aging_lets_the_low_priority_job_run():
    _, frames = play({"policy": "priority", "quantum": 2, "aging": 2,
                      "jobs": [{"length": 6, "priority": 9}, {"length": 8, "priority": 0},
                               {"length": 8, "arrival": 6, "priority": 0}, {"length": 8, "arrival": 12, "priority": 0},
                               {"length": 8, "arrival": 18, "priority": 0}]})
    a = threads_of(frames[-1])["A"]
    # Without aging A would wait for all 32 ticks of the others. With a level per 2 ticks it is at
    # level 0 after 18 ticks of waiting and takes the core at the next quantum boundary.
    assert 18 <= a["first_run"] <= 20
    _, slow = play({"policy": "priority", "quantum": 2, "aging": 100,
                    "jobs": [{"length": 6, "priority": 9}, {"length": 8, "priority": 0},
                             {"length": 8, "arrival": 6, "priority": 0}, {"length": 8, "arrival": 12, "priority": 0},
                             {"length": 8, "arrival": 18, "priority": 0}]})
    assert threads_of(slow[-1])["A"]["first_run"] == 32


# --------------------------------------------------------------------------- cross-checks


def ostep_reference(policy: str, lengths: list[int], quantum: int) -> tuple[list[float], list[float]]:
    """OSTEP's cpu-sched/scheduler.py -c, re-expressed: (response, turnaround) per job, all
    arriving at 0. SJF sorts the list by run time (stably) and runs it as FIFO; RR pops the head
    of the run list, runs it for min(quantum, left) and appends it again if work remains."""
    joblist = [[i, n] for i, n in enumerate(lengths)]
    response, turnaround = [0.0] * len(lengths), [0.0] * len(lengths)
    if policy in ("fifo", "sjf"):
        if policy == "sjf":
            joblist = sorted(joblist, key=lambda j: j[1])
        t = 0.0
        for num, run in joblist:
            response[num], turnaround[num] = t, t + run
            t += run
        return response, turnaround
    seen = [False] * len(lengths)
    runlist = [list(j) for j in joblist]
    t = 0.0
    while runlist:
        num, run = runlist.pop(0)
        if not seen[num]:
            response[num], seen[num] = t, True
        ran = min(run, quantum)
        if run > quantum:
            runlist.append([num, run - quantum])
        else:
            turnaround[num] = t + ran
        t += ran
    return response, turnaround


@settings(max_examples=60, deadline=None)
@given(policy=st.sampled_from(["fifo", "sjf", "rr"]), lengths=st.lists(st.integers(1, 20), min_size=1, max_size=6),
       quantum=st.integers(1, 5))
def test_matches_ostep_scheduler_py(policy, lengths, quantum):
    engine, frames = play({"policy": policy, "quantum": quantum, "jobs": jobs(*[(n, 0) for n in lengths])})
    th = threads_of(frames[-1])
    response, turnaround = ostep_reference(policy, lengths, quantum)
    for i in range(len(lengths)):
        t = th[chr(65 + i)]
        assert t["first_run"] - t["arrival"] == response[i]
        assert t["completion"] - t["arrival"] == turnaround[i]


def tick_reference(policy: str, specs: list[tuple[int, int]], quantum: int) -> dict[int, tuple[int, int]]:
    """A one-core scheduler stepped one tick at a time (no fast-forwarding): job -> (first run,
    completion). Queue order is the order threads became ready; arrivals at a tick queue before
    a thread preempted at that tick; ties by job number."""
    left = {i: n for i, (n, _) in enumerate(specs)}
    queue: list[int] = []
    first: dict[int, int] = {}
    done: dict[int, int] = {}
    running, ran = None, 0
    t = 0
    while len(done) < len(specs):
        for i, (_, a) in enumerate(specs):
            if a == t:
                queue.append(i)
        if running is not None and left[running] == 0:
            done[running], running = t, None
        if running is not None:
            if policy == "rr" and ran >= quantum:
                if queue:
                    queue.append(running)
                    running = None
                else:
                    ran = 0  # the timer fires with nothing else ready: a new slice, no switch
            elif policy == "stcf" and queue:
                best = min(queue, key=lambda j: (left[j], queue.index(j)))
                if left[best] < left[running]:
                    queue.append(running)
                    running = None
        if running is None and queue:
            if policy in ("sjf", "stcf"):
                pick = min(queue, key=lambda j: (left[j], queue.index(j)))
            else:
                pick = queue[0]
            queue.remove(pick)
            running, ran = pick, 0
            first.setdefault(pick, t)
        if running is not None:
            left[running] -= 1
            ran += 1
        t += 1
    return {i: (first[i], done[i]) for i in done}


@settings(max_examples=80, deadline=None)
@given(policy=st.sampled_from(["fifo", "sjf", "stcf", "rr"]),
       specs=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 15)), min_size=1, max_size=5),
       quantum=st.integers(1, 4))
def test_matches_a_tick_by_tick_reference(policy, specs, quantum):
    _, frames = play({"policy": policy, "quantum": quantum, "jobs": jobs(*specs)})
    th = threads_of(frames[-1])
    ref = tick_reference(policy, specs, quantum)
    got = {i: (th[chr(65 + i)]["first_run"], th[chr(65 + i)]["completion"]) for i in range(len(specs))}
    assert got == ref


# --------------------------------------------------------------------------- properties

job_spec = st.fixed_dictionaries({
    "length": st.integers(1, 30), "arrival": st.integers(0, 30), "io_every": st.integers(0, 6),
    "io_time": st.integers(0, 6), "priority": st.integers(0, 9), "process": st.integers(0, 3),
})


@settings(max_examples=80, deadline=None)
@given(policy=st.sampled_from(["fifo", "sjf", "stcf", "rr", "priority"]), cores=st.integers(1, 4),
       quantum=st.integers(1, 6), switch_cost=st.integers(0, 3), aging=st.integers(1, 20),
       job_list=st.lists(job_spec, min_size=1, max_size=6))
def test_scheduler_properties(policy, cores, quantum, switch_cost, aging, job_list):
    engine, frames = play({"policy": policy, "cores": cores, "quantum": quantum, "switch_cost": switch_cost,
                           "aging": aging, "jobs": job_list})
    completions: dict[str, int] = {}
    for f in frames:
        core_states = [e.state for e in f.entities if e.kind == "core"]
        th = threads_of(f)
        on_cores = [c["running"] for c in core_states if c["running"]]
        assert len(on_cores) == len(set(on_cores)), "a thread on two cores at once"
        for c in core_states:
            assert not (c["running"] and c["switching_to"]), "a core runs at most one thread"
        for tid, t in th.items():
            assert (t["state"] == "running") == (tid in on_cores)
            assert t["remaining"] >= 0
            if t["completion"] is not None:
                assert completions.setdefault(tid, t["completion"]) == t["completion"], "completes once"
        # Work-conserving: no ready thread waits while a core idles.
        idle = sum(1 for c in core_states if c["running"] is None and c["switching_to"] is None)
        loading = {c["switching_to"] for c in core_states if c["switching_to"]}
        waiting = [tid for tid, t in th.items() if t["state"] == "ready" and tid not in loading]
        assert not (idle and waiting), f"tick {f.time}: {waiting} wait while {idle} core(s) idle"
    last = threads_of(frames[-1])
    assert set(completions) == set(last) and all(t["state"] == "done" for t in last.values())
    for t in last.values():
        assert 0 <= t["first_run"] - t["arrival"] <= t["completion"] - t["arrival"]
    # Every tick of CPU work is on the timeline exactly once, in run (not switch) segments.
    engine_ran: dict[str, int] = {}
    for core in engine.cpu.core_list:
        for tid, start, end, kind in core.segments:
            if kind == "run":
                engine_ran[tid] = engine_ran.get(tid, 0) + end - start
    assert engine_ran == {tid: t["length"] for tid, t in last.items()}
    # A thread's waits off the core (drawn dashed) never overlap its own run segments.
    for tid, t in last.items():
        for a, b in t["waits"]:
            assert a < b
            for core in engine.cpu.core_list:
                assert not any(s[0] == tid and s[3] == "run" and s[1] < b and s[2] > a for s in core.segments)


def test_the_kernel_api_on_its_own():
    """The documented loop of kernel/cpu.py, as the Locks engine would drive it."""
    cpu = Cpu(cores=2, policy="rr", quantum=2)
    for tid, n in (("A", 3), ("B", 3), ("C", 3)):
        cpu.admit(CpuThread(tid, n, n, n), 0)
    cpu.dispatch(0)
    assert [c.running for c in cpu.core_list] == ["A", "B"]
    now = 0
    cpu.set_activity("B", "spin")
    while any(t.state != "done" for t in cpu.threads.values()):
        t = cpu.next_event(now)
        cpu.advance(now, t)
        now = t
        for tid in cpu.burst_done():
            cpu.finish(tid, now)
        cpu.dispatch(now)
    kinds = {seg[3] for c in cpu.core_list for seg in c.segments if seg[0] == "B"}
    assert kinds == {"spin"}
    assert cpu.idle_cores() == 2


def test_narration_of_the_scheduler_is_true_of_the_frame():
    for params in ({"policy": "stcf", "jobs": jobs((100, 0), (10, 10), (10, 10))},
                   {"policy": "rr", "quantum": 1, "switch_cost": 1, "cores": 2, "jobs": jobs((5, 0), (5, 0), (7, 3))}):
        _, frames = play(params)
        for f in frames:
            th = threads_of(f)
            cores = {int(e.id[4:]): e.state for e in f.entities if e.kind == "core"}
            for k, tid in re.findall(r"Core (\d) runs (\w+)", f.narration):
                c = cores[int(k)]
                assert tid in (c["running"], c["switching_to"]), f.narration
            for tid, at, r, u in re.findall(r"(\w+) completes at tick (\d+): response (\d+), turnaround (\d+)", f.narration):
                t = th[tid]
                assert (t["completion"], t["first_run"] - t["arrival"], t["completion"] - t["arrival"]) == (int(at), int(r), int(u))
            for tid, victim in re.findall(r"(\w+) \(needs \d+\) preempts (\w+)", f.narration):
                assert th[tid]["remaining"] < th[victim]["remaining"] or th[tid]["state"] in ("running", "ready")
                assert th[victim]["state"] == "ready"
            m = re.search(r"average response ([\d.]+), average turnaround ([\d.]+)", f.narration)
            if m:
                assert float(m.group(1)) == f.metrics["avg_response"] and float(m.group(2)) == f.metrics["avg_turnaround"]
