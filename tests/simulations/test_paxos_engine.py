"""Single-decree Paxos against Lamport's "Paxos Made Simple" (2001): the acceptor rules of
phase 1 (b) and 2 (b), the proposer's choice of value in phase 2 (a) (P2c, §2.2), disjoint
proposal numbers, and Safety (§2.1: only a single value is chosen) under generated fault
schedules."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.engines.base import kind_fields
from simulations.engines.paxos import PaxosEngine as Engine


def make(seed=1, **params):
    e = Engine(Engine.parse_params(params), random.Random(seed))
    e.reset()
    return e


def act(e, **action):
    return e.apply(Engine.parse_action(action))


def run_until(e, cond, limit=2000):
    frames = []
    for _ in range(limit):
        if cond(e):
            return frames
        frames.append(e.step())
    raise AssertionError("condition never held")


def test_a_later_proposer_whose_prepare_quorum_includes_an_acceptor_that_accepted_1_x_must_propose_x():
    """Phase 2 (a) / P2c: v is the value of the highest-numbered proposal among the promises."""
    e = make()
    a1 = e.acceptors["a1"]
    a1.promised, a1.accepted = 1, (1, "x")  # (1, x) accepted by a1 only: not chosen
    act(e, type="propose", proposer="p2", value="y")
    act(e, type="drop", src="p2", dst="a3")  # p2's prepare quorum: a1 and a2
    frames = run_until(e, lambda e: e.proposers["p2"].phase == "accepting")
    p2 = e.proposers["p2"]
    assert sorted(p2.promises) == ["a1", "a2"] and p2.promises["a1"] == (1, "x")
    assert p2.proposing == "x" and p2.number == 2
    assert "accept(2, x)" in frames[-1].narration and "reported is (1, x)" in frames[-1].narration
    run_until(e, lambda e: e.chosen)
    assert set(e.chosen.values()) == {"x"}


def test_a_quorum_that_saw_nothing_may_use_the_proposers_own_value():
    e = make()
    e.acceptors["a1"].promised, e.acceptors["a1"].accepted = 1, (1, "x")
    act(e, type="propose", proposer="p2", value="y")
    act(e, type="drop", src="p2", dst="a1")  # quorum a2, a3: neither accepted anything
    run_until(e, lambda e: e.proposers["p2"].phase == "accepting")
    assert e.proposers["p2"].proposing == "y"


def test_the_highest_numbered_accepted_proposal_wins():
    e = make(acceptors=3, proposers=2)
    e.acceptors["a1"].promised, e.acceptors["a1"].accepted = 1, (1, "x")
    e.acceptors["a2"].promised, e.acceptors["a2"].accepted = 3, (3, "z")
    e.proposers["p2"].number = 2  # its next number is 4
    act(e, type="propose", proposer="p2", value="y")
    act(e, type="drop", src="p2", dst="a3")
    run_until(e, lambda e: e.proposers["p2"].phase == "accepting")
    assert e.proposers["p2"].number == 4 and e.proposers["p2"].proposing == "z"


def test_proposal_numbers_come_from_disjoint_sets():
    e = make(proposers=3)
    used = {pid: [] for pid in e.proposer_ids}
    for _ in range(3):
        for pid in e.proposer_ids:
            e._start_round(e.proposers[pid], [])
            used[pid].append(e.proposers[pid].number)
    assert used == {"p1": [1, 4, 7], "p2": [2, 5, 8], "p3": [3, 6, 9]}


def test_acceptor_promises_only_higher_numbers_and_accepts_unless_it_promised_higher():
    """Phase 1 (b): respond to prepare(n) only when n is above every prepare answered. Phase 2 (b):
    accept (n, v) unless it has answered a prepare numbered above n."""
    e = make()
    text = e._on_prepare("a1", "p1", {"n": 3}, [])
    assert e.acceptors["a1"].promised == 3 and "promises" in text
    text = e._on_prepare("a1", "p2", {"n": 2}, [])
    assert e.acceptors["a1"].promised == 3 and "ignores prepare(2)" in text
    text = e._on_accept("a1", "p2", {"n": 2, "value": "y"}, [])
    assert e.acceptors["a1"].accepted is None and "refuses" in text
    e._on_accept("a1", "p1", {"n": 3, "value": "x"}, [])
    assert e.acceptors["a1"].accepted == (3, "x")
    e._on_prepare("a1", "p2", {"n": 5}, [])
    reply = [m for m in e.net.in_flight.values() if m.type == "promise"][-1]
    assert reply.payload == {"n": 5, "accepted_n": 3, "value": "x"}  # reports what it accepted


def test_value_is_chosen_by_a_majority_accepting_one_proposal_and_survives_acceptor_crashes():
    e = make(acceptors=5, proposers=1)
    act(e, type="crash", node="a4")
    act(e, type="crash", node="a5")
    act(e, type="propose", proposer="p1", value="x")
    run_until(e, lambda e: e.proposers["p1"].phase == "chosen")
    assert set(e.chosen.values()) == {"x"}
    assert sum(a.accepted == (1, "x") for a in e.acceptors.values()) >= 3
    act(e, type="crash", node="a1")
    act(e, type="restart", node="a1")
    assert e.acceptors["a1"].accepted == (1, "x")  # stable storage


def preset(slug):
    return next(p for p in Engine.presets if p.slug == slug)


def play(p, steps=300):
    e = Engine(Engine.parse_params(p.params), random.Random(p.seed))
    frames = [e.reset()]
    schedule = {}
    for step, action in p.actions:
        schedule.setdefault(step, []).append(action)
    for k in range(steps):
        for action in schedule.get(k, ()):
            e.apply(Engine.parse_action(action))
        frames.append(e.step())
    return e, frames


@pytest.mark.parametrize("slug, value", [("paxos-basic", "x"), ("paxos-later-proposer-adopts", "x"), ("paxos-duel", "y")])
def test_presets(slug, value):
    e, frames = play(preset(slug))
    assert set(e.chosen.values()) == {value} and not e.violations and e.done
    declared = {k: set(kind_fields(t)) for k, t in Engine.entity_kinds.items()}
    for f in frames:
        assert all(set(x.state) == declared[x.kind] for x in f.entities)
        assert list(f.metrics) == list(Engine.metrics)


def test_the_adopting_preset_shows_p2_proposing_x():
    e, frames = play(preset("paxos-later-proposer-adopts"))
    assert any("a1 promises p2 never to accept a proposal numbered below 2, and reports that it already accepted (1, x)"
               in f.narration for f in frames)
    assert any("sends accept(2, x)" in f.narration for f in frames)


def test_determinism_and_snapshots():
    e1, f1 = play(preset("paxos-duel"), 40)
    e2, f2 = play(preset("paxos-duel"), 40)
    assert [f.to_dict() for f in f1] == [f.to_dict() for f in f2]
    e, _ = play(preset("paxos-later-proposer-adopts"), 12)
    twin = copy.deepcopy(e)
    assert [e.step().to_dict() for _ in range(30)] == [twin.step().to_dict() for _ in range(30)]


NODES = ["p1", "p2", "a1", "a2", "a3"]
PROPOSE = st.tuples(st.sampled_from(["p1", "p2"]), st.sampled_from(["x", "y", "z"])).map(
    lambda t: {"type": "propose", "proposer": t[0], "value": t[1]})
ACTIONS = st.one_of(
    PROPOSE, PROPOSE, PROPOSE,  # proposals often, including after a value is chosen
    st.sampled_from(NODES).map(lambda n: {"type": "crash", "node": n}),
    st.sampled_from(NODES).map(lambda n: {"type": "restart", "node": n}),
    st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)).filter(lambda t: t[0] != t[1]).map(
        lambda t: {"type": "drop", "src": t[0], "dst": t[1]}),
    st.tuples(st.sampled_from(NODES), st.sampled_from(NODES), st.integers(1, 300)).filter(lambda t: t[0] != t[1]).map(
        lambda t: {"type": "delay", "src": t[0], "dst": t[1], "ms": t[2]}),
    st.lists(st.sampled_from(NODES), min_size=1, max_size=4, unique=True).map(lambda g: {"type": "partition", "groups": [g]}),
    st.just({"type": "heal"}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.integers(0, 2**16), st.booleans(), st.lists(st.tuples(st.integers(0, 40), ACTIONS), max_size=12),
       st.integers(0, 80), st.lists(st.tuples(st.integers(0, 40), ACTIONS), max_size=8))
def test_only_a_single_value_is_ever_chosen_and_p2c_always_holds(seed, backoff, faults, later, more):
    # The hazard P2c guards against: a value is (perhaps) chosen, then another proposer
    # proposes a different value later. Faults before and after.
    schedule = [(0, {"type": "propose", "proposer": "p1", "value": "x"}), *faults,
                (later, {"type": "propose", "proposer": "p2", "value": "y"}), *more]
    e = make(seed, backoff=backoff, loss=0.1)
    proposed = set()
    for gap, action in schedule:
        for _ in range(gap):
            e.step()
        try:
            e.apply(Engine.parse_action(action))
            if action["type"] == "propose":
                proposed.add(action["value"])
        except ValueError:
            pass
    for _ in range(200):
        f = e.step()
        assert f.metrics["safety"] == "ok" and f.metrics["p2c"] == "ok", e.violations
    assert len(set(e.chosen.values())) <= 1 and set(e.chosen.values()) <= proposed
