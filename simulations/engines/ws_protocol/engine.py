"""WebSockets (RFC 6455) on the timed kernel: the HTTP/1.1 Upgrade handshake, frames byte
by byte, fragmentation, ping/pong heartbeats, the close handshake, and the same traffic
counted as short polling and long polling beside it.

Rules followed, by section of RFC 6455 (the codec in `codec.py` holds the wire format):

* §4.1 / §4.2.2: the client sends a GET with Upgrade: websocket, Connection: Upgrade, a
  fresh 16-byte Sec-WebSocket-Key (from the run's rng, or the learner's) and version 13;
  the server answers 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). The client
  checks it; any other value and the client _Fails the WebSocket Connection_: it closes the
  TCP connection without sending a frame. The server is OPEN once it has sent its 101.
* §5.1 / §5.3: every client frame is masked with a fresh key from the rng (or a fixed key
  the learner gives, to reproduce §5.7); server frames are never masked. A server that
  receives an unmasked frame, or a client a masked one, fails the connection with 1002.
* §5.2: the payload length in 7, 7+16 or 7+64 bits, always minimal.
* §5.4: a message longer than the fragment size goes as a first frame (its opcode, FIN 0),
  continuation frames (opcode 0) and a last one with FIN 1, written one by one as the
  application produces them (10 ms apart); a ping may go between them (control frames are
  never fragmented, §5.5). The receiver joins them in order; a text message must be valid
  UTF-8 as a whole (1007, §8.1).
* §5.5.2 / §5.5.3: the server pings every `ping_interval_ms`; a peer answers a Ping with a
  Pong carrying the same payload. No Pong within `pong_timeout_ms` and the server treats
  the peer as dead: it fails the connection (closes TCP, no Close frame, §7.1.7; its close
  code is 1006, §7.1.5). So a link cut silently is noticed within interval + timeout.
* §5.5.1 / §7.1.2 / §7.1.1: closing sends a Close frame with a §7.4.1 status code; the peer
  answers with a Close echoing it; once both are sent and received the server closes the
  TCP connection first, and the client on seeing it. A sender sends no data after Close.
* Underneath, one TCP connection: frames in one direction arrive in the order sent (the
  link's latency is fixed per run, so the kernel delivers them in order). The learner can
  lose the TCP segment carrying a frame: TCP resends it when its retransmission timer
  expires (RFC 6298 §2.4's 1 s minimum RTO; the RTT here is far below it), and the frames
  sent after it reach the receiver's TCP but wait there, since TCP hands bytes to the
  application only in order (head-of-line blocking). The WebSocket never sees the loss,
  only the delay. Each frame is taken to travel in its own segment.

The polling comparison (`polling.py`) takes the same messages at the same times and
counts every HTTP head and body; the WebSocket's bytes are the frames the engine really
sent (plus the handshake). Narration quotes both.
"""

from __future__ import annotations

import copy
import json
import random
from bisect import bisect_right
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field, field_validator

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.kernel import Network, Scheduler
from simulations.engines.ws_protocol import codec, polling

CLIENT, SERVER = "client", "server"
OTHER = {CLIENT: SERVER, SERVER: CLIENT}
FRAGMENT_GAP_MS = 10.0
TCP_RTO_MS = 1000.0  # RFC 6298 (2.1)/(2.4): 1 s, the minimum, as the path's RTT is far below it
POINTS = 12  # points per chart series
CLOSE_REASONS = {1000: "done", 1001: "going away", 1002: "protocol error", 1003: "text only", 1007: "bad UTF-8",
                 1008: "policy", 1009: "too big", 1011: "server error"}
SendCode = Literal[1000, 1001, 1011]
TEXT_ONLY_NOTE = "the server takes text messages only"
MAX_MESSAGE = 4096  # the server's limit on a message (1009 above it)

# --------------------------------------------------------------------------- params


class WsParams(Params):
    scenario: Literal["script", "chat", "feed", "game", "edits"] = Field(
        "script", title="Scenario",
        description=(
            "script: the messages below, one per interval from each side. chat: the messages below from the "
            "client, and other users' chat lines pushed by the server at the rate and size given. feed: a live "
            "dashboard: the server pushes JSON updates at the rate. game: binary state updates both ways at the "
            "rate. edits: collaborative editing: the server sends the document (fragmented), then edits flow "
            "both ways."
        ),
    )
    messages: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=lambda: ["Hello", "server: Hi there!", "How are you?", "server: Fine, thanks."],
        max_length=8, title="Messages",
        description='What the client sends, in order; a message starting "server:" is sent by the server instead.',
    )
    interval_ms: int = Field(300, ge=10, le=5000, title="Send interval (ms)",
                             description="Time between one side's scripted messages.")
    rate_per_s: float = Field(2.0, ge=0.1, le=30.0, title="Message rate (per s)",
                              description="How many generated messages (chat, feed, game) are sent per second.")
    size_bytes: int = Field(60, ge=8, le=2000, title="Message size (bytes)",
                            description="The size of each generated message.")
    duration_ms: int = Field(3000, ge=200, le=60000, title="Traffic lasts (ms)",
                             description="How long generated traffic runs before the closing handshake.")
    fragment_size: int = Field(0, ge=0, le=2000, title="Fragment size (bytes)",
                               description="Messages longer than this go as several frames (0: never fragment).")
    ping_interval_ms: int = Field(0, ge=0, le=30000, title="Ping interval (ms)",
                                  description="How often the server pings (0: no heartbeat).")
    pong_timeout_ms: int = Field(500, ge=50, le=30000, title="Pong timeout (ms)",
                                 description="How long the server waits for a Pong before it gives the peer up.")
    latency_ms: int = Field(40, ge=1, le=500, title="One-way latency (ms)")
    key: str = Field("", max_length=24, pattern=r"^([A-Za-z0-9+/]{22}==)?$", title="Sec-WebSocket-Key",
                     description="16 bytes, base64 (e.g. dGhlIHNhbXBsZSBub25jZQ==); empty: drawn from the seed.")
    masking_key: str = Field("", max_length=8, pattern=r"^([0-9a-f]{8})?$", title="Masking key (hex)",
                             description=("Empty: a fresh random key per client frame, as §5.3 requires. A fixed key "
                                          "(e.g. 37fa213d) reproduces RFC 6455 §5.7's examples byte for byte."))
    wrong_accept: bool = Field(False, title="Server answers with a wrong accept",
                               description="The server's Sec-WebSocket-Accept is not SHA-1(key + GUID): the client fails.")
    close_code: SendCode = Field(1000, title="Close code", description="The status code of the closing handshake.")
    closer: Literal["client", "server"] = Field("client", title="Who closes")
    poll_interval_ms: int = Field(1000, ge=100, le=30000, title="Short-poll interval (ms)",
                                  description="How often the short-polling client asks for news.")
    long_poll_hold_ms: int = Field(30000, ge=1000, le=120000, title="Long-poll hold (ms)",
                                   description="How long the long-polling server holds a request with no news.")

    @field_validator("key")
    @classmethod
    def _key_is_16_bytes(cls, value: str) -> str:
        if value:
            codec.check_key(value)
        return value


# --------------------------------------------------------------------------- actions


class Cut(Action):
    """Cut the link silently, for good (a NAT or proxy on the way forgets the connection):
    nothing gets through again, and neither side is told."""

    type: Literal["cut"] = "cut"


class Close(Action):
    """Start the closing handshake now."""

    type: Literal["close"] = "close"
    side: Literal["client", "server"] = Field("client", title="Who closes")
    code: SendCode = Field(1000, title="Status code")


class Send(Action):
    """Send a text message now."""

    type: Literal["send"] = "send"
    side: Literal["client", "server"] = Field("client", title="From")
    text: str = Field("ping?", min_length=1, max_length=200, title="Text")


class Fault(Action):
    """The client sends something the server must refuse, and the server closes with the
    matching §7.4.1 status code."""

    type: Literal["fault"] = "fault"
    kind: Literal["unmasked", "invalid_utf8", "binary", "too_big", "policy"] = Field(
        title="Fault",
        description=("unmasked: an unmasked client frame (1002). invalid_utf8: a text message that is not UTF-8 "
                     "(1007). binary: a binary message to a text-only server (1003). too_big: a message over the "
                     "server's 4096-byte limit (1009). policy: a message the server's policy forbids (1008)."),
    )


class WrongAccept(Action):
    """The server answers the handshake with a wrong Sec-WebSocket-Accept."""

    type: Literal["wrong_accept"] = "wrong_accept"


class Drop(Action):
    """Lose the TCP segment that carries the next frame `side` sends: TCP sends it again when
    its retransmission timer expires, and the frames behind it wait (head-of-line blocking)."""

    type: Literal["drop"] = "drop"
    side: Literal["client", "server"] = Field("client", title="Sent by")


WsAction = Annotated[Union[Cut, Close, Send, Fault, WrongAccept, Drop], Field(discriminator="type")]


# --------------------------------------------------------------------------- entity kinds


class PeerState(TypedDict):
    role: str  # "client" | "server"
    ready_state: str  # CONNECTING | OPEN | CLOSING | CLOSED (the WebSocket API's words)
    sent_frames: int
    received_messages: int
    last_event: str  # the last API event: "open", "message: Hi", "close 1000"...
    close_code: int | None  # the WebSocket Connection Close Code (§7.1.5), once closed
    timer: dict[str, Any] | None  # {"kind": "ping" | "pong_timeout", "start", "deadline"} (ms)


class HandshakeState(TypedDict):
    key: str
    accept: str | None  # the value the server sent (None until it answers)
    expected_accept: str  # base64(SHA-1(key + GUID))
    request_lines: list[str]
    response_lines: list[str]
    status: str  # "sent" | "answered" | "accepted" | "failed"


class FrameState(TypedDict):
    direction: str  # "client_to_server" | "server_to_client"
    src: str
    dst: str
    fin: bool
    rsv: int
    opcode: int
    opcode_name: str
    masked: bool
    masking_key: str | None  # hex
    payload_length: int
    payload: str  # text (a text, continuation of text, or close reason), or hex for binary/ping/pong
    payload_is_text: bool
    close_code: int | None
    bytes: str  # the whole frame, lowercase hex
    header_length: int
    sent_at: float
    deliver_at: float
    status: str  # "in_flight" | "arrived" | "lost" | "held" (in the receiver's TCP, behind a lost segment)
    note: str  # what it is: "message 2 of 3", "heartbeat"...
    current: bool  # the frame the latest step sent or received (the stage draws its bytes)


class HttpState(TypedDict):
    """The handshake request or response on the wire (not a WebSocket frame)."""

    what: str  # "upgrade_request" | "upgrade_response" | "tcp_close"
    src: str
    dst: str
    sent_at: float
    deliver_at: float
    status: str
    bytes_length: int


class LinkState(TypedDict):
    latency_ms: float
    cut: bool


class SeriesState(TypedDict):
    name: str
    chart: str  # "bytes" | "latency"
    points: list[list[float]]  # [t ms, value]


# --------------------------------------------------------------------------- traffic


def _pad_json(obj: dict[str, Any], size: int, field_name: str = "text") -> str:
    """A JSON object of exactly `size` bytes (or its minimum) with `field_name` padded."""
    obj = dict(obj)
    obj.setdefault(field_name, "")
    base = len(json.dumps(obj, separators=(",", ":")))
    fill = "lorem ipsum dolor sit amet consectetur adipiscing elit " * 40
    obj[field_name] = (obj[field_name] + fill)[: max(len(obj[field_name]), len(obj[field_name]) + size - base)]
    return json.dumps(obj, separators=(",", ":"))


def _plan(p: WsParams, rng: random.Random) -> list[dict[str, Any]]:
    """The run's sends, relative to the moment each side is OPEN: side, at (ms after open),
    opcode, payload (bytes, as a latin-1 str for plain data) and a note."""
    plan: list[dict[str, Any]] = []
    counts = {CLIENT: 0, SERVER: 0}

    def add(side: str, at: float, opcode: int, payload: bytes, note: str) -> None:
        plan.append({"side": side, "at": round(at, 3), "opcode": opcode, "payload": payload.hex(), "note": note})

    if p.scenario in ("script", "chat", "edits"):
        for text in p.messages:
            side = CLIENT
            if text.lower().startswith("server:"):
                side, text = SERVER, text[7:].lstrip()
            elif text.lower().startswith("client:"):
                text = text[7:].lstrip()
            counts[side] += 1
            add(side, counts[side] * p.interval_ms, codec.TEXT, text.encode("utf-8"), f"{side} message {counts[side]}")
    gap = 1000.0 / p.rate_per_s
    names = ("ana", "bo", "chen", "dev")
    if p.scenario == "chat":
        t = rng.expovariate(1 / gap)
        k = 0
        while t < p.duration_ms:
            k += 1
            line = _pad_json({"from": names[k % 4], "text": f"#{k} "}, p.size_bytes)
            add(SERVER, t, codec.TEXT, line.encode(), f"chat line {k} from {names[k % 4]}")
            t += rng.expovariate(1 / gap)
    elif p.scenario == "feed":
        t, k = gap, 0
        while t < p.duration_ms:
            k += 1
            tick = _pad_json({"seq": k, "cpu": rng.randint(5, 95), "rps": rng.randint(800, 1600), "pad": ""},
                             p.size_bytes, "pad")
            add(SERVER, t, codec.TEXT, tick.encode(), f"dashboard update {k}")
            t += gap
    elif p.scenario == "game":
        t, k = gap, 0
        x = y = 100
        while t < p.duration_ms:
            k += 1
            dx, dy = rng.randint(-3, 3), rng.randint(-3, 3)
            x, y = x + dx, y + dy
            inp = bytes([k & 0xFF, (k >> 8) & 0xFF, dx & 0xFF, dy & 0xFF])
            add(CLIENT, t, codec.BINARY, inp, f"input {k}")
            snap = (k.to_bytes(2, "big") + x.to_bytes(2, "big", signed=True) + y.to_bytes(2, "big", signed=True))
            snap += bytes(rng.getrandbits(8) for _ in range(max(0, p.size_bytes - len(snap))))
            add(SERVER, t + gap / 2, codec.BINARY, snap[: max(p.size_bytes, 6)], f"state {k}")
            t += gap
    elif p.scenario == "edits":
        doc = _pad_json({"doc": "Meeting notes: ", "rev": 1}, max(p.size_bytes, 300), "doc")
        add(SERVER, 5.0, codec.TEXT, doc.encode(), "the document")
        t, k = gap, 0
        while t < p.duration_ms:
            k += 1
            pos = rng.randint(0, 40)
            op = json.dumps({"op": "insert", "pos": pos, "text": "xyz"[k % 3], "by": names[k % 4], "rev": k + 1},
                            separators=(",", ":"))
            add(SERVER, t, codec.TEXT, op.encode(), f"edit {k} by {names[k % 4]}")
            t += gap
    plan.sort(key=lambda s: (s["at"], s["side"] == CLIENT))
    return plan


def _end_of(plan: list[dict[str, Any]], p: WsParams) -> float:
    last = max((s["at"] for s in plan), default=0.0)
    generated = p.scenario != "script"
    return max(last + p.interval_ms if not generated else p.duration_ms, last + 100.0)


# --------------------------------------------------------------------------- the engine


class WebSocketsEngine(Engine):
    slug = "websockets"
    topic_slug = "websockets"
    title = "WebSockets: the upgrade, frames byte by byte, heartbeats"
    description = (
        "A browser and a server open a WebSocket with the HTTP/1.1 Upgrade handshake and exchange frames you can read "
        "byte by byte: masked client frames, fragments, pings and pongs, the closing handshake. Cut the link to see "
        "the heartbeat notice, and compare the bytes and delays with short and long polling on the same traffic."
    )
    Params = WsParams
    Action = WsAction
    time_unit = "ms"
    wall_seconds_per_time_unit = 0.01
    max_steps = 2000
    entity_kinds = {"peer": PeerState, "handshake": HandshakeState, "http": HttpState, "frame": FrameState,
                    "link": LinkState, "series": SeriesState}
    metrics = {
        "client_state": "The client's readyState: CONNECTING, OPEN, CLOSING or CLOSED.",
        "server_state": "The server's readyState.",
        "websocket_bytes": "Bytes the WebSocket has put on the wire: the handshake and every frame, both ways.",
        "long_polling_bytes": "Bytes long polling puts on the wire for the same messages by now: heads and bodies.",
        "short_polling_bytes": "Bytes short polling puts on the wire by now: heads and bodies.",
        "websocket_delay_ms": "Mean delay from a server message's creation to its arrival at the client (none: none yet).",
        "long_polling_delay_ms": "The same for long polling.",
        "short_polling_delay_ms": "The same for short polling.",
        "heartbeat": "off (none running), ok, waiting (a Ping unanswered) or dead (no Pong in time).",
        "close_code": "The client's WebSocket Connection Close Code (§7.1.5), or none.",
    }
    presets = ()

    # -- set-up ---------------------------------------------------------------

    def reset(self) -> Frame:
        p: WsParams = self.params  # type: ignore[assignment]
        rng = self.rng
        self.sched = Scheduler()
        self.net = Network([CLIENT, SERVER], latency=(float(p.latency_ms), float(p.latency_ms)))
        self.index = 0
        self.key = p.key or codec.key_from_bytes(rng.getrandbits(128).to_bytes(16, "big"))
        self.fixed_mask = bytes.fromhex(p.masking_key) if p.masking_key else None
        self.wrong = p.wrong_accept
        self.peers: dict[str, dict[str, Any]] = {
            side: {"role": side, "ready_state": "CONNECTING", "sent_frames": 0, "received_messages": 0,
                   "last_event": "", "close_code": None, "sent_close": False, "got_close": False}
            for side in (CLIENT, SERVER)
        }
        self.reasm: dict[str, codec.Reassembler] = {CLIENT: codec.Reassembler(), SERVER: codec.Reassembler()}
        req = codec.request_lines(self.key)
        self.handshake: dict[str, Any] = {"key": self.key, "accept": None, "expected_accept": codec.accept_for(self.key),
                                          "request_lines": req, "response_lines": [], "status": "sent"}
        self.plan = _plan(p, rng)
        self.end = _end_of(self.plan, p)
        self.frames: dict[int, dict[str, Any]] = {}  # kernel message id -> frame state
        self.http: dict[int, dict[str, Any]] = {}
        self.last_frame: dict[str, Any] | None = None
        self.frames_sent = 0
        self.ws_bytes: list[tuple[float, int]] = []  # (t, cumulative)
        self.total = 0
        self.ws_deliveries: list[tuple[float, float]] = []  # (created, arrived)
        self.ws_delay_sum = 0.0
        self.heartbeat = "off" if not p.ping_interval_ms else "ok"
        self.ping_seq = 0
        self.cut = False
        self.pending: list[tuple[str, Event]] = []
        #: side -> the fragments still to send: (i, n, payload hex, note, created, is text)
        self.fragments: dict[str, list[tuple[int, int, str, str, float, bool]]] = {CLIENT: [], SERVER: []}
        self.frag_until = {CLIENT: 0.0, SERVER: 0.0}
        #: TCP under the frames: a drop armed for the next frame a side sends; per side, the
        #: segment lost and being resent ({"lost": kernel id, "resent": kernel id or None,
        #: "raw", "state", "at"}); the messages that reached the other side's TCP behind it.
        self.drop_armed = {CLIENT: False, SERVER: False}
        self.resend: dict[str, dict[str, Any]] = {}
        self.held: dict[str, list[Any]] = {CLIENT: [], SERVER: []}
        self._compare()
        self._grid_step = max((2.0 * p.latency_ms + self.end + 200.0) / (POINTS - 1), 1.0)
        self._c_series: dict[str, Any] = {}
        self._c_frames: dict[str, tuple[int, str, bool, Entity]] = {}
        self._c_handshake: Entity | None = None
        self._c_peers: dict[str, tuple[tuple, Entity]] = {}
        self._http_send(CLIENT, "upgrade_request", codec.head_bytes(req))
        whose = "the key typed in the parameters" if p.key else "16 fresh random bytes, base64"
        return self._frame(
            f"The client asks to upgrade its HTTP/1.1 connection: a GET with Upgrade: websocket and "
            f"Sec-WebSocket-Key {self.key} ({whose}).", [])

    def _compare(self) -> None:
        """Short and long polling for the same messages (created when the WebSocket would send them)."""
        p: WsParams = self.params  # type: ignore[assignment]
        open_c = open_s = 2.0 * p.latency_ms  # when the scripts start (see _open)
        server_msgs = [(open_s + s["at"], len(s["payload"]) // 2) for s in self.plan if s["side"] == SERVER]
        client_msgs = [(open_c + s["at"], len(s["payload"]) // 2) for s in self.plan if s["side"] == CLIENT]
        end = open_c + self.end
        self.short = polling.short_polling(server_msgs, client_msgs, latency=p.latency_ms, poll_ms=p.poll_interval_ms, end=end)
        self.long = polling.long_polling(server_msgs, client_msgs, latency=p.latency_ms, hold_ms=p.long_poll_hold_ms, end=end)

    # -- sending --------------------------------------------------------------

    def _count(self, n: int) -> None:
        self.total += n
        self.ws_bytes.append((self.sched.now, self.total))

    def _http_send(self, src: str, what: str, n: int, status: str = "in_flight") -> None:
        msg = self.net.send(self.sched, self.rng, src, OTHER[src], what, {})
        if what != "tcp_close":
            self._count(n)
        self.http[msg.id] = {"what": what, "src": src, "dst": OTHER[src], "sent_at": msg.sent_at,
                             "deliver_at": msg.deliver_at, "status": "lost" if self.cut else status, "bytes_length": n}

    def _mask_key(self) -> bytes:
        return self.fixed_mask if self.fixed_mask is not None else self.rng.getrandbits(32).to_bytes(4, "big")

    def _send_frame(self, src: str, opcode: int, payload: bytes, *, fin: bool = True, note: str = "",
                    created: float | None = None, force_unmasked: bool = False, text: bool | None = None) -> dict[str, Any]:
        key = None if (src == SERVER or force_unmasked) else self._mask_key()
        raw = codec.encode(opcode, payload, fin=fin, masking_key=key)
        dropped = self.drop_armed[src] and not self.cut
        if dropped:
            self.drop_armed[src] = False
            self.net.armed[(src, OTHER[src])] = [("drop", 0.0)]
        msg = self.net.send(self.sched, self.rng, src, OTHER[src], "frame", {"raw": raw.hex()})
        if text is None:
            text = opcode == codec.TEXT
        close_code = None
        shown = payload.decode("utf-8", "replace") if text else payload.hex()
        if opcode == codec.CLOSE:
            close_code, reason = codec.parse_close(payload)
            shown, text = reason, True
        st = {"direction": f"{src}_to_{OTHER[src]}", "src": src, "dst": OTHER[src], "fin": fin, "rsv": 0,
              "opcode": opcode, "opcode_name": codec.OPCODE_NAMES[opcode], "masked": key is not None,
              "masking_key": key.hex() if key is not None else None, "payload_length": len(payload),
              "payload": shown, "payload_is_text": bool(text), "close_code": close_code, "bytes": raw.hex(),
              "header_length": len(raw) - len(payload), "sent_at": msg.sent_at, "deliver_at": msg.deliver_at,
              "status": "lost" if (self.cut or dropped) else "in_flight", "note": note,
              "_created": self.sched.now if created is None else created}
        self.frames[msg.id] = st
        if dropped:
            at = round(msg.sent_at + TCP_RTO_MS, 3)
            self.resend[src] = {"lost": msg.id, "resent": None, "raw": raw.hex(), "state": dict(st), "at": at}
            st["note"] = (note + ", " if note else "") + "its TCP segment lost"
            self.sched.schedule(at, "resend", src)
        self.last_frame = st
        self.peers[src]["sent_frames"] += 1
        self.frames_sent += 1
        self._count(len(raw))
        return st

    def _send_message(self, src: str, opcode: int, payload: bytes, note: str) -> str:
        """A data message: one frame, or the first fragment now and the rest FRAGMENT_GAP_MS apart."""
        p: WsParams = self.params  # type: ignore[assignment]
        pieces = codec.fragment(payload, p.fragment_size)
        now = self.sched.now
        text = opcode == codec.TEXT
        if len(pieces) == 1:
            self._send_frame(src, opcode, payload, note=note, created=now)
            return ""
        n = len(pieces)
        self._send_frame(src, opcode, pieces[0], fin=False, note=f"{note}, fragment 1 of {n}", created=now)
        queue = self.fragments[src]
        for i, piece in enumerate(pieces[1:], start=2):
            queue.append((i, n, piece.hex(), f"{note}, fragment {i} of {n}", now, text))
            self.sched.schedule(round(now + FRAGMENT_GAP_MS * (i - 1), 3), "fragment", src)
        self.frag_until[src] = round(now + FRAGMENT_GAP_MS * (n - 1), 3)
        return (f" Its payload is {len(payload)} bytes, more than the {p.fragment_size}-byte fragment size, so it goes "
                f"as {n} frames: this first one has FIN 0 (§5.4).")

    def _open(self, side: str) -> None:
        p: WsParams = self.params  # type: ignore[assignment]
        peer = self.peers[side]
        peer["ready_state"] = "OPEN"
        peer["last_event"] = "open"
        # Both sides' scripts count from the moment the client is OPEN (the server is OPEN one
        # latency earlier), so messages scripted for the same moment cross on the wire.
        base = self.sched.now + (p.latency_ms if side == SERVER else 0.0)
        for i, s in enumerate(self.plan):
            if s["side"] == side:
                self.sched.schedule(round(base + s["at"], 3), "send", i)
        if side == p.closer:
            self.sched.schedule(round(base + self.end, 3), "close", side)
        if side == SERVER and p.ping_interval_ms:
            self.sched.set_timer("ping", p.ping_interval_ms, owner=SERVER, kind="ping")

    # -- the contract -----------------------------------------------------------

    @property
    def done(self) -> bool:
        return (not self.pending and self.sched.peek_time() is None)

    def step(self) -> Frame:
        events: list[Event] = []
        if self.pending:
            narration = " ".join(n for n, _ in self.pending if n)
            events = [e for _, e in self.pending]
            self.pending = []
            return self._finish(narration, events)
        occ = self.sched.pop()
        if occ is None:
            return self._finish("Nothing more happens on this connection.", events)
        if occ.kind == "deliver":
            narration = self._deliver(occ.ref, events)  # type: ignore[arg-type]
        elif occ.kind == "send":
            narration = self._scripted_send(int(occ.ref), events)
        elif occ.kind == "fragment":
            narration = self._next_fragment(str(occ.ref), events)
        elif occ.kind == "close":
            narration = self._start_close(str(occ.ref), self.params.close_code, events)  # type: ignore[attr-defined]
        elif occ.kind == "resend":
            narration = self._resend(str(occ.ref), events)
        elif occ.timer is not None and occ.timer.kind == "ping":
            narration = self._ping(events)
        else:
            narration = self._pong_timeout(occ.time - occ.timer.start, events)  # type: ignore[union-attr]
        return self._finish(narration, events)

    def _finish(self, narration: str, events: list[Event]) -> Frame:
        self.index += 1
        return self._frame(narration, events)

    # -- events ---------------------------------------------------------------

    def _scripted_send(self, index: int, events: list[Event]) -> str:
        s = self.plan[index]
        side = s["side"]
        peer = self.peers[side]
        if peer["ready_state"] != "OPEN":
            return f"The {side} would send {s['note']} now, but its connection is {peer['ready_state']}: nothing is sent."
        payload = bytes.fromhex(s["payload"])
        if self.fragments[side]:
            self.sched.schedule(self.frag_until[side], "send", index)
            return (f"The {side} has {s['note']} ready but waits until {self.frag_until[side]:.0f} ms: the fragments of "
                    f"its last message are still going out, and two messages' fragments never interleave (§5.4).")
        more = self._send_message(side, s["opcode"], payload, s["note"])
        events.append(Event("send", f"{side} sends {s['note']} ({len(payload)} bytes)", side))
        return self._sent_words(side, s["opcode"], payload, s["note"], bool(more)) + more

    def _sent_words(self, side: str, opcode: int, payload: bytes, note: str, fragmented: bool = False) -> str:
        f = self.last_frame
        assert f is not None
        if fragmented:
            kind = "text" if opcode == codec.TEXT else "binary"
            return f"The {side} starts sending {note}, {kind}, {len(payload)} bytes."
        kind = "text" if opcode == codec.TEXT else "binary"
        what = f'"{_short(payload.decode("utf-8", "replace"))}"' if opcode == codec.TEXT else f"{len(payload)} bytes"
        if side == CLIENT:
            return (f"The client sends {note}, {kind} {what}, as a {len(f['bytes']) // 2}-byte frame, masked with "
                    f"key {f['masking_key']} (a client masks every frame, §5.3).")
        return (f"The server pushes {note}, {kind} {what}, as a {len(f['bytes']) // 2}-byte frame, unmasked "
                f"(a server never masks, §5.1); no request asked for it.")

    def _next_fragment(self, side: str, events: list[Event]) -> str:
        i, n, piece, note, created, text = self.fragments[side].pop(0)
        last = i == n
        self._send_frame(side, codec.CONTINUATION, bytes.fromhex(piece), fin=last, note=note, created=created, text=text)
        events.append(Event("send", f"{side} sends {note}", side))
        return (f"The {side} sends {note}: a continuation frame (opcode 0) with FIN "
                f"{'1: the message ends here' if last else '0: more follow'}.")

    def _ping(self, events: list[Event]) -> str:
        p: WsParams = self.params  # type: ignore[assignment]
        if self.peers[SERVER]["ready_state"] != "OPEN":
            return "The server's ping timer fires, but the connection is closing: no Ping."
        self.ping_seq += 1
        body = f"hb{self.ping_seq}".encode()
        self._send_frame(SERVER, codec.PING, body, note=f"heartbeat {self.ping_seq}", text=False)
        self.sched.set_timer("ping", p.ping_interval_ms, owner=SERVER, kind="ping")
        if self.sched.timer("pong_timeout") is None:
            self.sched.set_timer("pong_timeout", p.pong_timeout_ms, owner=SERVER, kind="pong_timeout")
            self.heartbeat = "waiting"
        events.append(Event("ping", f"server pings ({body.decode()})", SERVER))
        return (f"Heartbeat: the server sends a Ping with payload {body.hex()} (\"{body.decode()}\") and waits up to "
                f"{p.pong_timeout_ms} ms for the Pong (§5.5.2).")

    def _pong_timeout(self, waited: float, events: list[Event]) -> str:
        self.heartbeat = "dead"
        self._stop(SERVER)
        srv = self.peers[SERVER]
        srv["ready_state"], srv["close_code"], srv["last_event"] = "CLOSED", 1006, "close 1006"
        self._http_send(SERVER, "tcp_close", 0)
        events.append(Event("dead", f"no Pong for {waited:.0f} ms: the server drops the connection", SERVER, "error"))
        return (f"No Pong came back within {waited:.0f} ms, so the server declares the client dead and closes the TCP "
                f"connection without a Close frame (§7.1.7); its close code is 1006 (§7.1.5). The client has not "
                f"noticed anything.")

    def _start_close(self, side: str, code: int, events: list[Event]) -> str:
        peer = self.peers[side]
        if peer["ready_state"] != "OPEN":
            return f"The {side} would close now, but its connection is already {peer['ready_state']}."
        reason = CLOSE_REASONS.get(code, "")
        self._send_frame(side, codec.CLOSE, codec.close_body(code, reason), note="closing handshake")
        peer["sent_close"] = True
        peer["ready_state"] = "CLOSING"
        events.append(Event("close", f"{side} sends Close {code}", side))
        return (f"The {side} starts the closing handshake: a Close frame with status {code} "
                f"({codec.CLOSE_CODES[code]}, §7.4.1) and reason \"{reason}\"; it sends no more data (§5.5.1).")

    def _fail(self, code: int, why: str, events: list[Event]) -> str:
        """The server fails the connection (§7.1.7): a Close frame carrying `code`, then it
        closes TCP and reads nothing more. Its own close code is 1006: it received no Close."""
        peer = self.peers[SERVER]
        self._send_frame(SERVER, codec.CLOSE, codec.close_body(code, CLOSE_REASONS[code]), note="failing the connection")
        peer["sent_close"] = True
        peer["ready_state"], peer["close_code"], peer["last_event"] = "CLOSED", 1006, "close 1006"
        self._stop(SERVER)
        self._http_send(SERVER, "tcp_close", 0)
        events.append(Event("fail", f"server fails the connection: {code}", SERVER, "error"))
        return (f"{why} so the server fails the connection: it sends Close {code} ({codec.CLOSE_CODES[code]}, §7.4.1), "
                f"closes TCP and reads nothing more from the client (§7.1.7).")

    def _stop(self, side: str) -> None:
        """`side` sends nothing more: its scheduled sends, fragments, close and timers go."""
        for at, _prio, seq, kind, ref in self.sched.queue:
            if (kind == "send" and self.plan[ref]["side"] == side) or (kind in ("fragment", "close") and str(ref).split(":")[0] == side):
                self.sched.cancel(seq)
        self.fragments[side] = []
        if side == SERVER:
            self.sched.cancel_timer("ping")
            self.sched.cancel_timer("pong_timeout")
            if self.heartbeat != "dead":
                self.heartbeat = "off"

    def _resend(self, src: str, events: list[Event]) -> str:
        """The sender's retransmission timer expires: TCP sends the lost segment again, the
        same bytes (RFC 6298 (5.4)); the WebSocket layer does nothing."""
        r = self.resend[src]
        st = dict(r["state"])
        msg = self.net.send(self.sched, self.rng, src, OTHER[src], "frame", {"raw": r["raw"]})
        r["resent"] = msg.id
        st.update(sent_at=msg.sent_at, deliver_at=msg.deliver_at, status="lost" if self.cut else "in_flight",
                  note=(st["note"] + ", " if st["note"] else "") + "resent by TCP")
        self.frames[msg.id] = st
        self.last_frame = st
        self._count(len(r["raw"]) // 2)
        events.append(Event("resend", f"{src}'s TCP resends the lost segment ({st['opcode_name']} frame)", src, "warn"))
        if self.cut:
            return (f"The {src}'s TCP retransmission timer expires ({TCP_RTO_MS:.0f} ms, RFC 6298): it sends the lost "
                    f"segment again, but the link is cut, so this copy is lost too.")
        return (f"The {src}'s TCP retransmission timer expires {TCP_RTO_MS:.0f} ms after it sent the segment (RFC 6298's "
                f"minimum RTO), with no ACK for it: TCP sends the same {len(r['raw']) // 2} bytes again "
                f"({st['opcode_name']} frame). The WebSocket layer on either side knows nothing of this.")

    def _deliver(self, msg_id: int, events: list[Event]) -> str:
        msg, outcome = self.net.receive(msg_id)
        r = self.resend.get(msg.src)
        if r is not None:
            if msg.id == r["lost"]:
                st = self.frames.pop(msg.id)
                st["status"] = "lost"
                self.last_frame = st
                events.append(Event("lost", f"TCP segment with the {st['opcode_name']} frame lost", msg.src, "warn"))
                return (f"The TCP segment carrying the {st['opcode_name']} frame from the {msg.src} is lost on the way: "
                        f"the {msg.dst}'s TCP never gets it, and its WebSocket sees nothing. The {msg.src}'s TCP will "
                        f"send it again when its retransmission timer expires, at {r['at']:,.0f} ms.")
            if msg.id == r["resent"] and outcome == "delivered":
                del self.resend[msg.src]
                text = self._arrive(msg, outcome, events)
                held, self.held[msg.src] = self.held[msg.src], []
                if not held:
                    return "TCP's retransmission arrives. " + text
                more = [self._arrive(m, o, events) for m, o in held]
                return (f"TCP's retransmission arrives. {text} TCP now hands the {len(held)} "
                        f"{'frame' if len(held) == 1 else 'frames'} it held behind it to the WebSocket, in order: "
                        + " ".join(more))
            if msg.id > r["lost"] and outcome == "delivered":
                self.held[msg.src].append((msg, outcome))
                what = "the TCP connection's FIN" if msg.type != "frame" else f"a {self.frames[msg.id]['opcode_name']} frame"
                if msg.type == "frame":
                    self.frames[msg.id]["status"] = "held"
                    self.last_frame = self.frames[msg.id]
                return (f"{what[0].upper()}{what[1:]} from the {msg.src} reaches the {msg.dst}'s TCP, which holds it: "
                        f"the segment before it is missing, and TCP hands bytes to the application only in order "
                        f"(head-of-line blocking).")
        return self._arrive(msg, outcome, events)

    def _arrive(self, msg: Any, outcome: str, events: list[Event]) -> str:
        """A message off the wire, in order, reaches the receiving side."""
        if msg.type != "frame":
            return self._deliver_http(msg, outcome, events)
        st = self.frames.pop(msg.id)
        dst = msg.dst
        if outcome != "delivered":
            st["status"] = "lost"
            self.last_frame = st
            events.append(Event("lost", f"{st['opcode_name']} frame lost on the cut link", msg.src, "warn"))
            return (f"The {st['opcode_name']} frame from the {msg.src} does not arrive: the link is cut, and neither "
                    f"side is told (TCP retransmits in silence, in vain).")
        st["status"] = "arrived"
        self.last_frame = st
        peer = self.peers[dst]
        if peer["ready_state"] == "CLOSED" or (peer["got_close"] and peer["sent_close"]):
            return f"A {st['opcode_name']} frame reaches the {dst}, whose connection is closed: it is discarded."
        raw = bytes.fromhex(msg.payload["raw"])
        frame = codec.decode(raw)  # the receiver parses what came off the wire
        if dst == SERVER and not frame.masked:
            return self._fail(1002, "The server receives an unmasked frame, which a client must never send (§5.1),",
                              events)
        try:
            got = self.reasm[dst].feed(frame)
        except codec.ProtocolError as exc:
            if dst == CLIENT:  # pragma: no cover - the engine's server sends valid frames only
                raise
            return self._fail(exc.code, f"The server finds {exc},", events)
        if got is None:
            return (f"The {dst} receives {st['note']} ({frame.size} bytes, FIN 0) and holds it: the message is not "
                    f"complete until a frame with FIN 1 (§5.4).")
        opcode, payload = got
        if opcode == codec.PING:
            if peer["got_close"]:
                return f"The {dst} receives a Ping after a Close and does not answer it (§5.5.2)."
            self._send_frame(dst, codec.PONG, payload, note=f"answer to {st['note']}", text=False)
            events.append(Event("pong", f"{dst} answers the Ping", dst))
            return (f"The {dst} receives the Ping and answers at once with a Pong carrying the same payload "
                    f"{payload.hex()} (§5.5.3){', masked as every client frame is' if dst == CLIENT else ''}.")
        if opcode == codec.PONG:
            took = self.sched.now - self._ping_sent_at()
            self.sched.cancel_timer("pong_timeout")
            self.heartbeat = "ok"
            peer["last_event"] = "pong"
            return f"The Pong for {payload.decode('ascii', 'replace')} is back after {took:.0f} ms: the client is alive."
        if opcode == codec.CLOSE:
            return self._on_close(dst, payload, events)
        return self._on_message(dst, opcode, payload, st, events)

    def _ping_sent_at(self) -> float:
        t = self.sched.timer("pong_timeout")
        return t.start if t is not None else self.sched.now

    def _on_message(self, dst: str, opcode: int, payload: bytes, st: dict[str, Any], events: list[Event]) -> str:
        peer = self.peers[dst]
        if dst == SERVER:
            if opcode == codec.BINARY and self.params.scenario not in ("game",):  # type: ignore[attr-defined]
                return self._fail(1003, f"The server receives a binary message, but {TEXT_ONLY_NOTE},", events)
            if len(payload) > MAX_MESSAGE:
                return self._fail(1009, f"The server receives a {len(payload)}-byte message, over its "
                                                f"{MAX_MESSAGE}-byte limit,", events)
            if opcode == codec.TEXT and "<script>" in payload.decode("utf-8", "replace"):
                return self._fail(1008, "The server's policy refuses messages with <script> in them,", events)
        peer["received_messages"] += 1
        text = payload.decode("utf-8", "replace") if opcode == codec.TEXT else payload.hex()
        peer["last_event"] = f"message: {_short(text, 24)}" if opcode == codec.TEXT else f"message: {len(payload)} bytes"
        events.append(Event("message", f"{dst} onmessage: {_short(text, 40)}", dst, "success"))
        if dst == CLIENT:
            self.ws_deliveries.append((st["_created"], self.sched.now))
            self.ws_delay_sum += self.sched.now - st["_created"]
        shown = f'"{_short(text)}"' if opcode == codec.TEXT else f"{len(payload)} bytes of binary"
        what = st["note"].split(", fragment")[0]
        words = f"The {dst}'s onmessage handler runs with {shown} ({what}), {self.sched.now - st['_created']:.0f} ms after it was sent."
        if dst == CLIENT:
            words += " " + self._compare_words()
        return words

    def _on_close(self, dst: str, payload: bytes, events: list[Event]) -> str:
        peer = self.peers[dst]
        code, reason = codec.parse_close(payload)
        peer["got_close"] = True
        if peer["close_code"] is None:
            peer["close_code"] = code
        answered = ""
        if not peer["sent_close"]:
            self._stop(dst)
            self._send_frame(dst, codec.CLOSE, codec.close_body(code, reason), note="closing handshake reply")
            peer["sent_close"], peer["ready_state"] = True, "CLOSING"
            events.append(Event("close", f"{dst} answers Close {code}", dst))
            answered = f"The {dst} receives Close {code} and answers with a Close echoing {code} (§5.5.1). "
            if dst == CLIENT:
                return answered + "It waits for the server to close the TCP connection (§7.1.1)."
        # Both sent and received: closed.
        if dst == SERVER:
            peer["ready_state"] = "CLOSED"
            peer["last_event"] = f"close {code}"
            self._stop(SERVER)
            self._http_send(SERVER, "tcp_close", 0)
            events.append(Event("closed", f"server closed ({code})", SERVER, "success"))
            return answered + (f"The server has sent and received a Close, so it closes the TCP connection at once "
                               f"(§5.5.1, §7.1.1); its close code is {code}.")
        peer["last_event"] = f"close {code}"
        return (f"The client has sent and received a Close (code {code}); it waits for the server to close the TCP "
                f"connection (§7.1.1).")

    def _deliver_http(self, msg: Any, outcome: str, events: list[Event]) -> str:
        st = self.http.pop(msg.id)
        what = st["what"]
        if outcome != "delivered":
            return f"The {what.replace('_', ' ')} is lost on the cut link."
        if what == "upgrade_request":
            accept = codec.wrong_accept(self.key) if self.wrong else codec.accept_for(self.key)
            lines = codec.response_lines(accept)
            self.handshake["accept"], self.handshake["response_lines"], self.handshake["status"] = accept, lines, "answered"
            self._http_send(SERVER, "upgrade_response", codec.head_bytes(lines))
            self._open(SERVER)
            events.append(Event("upgrade", "server answers 101 Switching Protocols", SERVER))
            if self.wrong:
                return (f"The server answers 101 Switching Protocols, but with Sec-WebSocket-Accept {accept}: it hashed "
                        f"the key without the GUID.")
            return (f"The server answers 101 Switching Protocols with Sec-WebSocket-Accept {accept}: SHA-1 of the key "
                    f"followed by the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11, base64 (§4.2.2). It is OPEN now.")
        if what == "upgrade_response":
            ok, why = codec.accept_ok(self.key, self.handshake["response_lines"])
            cl = self.peers[CLIENT]
            if ok:
                self.handshake["status"] = "accepted"
                self._open(CLIENT)
                events.append(Event("open", "client: connection open", CLIENT, "success"))
                return (f"The client checks the accept against its own SHA-1 of key + GUID, "
                        f"{self.handshake['expected_accept']}: they match, so the connection is OPEN and onopen fires "
                        f"(§4.1). From here on, frames flow both ways over this one TCP connection.")
            self.handshake["status"] = "failed"
            cl["ready_state"], cl["close_code"], cl["last_event"] = "CLOSED", 1006, "close 1006"
            self._http_send(CLIENT, "tcp_close", 0)
            events.append(Event("fail", f"client fails the connection: {why}", CLIENT, "error"))
            return (f"The client expected {self.handshake['expected_accept']} but got {self.handshake['accept']}, so it "
                    f"must fail the WebSocket connection (§4.1): it closes TCP without sending a frame; onerror, then "
                    f"onclose with code 1006.")
        # tcp_close
        peer = self.peers[msg.dst]
        if peer["ready_state"] == "CLOSED":
            return f"The {msg.dst} sees the TCP connection close."
        code = peer["close_code"] if peer["got_close"] and peer["close_code"] is not None else 1006
        peer["ready_state"], peer["close_code"], peer["last_event"] = "CLOSED", code, f"close {code}"
        self._stop(msg.dst)
        events.append(Event("closed", f"{msg.dst} closed ({code})", msg.dst, "success" if code == 1000 else "warn"))
        if code == 1006:
            return (f"The {msg.dst} sees the TCP connection close with no closing handshake: onclose with code 1006 "
                    f"(closed abnormally, §7.1.5).")
        return (f"The {msg.dst} sees the server close the TCP connection: the WebSocket is closed cleanly, onclose with "
                f"code {code} (§7.1.4).")

    # -- actions --------------------------------------------------------------

    def apply(self, action: Any) -> Event | None:
        kind = action.type
        if kind == "cut":
            if self.cut:
                raise ValueError("the link is already cut")
            self.cut = True
            self.net.partition([[CLIENT], [SERVER]])
            for st in (*self.frames.values(), *self.http.values()):
                st["status"] = "lost"
            return self._pend("The link is cut silently, as when a NAT or proxy on the way forgets the connection: "
                              "from now on nothing gets through, and neither side is told.",
                              Event("cut", "link cut", None, "warn"))
        if kind == "wrong_accept":
            if self.handshake["status"] != "sent":
                raise ValueError("the server has already answered the handshake")
            if self.wrong:
                raise ValueError("the server already answers with a wrong accept")
            self.wrong = True
            return self._pend("The server will answer with a wrong Sec-WebSocket-Accept.",
                              Event("wrong_accept", "server will send a wrong accept", SERVER, "warn"))
        if kind == "drop":
            side = action.side
            if self.cut:
                raise ValueError("the link is cut: every segment is lost already")
            if self.peers[side]["ready_state"] == "CLOSED":
                raise ValueError(f"the {side}'s connection is CLOSED: it sends nothing more")
            if self.drop_armed[side]:
                raise ValueError(f"the next segment from the {side} is already going to be lost")
            if side in self.resend:
                raise ValueError(f"a segment from the {side} is already lost and waiting for TCP to resend it")
            self.drop_armed[side] = True
            return self._pend(f"The network will lose the TCP segment that carries the next frame the {side} sends; "
                              "TCP will send it again when its retransmission timer expires.",
                              Event("drop", f"next segment from the {side}: lost", side, "warn"))
        side = getattr(action, "side", CLIENT)
        peer = self.peers[side]
        if peer["ready_state"] != "OPEN":
            raise ValueError(f"the {side}'s connection is {peer['ready_state']}, not OPEN")
        events: list[Event] = []
        if kind in ("send", "fault") and self.fragments[side]:
            raise ValueError(f"the {side} is still sending the fragments of a message (§5.4: no interleaving)")
        if kind == "close":
            text = self._start_close(side, action.code, events)
        elif kind == "send":
            payload = action.text.encode("utf-8")
            more = self._send_message(side, codec.TEXT, payload, "a typed message")
            text = self._sent_words(side, codec.TEXT, payload, "a typed message", bool(more)) + more
            events.append(Event("send", f"{side} sends a typed message", side))
        else:
            text = self._fault(action.kind, events)
        return self._pend(text, *events)

    def _fault(self, kind: str, events: list[Event]) -> str:
        if kind == "unmasked":
            self._send_frame(CLIENT, codec.TEXT, b"no mask", note="an unmasked frame (a bug)", force_unmasked=True)
            words = "The client sends a text frame without masking it, which §5.1 forbids."
        elif kind == "invalid_utf8":
            self._send_frame(CLIENT, codec.TEXT, b"caf\xc3", note="text that is not UTF-8", text=False)
            words = "The client sends a text frame whose bytes 63 61 66 c3 are not valid UTF-8 (c3 starts a 2-byte sequence that never ends)."
        elif kind == "binary":
            self._send_frame(CLIENT, codec.BINARY, bytes([0, 1, 2, 3]), note="a binary message")
            words = f"The client sends a binary message; {TEXT_ONLY_NOTE}."
        elif kind == "too_big":
            self._send_message(CLIENT, codec.TEXT, ("x" * (MAX_MESSAGE + 1)).encode(), "a huge message")
            words = f"The client sends a {MAX_MESSAGE + 1}-byte message, over the server's {MAX_MESSAGE}-byte limit."
        else:
            self._send_frame(CLIENT, codec.TEXT, b"<script>alert(1)</script>", note="a forbidden message")
            words = "The client sends a message with <script> in it, which the server's policy forbids."
        events.append(Event("fault", words, CLIENT, "warn"))
        return words

    def _pend(self, text: str, *events: Event) -> Event | None:
        for e in events:
            self.pending.append((text, e))
            text = ""
        if not events:
            self.pending.append((text, Event("note", text)))
        return events[0] if events else None

    # -- frames ---------------------------------------------------------------

    def _compare_words(self) -> str:
        now = self.sched.now
        s_del = self.short.delivered_by(now)
        l_del = self.long.delivered_by(now)
        return (f"Bytes on the wire so far: WebSocket {self.total:,}, long polling {self.long.bytes_at(now):,}, "
                f"short polling {self.short.bytes_at(now):,}; mean delay of the server's messages: WebSocket "
                f"{_delay_words(self.ws_deliveries, self.ws_delay_sum)}, long polling {_delay_words(l_del)}, short polling "
                f"{_delay_words(s_del)}.")

    def _series(self) -> list[Entity]:
        """The charts' lines: cumulative bytes sampled on a fixed grid of times up to now (so
        an entity is reused until now passes the next grid time), and each server message's
        delay, for the last POINTS messages of each method."""
        now = self.sched.now
        step = self._grid_step
        k = int(now // step)
        cache = self._c_series
        if cache.get("k") != k:
            grid = [i * step for i in range(max(0, k - POINTS + 1), k + 1)]
            times = [t for t, _ in self.ws_bytes]
            cums = [c for _, c in self.ws_bytes]

            def ws_at(t: float) -> int:
                i = bisect_right(times, t)
                return cums[i - 1] if i else 0

            def pts(f: Any) -> list[list[float]]:
                return [[round(t, 1), float(f(t))] for t in grid]

            cache["k"] = k
            cache["bytes"] = [
                Entity("bytes-short", "series", {"name": "short polling", "chart": "bytes", "points": pts(self.short.bytes_at)}),
                Entity("bytes-long", "series", {"name": "long polling", "chart": "bytes", "points": pts(self.long.bytes_at)}),
                Entity("bytes-ws", "series", {"name": "WebSocket", "chart": "bytes", "points": pts(ws_at)}),
            ]
        out = list(cache["bytes"])
        for eid, name, all_ds, n in (
                ("delay-short", "short polling", self.short.deliveries, self.short.delivered_count(now)),
                ("delay-long", "long polling", self.long.deliveries, self.long.delivered_count(now)),
                ("delay-ws", "WebSocket", self.ws_deliveries, len(self.ws_deliveries))):
            hit = cache.get(eid)
            if hit is None or hit[0] != n:
                pts_ = [[round(c, 1), round(a - c, 1)] for c, a in all_ds[max(0, n - POINTS):n]]
                hit = cache[eid] = (n, Entity(eid, "series", {"name": name, "chart": "latency", "points": pts_}))
            out.append(hit[1])
        return out

    def _frame(self, narration: str, events: list[Event]) -> Frame:
        now = self.sched.now
        ents: list[Entity] = []
        pcache = self._c_peers
        for side in (CLIENT, SERVER):
            peer = self.peers[side]
            t = (self.sched.timer("pong_timeout") or self.sched.timer("ping")) if side == SERVER else None
            key = (peer["ready_state"], peer["sent_frames"], peer["received_messages"], peer["last_event"],
                   peer["close_code"], None if t is None else (t.kind, t.start, t.deadline))
            hit = pcache.get(side)
            if hit is None or hit[0] != key:
                timer = None if t is None else {"kind": t.kind, "start": t.start, "deadline": t.deadline}
                hit = pcache[side] = (key, Entity(side, "peer", {
                    "role": side, "ready_state": key[0], "sent_frames": key[1], "received_messages": key[2],
                    "last_event": key[3], "close_code": key[4], "timer": timer}))
            ents.append(hit[1])
        hs = self._c_handshake
        if hs is None or hs.state["status"] != self.handshake["status"]:
            h = self.handshake
            hs = self._c_handshake = Entity("handshake", "handshake", {
                **h, "request_lines": list(h["request_lines"]), "response_lines": list(h["response_lines"])})
        ents.append(hs)
        for mid, st in self.http.items():
            ents.append(Entity(f"h{mid}", "http", dict(st)))
        fcache = self._c_frames
        last = self.last_frame
        shown = self.frames
        if last is not None and all(st is not last for st in shown.values()):
            ents.append(self._frame_entity("last", last, fcache))
        for mid, st in shown.items():
            ents.append(self._frame_entity(f"f{mid}", st, fcache))
        if len(fcache) > 64:
            fcache.clear()
        ents.append(Entity("link", "link", {"latency_ms": float(self.params.latency_ms), "cut": self.cut}))  # type: ignore[attr-defined]
        ents.extend(self._series())
        metrics = {
            "client_state": self.peers[CLIENT]["ready_state"],
            "server_state": self.peers[SERVER]["ready_state"],
            "websocket_bytes": self.total,
            "long_polling_bytes": self.long.bytes_at(now),
            "short_polling_bytes": self.short.bytes_at(now),
            "websocket_delay_ms": round(self.ws_delay_sum / len(self.ws_deliveries), 1) if self.ws_deliveries else None,
            "long_polling_delay_ms": _round(self.long.mean_delay(now)),
            "short_polling_delay_ms": _round(self.short.mean_delay(now)),
            "heartbeat": self.heartbeat,
            "close_code": str(self.peers[CLIENT]["close_code"]) if self.peers[CLIENT]["close_code"] else "none",
        }
        return Frame(self.index, now, tuple(ents), metrics, tuple(events), narration, self.done)

    def _frame_entity(self, eid: str, st: dict[str, Any], cache: dict[str, tuple[int, str, bool, Entity]]) -> Entity:
        current = st is self.last_frame
        hit = cache.get(eid)
        if hit is not None and hit[0] == id(st) and hit[1] == st["status"] and hit[2] == current:
            return hit[3]
        state = dict(st)
        del state["_created"]
        state["current"] = current
        ent = Entity(eid, "frame", state)
        cache[eid] = (id(st), st["status"], current, ent)
        return ent

    def __deepcopy__(self, memo: dict[int, Any]) -> WebSocketsEngine:
        """An exact copy without the frame caches (rebuilt with the same content), sharing
        the immutable params and the precomputed polling tallies."""
        cls = type(self)
        twin = cls.__new__(cls)
        memo[id(self)] = twin
        memo[id(self.params)] = self.params
        memo[id(self.short)], memo[id(self.long)] = self.short, self.long
        memo[id(self.plan)] = self.plan
        rng = random.Random()
        rng.setstate(self.rng.getstate())
        memo[id(self.rng)] = rng
        for name, value in self.__dict__.items():
            if not name.startswith("_c_"):
                setattr(twin, name, copy.deepcopy(value, memo))
        twin._c_series, twin._c_frames, twin._c_handshake, twin._c_peers = {}, {}, None, {}
        return twin


def _mean(ds: list[tuple[float, float]]) -> float:
    return sum(a - c for c, a in ds) / len(ds) if ds else 0.0


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _delay_words(ds: list[tuple[float, float]], total: float | None = None) -> str:
    if not ds:
        return "none delivered yet"
    mean = total / len(ds) if total is not None else _mean(ds)
    return f"{mean:.0f} ms over {len(ds)}"


def _short(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


# --------------------------------------------------------------------------- presets


def _preset(slug: str, name: str, description: str, params: dict[str, Any], actions: tuple = (), *,
            feature: str = "", use_case: str = "", seed: int = 1) -> Preset:
    WsParams.model_validate(params)
    return Preset(slug, name, description, params, seed, actions, feature=feature, use_case=use_case)


RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

WebSocketsEngine.presets = (
    _preset(
        "upgrade-handshake", "The upgrade handshake, byte for byte",
        "RFC 6455's own example: the key dGhlIHNhbXBsZSBub25jZQ== gets the accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= "
        "(§1.3), then \"Hello\" both ways with the masking key 37 fa 21 3d, giving §5.7's bytes exactly.",
        {"key": RFC_KEY, "masking_key": "37fa213d", "messages": ["Hello", "server: Hello"]},
    ),
    _preset(
        "bidirectional", "Both sides talk at once",
        "Client and server each send whenever they like over the one connection: messages scripted for the same "
        "moment cross on the wire, with no request and response pairing them.",
        {"messages": ["Hi!", "server: Welcome, ana", "Anyone here?", "server: bo joined the room",
                      "Hello bo", "server: bo: hi ana"], "interval_ms": 400},
        feature="Bidirectional messaging",
    ),
    _preset(
        "event-driven", "Events, not requests",
        "The server pushes each chat line the moment it happens, at random times; on the client each one fires the "
        "onmessage handler (after onopen, before onclose). Nobody asks.",
        {"scenario": "chat", "messages": [], "rate_per_s": 1.5, "duration_ms": 4000, "size_bytes": 40},
        feature="Event-driven architecture", seed=3,
    ),
    _preset(
        "overhead-vs-polling", "Bytes and delay against polling",
        "Two chat lines a second of 60 bytes each for 10 s. The charts count every byte on the wire (HTTP heads "
        "included) for short polling every second, long polling, and the WebSocket; the narration gives the numbers.",
        {"scenario": "chat", "messages": ["hi all"], "rate_per_s": 2.0, "size_bytes": 60, "duration_ms": 10000,
         "poll_interval_ms": 1000},
        feature="Lower overhead than polling", seed=2,
    ),
    _preset(
        "heartbeat-dead-peer", "A heartbeat finds a dead link",
        "The server pings every 600 ms and waits 400 ms for each Pong. After the first Pong the link is cut "
        "silently: the next Ping is lost, no Pong comes, and the server gives the client up within interval + "
        "timeout, while the client still thinks it is connected.",
        {"messages": ["Hi", "server: Welcome", "Still there?", "server: yes", "Hello?", "server: ..."],
         "interval_ms": 400, "ping_interval_ms": 600, "pong_timeout_ms": 400},
        ((10, {"type": "cut"}),),
        feature="Heartbeat for connection health",
    ),
    _preset(
        "chat", "A chat room",
        "Ana types three lines while the others' lines arrive from the server; every line is one small frame, and "
        "the server pings every 2 s to keep the connection alive.",
        {"scenario": "chat", "messages": ["hi all", "what's the plan?", "see you at 6"], "interval_ms": 900,
         "rate_per_s": 1.2, "size_bytes": 50, "duration_ms": 3500, "ping_interval_ms": 2000},
        use_case="Chat applications", seed=4,
    ),
    _preset(
        "live-dashboard", "A live dashboard",
        "The server pushes a JSON update four times a second (CPU, requests per second); the page redraws on each "
        "one as it arrives, with no polling.",
        {"scenario": "feed", "rate_per_s": 4.0, "size_bytes": 40, "duration_ms": 2500, "poll_interval_ms": 500},
        use_case="Live dashboards and updates",
    ),
    _preset(
        "multiplayer-game", "A multiplayer game loop",
        "Ten times a second the client sends its input (4 bytes, binary) and the server answers with the game state "
        "(12 bytes, binary): 6- and 2-byte frame headers instead of hundreds of bytes of HTTP heads.",
        {"scenario": "game", "rate_per_s": 10.0, "size_bytes": 12, "duration_ms": 1500, "latency_ms": 30,
         "poll_interval_ms": 100},
        use_case="Multiplayer games",
    ),
    _preset(
        "collaborative-editing", "Collaborative editing",
        "The server sends the 600-byte document in three 200-byte fragments (continuation frames with the 16-bit "
        "length), then edits flow both ways as they are typed.",
        {"scenario": "edits", "size_bytes": 600, "fragment_size": 200, "rate_per_s": 2.0, "duration_ms": 2000,
         "messages": ['client: {"op":"insert","pos":0,"text":"# "}']},
        use_case="Collaborative editing tools",
    ),
    _preset(
        "wrong-accept", "A wrong Sec-WebSocket-Accept",
        "The server hashes the key without the GUID; the client's own SHA-1 differs, so it fails the connection "
        "before any frame is sent (§4.1).",
        {"key": RFC_KEY, "wrong_accept": True},
    ),
    _preset(
        "protocol-error", "An unmasked client frame: close 1002",
        "After one good message the client sends a frame without a mask; the server fails the connection with "
        "Close 1002 (protocol error, §5.1, §7.4.1).",
        {"messages": ["Hello"]},
        ((3, {"type": "fault", "kind": "unmasked"}),),
    ),
    _preset(
        "server-going-away", "The server goes away: close 1001",
        "The server starts the closing handshake with 1001 (going away), as when it shuts down; the client echoes "
        "it and the server closes TCP first (§7.1.1).",
        {"messages": ["Hello", "server: Shutting down soon"], "closer": "server", "close_code": 1001},
    ),
)
