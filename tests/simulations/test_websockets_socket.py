"""Every WebSockets action through the socket, as the panel's forms send them (`a.<field>`
values as strings): the action's log line arrives, the next frames show its effect, and an
action that is not possible now is a clear error that changes nothing (issue 10: consumer
tests for the packet actions)."""

from __future__ import annotations


import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.ws_protocol.engine import WebSocketsEngine
from simulations.routing import websocket_urlpatterns
from simulations.runs import encode_run, parse_run
from tests.simulations.sockets import PanelReader, act, receive, step, steps_until

P = "sim-websockets"
_panel = PanelReader(P)
error = _panel.error
metric = _panel.metric
narration = _panel.narration
stage = _panel.stage
APP = URLRouter(websocket_urlpatterns)
#: The default run (seed 1): at step 0 the Upgrade request is on its way; at step 2 the
#: client has checked the accept and both ends are OPEN, nothing sent yet.
OPEN_STEP = 2


async def socket_at(step: int = OPEN_STEP, params: dict | None = None, client: str = "10.7.3.1"):
    run = encode_run(WebSocketsEngine, parse_run(WebSocketsEngine, params or {}, 1))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/websockets/?panel={P}&run={run}&step={step}")
    comm.scope["client"] = (client, 1)
    assert (await comm.connect())[0]
    state = await receive(comm)
    if step == OPEN_STEP and not params:
        assert metric(state, "Client state") == "OPEN" and metric(state, "Server state") == "OPEN"
    return comm


@pytest.mark.parametrize(
    ("fields", "logged", "narrated"),
    [
        ({"type": "cut"}, "link cut", "The link is cut silently"),
        ({"type": "close", "side": "client", "code": 1000}, "client sends Close 1000",
         "The client starts the closing handshake: a Close frame with status 1000 (normal closure, §7.4.1)"),
        ({"type": "close", "side": "server", "code": 1001}, "server sends Close 1001",
         "The server starts the closing handshake: a Close frame with status 1001 (going away, §7.4.1)"),
        ({"type": "close", "side": "client", "code": 1011}, "client sends Close 1011", "status 1011"),
        ({"type": "send", "side": "client", "text": "hi there"}, "client sends a typed message",
         'The client sends a typed message, text "hi there", as a 14-byte frame, masked with key'),
        ({"type": "send", "side": "server", "text": "news!"}, "server sends a typed message",
         'The server pushes a typed message, text "news!", as a 7-byte frame, unmasked'),
        ({"type": "fault", "kind": "unmasked"}, "without masking it", "without masking it, which §5.1 forbids"),
        ({"type": "fault", "kind": "invalid_utf8"}, "not valid UTF-8", "63 61 66 c3 are not valid UTF-8"),
        ({"type": "fault", "kind": "binary"}, "binary message", "the server takes text messages only"),
        ({"type": "fault", "kind": "too_big"}, "4097-byte message", "over the server's 4096-byte limit"),
        ({"type": "fault", "kind": "policy"}, "policy forbids", "<script> in it"),
        ({"type": "drop", "side": "client"}, "next segment from the client: lost",
         "The network will lose the TCP segment that carries the next frame the client sends"),
        ({"type": "drop", "side": "server"}, "next segment from the server: lost",
         "The network will lose the TCP segment that carries the next frame the server sends"),
    ],
)
async def test_an_action_is_logged_and_narrated_in_the_next_frame(fields, logged, narrated):
    comm = await socket_at()
    await _panel.acted(comm, fields, logged, narrated)
    await comm.disconnect()


@pytest.mark.parametrize(
    ("kind", "code"),
    [("unmasked", 1002), ("invalid_utf8", 1007), ("binary", 1003), ("too_big", 1009), ("policy", 1008)],
)
async def test_a_fault_makes_the_server_fail_the_connection_with_its_code(kind, code):
    """RFC 6455 §7.4.1's codes: the server sends Close <code>, closes TCP; the client's
    close code is the server's (it received the Close frame)."""
    comm = await socket_at()
    await act(comm, type="fault", kind=kind)
    seen = await steps_until(comm, lambda m: f"it sends Close {code}" in narration(m))
    assert metric(seen[-1], "Server state") == "CLOSED"
    await steps_until(comm, lambda m: metric(m, "Client state") == "CLOSED")
    await comm.disconnect()


async def test_a_cut_link_loses_the_frames_and_the_heartbeat_finds_the_dead_peer():
    comm = await socket_at(params={"ping_interval_ms": 200, "pong_timeout_ms": 150})
    msg = await act(comm, type="cut")
    assert "link cut" in msg.oob(f"{P}-log").text
    after = await step(comm)
    assert "Link cut silently: nothing gets through" in stage(after)
    seen = await steps_until(comm, lambda m: metric(m, "Heartbeat") == "dead")
    said = " ".join(narration(m) for m in seen)
    assert "does not arrive: the link is cut" in said
    assert "No Pong came back within 150 ms, so the server declares the client dead" in said
    assert metric(seen[-1], "Server state") == "CLOSED" and metric(seen[-1], "Client state") == "OPEN"
    await comm.disconnect()


async def test_a_dropped_segment_is_resent_by_tcp_and_the_frames_behind_it_wait():
    comm = await socket_at()
    await act(comm, type="drop", side="client")
    seen = await steps_until(comm, lambda m: "TCP's retransmission arrives" in narration(m))
    said = " ".join(narration(m) for m in seen)
    assert "The TCP segment carrying the text frame from the client is lost on the way" in said
    assert "reaches the server's TCP, which holds it" in said and "head-of-line blocking" in said
    assert "TCP sends the same 11 bytes again" in said
    assert 'The server\'s onmessage handler runs with "Hello"' in narration(seen[-1])
    await comm.disconnect()


async def test_a_wrong_accept_makes_the_client_fail_the_connection():
    comm = await socket_at(step=0)
    msg = await act(comm, type="wrong_accept")
    assert "server will send a wrong accept" in msg.oob(f"{P}-log").text
    seen = await steps_until(comm, lambda m: "must fail the WebSocket connection" in narration(m))
    assert metric(seen[-1], "Client state") == "CLOSED" and metric(seen[-1], "Close code") == "1006"
    await comm.disconnect()


async def test_a_typed_message_reaches_the_other_side():
    comm = await socket_at()
    await act(comm, type="send", side="client", text="hi there")
    seen = await steps_until(comm, lambda m: "onmessage handler runs with \"hi there\"" in narration(m))
    assert "The server's onmessage" in narration(seen[-1])
    await comm.disconnect()


@pytest.mark.parametrize(
    ("at", "fields", "says"),
    [
        (0, {"type": "close", "side": "client", "code": 1000}, "the client's connection is CONNECTING, not OPEN"),
        (0, {"type": "send", "side": "client", "text": "early"}, "the client's connection is CONNECTING, not OPEN"),
        (0, {"type": "fault", "kind": "binary"}, "the client's connection is CONNECTING, not OPEN"),
        (OPEN_STEP, {"type": "wrong_accept"}, "the server has already answered the handshake"),
        (OPEN_STEP, {"type": "send", "side": "client", "text": ""}, "action.text"),
        (OPEN_STEP, {"type": "close", "side": "client", "code": 1005}, "action.code: Input should be 1000, 1001 or 1011"),
        (OPEN_STEP, {"type": "fault", "kind": "nonsense"}, "action.kind"),
        (OPEN_STEP, {"type": "send", "side": "proxy", "text": "x"}, "action.side"),
        (OPEN_STEP, {"type": "teleport"}, "does not match any of the expected tags: 'cut', 'close', 'send'"),
    ],
)
async def test_an_impossible_action_is_an_error_and_changes_nothing(at, fields, says):
    comm = await socket_at(step=at)
    await _panel.refused(comm, fields, says)
    await comm.disconnect()


@pytest.mark.parametrize(
    ("at", "first", "again", "says"),
    [
        (OPEN_STEP, {"type": "cut"}, {"type": "cut"}, "the link is already cut"),
        (OPEN_STEP, {"type": "cut"}, {"type": "drop", "side": "client"}, "the link is cut: every segment is lost already"),
        (OPEN_STEP, {"type": "drop", "side": "server"}, {"type": "drop", "side": "server"},
         "the next segment from the server is already going to be lost"),
        (0, {"type": "wrong_accept"}, {"type": "wrong_accept"}, "the server already answers with a wrong accept"),
        (OPEN_STEP, {"type": "close", "side": "client", "code": 1000}, {"type": "send", "side": "client", "text": "late"},
         "the client's connection is CLOSING, not OPEN"),
        (OPEN_STEP, {"type": "close", "side": "server", "code": 1001}, {"type": "close", "side": "server", "code": 1000},
         "the server's connection is CLOSING, not OPEN"),
    ],
)
async def test_an_action_made_impossible_by_the_one_before_is_refused(at, first, again, says):
    comm = await socket_at(step=at)
    msg = await act(comm, **first)
    assert error(msg) == "", error(msg)
    await _panel.refused(comm, again, says)
    await comm.disconnect()


async def test_no_message_may_interleave_with_a_fragmented_one():
    """RFC 6455 §5.4: the fragments of one message are not interleaved with another's."""
    comm = await socket_at(params={"fragment_size": 4})
    msg = await act(comm, type="send", side="client", text="a long message")
    assert error(msg) == ""
    after = await step(comm)
    assert "so it goes as 4 frames: this first one has FIN 0 (§5.4)" in narration(after)
    await _panel.refused(comm, {"type": "send", "side": "client", "text": "cut in"},
                   "the client is still sending the fragments of a message (§5.4: no interleaving)")
    await comm.disconnect()
