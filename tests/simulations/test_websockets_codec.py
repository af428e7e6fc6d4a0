"""RFC 6455's wire format, checked against the RFC's own examples (sections cited per test)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.ws_protocol import codec


def h(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.replace(" ", ""))


# --------------------------------------------------------------------------- handshake


def test_accept_of_the_rfc_sample_nonce_section_1_3_and_4_2_2():
    """§1.3 and §4.2.2: key dGhlIHNhbXBsZSBub25jZQ== + GUID, SHA-1 = b3 7a 4f ... c4 ea, base64."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sha = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    assert sha == h("b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea")
    assert codec.accept_for(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert codec.GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_accept_ignores_leading_and_trailing_whitespace_section_4_1():
    """§4.1 response step 4: the key as a string, "ignoring any leading and trailing whitespace"."""
    assert codec.accept_for("  dGhlIHNhbXBsZSBub25jZQ== ") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_key_is_a_16_byte_nonce_base64_encoded_section_4_1_item_7():
    assert codec.key_from_bytes(bytes(range(1, 17))) == "AQIDBAUGBwgJCgsMDQ4PEA=="
    assert codec.check_key("dGhlIHNhbXBsZSBub25jZQ==") == b"the sample nonce"
    for bad in ("", "abc", "dGhlIHNhbXBsZQ==", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ==AA==",
                "!GhlIHNhbXBsZSBub25jZQ==", "AQIDBAUGBwgJCgsMDQ4PEC=="):
        with pytest.raises(ValueError):
            codec.check_key(bad)
    with pytest.raises(ValueError):
        codec.key_from_bytes(b"short")


def test_handshake_lines_section_1_3_and_4_2_2():
    req = codec.request_lines("dGhlIHNhbXBsZSBub25jZQ==")
    assert req[0] == "GET /chat HTTP/1.1"
    assert {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13"} <= set(req)
    resp = codec.response_lines(codec.accept_for("dGhlIHNhbXBsZSBub25jZQ=="))
    assert resp == ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    # RFC 9112 §2.1: start-line CRLF, field lines CRLF, empty line CRLF.
    assert codec.head_bytes(resp) == sum(len(x) + 2 for x in resp) + 2


def test_client_fails_the_connection_on_a_wrong_accept_section_4_1():
    """§4.1: a Sec-WebSocket-Accept other than base64(SHA-1(key + GUID)): the client MUST fail."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    assert codec.accept_ok(key, codec.response_lines(codec.accept_for(key))) == (True, "")
    ok, why = codec.accept_ok(key, codec.response_lines(codec.wrong_accept(key)))
    assert not ok and "Sec-WebSocket-Accept" in why
    assert not codec.accept_ok(key, ["HTTP/1.1 200 OK"])[0]
    assert not codec.accept_ok(key, ["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade",
                                     f"Sec-WebSocket-Accept: {codec.accept_for(key)}"])[0]
    # Header names and the Upgrade/Connection values are case-insensitive (§4.1 steps 2-3).
    assert codec.accept_ok(key, ["HTTP/1.1 101 Switching Protocols", "upgrade: WebSocket", "connection: keep-alive, upgrade",
                                 f"sec-websocket-accept: {codec.accept_for(key)}"])[0]


# --------------------------------------------------------------------------- §5.7 examples


def test_single_frame_unmasked_text_section_5_7():
    assert codec.encode(codec.TEXT, b"Hello") == h("81 05 48 65 6c 6c 6f")
    f = codec.decode(h("81 05 48 65 6c 6c 6f"))
    assert (f.fin, f.opcode, f.masked, f.payload) == (True, codec.TEXT, False, b"Hello")


def test_single_frame_masked_text_section_5_7():
    frame = codec.encode(codec.TEXT, b"Hello", masking_key=h("37 fa 21 3d"))
    assert frame == h("81 85 37 fa 21 3d 7f 9f 4d 51 58")
    f = codec.decode(frame)
    assert (f.masked, f.masking_key, f.payload) == (True, h("37fa213d"), b"Hello")


def test_fragmented_unmasked_text_section_5_7_and_5_4():
    frames = codec.message_frames(codec.TEXT, b"Hello", 3, [None, None])
    assert frames == [h("01 03 48 65 6c"), h("80 02 6c 6f")]
    r = codec.Reassembler()
    assert r.feed(codec.decode(frames[0])) is None
    assert r.feed(codec.decode(frames[1])) == (codec.TEXT, b"Hello")


def test_unmasked_ping_and_masked_pong_section_5_7():
    assert codec.encode(codec.PING, b"Hello") == h("89 05 48 65 6c 6c 6f")
    assert codec.encode(codec.PONG, b"Hello", masking_key=h("37fa213d")) == h("8a 85 37 fa 21 3d 7f 9f 4d 51 58")


def test_256_and_64k_binary_section_5_7():
    assert codec.encode(codec.BINARY, bytes(256))[:4] == h("82 7e 01 00")
    assert codec.encode(codec.BINARY, bytes(65536))[:10] == h("82 7f 00 00 00 00 00 01 00 00")


@pytest.mark.parametrize("n, header", [
    (125, "827d"), (126, "827e007e"), (65535, "827effff"), (65536, "827f0000000000010000"),
])
def test_payload_length_encodings_section_5_2(n, header):
    """§5.2: 0-125 in 7 bits; 126 + 16 bits; 127 + 64 bits; always minimal."""
    frame = codec.encode(codec.BINARY, bytes(n))
    assert frame.hex()[: len(header)] == header and len(frame) == len(header) // 2 + n
    assert codec.decode(frame).payload == bytes(n)


def test_non_minimal_lengths_and_reserved_bits_are_protocol_errors_section_5_2():
    with pytest.raises(codec.ProtocolError):
        codec.decode(h("82 7e 00 7c") + bytes(124))  # "can't be encoded as the sequence 126, 0, 124"
    with pytest.raises(codec.ProtocolError):
        codec.decode(h("c1 00"))  # RSV1 without an extension
    with pytest.raises(codec.ProtocolError):
        codec.decode(h("83 00"))  # reserved opcode 0x3
    with pytest.raises(codec.ProtocolError):
        codec.decode(h("09 00"))  # a fragmented control frame (§5.5)
    with pytest.raises(ValueError):
        codec.encode(codec.PING, bytes(126))


def test_close_bodies_section_5_5_1_and_7_4_1():
    assert codec.close_body(1000) == h("03 e8")
    assert codec.encode(codec.CLOSE, codec.close_body(1001, "bye")) == h("88 05 03 e9") + b"bye"
    assert codec.parse_close(h("03 f1")) == (1009, "")
    assert codec.parse_close(b"") == (1005, "")  # §7.1.5
    for reserved in (1005, 1006, 1015):  # §7.4.1: MUST NOT be set in a Close frame
        with pytest.raises(ValueError):
            codec.close_body(reserved)
    assert {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011} <= set(codec.CLOSE_CODES)


def test_invalid_utf8_text_is_1007_section_8_1():
    r = codec.Reassembler()
    with pytest.raises(codec.ProtocolError) as err:
        r.feed(codec.decode(codec.encode(codec.TEXT, b"\xff\xfe")))
    assert err.value.code == 1007


def test_control_frames_between_fragments_section_5_4():
    r = codec.Reassembler()
    assert r.feed(codec.decode(h("01 03 48 65 6c"))) is None
    assert r.feed(codec.decode(codec.encode(codec.PING, b"x"))) == (codec.PING, b"x")
    assert r.feed(codec.decode(h("80 02 6c 6f"))) == (codec.TEXT, b"Hello")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 400), st.lists(st.binary(min_size=4, max_size=4), min_size=1, max_size=1),
       st.booleans(), st.sampled_from([codec.TEXT, codec.BINARY]))
def test_any_message_fragmented_any_way_masked_any_key_reassembles_exactly(payload, size, key, masked, opcode):
    """§5.3 (masking is its own inverse) and §5.4 (fragments join in order to the message)."""
    if opcode == codec.TEXT:
        payload = payload.decode("utf-8", "replace").encode("utf-8")
    pieces = len(codec.fragment(payload, size))
    keys = [key[0] if masked else None] * pieces
    frames = codec.message_frames(opcode, payload, size, keys)
    assert len(frames) == pieces
    r = codec.Reassembler()
    out = [r.feed(f) for f in codec.decode_all(b"".join(frames))]
    assert out[:-1] == [None] * (pieces - 1) and out[-1] == (opcode, payload)
    assert all(codec.decode(f).masked == masked for f in frames)


@given(st.binary(max_size=200), st.binary(min_size=4, max_size=4))
def test_masking_twice_is_the_identity_section_5_3(data, key):
    assert codec.mask(codec.mask(data, key), key) == data
    assert codec.mask(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))
