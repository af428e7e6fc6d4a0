"""The kernel's network: latency bounds, loss per seed, partitions, crashes, one-shot faults."""

from __future__ import annotations

import copy
import random

import pytest

from simulations.engines.kernel import Network, Scheduler, link_key
from simulations.engines.kernel.network import CUT, DOWN, LOST


def make(nodes=("a", "b", "c"), **kw):
    return Scheduler(), Network(list(nodes), **kw)


def deliver_all(s: Scheduler, net: Network):
    out = []
    while (occ := s.pop()) is not None:
        msg, outcome = net.receive(occ.ref)
        out.append((occ.time, msg.src, msg.dst, msg.type, outcome))
    return out


def test_latency_is_drawn_within_the_link_bounds():
    s, net = make(latency=(10.0, 20.0))
    net.set_latency("a", "c", 1.0, 2.0)
    rng = random.Random(3)
    ab = [net.send(s, rng, "a", "b", "x", {}) for _ in range(200)]
    ac = [net.send(s, rng, "c", "a", "x", {}) for _ in range(200)]
    assert all(10.0 <= m.deliver_at - m.sent_at <= 20.0 for m in ab)
    assert all(1.0 <= m.deliver_at - m.sent_at <= 2.0 for m in ac)
    assert len({m.deliver_at for m in ab}) > 100  # drawn, not constant


def test_messages_are_plain_data_for_the_stage():
    s, net = make()
    m = net.send(s, random.Random(1), "a", "b", "RequestVote", {"term": 2})
    assert (m.src, m.dst, m.type, m.payload, m.sent_at) == ("a", "b", "RequestVote", {"term": 2}, 0.0)
    assert m.deliver_at > m.sent_at and net.in_flight == {m.id: m}


def test_loss_is_the_same_for_a_seed_and_near_its_probability():
    def run(seed):
        s, net = make()
        net.set_loss("a", "b", 0.3)
        rng = random.Random(seed)
        for _ in range(400):
            net.send(s, rng, "a", "b", "x", {})
            net.send(s, rng, "b", "c", "x", {})
        return deliver_all(s, net)

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    ab = [o for *_, src, dst, _, o in first if (src, dst) == ("a", "b")]
    bc = [o for *_, src, dst, _, o in first if (src, dst) == ("b", "c")]
    assert 0.2 < ab.count(LOST) / len(ab) < 0.4
    assert bc.count(LOST) == 0  # loss is per link
    assert link_key("b", "a") == "a-b"


def test_partition_cuts_between_groups_and_heal_joins_them():
    s, net = make(nodes=("a", "b", "c", "d", "e"))
    assert net.partition([["a", "b"], ["c"]]) == [["a", "b"], ["c"], ["d", "e"]]  # the rest form a group
    assert net.cut("a", "c") and net.cut("b", "d") and not net.cut("d", "e") and not net.cut("a", "b")
    assert net.cut_links() == ["a-c", "a-d", "a-e", "b-c", "b-d", "b-e", "c-d", "c-e"]
    rng = random.Random(1)
    net.send(s, rng, "a", "b", "inside", {})
    net.send(s, rng, "a", "d", "across", {})
    assert sorted((t, o) for _, _, _, t, o in deliver_all(s, net)) == [("across", CUT), ("inside", "delivered")]
    net.heal()
    assert net.groups() == [["a", "b", "c", "d", "e"]] and not net.partitioned
    net.send(s, rng, "a", "d", "across", {})
    assert deliver_all(s, net)[0][-1] == "delivered"
    with pytest.raises(ValueError):
        net.partition([["a"], ["a", "b"]])
    net.partition([["a"]])
    assert net.plan_partition([["a", "b", "c", "d", "e"]]) == [["a", "b", "c", "d", "e"]]
    assert net.groups() == [["a"], ["b", "c", "d", "e"]]  # planning changed nothing


def test_a_message_in_flight_when_the_cut_happens_is_lost():
    s, net = make()
    net.send(s, random.Random(1), "a", "b", "x", {})
    net.partition([["a"], ["b", "c"]])
    assert deliver_all(s, net)[0][-1] == CUT


def test_a_crashed_node_receives_nothing_until_it_restarts():
    s, net = make()
    rng = random.Random(2)
    net.send(s, rng, "a", "b", "x", {})
    net.crash("b")
    net.send(s, rng, "b", "c", "from-the-crashed", {})  # already on the wire: still arrives
    out = deliver_all(s, net)
    assert sorted((t, o) for *_, t, o in out) == [("from-the-crashed", "delivered"), ("x", DOWN)]
    net.restart("b")
    net.send(s, rng, "a", "b", "x", {})
    assert deliver_all(s, net)[0][-1] == "delivered"


def test_drop_next_hits_the_first_to_arrive_in_flight_or_the_next_sent():
    s, net = make(latency=(10.0, 10.0))
    rng = random.Random(1)
    first = net.send(s, rng, "a", "b", "first", {})
    s.schedule(1.0, "tick", 0)
    s.pop()
    second = net.send(s, rng, "a", "b", "second", {})
    assert net.drop_next("a", "b") is first and first.lost
    assert net.drop_next("b", "a") is None  # nothing in flight that way: armed
    reply = net.send(s, rng, "b", "a", "reply", {})
    assert reply.lost and reply.lost_by == "learner"
    later = net.send(s, rng, "b", "a", "later", {})
    assert not later.lost  # one-shot
    assert [(t, o) for *_, t, o in deliver_all(s, net)] == [
        ("first", LOST), ("second", "delivered"), ("reply", LOST), ("later", "delivered")]


def test_delay_next_moves_the_delivery_later():
    s, net = make(latency=(10.0, 10.0))
    rng = random.Random(1)
    held = net.send(s, rng, "a", "b", "held", {})
    net.send(s, rng, "a", "c", "other", {})
    assert net.delay_next(s, "a", "b", 25) is held and held.deliver_at == 35.0
    assert net.delay_next(s, "c", "a", 5) is None
    armed = net.send(s, rng, "c", "a", "armed", {})
    assert armed.deliver_at == 15.0
    assert [(t, ty) for t, _, _, ty, _ in deliver_all(s, net)] == [(10.0, "other"), (15.0, "armed"), (35.0, "held")]


def test_deepcopy_mid_flight_goes_on_identically():
    s, net = make()
    rng = random.Random(5)
    net.set_loss("a", "c", 0.5)
    for i in range(20):
        net.send(s, rng, "a", "bc"[i % 2], "x", {"i": i})
    s.pop()
    twin_s, twin_net, twin_rng = copy.deepcopy((s, net, rng))

    def go(s, net, rng):
        out = deliver_all(s, net)
        for _ in range(10):
            net.send(s, rng, "a", "c", "y", {})
        return out + deliver_all(s, net)

    assert go(twin_s, twin_net, twin_rng) == go(s, net, rng)
