"""The WebSocket wire format of RFC 6455, as pure functions: the opening handshake's
key and accept values (§1.3, §4.1, §4.2.2), frames byte by byte (§5.2), masking (§5.3),
fragmentation (§5.4), control frames (§5.5) and close bodies (§5.5.1, §7.4.1), and a
parser that reads frames back (which the tests use to check every frame the engine sends).

No I/O and no randomness of its own: keys are given (the engine draws them from the run's
rng), so every byte is reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

#: §1.3 and §4.2.2: the GUID the server appends to the client's key before hashing.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: §5.2 opcodes.
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {CONTINUATION: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping",
                PONG: "pong"}

#: §7.4.1: the status codes an endpoint may put in a Close frame, and what each means.
CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unacceptable data type",
    1007: "data inconsistent with the message type (e.g. invalid UTF-8 in text)",
    1008: "policy violation",
    1009: "message too big",
    1010: "a needed extension was not negotiated",
    1011: "unexpected condition on the server",
}
#: §7.4.1: reserved values that MUST NOT be set in a Close frame (an API reports them).
RESERVED_CLOSE_CODES = {1005: "no status code was present", 1006: "closed abnormally, without a Close frame",
                        1015: "TLS handshake failure"}

#: §5.5: control frames carry at most 125 bytes of payload and are never fragmented.
MAX_CONTROL_PAYLOAD = 125


class ProtocolError(ValueError):
    """A frame that breaks RFC 6455's framing rules; `code` is the §7.4.1 status code the
    receiving endpoint would close with."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- handshake


def key_from_bytes(nonce: bytes) -> str:
    """§4.1 client step 7: the Sec-WebSocket-Key is a 16-byte nonce, base64-encoded."""
    if len(nonce) != 16:
        raise ValueError(f"a Sec-WebSocket-Key nonce is 16 bytes, not {len(nonce)}")
    return base64.b64encode(nonce).decode("ascii")


def check_key(key: str) -> bytes:
    """The 16 bytes a Sec-WebSocket-Key stands for (§4.2.1 item 5: base64 that decodes to 16
    bytes), or ValueError. Only the canonical encoding (zero padding bits) is taken, so a
    key has one spelling: RFC 6455's own example "AQIDBAUGBwgJCgsMDQ4PEC==" (§4.1) has
    padding bits set; its bytes 01..10 encode as "AQIDBAUGBwgJCgsMDQ4PEA=="."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key!r} is not base64 (RFC 4648 §4)") from exc
    if len(raw) != 16:
        raise ValueError(f"{key!r} decodes to {len(raw)} bytes; a Sec-WebSocket-Key is 16 bytes (RFC 6455 §4.1)")
    if base64.b64encode(raw).decode("ascii") != key:
        raise ValueError(f"{key!r} is not the canonical base64 of its 16 bytes ({base64.b64encode(raw).decode()})")
    return raw


def accept_for(key: str) -> str:
    """§4.2.2 step 5.4: base64(SHA-1(key + GUID)), the key taken as the string it is (not
    decoded), leading and trailing whitespace ignored (§4.1 response step 4)."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def request_lines(key: str, host: str = "chat.example.com", resource: str = "/chat",
                  origin: str = "https://chat.example.com") -> list[str]:
    """The client's opening handshake (§4.1 items 1-9, laid out as §1.3 shows it): a GET
    with Upgrade: websocket, Connection: Upgrade (RFC 9110 §7.8: a sender of Upgrade also
    sends the "Upgrade" connection option), the key, Origin and version 13."""
    return [
        f"GET {resource} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Origin: {origin}",
        "Sec-WebSocket-Version: 13",
    ]


def response_lines(accept: str) -> list[str]:
    """The server's opening handshake (§4.2.2 step 5): 101, Upgrade, Connection, Accept."""
    return [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept}",
    ]


def head_bytes(lines: list[str]) -> int:
    """Bytes of an HTTP/1.1 message head (RFC 9112 §2.1: start-line CRLF, each field line
    CRLF, then the empty line's CRLF)."""
    return sum(len(ln.encode("utf-8")) + 2 for ln in lines) + 2


def wrong_accept(key: str) -> str:
    """A Sec-WebSocket-Accept a broken server might send: the hash of the key without the
    GUID (so it is well-formed base64, and still not the value §4.2.2 asks for)."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii")).digest()).decode("ascii")


def accept_ok(key: str, lines: list[str]) -> tuple[bool, str]:
    """§4.1, the client's checks of the server's response: (accepted, why not). The status
    must be 101, Upgrade must be "websocket" and Connection must hold "Upgrade" (ASCII
    case-insensitive), and Sec-WebSocket-Accept must equal `accept_for(key)`."""
    if not lines or not lines[0].startswith("HTTP/1.1 101"):
        return False, "the status is not 101"
    fields: dict[str, str] = {}
    for ln in lines[1:]:
        name, _, value = ln.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("upgrade", "").lower() != "websocket":
        return False, "Upgrade is not websocket"
    if "upgrade" not in [t.strip().lower() for t in fields.get("connection", "").split(",")]:
        return False, "Connection lacks Upgrade"
    got = fields.get("sec-websocket-accept")
    if got is None:
        return False, "Sec-WebSocket-Accept is missing"
    if got != accept_for(key):
        return False, f"Sec-WebSocket-Accept is {got}, not {accept_for(key)}"
    return True, ""


# --------------------------------------------------------------------------- frames


def mask(data: bytes, key: bytes) -> bytes:
    """§5.3: octet i XOR key octet i mod 4 (the same steps mask and unmask)."""
    if len(key) != 4:
        raise ValueError("a masking key is 4 bytes")
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big") if data else b""


def length_field(n: int) -> bytes:
    """§5.2 payload length, with the MASK bit clear: 0-125 in 7 bits; 126 then 16 bits; 127
    then 64 bits (most significant bit 0). Always the minimal encoding."""
    if n < 0 or n >= 1 << 63:
        raise ValueError(f"a payload length is 0 to 2^63 - 1, not {n}")
    if n <= 125:
        return bytes([n])
    if n <= 0xFFFF:
        return bytes([126]) + struct.pack("!H", n)
    return bytes([127]) + struct.pack("!Q", n)


def encode(opcode: int, payload: bytes, *, fin: bool = True, masking_key: bytes | None = None,
           rsv: int = 0) -> bytes:
    """One frame (§5.2): FIN, RSV1-3, opcode; MASK and the payload length; the masking key
    when given; the payload (masked with it, §5.3)."""
    if not 0 <= opcode <= 0xF:
        raise ValueError("an opcode is 4 bits")
    if opcode >= 0x8 and (len(payload) > MAX_CONTROL_PAYLOAD or not fin):
        raise ValueError("a control frame has at most 125 bytes of payload and is not fragmented (§5.5)")
    first = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | opcode
    length = bytearray(length_field(len(payload)))
    if masking_key is None:
        return bytes([first]) + bytes(length) + payload
    length[0] |= 0x80
    return bytes([first]) + bytes(length) + masking_key + mask(payload, masking_key)


@dataclass(frozen=True, slots=True)
class Decoded:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    masking_key: bytes | None
    payload: bytes  # unmasked
    header_len: int  # bytes before the payload (2, 4 or 10, plus 4 with a key)
    size: int  # the whole frame's bytes


def decode(data: bytes, offset: int = 0) -> Decoded:
    """Read the frame at `offset` (ProtocolError when the bytes break §5.2's rules or run short)."""
    if len(data) - offset < 2:
        raise ProtocolError("a frame has at least 2 bytes")
    b0, b1 = data[offset], data[offset + 1]
    fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF
    if rsv:
        raise ProtocolError("RSV1-3 are set with no extension negotiated (§5.2)")
    if opcode not in OPCODE_NAMES:
        raise ProtocolError(f"opcode {opcode:#x} is reserved (§5.2)")
    masked, n = bool(b1 & 0x80), b1 & 0x7F
    pos = offset + 2
    if n == 126:
        n = struct.unpack_from("!H", data, pos)[0]
        pos += 2
        if n <= 125:
            raise ProtocolError("the length is not in its minimal encoding (§5.2)")
    elif n == 127:
        n = struct.unpack_from("!Q", data, pos)[0]
        pos += 8
        if n >> 63 or n <= 0xFFFF:
            raise ProtocolError("the 64-bit length is not minimal or has its top bit set (§5.2)")
    if opcode >= 0x8 and (n > MAX_CONTROL_PAYLOAD or not fin):
        raise ProtocolError("a control frame is longer than 125 bytes or fragmented (§5.5)")
    key = None
    if masked:
        key = bytes(data[pos:pos + 4])
        pos += 4
    header_len = pos - offset
    if len(data) - pos < n:
        raise ProtocolError("the frame is shorter than its payload length")
    body = bytes(data[pos:pos + n])
    if key is not None:
        body = mask(body, key)
    return Decoded(fin, rsv, opcode, masked, key, body, header_len, header_len + n)


def decode_all(data: bytes) -> list[Decoded]:
    out, pos = [], 0
    while pos < len(data):
        frame = decode(data, pos)
        out.append(frame)
        pos += frame.size
    return out


def fragment(payload: bytes, size: int) -> list[bytes]:
    """§5.4: the payload in pieces of at most `size` bytes (0: one piece). An empty payload
    is one empty piece."""
    if size <= 0 or len(payload) <= size:
        return [payload]
    return [payload[i:i + size] for i in range(0, len(payload), size)]


def message_frames(opcode: int, payload: bytes, fragment_size: int, keys: list[bytes | None]) -> list[bytes]:
    """A data message as frames (§5.4): the first with the message's opcode, the rest
    continuation frames; FIN on the last only. `keys` gives one masking key per fragment
    (None: unmasked, as a server sends)."""
    pieces = fragment(payload, fragment_size)
    if len(keys) < len(pieces):
        raise ValueError("one masking key per fragment")
    return [encode(opcode if i == 0 else CONTINUATION, p, fin=i == len(pieces) - 1, masking_key=keys[i])
            for i, p in enumerate(pieces)]


class Reassembler:
    """The receiving side of §5.4 and §5.6: control frames pass straight through (even in
    the middle of a fragmented message); data frames are joined until FIN; a text message
    must be valid UTF-8 as a whole (1007, §8.1). Returns (opcode, payload) per message."""

    def __init__(self) -> None:
        self.opcode: int | None = None
        self.parts: list[bytes] = []

    def feed(self, frame: Decoded) -> tuple[int, bytes] | None:
        op = frame.opcode
        if op >= 0x8:
            return op, frame.payload
        if op == CONTINUATION:
            if self.opcode is None:
                raise ProtocolError("a continuation frame with no message started (§5.4)")
        else:
            if self.opcode is not None:
                raise ProtocolError("a new message began before the last one's FIN (§5.4)")
            self.opcode = op
        self.parts.append(frame.payload)
        if not frame.fin:
            return None
        whole, kind = b"".join(self.parts), self.opcode
        self.opcode, self.parts = None, []
        if kind == TEXT:
            try:
                whole.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError("a text message that is not valid UTF-8 (§5.6, §8.1)", 1007) from exc
        return kind, whole


def close_body(code: int | None, reason: str = "") -> bytes:
    """§5.5.1: a 2-byte status code in network order, then an optional UTF-8 reason."""
    if code is None:
        return b""
    if code in RESERVED_CLOSE_CODES or not 1000 <= code <= 4999:
        raise ValueError(f"{code} may not be sent in a Close frame (§7.4.1, §7.4.2)")
    body = struct.pack("!H", code) + reason.encode("utf-8")
    if len(body) > MAX_CONTROL_PAYLOAD:
        raise ValueError("a Close body is at most 125 bytes (§5.5)")
    return body


def parse_close(body: bytes) -> tuple[int, str]:
    """The status code and reason of a Close body; 1005 when it has none (§7.1.5)."""
    if not body:
        return 1005, ""
    if len(body) == 1:
        raise ProtocolError("a Close body of one byte (§5.5.1)")
    return struct.unpack("!H", body[:2])[0], body[2:].decode("utf-8", "replace")
