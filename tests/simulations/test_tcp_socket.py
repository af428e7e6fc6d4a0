"""Every TCP/IP action through the socket, as the panel's forms send them (`a.<field>` values
as strings): the action's log line arrives, the next frame shows its effect, and an action
that is not possible now is a clear error that changes nothing (issue 10: consumer tests
for the packet actions)."""

from __future__ import annotations

import random

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.tcp import TcpEngine
from simulations.routing import websocket_urlpatterns
from simulations.runs import encode_run, parse_run
from tests.simulations.sockets import PanelReader, act, receive, step, steps_until

P = "sim-tcp"
_panel = PanelReader(P)
error = _panel.error
metric = _panel.metric
narration = _panel.narration
stage = _panel.stage
APP = URLRouter(websocket_urlpatterns)
PARAMS = {"scenario": "transfer", "data_bytes": 20000, "msl_s": 1.0}
#: At this step the client has just written 20,000 bytes and sent its initial window:
#: segments 4, 5 and 6 (seq 101, 1561 and 3021, 1,460 bytes each) are on the wire.
AT = 5


def _engine_at(step: int) -> TcpEngine:
    """The same run, stepped here without the socket (an engine is deterministic)."""
    e = TcpEngine(TcpEngine.parse_params(PARAMS), random.Random(1))
    e.reset()
    for _ in range(step):
        e.step()
    return e


def test_the_run_stands_where_these_tests_say():
    e = _engine_at(AT)
    assert {k: (s.src, s.seq, len(s.data)) for k, s in e.segs.items()} == {
        4: ("client:49152", 101, 1460), 5: ("client:49152", 1561, 1460), 6: ("client:49152", 3021, 1460)}


async def socket_at(step: int = AT):
    run = encode_run(TcpEngine, parse_run(TcpEngine, PARAMS, 1))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/tcp/?panel={P}&run={run}&step={step}")
    comm.scope["client"] = ("10.7.2.1", 1)
    assert (await comm.connect())[0]
    state = await receive(comm)
    assert "ESTABLISHED" in stage(state)
    return comm


def titles(msg) -> list[str]:
    """The <title> of each segment drawn on the stage (what a pointer over it shows)."""
    node = msg.el(f"{P}-stage")
    return [t.text for t in node.find_all("title")]


@pytest.mark.parametrize(
    ("fields", "logged", "narrated"),
    [
        ({"type": "drop", "segment": 5, "side": "client", "flow": 1}, "Segment 5: drop.",
         "You drop segment 5 <SEQ=1561><ACK=301><CTL=PSH,ACK><DATA 1460>: it will not arrive."),
        ({"type": "drop", "segment": 0, "side": "server", "flow": 1}, "Next segment from server:5001: drop.",
         "The next segment server:5001 sends will be dropped."),
        ({"type": "corrupt", "segment": 4, "side": "client", "flow": 1}, "Segment 4: corrupt.",
         "You flip one bit of segment 4 <SEQ=101>"),
        ({"type": "corrupt", "segment": 0, "side": "client", "flow": 1}, "Next segment from client:49152: corrupt.",
         "The next segment client:49152 sends will be corrupted."),
        ({"type": "delay", "segment": 4, "side": "client", "flow": 1, "ms": 60}, "Segment 4: delay.",
         "You hold segment 4 <SEQ=101><ACK=301><CTL=PSH,ACK><DATA 1460> 60 ms longer: later segments overtake it."),
        ({"type": "delay", "segment": 0, "side": "client", "flow": 1, "ms": 30}, "Next segment from client:49152: delay.",
         "The next segment client:49152 sends will be delayed."),
        ({"type": "duplicate", "segment": 6, "side": "client", "flow": 1}, "Segment 6: duplicate.",
         "The network duplicates segment 6: a copy, segment 7, arrives 5 ms later."),
        ({"type": "set_loss", "rate": 0.25}, "Loss rate 0.25.", "From now on each segment is lost with probability 0.25."),
        ({"type": "inspect", "segment": 6}, "Inspecting segment 6.", "You open segment 6 <SEQ=3021>"),
        ({"type": "inspect", "segment": 0}, "Following the segments sent.", "The layers box follows the segments sent"),
        ({"type": "send", "side": "server", "flow": 1, "bytes": 500}, "server:5001 writes 500 bytes.",
         "The application on server:5001 writes 500 bytes; TCP sends 1 segment now."),
        ({"type": "close", "side": "client", "flow": 1}, "client:49152 closes.",
         "The application on client:49152 closes: its FIN will follow the last of its data"),
    ],
)
async def test_an_action_is_logged_and_narrated_in_the_next_frame(fields, logged, narrated):
    comm = await socket_at()
    await _panel.acted(comm, fields, logged, narrated)
    await comm.disconnect()


async def test_a_dropped_segment_is_drawn_lost_then_retransmitted():
    comm = await socket_at()
    await act(comm, type="drop", segment=5, side="client", flow=1)
    after = await step(comm)
    assert any(t.startswith("#5 ") and t.endswith(" lost") for t in titles(after)), titles(after)
    seen = await steps_until(comm, lambda m: any("resent" in t for t in titles(m)))
    resent = next(t for t in titles(seen[-1]) if "resent" in t)
    assert "seq 1561" in resent  # the lost bytes, sent again
    assert "fast retransmit of <SEQ=1561>" in " ".join(narration(m) for m in seen)
    assert metric(seen[-1], "Retransmissions") == "1" and metric(seen[-1], "Lost") == "1"
    await comm.disconnect()


async def test_a_corrupted_segment_fails_its_checksum_and_is_discarded():
    comm = await socket_at()
    await act(comm, type="corrupt", segment=4, side="client", flow=1)
    after = await step(comm)
    assert any(t.startswith("#4 ") and "corrupted" in t for t in titles(after)), titles(after)
    seen = await steps_until(comm, lambda m: "checksum does not match" in narration(m), limit=5)
    assert metric(seen[-1], "Discarded") == "1"
    await comm.disconnect()


async def test_a_delayed_segment_arrives_after_the_ones_behind_it():
    comm = await socket_at()
    await act(comm, type="delay", segment=4, side="client", flow=1, ms=60)
    await step(comm)
    seen = await steps_until(comm, lambda m: "held out of order go to the application in order" in narration(m))
    said = " ".join(narration(m) for m in seen)
    assert "receives 1,460 bytes at 1561, but it expects 101: it holds them out of order" in said
    await comm.disconnect()


async def test_a_duplicated_segment_is_drawn_and_its_copy_answered_as_a_duplicate():
    comm = await socket_at()
    await act(comm, type="duplicate", segment=6, side="client", flow=1)
    after = await step(comm)
    assert "4 segments on the wire" in stage(after)
    seen = await steps_until(comm, lambda m: "a duplicate of what it has already received" in narration(m))
    assert "<SEQ=3021>" in narration(seen[-1])
    await comm.disconnect()


async def test_inspect_opens_the_segment_layer_by_layer():
    comm = await socket_at()
    await act(comm, type="inspect", segment=6)
    after = await step(comm)
    drawn = stage(after)
    assert "Segment 6 (on the wire)" in drawn
    assert "Transport: TCP segment, 1480 B" in drawn and "seq 3021 ack 301" in drawn
    await comm.disconnect()


async def test_close_sends_the_fin_after_the_data():
    comm = await socket_at()
    await act(comm, type="close", side="client", flow=1)
    seen = await steps_until(comm, lambda m: "FIN-WAIT-1" in stage(m), limit=80)
    # The FIN goes right behind the last data byte (20,000 bytes from 101: at 20101).
    assert "to 20101)" in narration(seen[-1]) and "client:49152: ESTABLISHED → FIN-WAIT-1." in narration(seen[-1])
    await comm.disconnect()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"type": "drop", "segment": 99, "side": "client", "flow": 1},
         "Segment 99 is not on the wire now (segments on the wire: 4, 5, 6)."),
        ({"type": "corrupt", "segment": 3, "side": "client", "flow": 1}, "Segment 3 is not on the wire now"),
        ({"type": "inspect", "segment": 42}, "Segment 42 is not on the wire now."),
        ({"type": "duplicate", "segment": 0, "side": "client", "flow": 1}, "Pick a segment on the wire to duplicate."),
        ({"type": "close", "side": "client", "flow": 2}, "There is no connection 2 in this scenario."),
        ({"type": "send", "side": "server", "flow": 2, "bytes": 10}, "There is no connection 2 in this scenario."),
        ({"type": "set_loss", "rate": 0.9}, "action.rate"),
        ({"type": "delay", "segment": 4, "side": "client", "flow": 1, "ms": 0}, "action.ms"),
        ({"type": "drop", "segment": 4, "side": "router", "flow": 1}, "action.side"),
        ({"type": "send", "side": "client", "flow": 1, "bytes": "lots"}, "action.bytes"),
    ],
)
async def test_an_impossible_action_is_an_error_and_changes_nothing(fields, says):
    comm = await socket_at()
    await _panel.refused(comm, fields, says)
    await comm.disconnect()


@pytest.mark.parametrize(
    ("first", "again", "says"),
    [
        ({"type": "drop", "segment": 5, "side": "client", "flow": 1},
         {"type": "corrupt", "segment": 5, "side": "client", "flow": 1}, "Segment 5 is already going to be lost."),
        ({"type": "close", "side": "client", "flow": 1}, {"type": "close", "side": "client", "flow": 1},
         "client:49152 has already closed."),
        ({"type": "close", "side": "client", "flow": 1}, {"type": "send", "side": "client", "flow": 1, "bytes": 5},
         "The application on client:49152 has closed its end: it cannot send any more."),
    ],
)
async def test_an_action_made_impossible_by_the_one_before_is_refused(first, again, says):
    comm = await socket_at()
    msg = await act(comm, **first)
    assert error(msg) == ""
    await _panel.refused(comm, again, says)
    await comm.disconnect()


async def test_sending_after_the_connection_closed_is_refused():
    """At the end of the run both ends are CLOSED: nothing can be sent."""
    e = _engine_at(0)
    n = 0
    while not e.done:
        e.step()
        n += 1
    run = encode_run(TcpEngine, parse_run(TcpEngine, PARAMS, 1))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/tcp/?panel={P}&run={run}&step={n}")
    comm.scope["client"] = ("10.7.2.2", 1)
    assert (await comm.connect())[0]
    await receive(comm)
    msg = await act(comm, type="send", side="client", flow=1, bytes=10)
    assert "client:49152 is CLOSED: it cannot send now." in error(msg), error(msg)
    await comm.disconnect()
