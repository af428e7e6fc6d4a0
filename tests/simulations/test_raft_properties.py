"""Raft under generated fault schedules (hypothesis): crashes, restarts, forced timeouts,
partitions, heals, dropped and delayed messages, lossy links and client requests at any
moment. Whatever the schedule:

- the five properties of Figure 3 hold on every frame (the monitors never fire);
- every narration sentence with a checkable claim is true of its frame;
- once the faults stop with a majority of servers up and connected, a leader is elected
  within a bounded number of election timeouts (§5.2, §9.3), and every server that is up
  agrees on it.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.engines.raft import ELECTION_TIMEOUTS, MONITORS, RaftEngine as Engine
from tests.simulations.test_raft_engine import check_frames

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

def action_strategy(n: int):
    node = st.sampled_from([f"n{i}" for i in range(1, n + 1)])
    pair = st.tuples(node, node).filter(lambda p: p[0] != p[1])
    groups = st.lists(node, min_size=1, max_size=n, unique=True).flatmap(
        lambda nodes: st.integers(1, len(nodes)).map(lambda cut: [nodes[:cut], nodes[cut:]] if cut < len(nodes) else [nodes])
    )
    return st.one_of(
        node.map(lambda x: {"type": "crash", "node": x}),
        node.map(lambda x: {"type": "restart", "node": x}),
        node.map(lambda x: {"type": "timeout", "node": x}),
        groups.map(lambda g: {"type": "partition", "groups": [grp for grp in g if grp]}),
        st.just({"type": "heal"}),
        pair.map(lambda p: {"type": "drop", "src": p[0], "dst": p[1]}),
        st.tuples(pair, st.integers(1, 400)).map(lambda t: {"type": "delay", "src": t[0][0], "dst": t[0][1], "ms": t[1]}),
        st.tuples(pair, st.sampled_from([0.0, 0.3, 0.7, 1.0])).map(
            lambda t: {"type": "set_loss", "a": t[0][0], "b": t[0][1], "loss": t[1]}),
        st.tuples(node, st.sampled_from(["x", "y", "z"]), st.integers(-9, 99)).map(
            lambda t: {"type": "client_request", "node": t[0], "key": t[1], "value": t[2]}),
        # "the leader, whoever it is": client requests mostly go where they can be committed
        st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 99)).map(
            lambda t: {"type": "client_request", "node": "LEADER", "key": t[0], "value": t[1]}),
    )


@st.composite
def runs(draw):
    n = draw(st.integers(3, 5))
    params = {
        "nodes": n,
        "election_timeout": draw(st.sampled_from(["paper", "raftscope"])),
        "heartbeat_ms": draw(st.sampled_from([20, 50, 90])),
        "latency_min_ms": draw(st.integers(1, 10)),
        "latency_max_ms": draw(st.integers(10, 40)),
        "loss": draw(st.sampled_from([0.0, 0.0, 0.1])),
    }
    schedule = draw(st.lists(st.tuples(st.integers(1, 25), action_strategy(n)), min_size=1, max_size=25))
    return params, draw(st.integers(0, 2**16)), schedule


def play(params, seed, schedule):
    e = Engine(Engine.parse_params(params), random.Random(seed))
    frames = [e.reset()]
    for gap, action in schedule:
        for _ in range(gap):
            frames.append(e.step())
        if action.get("node") == "LEADER":
            leader = e.leader()
            action = {**action, "node": leader.id if leader is not None else "n1"}
        try:
            e.apply(Engine.parse_action(action))
        except ValueError:
            pass  # refused: nothing changed (tested in test_raft_engine)
    frames.extend(e.step() for _ in range(40))
    return e, frames


def assert_safe(e, frames):
    for f in frames:
        for name in MONITORS:
            assert f.metrics[name] == "ok", (f.index, e.mon.violations)
    check_frames(frames, e.majority)


@SETTINGS
@given(runs())
def test_figure3_properties_hold_under_any_fault_schedule(run):
    params, seed, schedule = run
    e, frames = play(params, seed, schedule)
    assert_safe(e, frames)
    times = [f.time for f in frames]
    assert times == sorted(times)


@SETTINGS
@given(runs(), st.data())
def test_with_a_majority_up_and_connected_a_leader_is_elected_within_bounded_timeouts(run, data):
    params, seed, schedule = run
    e, frames = play(params, seed, schedule)
    # No further faults: heal, stop the loss, bring back just enough servers for a majority
    # (or all of them).
    if e.net.partitioned:
        e.apply(Engine.parse_action({"type": "heal"}))
    for i, a in enumerate(e.ids):
        for b in e.ids[i + 1:]:
            if e.net.loss_of(a, b) > 0:
                e.apply(Engine.parse_action({"type": "set_loss", "a": a, "b": b, "loss": 0.0}))
    down = [i for i in e.ids if e.nodes[i].role == "crashed"]
    up = len(e.ids) - len(down)
    keep_down = data.draw(st.integers(0, max(0, len(down) - max(0, e.majority - up))), label="left down")
    for node in down[keep_down:]:
        e.apply(Engine.parse_action({"type": "restart", "node": node}))
    assert sum(n.role != "crashed" for n in e.nodes.values()) >= e.majority
    # Delayed messages land within 400 ms; then each election timeout (at most `hi` ms)
    # gives a fresh random chance. Bound: 400 ms + 12 timeouts.
    hi = ELECTION_TIMEOUTS[params["election_timeout"]][1]
    start = e.sched.now
    deadline = start + 400 + 12 * hi
    while e.sched.now <= deadline:
        frames.append(e.step())
        if agreed_leader(e) is not None:
            break
    leader = agreed_leader(e)
    assert leader is not None, (e.sched.now - start, {n.id: (n.role, n.term) for n in e.nodes.values()})
    assert_safe(e, frames)


def agreed_leader(e):
    """A live leader whose term is the newest of any live server, followed in that term by a
    majority of the cluster (counting itself)."""
    live = [n for n in e.nodes.values() if n.role != "crashed"]
    top = max(n.term for n in live)
    for n in live:
        if n.role == "leader" and n.term == top:
            followers = [m for m in live if m.term == top and (m is n or (m.role == "follower" and m.leader_hint == n.id))]
            if len(followers) >= e.majority:
                return n.id
    return None
