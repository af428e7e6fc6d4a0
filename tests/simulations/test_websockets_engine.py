"""The WebSockets engine against RFC 6455 (sections cited per test) and its own narration."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from simulations.engines.ws_protocol import codec, polling
from simulations.engines.ws_protocol.engine import MAX_MESSAGE, WebSocketsEngine as E

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def play(params=None, actions=(), seed=1, limit=2000):
    e = E(E.parse_params(params or {}), random.Random(seed))
    frames = [e.reset()]
    todo = dict(actions)
    while not e.done and len(frames) < limit:
        if frames[-1].index in todo:
            e.apply(E.parse_action(todo[frames[-1].index]))
        frames.append(e.step())
    return e, frames


def frames_of(frames):
    """Every distinct frame entity the run showed, by its bytes and send time."""
    seen = {}
    for f in frames:
        for ent in f.entities:
            if ent.kind == "frame":
                seen[(ent.state["sent_at"], ent.state["direction"], ent.state["bytes"])] = ent.state
    return [seen[k] for k in sorted(seen)]


def preset(slug):
    return next(p for p in E.presets if p.slug == slug)


def play_preset(slug):
    p = preset(slug)
    return play(p.params, p.actions, p.seed)


# --------------------------------------------------------------------------- handshake


def test_the_rfc_key_gets_the_rfc_accept_and_the_lines_are_shown_sections_1_3_4_2_2():
    e, frames = play({"key": RFC_KEY, "messages": ["Hello"]})
    hs = next(ent.state for ent in frames[-1].entities if ent.kind == "handshake")
    assert hs["key"] == RFC_KEY and hs["accept"] == hs["expected_accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert f"Sec-WebSocket-Key: {RFC_KEY}" in hs["request_lines"]
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in hs["response_lines"]
    assert hs["status"] == "accepted"


def test_a_seeded_key_is_16_random_bytes_and_differs_by_seed_section_4_1():
    keys = set()
    for seed in range(5):
        _, frames = play({}, seed=seed, limit=1)
        key = next(ent.state["key"] for ent in frames[0].entities if ent.kind == "handshake")
        assert len(codec.check_key(key)) == 16
        keys.add(key)
    assert len(keys) == 5


@pytest.mark.parametrize("bad", ["dGhlIHNhbXBsZSBub25jZQ", "AQIDBAUGBwgJCgsMDQ4PEC==", "not a key at all!!!!!==", "x" * 30])
def test_a_typed_key_must_be_16_bytes_base64(bad):
    with pytest.raises(ValidationError):
        E.parse_params({"key": bad})


def test_a_wrong_accept_makes_the_client_fail_without_frames_section_4_1():
    for params, actions in (({"wrong_accept": True}, ()), ({}, ((0, {"type": "wrong_accept"}),))):
        e, frames = play(params, actions)
        hs = next(ent.state for ent in frames[-1].entities if ent.kind == "handshake")
        assert hs["status"] == "failed" and hs["accept"] != codec.accept_for(hs["key"])
        assert frames[-1].metrics["client_state"] == "CLOSED" and frames[-1].metrics["close_code"] == "1006"
        assert not [ent for ent in frames[-1].entities if ent.kind == "frame" and ent.state["src"] == "client"]
        assert all(
            s["src"] == "server" for s in frames_of(frames))
        assert any("fail" in f.narration for f in frames)


def test_wrong_accept_after_the_answer_is_refused_changing_nothing():
    e, frames = play({"messages": ["Hi"]}, limit=3)
    before = e.snapshot().step().to_dict()
    with pytest.raises(ValueError):
        e.apply(E.parse_action({"type": "wrong_accept"}))
    assert e.step().to_dict() == before


# --------------------------------------------------------------------------- frames


def test_section_5_7_bytes_exactly_with_the_rfc_masking_key():
    _, frames = play_preset("upgrade-handshake")
    sent = frames_of(frames)
    client_hello = next(s for s in sent if s["src"] == "client" and s["opcode"] == codec.TEXT)
    server_hello = next(s for s in sent if s["src"] == "server" and s["opcode"] == codec.TEXT)
    assert client_hello["bytes"] == "818537fa213d7f9f4d5158"  # §5.7 masked "Hello"
    assert server_hello["bytes"] == "810548656c6c6f"  # §5.7 unmasked "Hello"
    assert client_hello["masking_key"] == "37fa213d" and server_hello["masking_key"] is None


def test_client_frames_are_masked_with_fresh_keys_and_server_frames_never_sections_5_1_5_3():
    for p in E.presets:
        _, frames = play(p.params, p.actions, p.seed)
        sent = frames_of(frames)
        keys = [s["masking_key"] for s in sent if s["src"] == "client" and s["masked"]]
        for s in sent:
            if s["src"] == "server":
                assert not s["masked"] and s["masking_key"] is None, (p.slug, s)
            elif "unmasked" not in s["note"]:
                assert s["masked"] and len(s["masking_key"]) == 8, (p.slug, s)
        if not p.params.get("masking_key"):
            assert len(set(keys)) == len(keys), p.slug


def test_a_parser_reads_back_every_frame_the_engine_sends_section_5_2():
    """Each frame's `bytes` parse to exactly its declared fields; the messages reassemble."""
    for p in E.presets:
        _, frames = play(p.params, p.actions, p.seed)
        reasm = {"client": codec.Reassembler(), "server": codec.Reassembler()}
        for s in frames_of(frames):
            raw = bytes.fromhex(s["bytes"])
            assert s["bytes"] == s["bytes"].lower() and " " not in s["bytes"]
            d = codec.decode(raw)
            assert d.size == len(raw)
            assert (d.fin, d.opcode, d.masked, len(d.payload)) == (s["fin"], s["opcode"], s["masked"], s["payload_length"])
            assert (d.masking_key.hex() if d.masking_key else None) == s["masking_key"]
            assert d.header_len == s["header_length"]
            if s["opcode"] == codec.CLOSE:
                assert codec.parse_close(d.payload)[0] == s["close_code"]
            elif s["payload_is_text"] and s["opcode"] == codec.TEXT and s["fin"]:
                assert d.payload.decode("utf-8") == s["payload"]
            elif not s["payload_is_text"]:
                assert d.payload.hex() == s["payload"]
            if s["status"] != "lost" and s["opcode"] < 8:
                try:
                    reasm[s["dst"]].feed(d)
                except codec.ProtocolError:
                    assert p.slug == "protocol-error" or "UTF-8" in s["note"]


def test_fragments_are_a_first_frame_then_continuations_with_fin_on_the_last_section_5_4():
    _, frames = play_preset("collaborative-editing")
    doc = [s for s in frames_of(frames) if "the document" in s["note"]]
    assert [s["opcode"] for s in doc] == [codec.TEXT, codec.CONTINUATION, codec.CONTINUATION]
    assert [s["fin"] for s in doc] == [False, False, True]
    assert all(s["payload_length"] == 200 for s in doc)
    assert all(s["bytes"][2:8] == "7e00c8" for s in doc)  # §5.2: 126, then 200 in 16 bits
    r = codec.Reassembler()
    out = [r.feed(codec.decode(bytes.fromhex(s["bytes"]))) for s in doc]
    assert out[:2] == [None, None] and out[2][1].startswith(b'{"doc":"Meeting notes: ')
    arrived = [f for f in frames if "onmessage" in f.narration and "the document" in f.narration]
    assert len(arrived) == 1


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=150), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_any_typed_message_fragmented_any_way_arrives_exactly(text, size, seed):
    text = text.encode("utf-8", "replace").decode("utf-8")
    e, frames = play({"messages": [], "fragment_size": size, "scenario": "script"}, limit=3, seed=seed)
    e.apply(E.parse_action({"type": "send", "side": "client", "text": text[:200]}))
    while not e.done:
        frames.append(e.step())
    got = [f for f in frames if "onmessage" in f.narration]
    assert len(got) == 1
    sent = [s for s in frames_of(frames) if s["src"] == "client" and s["opcode"] in (0, 1)]
    r = codec.Reassembler()
    outs = [r.feed(codec.decode(bytes.fromhex(s["bytes"]))) for s in sent]
    assert outs[-1] == (codec.TEXT, text[:200].encode())
    n = len(codec.fragment(text[:200].encode(), size))
    assert len(sent) == n


def test_binary_frames_show_hex_payloads_section_5_6():
    _, frames = play_preset("multiplayer-game")
    binary = [s for s in frames_of(frames) if s["opcode"] == codec.BINARY]
    assert binary and all(not s["payload_is_text"] and re.fullmatch(r"[0-9a-f]*", s["payload"]) for s in binary)


# --------------------------------------------------------------------------- heartbeat


def test_ping_is_answered_by_a_pong_with_the_same_payload_sections_5_5_2_5_5_3():
    _, frames = play({"ping_interval_ms": 300, "messages": ["a", "b"]})
    sent = frames_of(frames)
    pings = [s for s in sent if s["opcode"] == codec.PING]
    pongs = [s for s in sent if s["opcode"] == codec.PONG]
    assert pings and len(pongs) == len(pings)
    for ping, pong in zip(pings, pongs):
        assert ping["src"] == "server" and pong["src"] == "client" and pong["masked"]
        assert ping["payload"] == pong["payload"]
    assert "ok" in {f.metrics["heartbeat"] for f in frames} and "dead" not in {f.metrics["heartbeat"] for f in frames}
    assert frames[-1].metrics["heartbeat"] == "off"  # the closed server pings no more


@settings(max_examples=30, deadline=None)
@given(st.integers(100, 2000), st.integers(50, 1500), st.integers(4, 30), st.integers(0, 999))
def test_a_silently_cut_link_is_detected_within_ping_interval_plus_timeout(interval, timeout, cut_step, seed):
    params = {"messages": ["a", "b", "c", "d", "e", "f"], "interval_ms": 300, "ping_interval_ms": interval,
              "pong_timeout_ms": timeout}
    e, frames = play(params, seed=seed, limit=cut_step)
    if e.done or frames[-1].metrics["server_state"] != "OPEN" or frames[-1].metrics["client_state"] != "OPEN":
        return
    e.apply(E.parse_action({"type": "cut"}))
    cut_at = e.sched.now
    while not e.done:
        frames.append(e.step())
    dead = [f for f in frames if f.metrics["heartbeat"] == "dead"]
    closing_first = [f for f in frames if f.time >= cut_at and f.metrics["server_state"] != "OPEN"]
    if not dead:
        # The server closed first (its script ended) or the client's Close was lost: never falsely dead.
        assert closing_first
        return
    assert dead[0].time <= cut_at + interval + timeout + 1e-6
    # The server gave up; the client has not been told (it may have begun its own close meanwhile).
    assert dead[0].metrics["server_state"] == "CLOSED" and dead[0].metrics["client_state"] in ("OPEN", "CLOSING")


def test_no_false_alarm_without_a_cut():
    for seed in range(5):
        _, frames = play({"ping_interval_ms": 200, "pong_timeout_ms": 100, "messages": ["a"] * 8}, seed=seed)
        assert all(f.metrics["heartbeat"] != "dead" for f in frames)


# --------------------------------------------------------------------------- closing


def test_the_close_handshake_echoes_the_code_and_the_server_closes_tcp_first_sections_5_5_1_7_1_1():
    for closer, code in (("client", 1000), ("server", 1001), ("server", 1011), ("client", 1001)):
        _, frames = play({"messages": ["Hi"], "closer": closer, "close_code": code})
        closes = [s for s in frames_of(frames) if s["opcode"] == codec.CLOSE]
        assert [c["close_code"] for c in closes] == [code, code]
        assert closes[0]["src"] == closer and closes[1]["src"] != closer
        last = frames[-1]
        assert last.metrics["client_state"] == last.metrics["server_state"] == "CLOSED"
        assert last.metrics["close_code"] == str(code)
        server_closed = next(f.index for f in frames if f.metrics["server_state"] == "CLOSED")
        client_closed = next(f.index for f in frames if f.metrics["client_state"] == "CLOSED")
        assert server_closed < client_closed


@pytest.mark.parametrize("kind, code", [("unmasked", 1002), ("invalid_utf8", 1007), ("binary", 1003),
                                        ("too_big", 1009), ("policy", 1008)])
def test_faults_close_with_the_section_7_4_1_code(kind, code):
    e, frames = play({"messages": ["Hi"]}, ((3, {"type": "fault", "kind": kind}),))
    closes = [s for s in frames_of(frames) if s["opcode"] == codec.CLOSE]
    assert closes[0]["src"] == "server" and closes[0]["close_code"] == code
    assert frames[-1].metrics["close_code"] == str(code)
    assert code in codec.CLOSE_CODES
    if kind == "too_big":
        assert max(s["payload_length"] for s in frames_of(frames)) == MAX_MESSAGE + 1


def test_actions_on_a_closed_connection_are_refused_changing_nothing():
    e, frames = play({"messages": ["Hi"]})
    assert e.done
    state = e.snapshot()
    for action in ({"type": "send", "text": "x"}, {"type": "close"}, {"type": "fault", "kind": "policy"}):
        with pytest.raises(ValueError):
            e.apply(E.parse_action(action))
    assert e.__dict__.keys() == state.__dict__.keys() and e.peers == state.peers and not e.pending
    e2, _ = play({"messages": ["Hi"]}, ((4, {"type": "cut"}),))
    with pytest.raises(ValueError):
        e2.apply(E.parse_action({"type": "cut"}))


# --------------------------------------------------------------------------- polling comparison


def test_polling_bytes_are_the_sums_of_the_modelled_heads_and_bodies_rfc_9112_2_1():
    server = [(100.0, 60), (150.0, 60), (2500.0, 30)]
    client = [(300.0, 10)]
    short = polling.short_polling(server, client, latency=40, poll_ms=1000, end=3000)
    req = polling.head_bytes(polling.poll_request(polling.SHORT_PATH))
    # polls at 0, 1000, 2000, 3000: bodies [], [m1,m2], [], [m3]
    bodies = [2, 2 + 60 + 1 + 60, 2, 2 + 30]
    expected = sum(req + polling.head_bytes(polling.poll_response(b)) + b for b in bodies)
    post = polling.head_bytes(polling.send_request(12)) + 12 + polling.head_bytes(polling.send_response())
    assert short.bytes_at(1e9) == expected + post
    assert short.requests == 5
    assert [round(a - c) for c, a in short.deliveries] == [1080 - 100, 1080 - 150, 3080 - 2500]
    long = polling.long_polling(server, client, latency=40, hold_ms=30000, end=3000)
    lreq = polling.head_bytes(polling.poll_request(polling.LONG_PATH))
    # GET at 0 reaches the server at 40, held to 100 (m1); the next GET at 140 reaches it at 180: m2 waited since 150
    assert [round(a - c) for c, a in long.deliveries] == [40, 70, 40]
    # three answered GETs, then one held: by 3000 ms it is sent and unanswered; it is answered empty at its hold's end
    lbodies = [62, 62, 32]
    lexpected = sum(lreq + polling.head_bytes(polling.poll_response(b)) + b for b in lbodies) + lreq
    assert long.bytes_at(3000) == lexpected + post
    assert long.bytes_at(1e9) == lexpected + post + polling.head_bytes(polling.poll_response(2)) + 2
    # Header lines are CRLF-terminated and the head ends with an empty line (RFC 9112 §2.1).
    assert polling.head_bytes(["HTTP/1.1 204 No Content"]) == len("HTTP/1.1 204 No Content\r\n\r\n")


def test_the_engine_counts_the_websocket_bytes_it_sent():
    _, frames = play_preset("overhead-vs-polling")
    hs = next(ent.state for ent in frames[-1].entities if ent.kind == "handshake")
    head = codec.head_bytes(hs["request_lines"]) + codec.head_bytes(hs["response_lines"])
    wire = sum(len(s["bytes"]) // 2 for s in frames_of(frames))
    assert frames[-1].metrics["websocket_bytes"] == head + wire
    m = frames[-1].metrics
    assert m["websocket_bytes"] < m["long_polling_bytes"] and m["websocket_bytes"] < m["short_polling_bytes"]
    assert m["websocket_delay_ms"] < m["short_polling_delay_ms"]


# --------------------------------------------------------------------------- narration


NUM = r"([\d,]+)"


def test_narration_numbers_are_the_state_s():
    """Every 'Bytes on the wire so far' sentence quotes the frame's metrics; every delay too;
    every 'N-byte frame' is the size of the frame it names; every key quoted is the frame's."""
    for p in E.presets:
        _, frames = play(p.params, p.actions, p.seed)
        for f in frames:
            m = f.metrics
            hit = re.search(rf"WebSocket {NUM}, long polling {NUM}, short polling {NUM};", f.narration)
            if hit:
                ws, lp, sp = (int(x.replace(",", "")) for x in hit.groups())
                assert (ws, lp, sp) == (m["websocket_bytes"], m["long_polling_bytes"], m["short_polling_bytes"])
                d = re.search(r"mean delay of the server's messages: WebSocket (\d+) ms", f.narration)
                assert d and abs(int(d.group(1)) - m["websocket_delay_ms"]) <= 0.5
            sent = [ent.state for ent in f.entities if ent.kind == "frame"]
            for size in re.findall(r"as a (\d+)-byte frame", f.narration):
                assert any(len(s["bytes"]) // 2 == int(size) for s in sent), (p.slug, f.index, f.narration)
            for key in re.findall(r"masked with key ([0-9a-f]{8})", f.narration):
                assert any(s["masking_key"] == key for s in sent)
            if "the connection is OPEN" in f.narration:
                assert m["client_state"] == "OPEN"
            if "declares the client dead" in f.narration:
                assert m["heartbeat"] == "dead" and m["server_state"] == "CLOSED"
            hit = re.search(r"Close frame with status (\d+)", f.narration)
            if hit:
                assert any(s["close_code"] == int(hit.group(1)) for s in sent)
            hit = re.search(r"onclose with code (\d+)", f.narration)
            if hit and "client sees" in f.narration:
                assert m["close_code"] == hit.group(1)


def test_every_preset_names_a_seed_item_or_is_an_extra():
    from topics.content.seed import CATEGORIES  # the seed is the authority, word for word

    topic = next(t for c in CATEGORIES for t in c["topics"] if t["slug"] == "websockets")
    features, uses = set(topic["key_features"]), set(topic["use_cases"])
    assert len(features) == 4 and len(uses) == 4
    assert {p.feature for p in E.presets if p.feature} == features
    assert {p.use_case for p in E.presets if p.use_case} == uses


# --------------------------------------------------------------------------- TCP underneath: a lost segment


def _texts_received(frames, side):
    """The texts `side`'s onmessage handler ran with, in order."""
    out = []
    for f in frames:
        for hit in re.finditer(rf"The {side}'s onmessage handler runs with \"([^\"]*)\"", f.narration):
            out.append(hit.group(1))
    return out


def test_a_lost_segment_is_resent_by_tcp_after_its_rto_and_the_frames_behind_it_wait():
    """RFC 6298 (2.1)/(2.4): with no RTT sample below it, TCP's RTO is 1 s; (5.4): on expiry it
    resends the same segment. TCP hands bytes to the application in order, so the frames sent
    after the lost one wait in the receiver's TCP (head-of-line blocking), then all arrive in
    the order sent (RFC 6455 §1.2 builds on TCP's ordered, reliable delivery)."""
    e, frames = play({}, ((2, {"type": "drop", "side": "client"}),))
    seen = frames_of(frames)
    lost = [s for s in seen if s["status"] == "lost"]
    resent = [s for s in seen if "resent by TCP" in s["note"]]
    assert len(lost) == 1 and len(resent) == 1
    assert resent[0]["bytes"] == lost[0]["bytes"]  # the same bytes, mask and all
    assert resent[0]["sent_at"] == lost[0]["sent_at"] + 1000.0
    assert any(s["status"] == "held" for f in frames for s in (en.state for en in f.entities if en.kind == "frame"))
    assert _texts_received(frames, "server") == ["Hello", "How are you?"]  # in order, none lost
    said = " ".join(f.narration for f in frames)
    assert "head-of-line blocking" in said and "TCP now hands the 2 frames it held behind it" in said
    assert frames[-1].metrics["close_code"] == "1000"  # the WebSocket never knew
    # Its delay is the RTO plus the latency.
    arrival = next(f for f in frames if "TCP's retransmission arrives" in f.narration)
    assert "1040 ms after it was sent" in arrival.narration


def test_a_lost_server_frame_delays_the_client_s_onmessage_and_the_delay_metric():
    e, frames = play({}, ((2, {"type": "drop", "side": "server"}),))
    assert _texts_received(frames, "client") == ["Hi there!", "Fine, thanks."]
    first = next(f for f in frames if "onmessage handler runs with \"Hi there!\"" in f.narration)
    # Both arrive in that step: "Hi there!" 1,040 ms after it was sent, and "Fine, thanks."
    # (sent at 680 ms, held behind it) 740 ms after.
    assert "1040 ms after it was sent" in first.narration and "740 ms after it was sent" in first.narration
    assert first.metrics["websocket_delay_ms"] == (1040 + 740) / 2


@pytest.mark.parametrize(
    ("setup", "action", "says"),
    [
        (((2, {"type": "cut"}),), {"type": "drop", "side": "client"}, "the link is cut"),
        (((2, {"type": "drop", "side": "client"}),), {"type": "drop", "side": "client"}, "already going to be lost"),
    ],
)
def test_an_impossible_drop_is_refused_changing_nothing(setup, action, says):
    e, frames = play({}, setup, limit=4)
    before = (dict(e.drop_armed), dict(e.resend), e.pending[:])
    with pytest.raises(ValueError, match=says):
        e.apply(E.parse_action(action))
    assert (dict(e.drop_armed), dict(e.resend), e.pending[:]) == before


def test_a_drop_while_the_segment_is_being_resent_is_refused():
    e, frames = play({}, ((2, {"type": "drop", "side": "client"}),), limit=8)
    assert "client" in e.resend
    with pytest.raises(ValueError, match="already lost and waiting for TCP to resend it"):
        e.apply(E.parse_action({"type": "drop", "side": "client"}))
    e2, _ = play({"messages": ["Hi"]})
    with pytest.raises(ValueError, match="CLOSED"):
        e2.apply(E.parse_action({"type": "drop", "side": "client"}))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 25), st.sampled_from(["client", "server"]), st.integers(0, 99))
def test_any_dropped_segment_still_delivers_every_message_once_in_order(at, side, seed):
    """Whenever a segment is lost (and the link stays up), each side's onmessage runs with the
    other's messages exactly once and in the order sent."""
    params = {"messages": ["a1", "server: b1", "a2", "server: b2", "a3", "server: b3"], "interval_ms": 200,
              "ping_interval_ms": 300, "pong_timeout_ms": 2000}
    e, frames = play(params, seed=seed, limit=at)
    try:
        e.apply(E.parse_action({"type": "drop", "side": side}))
    except ValueError:
        return  # that side is closed already
    while not e.done:
        frames.append(e.step())
    if not any("resent by TCP" in s["note"] for s in frames_of(frames)):
        return  # the side sent nothing after the drop
    assert _texts_received(frames, "server") == ["a1", "a2", "a3"]
    assert _texts_received(frames, "client") == ["b1", "b2", "b3"]
    assert frames[-1].metrics["client_state"] == frames[-1].metrics["server_state"] == "CLOSED"
