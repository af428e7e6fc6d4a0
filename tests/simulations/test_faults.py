"""The fault actions every message-passing engine shares (simulations/engines/faults.py):
made once, typed by each engine's node ids, named and pickled as if written in the engine."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from simulations.engines import paxos, raft
from simulations.engines.faults import groups_words


@pytest.mark.parametrize("module", [raft, paxos])
def test_each_engine_gets_the_six_faults_in_its_own_module(module):
    for name, kind in (("Crash", "crash"), ("Restart", "restart"), ("DropNext", "drop"), ("DelayNext", "delay"),
                       ("Partition", "partition"), ("Heal", "heal")):
        cls = getattr(module, name)
        assert cls.__module__ == module.__name__ and cls.__qualname__ == name
        assert cls.model_json_schema()["properties"]["type"]["const"] == kind
        assert cls.__doc__, "its schema describes it"


def test_fault_actions_round_trip_through_pickle_as_runs_do_to_worker_processes():
    for action in (raft.Crash(node="n2"), raft.Partition(groups=[["n1", "n2"], ["n3"]]),
                   paxos.DelayNext(src="p1", dst="a2", ms=250), paxos.Heal()):
        assert pickle.loads(pickle.dumps(action)) == action


def test_each_engine_types_its_faults_by_its_own_nodes():
    assert raft.Crash.model_json_schema()["properties"]["node"]["title"] == "Server"
    assert paxos.Crash.model_json_schema()["properties"]["node"]["title"] == "Node"
    with pytest.raises(ValidationError):
        raft.Crash(node="a1")  # an acceptor is not a Raft server
    with pytest.raises(ValidationError):
        paxos.DropNext(src="n1", dst="a1")
    with pytest.raises(ValidationError):
        raft.DelayNext(src="n1", dst="n2", ms=0)
    with pytest.raises(ValidationError):
        raft.Partition(groups=[[f"n{i}"] for i in range(1, 8)] + [["n1"]])  # 8 groups: more than 7 servers


def test_a_partition_reads_as_its_groups():
    assert groups_words([["n1", "n2"], ["n3", "n4", "n5"]]) == "{n1, n2} | {n3, n4, n5}"
