"""What the Threads & Processes API exposes (issue 11): a thread's `state` is exactly one of
`ready`, `running`, `blocked`, `done`. A job that has not arrived is not a thread yet: it has
no entity until its arrival tick (the intro narration names every job's arrival), and a
thread keeps its place among the threads once it has one (its colour on the stage)."""

from __future__ import annotations

import random

import pytest

from simulations.engines.threads_processes import ThreadsProcessesEngine as TP
from tests.simulations.test_threads_processes_memory_ipc import play

STATES = {"ready", "running", "blocked", "done"}


def threads(frame) -> dict[str, dict]:
    return {e.id: e.state for e in frame.entities if e.kind == "thread"}


def test_every_thread_state_of_every_preset_is_in_the_issues_list():
    for p in TP.presets:
        _, frames = play(dict(p.params), {s: dict(a) for s, a in p.actions})
        for f in frames:
            for tid, t in threads(f).items():
                assert t["state"] in STATES, (p.slug, f.index, tid, t["state"])
                assert isinstance(t["arrival"], int) and t["arrival"] <= f.time, "only arrived threads"


def test_a_job_appears_at_its_arrival_and_keeps_its_place():
    """OSTEP chapter 7 (cpu-sched), §7.4's late arrivals: A = 100 at 0, B and C = 10 at 10."""
    _, frames = play({"policy": "stcf", "jobs": [{"length": 100, "arrival": 0}, {"length": 10, "arrival": 10},
                                                  {"length": 10, "arrival": 10}]})
    assert "B = 10 at 10, C = 10 at 10" in frames[0].narration, "the intro names the jobs still to come"
    for f in frames:
        th = threads(f)
        assert list(th) == (["A"] if f.time < 10 else ["A", "B", "C"]), f.time
    first = next(f for f in frames if f.time >= 10)
    assert "B arrives needing 10 ticks of CPU." in first.narration
    assert threads(first)["B"]["arrival"] == 10


def test_threads_are_listed_in_arrival_order_so_a_late_one_never_recolours_another():
    _, frames = play({"policy": "fifo", "jobs": [{"length": 3, "arrival": 0}, {"length": 3, "arrival": 5},
                                                  {"length": 3, "arrival": 1}]})
    seen: list[str] = []
    for f in frames:
        ids = list(threads(f))
        assert ids[: len(seen)] == seen, "an earlier thread never moves"
        seen = ids
    assert seen == ["A", "C", "B"]


def test_a_job_that_has_not_arrived_cannot_crash_and_its_button_says_not_yet():
    engine = TP(TP.parse_params({"jobs": [{"length": 5}, {"length": 5, "arrival": 20}]}), random.Random(1))
    frame = engine.reset()
    assert TP.action_unavailable(frame, {"type": "crash", "thread": "B"}) == "not yet"
    assert TP.action_unavailable(frame, {"type": "crash", "thread": "A"}) is None
    before = engine.snapshot()
    with pytest.raises(ValueError, match="B has not arrived yet \\(at tick 20\\)"):
        engine.apply(TP.parse_action({"type": "crash", "thread": "B"}))
    assert engine.step().to_dict() == before.step().to_dict(), "the refusal changed nothing"


@pytest.mark.django_db
def test_the_api_documents_and_returns_those_states(client):
    listing = next(e for e in client.get("/api/simulations").json() if e["slug"] == "threads-processes")
    thread = listing["entity_kinds"]["thread"]
    assert thread["state"] == "Literal['ready', 'running', 'blocked', 'done']"
    assert {"process", "state", "arrival", "first_run", "completion", "remaining"} <= set(thread)
    assert {"avg_response", "avg_turnaround", "context_switches", "speedup"} <= set(listing["metrics"])
    body = {"params": {"policy": "sjf", "jobs": [{"length": 100, "arrival": 0}, {"length": 10, "arrival": 10},
                                                  {"length": 10, "arrival": 10}]}, "steps": 4}
    response = client.post("/api/simulations/threads-processes/runs", body, content_type="application/json")
    assert response.status_code == 200, response.content
    frames = response.json()["frames"]
    for f in frames:
        ts = [e for e in f["entities"] if e["kind"] == "thread"]
        assert {e["state"] for e in ts} <= STATES
        assert [e["id"] for e in ts] == (["A"] if f["time"] < 10 else ["A", "B", "C"])
    assert frames[-1]["time"] >= 10, "the run has reached the arrivals"
