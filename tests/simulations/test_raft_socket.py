"""Every Raft action through the socket, as the panel's forms send it (`a.<field>` values
as strings): the action's log line arrives, the next frame shows its effect, and an action
that is not possible now is an error that changes nothing (issue 9: consumer tests for
every action)."""

from __future__ import annotations


import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.raft import RaftEngine
from simulations.routing import websocket_urlpatterns
from simulations.runs import encode_run, parse_run
from tests.simulations.sockets import PanelReader, act, receive, step

P = "sim-raft"
_panel = PanelReader(P)
error = _panel.error
stage = _panel.stage
APP = URLRouter(websocket_urlpatterns)
#: A run standing where n1 leads term 1 (the first election, seed 1: n1's timer expires first).
LEADER_STEP = 40


async def socket_at_leader():
    run = encode_run(RaftEngine, parse_run(RaftEngine, {}, 1))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/raft/?panel={P}&run={run}&step={LEADER_STEP}")
    comm.scope["client"] = ("10.7.1.1", 1)
    assert (await comm.connect())[0]
    state = await receive(comm)
    assert "n1" in state.el(f"{P}-metrics").text, "n1 leads at this step"
    return comm


@pytest.mark.parametrize(
    ("fields", "logged", "then_shown"),
    [
        ({"type": "client_request", "node": "n1", "key": "x", "value": 7}, "set x = 7", None),
        ({"type": "crash", "node": "n2"}, "You crashed n2.", "crashed"),
        ({"type": "timeout", "node": "n3"}, "You forced n3's election timeout.", "candidate"),
        ({"type": "drop", "src": "n1", "dst": "n2"}, "You dropped the next message n1 -> n2.", None),
        ({"type": "delay", "src": "n1", "dst": "n3", "ms": 200}, "You delayed the next message n1 -> n3 by 200 ms.", None),
        ({"type": "set_loss", "a": "n1", "b": "n4", "loss": 0.5}, "Loss on n1-n4 set to 0.5.", None),
    ],
)
async def test_an_action_is_logged_and_its_effect_drawn(fields, logged, then_shown):
    comm = await socket_at_leader()
    msg = await act(comm, **fields)
    assert error(msg) == "", error(msg)
    assert logged in msg.oob(f"{P}-log").text
    after = await step(comm)
    if then_shown:
        assert then_shown in stage(after)
    await comm.disconnect()


async def test_a_client_request_becomes_an_entry_that_commits_everywhere():
    comm = await socket_at_leader()
    await act(comm, type="client_request", node="n1", key="x", value=7)
    msg = await step(comm, 30)
    assert stage(msg).count("x=7") == 5, "applied by all five state machines"
    await comm.disconnect()


async def test_partition_and_heal_from_the_form():
    comm = await socket_at_leader()
    msg = await act(comm, type="partition", groups='[["n1", "n2"], ["n3", "n4", "n5"]]')
    assert "Partition: {n1, n2} | {n3, n4, n5}." in msg.oob(f"{P}-log").text, error(msg)
    assert "partition" in (await step(comm)).el(f"{P}-stage").attrs.get("aria-label", "")
    msg = await act(comm, type="heal")
    assert "The partition healed." in msg.oob(f"{P}-log").text
    await comm.disconnect()


async def test_restart_brings_a_crashed_server_back_as_a_follower():
    comm = await socket_at_leader()
    await act(comm, type="crash", node="n4")
    await step(comm)
    msg = await act(comm, type="restart", node="n4")
    assert "You restarted n4." in msg.oob(f"{P}-log").text
    assert "n4 (term 1) " not in (await step(comm)).el(f"{P}-stage").attrs["aria-label"].split("crashed")[0][-20:]
    await comm.disconnect()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"type": "timeout", "node": "n1"}, "a leader has no election timeout"),
        ({"type": "restart", "node": "n2"}, "only a crashed server can restart"),
        ({"type": "heal"}, "not partitioned"),
        ({"type": "drop", "src": "n2", "dst": "n2"}, "two different servers"),
        ({"type": "partition", "groups": '[["n1", "n2", "n3", "n4", "n5"]]'}, "at least two groups"),
        ({"type": "crash", "node": "n9"}, "action.node"),
    ],
)
async def test_an_impossible_action_is_an_error_and_changes_nothing(fields, says):
    comm = await socket_at_leader()
    await _panel.refused(comm, fields, says)
    await comm.disconnect()
