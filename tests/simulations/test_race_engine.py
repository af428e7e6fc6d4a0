"""The race-conditions engine against the rules of its sources.

- Lost updates: `counter = counter + 1` is load, add, store; interleaved, two
  increments can leave the counter up by one.
- POSIX write(): with O_APPEND "the file offset shall be set to the end of the
  file prior to each write and no intervening file modification operation
  shall occur between changing the file offset and the write operation";
  without it, lseek(SEEK_END) then write is two steps and a line can be lost.
- C++11 / JSR-133: without release/acquire nothing orders the constructor's
  stores before the store publishing the pointer, so double-checked locking
  can hand out a half-built object; a once-flag with release/acquire cannot.
- ThreadSanitizer: a data race is two accesses to one location from different
  threads, at least one a write, not both atomic, neither happening before the
  other (vector clocks; unlock->lock and release->acquire add edges). It is
  reported even when the run's result happens to be right.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from simulations import registry
from simulations.engines.base import Frame
from simulations.engines.race_conditions import (
    FIXES,
    Preempt,
    RaceConditionsEngine as Engine,
    RaceParams,
    RunThread,
    build_program,
    execute,
    explore,
    explorer_runnable,
    initial_state,
    outcome,
)

ROOT = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------


def make(seed: int = 1, **params) -> Engine:
    """A fresh engine standing at frame 0 (the app calls reset() once, as here)."""
    engine = Engine(Engine.parse_params(params), random.Random(seed))
    engine.reset()
    return engine


def pick(engine: Engine, *threads: int) -> list[Frame]:
    """Run the given threads one instruction each, in order (manual scheduling)."""
    frames = []
    for t in threads:
        engine.apply(RunThread(thread=t))
        frames.append(engine.step())
    return frames


def runnable(engine: Engine) -> list[int]:
    s, prog = engine.state, engine.program
    return [t + 1 for t in range(prog.threads) if s.pcs[t] < prog.end and not s.waiting[t]]


def run_to_end(engine: Engine) -> list[Frame]:
    frames = [engine.frame]
    while not engine.done:
        assert engine.index < engine.max_steps
        if engine.awaiting_input:
            engine.apply(RunThread(thread=runnable(engine)[0]))
        frames.append(engine.step())
    return frames


def run_with_picks(params: dict, picks: list[int]) -> list[Frame]:
    """Manual scheduling: follow `picks` (skipping threads that cannot run now),
    then finish by always running the lowest-numbered thread that can run."""
    engine = make(**{**params, "scheduler": "manual"})
    frames = [engine.frame]
    n = engine.program.threads
    for p in picks:
        if engine.done:
            break
        t = p % n + 1
        if t in runnable(engine):
            engine.apply(RunThread(thread=t))
            frames.append(engine.step())
    frames += run_to_end(engine)[1:]
    return frames


def events(frames: list[Frame], kind: str) -> list:
    return [e for f in frames for e in f.events if e.kind == kind]


def thread_state(frame: Frame, n: int) -> dict:
    return next(e.state for e in frame.entities if e.id == f"t{n}")


def entity(frame: Frame, kind: str) -> dict:
    return next(e.state for e in frame.entities if e.kind == kind)


def run_preset(preset, limit: int = 500) -> list[Frame]:
    """Actions at step s are applied when the engine shows frame s."""
    engine = make(preset.seed, **preset.params)
    by_step: dict[int, list] = {}
    for s, a in preset.actions:
        by_step.setdefault(s, []).append(a)
    frames = [engine.frame]
    while not engine.done and engine.index < limit:
        for a in by_step.get(engine.index, []):
            engine.apply(engine.parse_action(a))
        if engine.awaiting_input:
            break
        frames.append(engine.step())
    return frames


scenario_and_fix = st.sampled_from([(s, f) for s, fixes in FIXES.items() for f in fixes])
racy_scenarios = st.sampled_from(list(FIXES))
fixed_pairs = st.sampled_from([(s, f) for s, fixes in FIXES.items() for f in fixes if f != "none"])


# -- the contract ------------------------------------------------------------


def test_registered_under_its_slug():
    assert registry.get("race-conditions") is Engine
    assert Engine in registry.for_topic("race-conditions")
    assert Engine.analyses == {"explore": "Explore every interleaving"}


def test_reset_is_frame_zero_and_steps_count_up():
    engine = make()
    assert engine.frame.index == 0 and engine.frame.time == 0.0
    f1 = engine.step()
    f2 = engine.step()
    assert (f1.index, f2.index) == (1, 2)
    assert f2.time == 2.0


def test_reset_replays_the_same_run():
    engine = make(seed=7, threads=3)
    first = run_to_end(engine)
    again = [engine.reset()]
    again += run_to_end(engine)[1:]
    assert first == again


def test_frame_entities_describe_threads_memory_lock_and_file():
    f = make(fix="mutex").frame
    kinds = [e.kind for e in f.entities]
    assert kinds.count("thread") == 2 and "memory" in kinds and "lock" in kinds
    t1 = thread_state(f, 1)
    assert {"name", "code", "line", "pc", "status", "registers", "clock"} <= set(t1)
    assert t1["clock"] == (0, 0)
    assert t1["status"] == "ready"
    cell = entity(f, "memory")
    assert cell["name"] == "counter" and cell["value"] == 0 and cell["last_writer"] is None
    file_frame = make(scenario="file_access").frame
    assert entity(file_frame, "file")["lines"] == ()


def test_params_schema_titles_every_field():
    schema = RaceParams.model_json_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("title") and prop.get("description"), name
    assert schema["properties"]["threads"]["minimum"] == 2
    assert schema["properties"]["threads"]["maximum"] == 4
    assert Engine.action_adapter().json_schema()  # the API publishes it


def test_analysis_is_plain_json_data():
    data = Engine.analyse("explore", Engine.parse_params({}))
    json.dumps(data)
    with pytest.raises(KeyError):
        Engine.analyse("nope", Engine.parse_params({}))


# -- params and actions validation ------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"threads": 5}, "threads"),
        ({"threads": 1}, "threads"),
        ({"increments": 0}, "increments"),
        ({"increments": 6}, "increments"),
        ({"switch_chance": float("nan")}, "switch_chance"),
        ({"switch_chance": float("inf")}, "switch_chance"),
        ({"switch_chance": 1.5}, "switch_chance"),
        ({"scenario": "deadlock"}, "scenario"),
        ({"scheduler": "fifo"}, "scheduler"),
        ({"bogus": 1}, "bogus"),
        ({"scenario": "file_access", "fix": "atomic"}, "fix"),
        ({"scenario": "counter", "fix": "o_append"}, "fix"),
        ({"scenario": "check_then_act", "fix": "once"}, "fix"),
        ({"scenario": "double_checked_locking", "fix": "atomic"}, "fix"),
    ],
)
def test_bad_params_name_the_field(data, field):
    with pytest.raises(ValidationError) as info:
        Engine.parse_params(data)
    locs = [err["loc"] for err in info.value.errors()]
    assert (field,) in locs


def test_a_fix_that_does_not_fit_says_which_fixes_do():
    with pytest.raises(ValidationError) as info:
        Engine.parse_params({"scenario": "file_access", "fix": "atomic"})
    message = info.value.errors()[0]["msg"]
    assert "file_access" in message and "o_append" in message


def test_partial_params_take_defaults():
    p = Engine.parse_params({"scenario": "file_access", "fix": "o_append"})
    assert p.threads == 2 and p.scheduler == "random"


@pytest.mark.parametrize(
    "data",
    [{"type": "run_thread", "thread": 0}, {"type": "run_thread", "thread": 5}, {"type": "run_thread"},
     {"type": "explode"}, {"thread": 1}, {"type": "preempt", "extra": 1}],
)
def test_bad_actions_are_rejected(data):
    with pytest.raises(ValidationError):
        Engine.parse_action(data)


def test_actions_parse():
    assert Engine.parse_action({"type": "run_thread", "thread": 2}) == RunThread(thread=2)
    assert isinstance(Engine.parse_action({"type": "preempt"}), Preempt)


def test_picking_a_thread_that_cannot_run_is_a_clear_error():
    engine = make(threads=2, increments=1, scheduler="manual")
    with pytest.raises(ValueError, match="no T3"):
        engine.apply(RunThread(thread=3))
    pick(engine, 1, 1, 1)
    with pytest.raises(ValueError, match="T1 has finished"):
        engine.apply(RunThread(thread=1))
    with pytest.raises(ValueError, match="manual mode"):
        engine.apply(Preempt())
    pick(engine, 2, 2, 2)
    with pytest.raises(ValueError, match="finished"):
        engine.apply(RunThread(thread=2))


def test_manual_step_without_a_pick_waits_and_changes_nothing():
    engine = make(scheduler="manual")
    assert engine.awaiting_input and engine.frame.metrics["awaiting_input"] is True
    before = engine.state
    f = engine.step()
    assert f.index == 1 and engine.state == before
    assert "pick" in f.narration.lower()
    engine.apply(RunThread(thread=2))
    assert not engine.awaiting_input
    f = engine.step()
    assert thread_state(f, 2)["pc"] == 1 and thread_state(f, 1)["pc"] == 0


def test_a_pick_overrides_the_random_scheduler_once():
    engine = make(seed=3, switch_chance=0.0)
    engine.step()  # some thread runs
    other = 2 if engine.current == 0 else 1
    engine.apply(RunThread(thread=other))
    engine.step()
    assert engine.current == other - 1


def test_preempt_switches_to_another_thread():
    engine = make(seed=3, switch_chance=0.0, threads=3)
    engine.step()
    ran = engine.current
    event = engine.apply(Preempt())
    assert event is not None and "Preempted" in event.text
    engine.step()
    assert engine.current != ran


# -- the counter: lost updates ------------------------------------------------


def test_classic_lost_update_by_hand():
    """T1 load, T2 load, T1 add, T1 store, T2 add, T2 store: counter 1, not 2."""
    engine = make(threads=2, increments=1, scheduler="manual")
    frames = pick(engine, 1, 2, 1, 1, 2, 2)
    assert engine.state.memory == (1,)
    last = frames[-1]
    assert last.done and last.metrics["counter"] == 1 and last.metrics["expected"] == 2
    assert last.metrics["lost_updates"] == 1
    lost = events(frames, "lost-update")
    assert len(lost) == 1 and lost[0].severity == "error" and lost[0].actor == "T2"
    # The second load already warns why: T1 has loaded and not stored.
    assert "already loaded 0" in frames[1].narration and "overwrite" in frames[1].narration


def test_serial_counter_is_right():
    engine = make(threads=2, increments=2, scheduler="manual")
    pick(engine, *[1] * 6, *[2] * 6)
    assert engine.state.memory == (4,) and engine.frame.metrics["lost_updates"] == 0


def test_mutex_blocks_the_second_thread():
    engine = make(threads=2, increments=1, fix="mutex", scheduler="manual")
    pick(engine, 1, 1)  # T1 locks and loads
    f = pick(engine, 2)[0]  # T2 tries to lock
    t2 = thread_state(f, 2)
    assert t2["status"] == "blocked" and t2["pc"] == 0
    lock = entity(f, "lock")
    assert lock["holder"] == "T1" and lock["waiters"] == ("T2",)
    assert "T2 blocks" in f.narration and "cannot read counter" in f.narration
    assert events([f], "blocked")
    with pytest.raises(ValueError, match="blocked"):
        engine.apply(RunThread(thread=2))
    f = pick(engine, 1, 1, 1)[-1]  # add, store, unlock
    assert thread_state(f, 2)["status"] == "ready" and entity(f, "lock")["holder"] is None
    frames = pick(engine, 2, 2, 2, 2, 2)
    assert engine.state.memory == (2,) and frames[-1].done
    assert frames[-1].metrics["races_flagged"] == 0


def test_atomic_increment_is_one_step():
    engine = make(threads=2, increments=1, fix="atomic", scheduler="manual")
    assert len(engine.program.instrs) == 1
    f = pick(engine, 2, 1)[-1]
    assert f.metrics["counter"] == 2 and f.metrics["races_flagged"] == 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), threads=st.integers(2, 4), increments=st.integers(1, 5),
       fix=st.sampled_from(["mutex", "atomic"]), switch=st.floats(0, 1))
def test_with_a_fix_the_counter_always_ends_right(seed, threads, increments, fix, switch):
    engine = make(seed=seed, threads=threads, increments=increments, fix=fix, switch_chance=switch)
    frames = run_to_end(engine)
    assert frames[-1].metrics["counter"] == threads * increments
    assert frames[-1].metrics["races_flagged"] == 0 and not events(frames, "race")
    assert not events(frames, "lost-update")


# -- check-then-act -----------------------------------------------------------


def test_check_then_act_double_books():
    engine = make(scenario="check_then_act", scheduler="manual")
    frames = pick(engine, 1, 2, 1, 2)  # both check, both book
    assert frames[1].narration.startswith("T2 sees seat 12A free too")
    assert frames[-1].metrics["bookings_confirmed"] == 2 and frames[-1].metrics["double_bookings"] == 1
    assert events(frames, "double-booking")[0].severity == "error"


def test_check_then_act_with_a_mutex_books_once():
    engine = make(scenario="check_then_act", fix="mutex", scheduler="manual")
    frames = pick(engine, 1, 1, 2)  # T1 locks, checks; T2 blocks
    assert thread_state(frames[-1], 2)["status"] == "blocked"
    frames = run_to_end(engine)
    assert frames[-1].metrics["bookings_confirmed"] == 1 and frames[-1].metrics["races_flagged"] == 0


# -- double-checked locking -----------------------------------------------------


def test_dcl_without_the_fix_can_use_an_uninitialised_object():
    engine = make(scenario="double_checked_locking", scheduler="manual")
    # T1: fast check, lock, recheck, allocate, publish (the pointer store that may
    # become visible before the constructor's store) ... then T2 takes the fast path.
    pick(engine, 1, 1, 1, 1, 1)
    assert entity(engine.frame, "memory")["display"] == "&obj"
    f_check, f_use = pick(engine, 2, 2)
    assert "half-built" in f_check.narration
    assert thread_state(f_use, 2)["registers"]["r"] == "?"
    assert events([f_use], "uninitialised-use")[0].severity == "error"
    assert f_use.metrics["races_flagged"] >= 1 and events([f_check, f_use], "race")
    frames = run_to_end(engine)
    assert frames[-1].metrics["uninitialised_uses"] == 1


def test_dcl_narration_names_the_check_each_fix_makes():
    """The always-lock fix has one check, under the lock: no "again". Under the once-flag
    fix the check inside the lock reads done, not instance."""
    mutex = make(scenario="double_checked_locking", fix="mutex", scheduler="manual")
    lock, check, blocked = pick(mutex, 1, 1, 2)
    assert "T1 checks instance: it is NULL" in check.narration and "again" not in check.narration
    assert "T2 cannot look at instance" in blocked.narration
    pick(mutex, 1, 1, 1, 1, 1, 2, 2)  # T1 builds, unlocks, uses; T2 locks, checks
    assert "T2 checks instance and finds the object already created" in mutex.frame.narration
    none = make(scenario="double_checked_locking", fix="none", scheduler="manual")
    assert "T1 checks again: instance is still NULL" in pick(none, 1, 1, 1)[-1].narration
    once = make(scenario="double_checked_locking", fix="once", scheduler="manual")
    blocked = pick(once, 1, 1, 2, 2)[-1]
    assert "T2 cannot check done again until T1" in blocked.narration


def test_dcl_once_publishes_with_release_and_reads_with_acquire():
    engine = make(scenario="double_checked_locking", fix="once", scheduler="manual")
    frames = pick(engine, *[1] * 8)  # T1: check, lock, recheck, alloc, construct, publish, done.store, unlock
    assert "release" in frames[-2].narration
    f = pick(engine, 2)[0]
    assert "acquire load sees done == true" in f.narration
    f = pick(engine, 2)[0]
    assert thread_state(f, 2)["registers"]["r"] == 42 and f.metrics["races_flagged"] == 0


@settings(max_examples=80, deadline=None)
@given(picks=st.lists(st.integers(0, 3), max_size=40), threads=st.integers(2, 4))
def test_dcl_once_never_exposes_garbage_under_any_schedule(picks, threads):
    frames = run_with_picks({"scenario": "double_checked_locking", "fix": "once", "threads": threads}, picks)
    assert frames[-1].metrics["uninitialised_uses"] == 0 and frames[-1].metrics["races_flagged"] == 0


# -- file access ----------------------------------------------------------------


def test_lseek_then_write_can_lose_a_line():
    engine = make(scenario="file_access", scheduler="manual")
    frames = pick(engine, 1, 2, 1, 2)  # both lseek to 0, both write at 0
    assert "also returns offset 0" in frames[1].narration
    f = frames[-1]
    assert f.metrics["lines_in_file"] == 1 and f.metrics["lost_lines"] == 1
    file = entity(f, "file")
    assert file["lines"][0]["overwrote"] == ("P1: hello",) and file["lost"] == ("P1: hello",)
    assert events(frames, "lost-line")[0].severity == "error"
    # Each system call is atomic (POSIX XSH 2.9.7): a logic race, not a data race.
    assert f.metrics["races_flagged"] == 0


def test_o_append_writes_at_the_end_even_after_a_stale_lseek():
    engine = make(scenario="file_access", fix="o_append", scheduler="manual")
    frames = pick(engine, 1, 2, 1, 2)  # the same interleaving
    f = frames[-1]
    assert f.metrics["lines_in_file"] == 2 and f.metrics["lost_lines"] == 0
    assert [line["offset"] for line in entity(f, "file")["lines"]] == [0, 10]


@settings(max_examples=80, deadline=None)
@given(picks=st.lists(st.integers(0, 3), max_size=20), threads=st.integers(2, 4),
       fix=st.sampled_from(["o_append", "mutex"]))
def test_o_append_and_flock_never_lose_a_line(picks, threads, fix):
    frames = run_with_picks({"scenario": "file_access", "fix": fix, "threads": threads}, picks)
    assert frames[-1].metrics["lost_lines"] == 0 and frames[-1].metrics["lines_in_file"] == threads


# -- the happens-before detector ----------------------------------------------------


def test_detector_flags_the_counter_race_even_when_the_result_is_right():
    """Serial run: T1 finishes before T2 starts, counter = 2 as expected, yet
    nothing orders T2's load after T1's store, so it is a data race."""
    engine = make(threads=2, increments=1, scheduler="manual")
    frames = pick(engine, 1, 1, 1, 2)
    race = events(frames, "race")
    assert len(race) == 1 and race[0].severity == "error"
    text = race[0].text
    assert "counter" in text and "T1 write" in text and "T2 read" in text
    assert "[3, 0]" in text and "[0, 1]" in text  # both vector clocks
    race_entity = entity(frames[-1], "race")
    assert race_entity["earlier"]["thread"] == "T1" and race_entity["later"]["thread"] == "T2"
    frames += pick(engine, 2, 2)
    assert frames[-1].metrics["counter"] == 2 and frames[-1].metrics["lost_updates"] == 0
    assert frames[-1].metrics["races_flagged"] == 2  # the load, then the store


def test_vector_clocks_join_at_lock_acquire():
    engine = make(threads=2, increments=1, fix="mutex", scheduler="manual")
    pick(engine, 1, 1, 1, 1, 1)  # T1 lock, load, add, store, unlock: T1's clock is 5
    f = pick(engine, 2)[0]
    assert thread_state(f, 2)["clock"] == (5, 1)  # acquired T1's release


def test_race_detector_preset_is_a_lucky_run_with_a_race():
    preset = next(p for p in Engine.presets if p.slug == "race-detector")
    frames = run_preset(preset)
    assert frames[-1].metrics["lost_updates"] == 0 and frames[-1].metrics["races_flagged"] > 0


@settings(max_examples=80, deadline=None)
@given(pair=fixed_pairs, threads=st.integers(2, 4), increments=st.integers(1, 3),
       picks=st.lists(st.integers(0, 3), max_size=50))
def test_with_any_fix_nothing_is_flagged_and_the_outcome_is_right(pair, threads, increments, picks):
    scenario, fix = pair
    params = {"scenario": scenario, "fix": fix, "threads": threads, "increments": increments}
    frames = run_with_picks(params, picks)
    assert frames[-1].metrics["races_flagged"] == 0
    assert not any(e.severity == "error" for f in frames for e in f.events)
    assert not any(e.kind == "race" for f in frames for e in f.entities)
    final_events = events(frames, "finished")
    assert len(final_events) == 1 and final_events[0].severity == "success"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), threads=st.integers(2, 4), increments=st.integers(1, 3))
def test_unsynchronised_counter_with_two_threads_interleaved_is_always_flagged(seed, threads, increments):
    # Every thread loads and stores counter with no synchronisation at all, so
    # whatever the schedule, some pair of accesses is unordered.
    frames = run_to_end(make(seed=seed, threads=threads, increments=increments))
    assert frames[-1].metrics["races_flagged"] > 0


# -- the explorer -------------------------------------------------------------


def brute_force(params: RaceParams) -> dict[int, int]:
    """Every interleaving, one by one: independent of the explorer's memo and symmetry."""
    prog = build_program(params)
    counts: dict[int, int] = {}

    def walk(s):
        ts = explorer_runnable(prog, s)
        if not ts:
            key = outcome(prog, s)
            counts[key] = counts.get(key, 0) + 1
            return
        for t in ts:
            walk(execute(prog, s, t)[0])

    walk(initial_state(prog))
    return counts


def outcome_counts(data) -> dict[int, int]:
    return {o["key"]: o["count"] for o in data["outcomes"]}


def test_explorer_two_threads_one_increment_by_hand():
    """T1: r1 a1 w1, T2: r2 a2 w2 (load, add, store). Interleavings: choose which
    3 of the 6 slots are T1's: C(6, 3) = 20. The counter ends at 2 only if one
    thread loads after the other stored: w1 < r2 forces r1 a1 w1 r2 a2 w2 (one
    interleaving), and symmetrically one more. The other 18 both load 0: 1."""
    data = explore(Engine.parse_params({"threads": 2, "increments": 1}))
    assert data["total"] == math.comb(6, 3) == 20
    assert outcome_counts(data) == {1: 18, 2: 2}
    assert data["bad"] == 18 and data["summary"] == "18 of 20 interleavings lose an update."
    assert [o["example"] for o in data["outcomes"]] == [[1, 1, 2, 1, 2, 2], [1, 1, 1, 2, 2, 2]]
    correct = [o for o in data["outcomes"] if o["correct"]]
    assert [o["label"] for o in correct] == ["counter = 2"]


def test_explorer_three_threads_one_increment_by_hand():
    """9!/(3!)^3 = 1680 interleavings; all three increments survive only when the
    threads run one after another: 3! = 6 orders."""
    data = explore(Engine.parse_params({"threads": 3, "increments": 1}))
    assert data["total"] == 1680 and outcome_counts(data)[3] == 6


def test_explorer_check_then_act_by_hand():
    """C = check, B = book. If both checks come before both books (2 x 2 = 4
    orders), both book; otherwise the first customer checks and books before
    the other checks, who sees it taken (2 orders). 6 in all."""
    data = explore(Engine.parse_params({"scenario": "check_then_act"}))
    assert outcome_counts(data) == {1: 2, 2: 4}


def test_explorer_file_append_by_hand():
    """lseek, write per process: 4!/(2!2!) = 6 interleavings; only the 2 serial
    ones keep both lines."""
    data = explore(Engine.parse_params({"scenario": "file_access"}))
    assert outcome_counts(data) == {0: 2, 1: 4}
    assert outcome_counts(explore(Engine.parse_params({"scenario": "file_access", "fix": "o_append"}))) == {0: 6}


def test_explorer_double_checked_locking_by_hand():
    """Say T1 creates the object: c l r a p k u s (check, lock, recheck, alloc,
    publish, construct, unlock, use). Put T2's instructions in the 9 gaps of
    that sequence (gap g = after T1's g-th instruction).
    - T2's check after the publish (gap 5..8) sees non-NULL: T2 runs check, use,
      placed in gaps 5..8 in order: C(4 + 1, 2) = 10.
    - T2's check in gaps 0..4 sees NULL: it then locks, rechecks, unlocks and
      uses, and its lock must follow T1's unlock (gaps 7..8): 5 x C(2 + 3, 4) = 25.
    35 with T1 creating, 70 in all. T2 reads garbage only when both its check and
    its use fall in gap 5, between publish and construct: 1, so 2 in all."""
    data = explore(Engine.parse_params({"scenario": "double_checked_locking"}))
    assert data["total"] == 70 and outcome_counts(data) == {0: 68, 1: 2}
    for fix in ("once", "mutex"):
        fixed = explore(Engine.parse_params({"scenario": "double_checked_locking", "fix": fix}))
        assert fixed["bad"] == 0 and list(outcome_counts(fixed)) == [0]


def test_explorer_mutex_serialises_critical_sections():
    """With lock/unlock around each increment, each increment is one block:
    n x k blocks in any order keeping each thread's own order: (nk)!/(k!)^n."""
    data = explore(Engine.parse_params({"threads": 2, "increments": 2, "fix": "mutex"}))
    assert data["total"] == 6 and outcome_counts(data) == {4: 6}


@pytest.mark.parametrize(
    "params",
    [
        {"threads": 2, "increments": 2},
        {"threads": 3, "increments": 1},
        {"threads": 2, "increments": 1, "fix": "mutex"},
        {"threads": 3, "increments": 1, "fix": "mutex"},
        {"scenario": "check_then_act", "threads": 3},
        {"scenario": "check_then_act", "threads": 3, "fix": "mutex"},
        {"scenario": "double_checked_locking", "threads": 3},
        {"scenario": "double_checked_locking", "threads": 2, "fix": "once"},
        {"scenario": "double_checked_locking", "threads": 3, "fix": "mutex"},
        {"scenario": "file_access", "threads": 3},
        {"scenario": "file_access", "threads": 3, "fix": "mutex"},
    ],
)
def test_explorer_counts_match_brute_force_enumeration(params):
    p = Engine.parse_params(params)
    assert outcome_counts(explore(p)) == brute_force(p)


@settings(max_examples=25, deadline=None)
@given(threads=st.integers(2, 4), increments=st.integers(1, 5))
def test_explorer_totals_are_multinomial_for_unsynchronised_programs(threads, increments):
    cap = {2: 5, 3: 3, 4: 2}[threads]
    k = min(increments, cap)
    counter = explore(Engine.parse_params({"threads": threads, "increments": increments}))
    n_instr = 3 * k  # load, add, store per increment
    assert counter["total"] == math.factorial(threads * n_instr) // math.factorial(n_instr) ** threads
    assert (counter["reduced"] is None) == (increments <= cap)
    atomic = explore(Engine.parse_params({"threads": threads, "increments": increments, "fix": "atomic"}))
    assert atomic["total"] == math.factorial(threads * increments) // math.factorial(increments) ** threads
    for fix in ("none", "o_append"):
        files = explore(Engine.parse_params({"scenario": "file_access", "threads": threads, "fix": fix}))
        assert files["total"] == math.factorial(2 * threads) // 2**threads


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=racy_scenarios, threads=st.integers(2, 4), increments=st.integers(1, 2))
def test_without_a_fix_the_explorer_finds_a_bad_outcome_and_its_schedule_replays(scenario, threads, increments):
    params = {"scenario": scenario, "threads": threads, "increments": increments}
    data = explore(Engine.parse_params(params))
    bad = [o for o in data["outcomes"] if not o["correct"]]
    assert bad and data["bad"] > 0
    for o in data["outcomes"]:
        engine = make(**params, scheduler="manual")
        pick(engine, *o["example"])
        assert engine.done and outcome(engine.program, engine.state) == o["key"]


@settings(max_examples=30, deadline=None)
@given(pair=fixed_pairs, threads=st.integers(2, 4), increments=st.integers(1, 3))
def test_with_a_fix_the_explorer_finds_only_the_right_outcome(pair, threads, increments):
    scenario, fix = pair
    data = explore(Engine.parse_params({"scenario": scenario, "fix": fix, "threads": threads, "increments": increments}))
    assert data["bad"] == 0 and [o["correct"] for o in data["outcomes"]] == [True]


def test_explorer_caps_the_biggest_counter_and_says_so():
    data = explore(Engine.parse_params({"threads": 4, "increments": 5}))
    assert data["reduced"]["explored_increments"] == 2 and data["increments"] == 2
    assert "too many" in data["reduced"]["reason"]


# -- determinism --------------------------------------------------------------


def frames_for(params: dict, seed: int, actions: list[tuple[int, dict]], steps: int) -> list[Frame]:
    engine = make(seed, **params)
    frames = [engine.frame]
    for _ in range(steps):
        for s, a in actions:
            if s == engine.index:
                try:
                    engine.apply(engine.parse_action(a))
                except ValueError:
                    pass  # a pick the current state does not allow
        frames.append(engine.step())
    return frames


@settings(max_examples=40, deadline=None)
@given(pair=scenario_and_fix, threads=st.integers(2, 4), seed=st.integers(0, 2**32 - 1),
       scheduler=st.sampled_from(["random", "manual"]),
       actions=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 4)), max_size=12))
def test_same_inputs_same_frames(pair, threads, seed, scheduler, actions):
    scenario, fix = pair
    params = {"scenario": scenario, "fix": fix, "threads": threads, "scheduler": scheduler}
    acts = [(s, {"type": "run_thread", "thread": min(t, threads)}) for s, t in actions]
    a = frames_for(params, seed, acts, 40)
    b = frames_for(params, seed, acts, 40)
    assert a == b
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]


def _digest_script() -> str:
    return (
        "import hashlib, json, random\n"
        "from simulations.engines.race_conditions import RaceConditionsEngine as E\n"
        "out = []\n"
        "for p in E.presets:\n"
        "    e = E(E.parse_params(p.params), random.Random(p.seed))\n"
        "    e.reset()\n"
        "    acts = {}\n"
        "    for s, a in p.actions: acts.setdefault(s, []).append(a)\n"
        "    frames = [e.frame]\n"
        "    for _ in range(40):\n"
        "        for a in acts.get(e.index, []): e.apply(e.parse_action(a))\n"
        "        frames.append(e.step())\n"
        "    out.append([f.to_dict() for f in frames])\n"
        "print(hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest())\n"
    )


def test_same_frames_across_processes():
    digests = set()
    for hashseed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", _digest_script()], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1


# -- presets ------------------------------------------------------------------


PRESET_POINTS = {
    "counter-lost-update": lambda fr: fr[-1].metrics["lost_updates"] > 0,
    "counter-mutex": lambda fr: bool(events(fr, "blocked")) and fr[-1].metrics["counter"] == 4,
    "counter-atomic": lambda fr: fr[-1].metrics["counter"] == 6 and fr[-1].metrics["races_flagged"] == 0,
    "check-then-act": lambda fr: fr[-1].metrics["double_bookings"] > 0,
    "check-then-act-mutex": lambda fr: bool(events(fr, "blocked")) and fr[-1].metrics["double_bookings"] == 0,
    "double-checked-locking": lambda fr: fr[-1].metrics["uninitialised_uses"] > 0,
    "double-checked-locking-fixed": lambda fr: any("acquire load sees done == true" in f.narration for f in fr)
    and fr[-1].metrics["races_flagged"] == 0,
    "file-append-race": lambda fr: fr[-1].metrics["lost_lines"] > 0,
    # Both processes lseek before either writes (the racy interleaving), and still no loss.
    "file-append-o-append": lambda fr: any(
        sum(1 for e in f.entities if e.kind == "thread" and e.state["pc"] == 1) == 2 for f in fr
    )
    and fr[-1].metrics["lost_lines"] == 0,
    "file-append-flock": lambda fr: bool(events(fr, "blocked")) and fr[-1].metrics["lost_lines"] == 0,
    # Issue 8: "Interleave by hand" waits for the learner at once; its answer is scripted.
    "manual-interleave": lambda fr: len(fr) == 1 and not fr[-1].done,
    "manual-interleave-answer": lambda fr: fr[-1].metrics["counter"] == 1 and fr[-1].done,
    "race-detector": lambda fr: fr[-1].metrics["races_flagged"] > 0 and fr[-1].metrics["lost_updates"] == 0,
}


def test_every_preset_is_checked():
    assert {p.slug for p in Engine.presets} == set(PRESET_POINTS)
    assert len({p.slug for p in Engine.presets}) == len(Engine.presets)


@pytest.mark.parametrize("preset", Engine.presets, ids=lambda p: p.slug)
def test_preset_shows_its_point(preset):
    Engine.parse_params(preset.params)
    for _, action in preset.actions:
        Engine.parse_action(action)
    frames = run_preset(preset)
    assert frames[-1].done or preset.slug == "manual-interleave"  # that one waits for the learner
    assert PRESET_POINTS[preset.slug](frames)
