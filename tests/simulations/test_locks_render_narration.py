"""Locks & Synchronization: what the narration says is true of the state it describes, and
the stage draws every frame legibly (one <svg>, no text under 16 units at 432 wide, a height
fixed for the run, the cycle highlighted when the wait-for graph has one)."""

from __future__ import annotations

import random
import re
import statistics
import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.locks import LocksEngine as Engine
from simulations.render.locks import render_analysis, render_stage
from simulations.render.svg import legible_font

SCENARIOS = ["mutex", "spinlock", "rwlock", "semaphore", "condvar", "atomic", "deadlock", "peterson"]


def frames_for(params: dict, seed: int = 1):
    e = Engine(Engine.parse_params(params), random.Random(seed))
    frames = [e.reset()]
    while not e.done:
        frames.append(e.step())
    return frames


def threads(frame):
    return {x.id: x.state for x in frame.entities if x.kind == "thread"}


def locks(frame):
    return {x.state["name"]: x.state for x in frame.entities if x.kind == "lock"}


def check_claims(frame):
    """Every sentence an event says, checked against the frame it is in."""
    ts, ls = threads(frame), locks(frame)
    for k, ev in enumerate(frame.events):
        text = ev.text
        later = frame.events[k + 1:]
        if ev.kind == "blocked":
            m = re.match(r"(T\d) wants (\w+) but", text)
            t, lock = m.groups()
            if any(e.kind in ("handoff", "timeout") and e.actor == t for e in later):
                continue  # it was queued and then, later in the same tick, handed the lock (said next)
            assert ts[t]["state"] == "blocked" and ts[t]["waiting_for"] == lock and ts[t]["core"] is None
            assert t in ls[lock]["waiters"]
            if "no permit is free" in text:
                assert ls[lock]["value"] == 0
        elif ev.kind == "handoff":
            m = re.search(r"so (T\d) (?:now holds|gets (?:a permit of )?|gets )(\w+)?", text)
            t = m.group(1)
            assert ts[t]["state"] in ("ready", "running", "in_cs", "done") or ts[t]["core"] is not None
        elif ev.kind == "spin":
            t = text.split()[0]
            assert ts[t]["state"] == "spinning" and ts[t]["core"] is not None
        elif ev.kind == "deadlock":
            wf = next(x for x in frame.entities if x.kind == "wait_for").state
            ring = text.split(": ", 1)[1].split(".")[0].split(" \u2192 ")
            assert tuple(ring[:-1]) == tuple(wf["cycle"]) and frame.metrics["deadlocked"] and wf["deadlock"]
            assert all(ts[t]["state"] == "blocked" for t in wf["cycle"])
        elif ev.kind == "cycle":
            wf = next(x for x in frame.entities if x.kind == "wait_for").state
            assert wf["cycle"] and not wf["deadlock"] and not frame.metrics["deadlocked"]
        elif ev.kind == "violation":
            assert frame.metrics["in_cs_violations"] > 0
            assert sum(1 for s in ts.values() if s["state"] == "in_cs") >= 2
        elif ev.kind == "cas-failed":
            t = text.split("'")[0]
            assert ts[t]["retries"] > 0
        elif ev.kind == "timeout":
            t = text.split()[0]
            assert ts[t]["waiting_for"] is None and ts[t]["state"] != "blocked" or ts[t]["waiting_for"] != text.split()[-4]
        elif ev.kind == "store":
            m = re.match(r"(T\d)'s store (\S+) = (\d) waits in its store buffer", text)
            if m:
                t, loc, v = m.groups()
                buf = next(x for x in frame.entities if x.kind == "store_buffer" and x.state["thread"] == t)
                assert f"{loc}={v}" in buf.state["entries"]
        elif ev.kind == "enter":
            t = text.split()[0]
            assert ts[t]["state"] in ("running", "in_cs")
    # The narration is made of this frame's event sentences (or a line about the state).
    if frame.events:
        assert frame.narration.startswith(tuple(e.text for e in frame.events))


@pytest.mark.parametrize("preset", Engine.presets, ids=lambda p: p.slug)
def test_preset_narration_is_true_of_its_frames(preset):
    for f in frames_for(dict(preset.params), preset.seed):
        check_claims(f)
        assert f.narration


@settings(max_examples=30, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), threads_=st.integers(2, 5), cores=st.integers(1, 4), seed=st.integers(0, 10**6),
       fix=st.sampled_from(["none", "lock_order", "trylock", "timeout", "shared"]), model=st.sampled_from(["sc", "tso", "tso_fence"]),
       timeout=st.integers(0, 4), leak=st.booleans())
def test_narration_claims_hold_over_many_schedules(scenario, threads_, cores, seed, fix, model, timeout, leak):
    for f in frames_for({"scenario": scenario, "threads": threads_, "cores": cores, "fix": fix, "memory_model": model,
                         "timeout": timeout, "leak": leak, "duration": 60}, seed):
        check_claims(f)


@pytest.mark.parametrize("preset", Engine.presets, ids=lambda p: p.slug)
def test_every_frame_draws_one_legible_svg_of_fixed_size(preset):
    sizes = set()
    for f in frames_for(dict(preset.params), preset.seed):
        svg = render_stage(f, "stage")
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and root.get("id") == "stage"
        sizes.add(root.get("viewBox"))
        width = float(root.get("viewBox").split()[2])
        for size in re.findall(r'font-size="([\d.]+)"', svg):
            assert float(size) >= legible_font(width) - 0.01
        if f.metrics["deadlocked"]:
            assert "wf-cycle" in svg and "Deadlock:" in svg
    assert len(sizes) == 1, sizes


def test_a_finished_thread_is_drawn_done_in_the_wait_for_graph_not_crashed():
    """The graph drew a finished thread with a crashed node's cross: a thread that ended
    well has its own shape (grey, a tick) and the word "done"."""
    frames = frames_for({"scenario": "mutex", "threads": 2})
    last = frames[-1]
    assert all(t["state"] == "done" for t in threads(last).values())
    root = ET.fromstring(render_stage(last, "stage"))
    nodes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "topo-node" in (g.get("class") or "")]
    assert nodes
    for node in nodes:
        cls = node.get("class").split()
        assert "shape-done" in cls and "shape-crashed" not in cls, cls
        assert any("node-tick" in (p.get("class") or "") for p in node.iter("{http://www.w3.org/2000/svg}path"))
        assert not any("node-cross" in (p.get("class") or "") for p in node.iter("{http://www.w3.org/2000/svg}path"))
        assert "done" in "".join(node.itertext())


def test_analyses_render():
    for params in ({"scenario": "peterson"}, {"scenario": "deadlock", "threads": 3}):
        p = Engine.parse_params(params)
        html = render_analysis("explore", Engine.analyse("explore", p), "an")
        assert html.startswith('<section id="an"') and "<table>" in html
    html = render_analysis("throughput", Engine.analyse("throughput", Engine.parse_params({"scenario": "atomic"})), "an")
    assert "sharded" in html


@pytest.mark.parametrize("params", [{"scenario": "mutex"}, {"scenario": "peterson", "memory_model": "tso"},
                                    {"scenario": "deadlock", "threads": 3, "fix": "trylock"}, {"scenario": "atomic", "cores": 1}])
def test_an_analysis_depends_only_on_its_inputs(params):
    p = Engine.parse_params(params)
    for name in Engine.analyses:
        assert Engine.analyse(name, p) == Engine.analyse(name, Engine.analysis_inputs(name, p))


def test_budgets_are_printed():
    """Measured, not asserted (DESIGN.md, Performance: the bench checks budgets)."""
    step_us, render_us, sizes = [], [], []
    for preset in Engine.presets:
        e = Engine(Engine.parse_params(dict(preset.params)), random.Random(preset.seed))
        e.reset()
        while not e.done:
            t0 = time.perf_counter()
            f = e.step()
            t1 = time.perf_counter()
            svg = render_stage(f, "stage")
            t2 = time.perf_counter()
            step_us.append((t1 - t0) * 1e6)
            render_us.append((t2 - t1) * 1e6)
            sizes.append(len(svg.encode()))
    print(f"\nlocks: step median {statistics.median(step_us):.0f} us, render median {statistics.median(render_us):.0f} us, "
          f"stage median {statistics.median(sizes)} B, max {max(sizes)} B over {len(sizes)} frames")
