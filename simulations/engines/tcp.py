"""TCP/IP: one connection (or two) between hosts, segment by segment, on the timed kernel.

Sources, rule by rule (tests/simulations/test_tcp_*.py cite each):

* RFC 9293 (TCP). The states of Figure 5 and only its transitions; the three-way
  handshake of Figure 6 (SYN and FIN each take one sequence number, a pure ACK none);
  simultaneous open, Figure 7; an old duplicate SYN answered by RST, Figure 8; the close of
  Figure 12 and the simultaneous close of Figure 13; TIME-WAIT lasts 2 MSL (§3.6.1,
  MSL 2 minutes by default). Segment arrival follows §3.10.7: the acceptability test of
  §3.10.7.4 (a segment that is not acceptable is answered with <SEQ=SND.NXT><ACK=RCV.NXT>
  <CTL=ACK> and dropped), RST, SYN, ACK, text and FIN in that order. The part of a segment
  before RCV.NXT (a SYN already received) is trimmed as §3.10.7.4 allows. Flow control is
  the receiver's advertised window (§3.8.6); a zero window is probed (§3.8.6.1) and the
  receiver advertises a reopened window once it has grown by min(MSS, buffer/2)
  (§3.8.6.2.2). Checksums are the real 16-bit ones' complement sum over the pseudo-header,
  header and data (§3.1): a corrupted segment is discarded and repaired by retransmission.
* RFC 6298 (the retransmission timer): initial RTO 1 s (§2.1); the first sample R gives
  SRTT = R, RTTVAR = R/2 (§2.2); later ones RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| (with the
  old SRTT), then SRTT = 7/8 SRTT + 1/8 R' (§2.3); RTO = SRTT + max(G, 4 RTTVAR), at least
  1 s (§2.4), at most 60 s (§2.5); on expiry retransmit the earliest unacknowledged segment
  and double the RTO (§5.4, §5.5); Karn's rule: no sample from a retransmitted segment (§3),
  kept by timing one segment at a time and cancelling the measurement on any
  retransmission; §5.7: after a SYN or SYN,ACK timed out, the RTO is re-initialised to 3 s
  when data transmission begins. G, the clock granularity, is 1 ms here.
* RFC 5681 (congestion control): IW of §3.1 (equation 1) or RFC 6928's
  min(10*MSS, max(2*MSS, 14600)); slow start cwnd += min(N, SMSS) per ACK (equation 2);
  congestion avoidance cwnd += SMSS*SMSS/cwnd per ACK (equation 3, at least 1 byte);
  on a timeout ssthresh = max(FlightSize/2, 2*SMSS) (equation 4; held when the same segment
  times out again) and cwnd = 1 SMSS, the loss window; fast retransmit on the third
  duplicate ACK (§2's definition of a duplicate) and fast recovery of §3.2: ssthresh =
  max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS, +SMSS per further duplicate, and
  cwnd = ssthresh on the ACK of new data. FlightSize is SND.NXT - SND.UNA, never cwnd. The
  SYN,ACK and its ACK do not grow cwnd (§3.1). Not modelled: limited transmit (RFC 3042, the
  SHOULD of §3.2 step 1), so the first two duplicate ACKs send nothing new.
  Delayed ACKs (§4.2): an ACK at least every second full-sized segment and within 200 ms;
  out-of-order segments and those filling a gap are acknowledged at once (§4.2, §3.2).

After a retransmission timeout the sender goes back to SND.UNA and sends again from there
(go-back-N, as BSD-derived stacks do, since there is no SACK here): ACKs up to the highest
sequence number sent are acceptable. Sequence numbers are not wrapped: ISNs are bounded so
that no run gets near 2**32.
"""

from __future__ import annotations

import copy
import random
import struct
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.kernel import Scheduler

# --------------------------------------------------------------------------- constants

CLOSED, LISTEN, SYN_SENT, SYN_RECEIVED, ESTABLISHED = "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"
FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = (
    "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT")
STATES = (CLOSED, LISTEN, SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING,
          LAST_ACK, TIME_WAIT)
SYNCHRONIZED = frozenset({ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT})

#: RFC 9293 Figure 5: (from, to) -> the event that takes it. No other transition happens.
FIGURE5 = {
    (CLOSED, LISTEN): "passive OPEN",
    (CLOSED, SYN_SENT): "active OPEN / snd SYN",
    (LISTEN, CLOSED): "CLOSE",
    (LISTEN, SYN_RECEIVED): "rcv SYN / snd SYN,ACK",
    (LISTEN, SYN_SENT): "SEND / snd SYN",
    (SYN_RECEIVED, ESTABLISHED): "rcv ACK of SYN",
    (SYN_RECEIVED, FIN_WAIT_1): "CLOSE / snd FIN",
    (SYN_RECEIVED, LISTEN): "rcv RST (passive open)",
    (SYN_SENT, SYN_RECEIVED): "rcv SYN / snd SYN,ACK",
    (SYN_SENT, ESTABLISHED): "rcv SYN,ACK / snd ACK",
    (SYN_SENT, CLOSED): "CLOSE",
    (ESTABLISHED, FIN_WAIT_1): "CLOSE / snd FIN",
    (ESTABLISHED, CLOSE_WAIT): "rcv FIN / snd ACK",
    (FIN_WAIT_1, FIN_WAIT_2): "rcv ACK of FIN",
    (FIN_WAIT_1, CLOSING): "rcv FIN / snd ACK",
    (FIN_WAIT_2, TIME_WAIT): "rcv FIN / snd ACK",
    (CLOSING, TIME_WAIT): "rcv ACK of FIN",
    (CLOSE_WAIT, LAST_ACK): "CLOSE / snd FIN",
    (LAST_ACK, CLOSED): "rcv ACK of FIN",
    (TIME_WAIT, CLOSED): "Timeout=2MSL",
}
#: Resets are not drawn in Figure 5 (§3.10.7.4 "RST bit"): a synchronized connection that
#: receives an acceptable RST is aborted to CLOSED. Kept apart so the tests can tell them.
RESET_TRANSITIONS = frozenset((s, CLOSED) for s in (SYN_SENT, SYN_RECEIVED, *SYNCHRONIZED))

ETH_HEADER, ETH_FCS, IP_HEADER, TCP_HEADER, MSS_OPTION = 14, 4, 20, 20, 4
G_MS = 1.0  # RFC 6298's clock granularity G
RTO_MIN_MS, RTO_MAX_MS, RTO_INITIAL_MS = 1000.0, 60000.0, 1000.0
DELAYED_ACK_MS = 200.0
READ_TICK_MS = 100.0
#: A charted series keeps its latest SERIES_POINTS to SERIES_POINTS + SERIES_TRIM points (a
#: frame's bytes are budgeted).
SERIES_POINTS, SERIES_TRIM = 30, 10
FLAG_BITS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10}
FLAG_ORDER = ("SYN", "FIN", "RST", "PSH", "ACK")

HOSTS = {  # documentation addresses (RFC 5737) and locally administered MACs
    "client": ("192.0.2.10", "02:00:00:00:00:0a"),
    "client2": ("192.0.2.11", "02:00:00:00:00:0b"),
    "server": ("198.51.100.20", "02:00:00:00:00:14"),
    "router": ("203.0.113.1", "02:00:00:00:00:01"),
}

_PATTERN = bytes((i * 37 + 11) % 251 for i in range(251))


def bulk(n: int, tag: bytes = b"") -> bytes:
    """`n` bytes of a deterministic file (a header line, then a byte pattern)."""
    head = tag[:n]
    rest = n - len(head)
    return head + (_PATTERN * (rest // 251 + 1))[:rest]


def initial_window(mss: int, rule: str) -> int:
    """IW in bytes: RFC 5681 §3.1 equation (1), or RFC 6928 §2's min(10*MSS, max(2*MSS, 14600))."""
    if rule == "rfc6928":
        return min(10 * mss, max(2 * mss, 14600))
    if mss > 2190:
        return 2 * mss
    if mss > 1095:
        return 3 * mss
    return 4 * mss


def inet_checksum(data: bytes) -> int:
    """The 16-bit ones' complement of the ones' complement sum (RFC 1071), as TCP uses it."""
    if len(data) % 2:
        data += b"\0"
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    if sys.byteorder == "little":
        total = ((total & 0xFF) << 8) | (total >> 8)
    return (~total) & 0xFFFF


def _ip_bytes(ip: str) -> bytes:
    return bytes(int(p) for p in ip.split("."))


_IP = {host: _ip_bytes(ip) for host, (ip, _) in HOSTS.items()}


# --------------------------------------------------------------------------- params and actions

Scenario = Literal["handshake", "simultaneous", "old_duplicate_syn", "transfer", "http", "smtp", "ftp",
                   "streaming", "fairness"]


class TcpParams(Params):
    scenario: Scenario = Field(
        "handshake", title="Scenario",
        description=(
            "handshake: open, 14 bytes, close (Figures 6 and 12). simultaneous: both ends open and close at "
            "once (Figures 7 and 13). old_duplicate_syn: an old SYN arrives first (Figure 8). transfer: the "
            "client sends a file of `data_bytes`. http, smtp, ftp, streaming: each protocol's exchange over "
            "TCP. fairness: two flows share one bottleneck router."
        ),
    )
    mss: int = Field(1460, ge=100, le=4000, title="MSS (bytes)", description="Sender maximum segment size (SMSS).")
    initial_window: Literal["rfc5681", "rfc6928"] = Field(
        "rfc5681", title="Initial window",
        description="rfc5681: 2 to 4 segments by MSS (§3.1). rfc6928: up to 10 segments, 14,600 bytes.")
    initial_ssthresh: int = Field(
        65535, ge=1000, le=1_000_000, title="Initial ssthresh (bytes)",
        description="RFC 5681: 'arbitrarily high', e.g. the largest advertised window (65,535 bytes).")
    one_way_latency_ms: int = Field(20, ge=1, le=500, title="One-way latency (ms)")
    jitter_ms: int = Field(0, ge=0, le=200, title="Jitter (ms)",
                           description="Extra random delay per segment, 0 to this; 0 gives a fixed RTT.")
    loss_rate: float = Field(0.0, ge=0.0, le=0.5, title="Loss rate", description="Chance each segment is lost.")
    isn_client: int = Field(100, ge=0, le=4_000_000_000, title="Client ISN")
    isn_server: int = Field(300, ge=0, le=4_000_000_000, title="Server ISN")
    msl_s: float = Field(120.0, ge=0.1, le=240.0, title="MSL (s)",
                         description="Maximum segment lifetime; TIME-WAIT lasts 2 MSL (RFC 9293: 2 minutes).")
    data_bytes: int = Field(16384, ge=1, le=200_000, title="File size (bytes)",
                            description="What the client sends in the transfer scenario.")
    rcv_buffer: int = Field(65535, ge=500, le=65535, title="Receive buffer (bytes)")
    read_bytes_per_s: int = Field(0, ge=0, le=10_000_000, title="Receiving app reads (bytes/s)",
                                  description="0: the receiving application reads at once; else this fast.")
    delayed_ack: bool = Field(False, title="Delayed ACKs", description="ACK every second segment or after 200 ms.")
    link_kbps: int = Field(2000, ge=100, le=1_000_000, title="Link rate (kbit/s)",
                           description="Each host's link: a frame takes its size over this rate to send, so "
                                       "segments sent together leave one after another.")
    bottleneck_kbps: int = Field(1000, ge=100, le=100_000, title="Bottleneck (kbit/s)",
                                 description="fairness: the router's outgoing link rate.")
    queue_packets: int = Field(8, ge=1, le=100, title="Router queue (packets)",
                               description="fairness: the router's drop-tail queue.")
    frame_ms: int = Field(0, ge=0, le=1000, title="Frame every (ms)",
                          description="0: one frame per event; else all events of that much time in one frame.")


Side = Literal["client", "server"]
#: Which connection: 2 exists only in the scenarios with two (fairness, ftp). An int with the
#: choices in its schema (so the panel offers them and narrows them per scenario), that a
#: form's "1" still validates as.
Flow = Annotated[int, Field(ge=1, le=2, json_schema_extra={"enum": [1, 2]})]
TWO_FLOWS = ("fairness", "ftp")


class Close(Action):
    """The application on one end closes (sends FIN when its data is sent)."""

    type: Literal["close"] = "close"
    side: Side = Field("client", title="End")
    flow: Flow = Field(1, title="Connection")


class Send(Action):
    """The application on one end writes some bytes."""

    type: Literal["send"] = "send"
    side: Side = Field("client", title="End")
    flow: Flow = Field(1, title="Connection")
    bytes: int = Field(1000, ge=1, le=100_000, title="Bytes")


class Drop(Action):
    """Lose one segment now on the wire (by its number), or the next one an end sends (0)."""

    type: Literal["drop"] = "drop"
    segment: int = Field(0, ge=0, le=1_000_000, title="Segment", description="0: the next one sent by `side`.")
    side: Side = Field("client", title="Sent by", description="With segment 0: whose next segment.")
    flow: Flow = Field(1, title="Connection")


class Corrupt(Action):
    """Flip one bit of a segment on the wire (0: of the next one `side` sends)."""

    type: Literal["corrupt"] = "corrupt"
    segment: int = Field(0, ge=0, le=1_000_000, title="Segment")
    side: Side = Field("client", title="Sent by")
    flow: Flow = Field(1, title="Connection")


class Delay(Action):
    """Hold a segment on the wire longer, so later ones overtake it (reordering)."""

    type: Literal["delay"] = "delay"
    segment: int = Field(0, ge=0, le=1_000_000, title="Segment")
    side: Side = Field("client", title="Sent by")
    flow: Flow = Field(1, title="Connection")
    ms: int = Field(60, ge=1, le=5000, title="Extra delay (ms)")


class Duplicate(Action):
    """The network delivers a segment twice (the copy a little later)."""

    type: Literal["duplicate"] = "duplicate"
    segment: int = Field(0, ge=0, le=1_000_000, title="Segment")
    side: Side = Field("client", title="Sent by")
    flow: Flow = Field(1, title="Connection")


class SetLoss(Action):
    type: Literal["set_loss"] = "set_loss"
    rate: float = Field(0.1, ge=0.0, le=0.5, title="Loss rate")


class Inspect(Action):
    """Open a segment on the wire: its frame, packet and segment headers, layer by layer."""

    type: Literal["inspect"] = "inspect"
    segment: int = Field(ge=0, le=1_000_000, title="Segment", description="0: follow each segment sent, one at a time.")


TcpAction = Annotated[Union[Close, Send, Drop, Corrupt, Delay, Duplicate, SetLoss, Inspect], Field(discriminator="type")]


# --------------------------------------------------------------------------- entity kinds


class TimerState(TypedDict):
    kind: str  # "retransmission" | "persist" | "delayed ACK" | "TIME-WAIT"
    start: float
    deadline: float


class EndpointState(TypedDict):
    host: str
    port: int
    flow: int
    state: str
    snd_una: int
    snd_nxt: int
    rcv_nxt: int
    cwnd: int
    ssthresh: int
    rwnd: int
    flight_size: int
    srtt: float | None
    rttvar: float | None
    rto: float
    dupacks: int
    phase: str  # "slow start" | "congestion avoidance" | "fast recovery" | ""
    sent_bytes: int
    received_bytes: int
    unread: int
    peer_window: int
    timer: TimerState | None  # the endpoint's next timer to fire (ms, virtual)


class SegmentState(TypedDict):
    src: str
    dst: str
    seq: int
    ack: int
    flags: list[str]
    len: int
    window: int
    sent_at: float
    deliver_at: float
    retransmission: bool
    corrupted: bool
    fate: str  # "in_flight" | "will_drop" | "queue_drop"
    layers: dict[str, int]
    via: str | None
    router_at: float | None
    router_out: float | None
    inspected: bool
    probe: bool


class PacketState(TypedDict):
    segment: int
    where: str  # "on the wire" | "delivered" | "lost" | "discarded"
    chosen: bool
    layers: list[dict[str, Any]]
    payload: str


class SeriesState(TypedDict):
    name: str
    points: list[list[float]]


class MarkState(TypedDict):
    t: float
    label: str


class RouterState(TypedDict):
    queue: int
    limit: int
    drops: int
    rate_kbps: int


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class Seg:
    id: int
    src: str
    dst: str
    seq: int
    ack: int
    flags: tuple[str, ...]
    data: bytes
    window: int
    mss_opt: int | None
    sent_at: float
    deliver_at: float
    retransmission: bool
    checksum: int
    qseq: int = 0
    fate: str = "in_flight"
    lost_by: str = ""
    bitflip: int | None = None
    probe: bool = False
    via: str | None = None
    router_at: float | None = None
    router_out: float | None = None
    copy_of: int = 0

    @property
    def seg_len(self) -> int:
        """SEG.LEN: data plus one for SYN and one for FIN (RFC 9293 §3.4)."""
        return len(self.data) + ("SYN" in self.flags) + ("FIN" in self.flags)


@dataclass(slots=True)
class TCB:
    id: str
    host: str
    port: int
    peer: str
    flow: int
    passive: bool
    iss: int
    mss: int
    rcv_buf: int
    state: str = CLOSED
    irs: int = 0
    snd_una: int = 0
    snd_nxt: int = 0
    snd_max: int = 0
    snd_wnd: int = 0
    snd_wl1: int = 0
    snd_wl2: int = 0
    rcv_nxt: int = 0
    rcv_adv: int = 0  # the right edge last advertised
    out: bytearray = field(default_factory=bytearray)
    fin_wanted: bool = False
    fin_seq: int | None = None
    peer_fin_seq: int | None = None
    received: bytearray = field(default_factory=bytearray)
    unread: int = 0
    ooo: dict[int, bytes] = field(default_factory=dict)
    cwnd: int = 0
    ssthresh: int = 0
    dupacks: int = 0
    in_recovery: bool = False
    srtt: float | None = None
    rttvar: float | None = None
    rto: float = RTO_INITIAL_MS
    rtt_seq: int | None = None  # the segment being timed ends here
    rtt_time: float = 0.0
    timeout_seq: int | None = None  # snd_una at the last timeout (ssthresh held on a repeat)
    syn_lost: bool = False
    ack_pending: int = 0
    persist_backoff: int = 0
    last_window_seen: int = -1
    close_on_eof: bool = True
    peer_mss: int = 536


@dataclass(slots=True)
class Step:
    """One step of an application script: `kind` on connection `flow` by `side`."""

    kind: str  # "open" | "open_both" | "send" | "close" | "close_both" | "wait"
    flow: int = 1
    side: str = "client"
    data: bytes = b""
    note: str = ""
    ms: float = 0.0


_FLAG_WORDS: dict[tuple[str, ...], str] = {}


def _flags_words(flags: tuple[str, ...]) -> str:
    words = _FLAG_WORDS.get(flags)
    if words is None:
        words = _FLAG_WORDS[flags] = ",".join(flags)
    return words


def _seg_words(seg: Seg) -> str:
    """The RFC's own notation: <SEQ=100><ACK=301><CTL=SYN,ACK>."""
    s = f"<SEQ={seg.seq}>"
    if "ACK" in seg.flags:
        s += f"<ACK={seg.ack}>"
    s += f"<CTL={_flags_words(seg.flags)}>"
    if seg.data:
        s += f"<DATA {len(seg.data)}>"
    return s


def _bytes_words(n: int) -> str:
    return f"{n:,} byte{'s' if n != 1 else ''}"


def _ms_words(ms: float) -> str:
    if ms >= 10000:
        return f"{ms / 1000:g} s"
    return f"{ms:,.0f} ms" if abs(ms - round(ms)) < 0.05 else f"{ms:,.1f} ms"


# --------------------------------------------------------------------------- the engine


class TcpEngine(Engine):
    slug = "tcp"
    topic_slug = "tcp-ip-model"
    title = "TCP/IP: connections, reliability and congestion control"
    description = (
        "Two hosts talk TCP over IP over Ethernet, segment by segment: the three-way handshake and the close "
        "of RFC 9293, sequence numbers and cumulative ACKs, the receiver's window, checksums, retransmission "
        "timeouts by RFC 6298 and congestion control by RFC 5681. Drop, corrupt, delay or duplicate any "
        "segment, and open one to see its headers layer by layer."
    )
    Params = TcpParams
    Action = TcpAction
    time_unit = "ms"
    max_steps = 2000
    entity_kinds = {
        "endpoint": EndpointState,
        "segment": SegmentState,
        "packet": PacketState,
        "router": RouterState,
        "series": SeriesState,
        "mark": MarkState,
    }
    metrics = {
        "time_ms": "Virtual time in milliseconds.",
        "client_state": "The client's RFC 9293 state (connection 1).",
        "server_state": "The server's RFC 9293 state (connection 1).",
        "cwnd": "The data sender's congestion window (bytes, connection 1).",
        "ssthresh": "The data sender's slow-start threshold (bytes).",
        "flight_size": "Bytes sent and not yet acknowledged (SND.NXT - SND.UNA).",
        "rto_ms": "The data sender's retransmission timeout (ms).",
        "delivered_bytes": "Bytes the receiving applications got, in order, over every connection.",
        "retransmissions": "Segments sent again.",
        "lost": "Segments lost on the wire or dropped by the router.",
        "discarded": "Segments discarded by the receiver's checksum test.",
        "in_order_exactly_once": "Every byte reached the application once and in order: ok or violated.",
    }
    presets = ()

    @classmethod
    def action_choices(cls, params: Any) -> dict[str, tuple[Any, ...]]:
        """Connection 2 is offered only where there is one (the panel's buttons)."""
        return {} if params.scenario in TWO_FLOWS else {"flow": (1,)}

    # -- set-up -------------------------------------------------------------------------

    def reset(self) -> Frame:
        p: TcpParams = self.params  # type: ignore[assignment]
        self.sched = Scheduler()
        self.index = 0
        self.loss_rate = p.loss_rate
        self.segs: dict[int, Seg] = {}
        self.next_seg = 0
        self.tcbs: dict[str, TCB] = {}
        self.flows: dict[int, tuple[str, str]] = {}
        self.armed: dict[tuple[str, str], list[tuple[str, float]]] = {}
        self.inspected = 0
        self.chosen = False
        self.last_packet: tuple[int, str] = (0, "")
        self.packet_cache: dict[str, Any] | None = None
        self.transitions: list[tuple[str, str, str, float]] = []  # (endpoint, from, to, time)
        #: Every segment sent: (time, sender, sender's state, seq, ack, flags, data length); the last 300 or so.
        self.log: list[tuple[float, str, str, int, int, tuple[str, ...], int]] = []
        self.seg_cache: dict[int, Entity] = {}
        self.seg_dirty: set[int] = set()
        self.ep_cache: dict[str, tuple[tuple, Entity]] = {}
        self.series_version: dict[str, int] = {}
        self.series_cache: dict[str, tuple[int, Entity]] = {}
        self.marks_cache: tuple[int, tuple[Entity, ...]] = (-1, ())
        self.counts = {"retransmissions": 0, "lost": 0, "discarded": 0}
        self.violation = ""
        self.series: dict[str, list[list[float]]] = {}
        self.marks: list[tuple[float, str]] = []
        self.pending: list[str] = []
        self.pending_events: list[Event] = []
        self.router_departures: list[float] = []
        self.iface_free: dict[str, float] = {}  # host -> when its link is free to send the next frame
        self.router_drops = 0
        self.fairness = p.scenario == "fairness"
        self.bottleneck = p.bottleneck_kbps / 8.0  # bytes per ms
        self.scripts: list[list[Step]] = []
        self.script_pos: list[int] = []
        self.script_wait: list[bool] = []
        self.old_syn = False
        intro = self._setup(p)
        # The chart follows the ends that send bulk data (three segments or more by the script).
        planned: dict[str, int] = {}
        for steps in self.scripts:
            for st in steps:
                if st.kind == "send":
                    tid = self._tcb(st.flow, st.side).id
                    planned[tid] = planned.get(tid, 0) + len(st.data)
        self.charted = {tid for tid, n in planned.items() if n >= 3 * self.tcbs[tid].mss}
        self.chart_single = len(self.charted) == 1
        for i in range(len(self.scripts)):
            self._advance_script(i, initial=True)
        self._record_series()
        return self._frame(intro, [])

    def _endpoint_pair(self, flow: int, cport: int, sport: int, chost: str = "client") -> tuple[TCB, TCB]:
        p: TcpParams = self.params  # type: ignore[assignment]
        cid, sid = f"{chost}:{cport}", f"server:{sport}"
        c_isn = p.isn_client + (flow - 1) * 1000
        s_isn = p.isn_server + (flow - 1) * 1000
        c = TCB(cid, chost, cport, sid, flow, False, c_isn, p.mss, p.rcv_buffer)
        s = TCB(sid, "server", sport, cid, flow, True, s_isn, p.mss, p.rcv_buffer)
        for t in (c, s):
            t.ssthresh = p.initial_ssthresh
            t.snd_una = t.snd_nxt = t.snd_max = t.iss
        self.tcbs[cid] = c
        self.tcbs[sid] = s
        self.flows[flow] = (cid, sid)
        return c, s

    def _setup(self, p: TcpParams) -> str:
        sc = p.scenario
        msl = p.msl_s
        msl_words = (f"MSL is {msl:g} s here (RFC 9293's is 2 minutes), so TIME-WAIT lasts {2 * msl:g} s"
                     if msl != 120 else "MSL is RFC 9293's 2 minutes, so TIME-WAIT lasts 4 minutes")
        if sc == "fairness":
            self._endpoint_pair(1, 49152, 5001)
            self._endpoint_pair(2, 49153, 5002, chost="client2")
            data = bulk(p.data_bytes, b"flow 1\n")
            data2 = bulk(p.data_bytes, b"flow 2\n")
            self._listen(1)
            self._listen(2)
            self.scripts = [
                [Step("open", 1), Step("send", 1, "client", data), Step("close", 1)],
                [Step("wait", 2, ms=500.0), Step("open", 2), Step("send", 2, "client", data2), Step("close", 2)],
            ]
            return (f"Two clients send {_bytes_words(p.data_bytes)} each to one server through a router whose "
                    f"outgoing link carries {p.bottleneck_kbps:,} kbit/s and queues {p.queue_packets} packets, "
                    f"dropping any that arrive to a full queue. Connection 2 starts 0.5 s after connection 1. {msl_words}.")
        c, s = self._endpoint_pair(1, 49152, {"http": 80, "smtp": 25, "ftp": 21, "streaming": 443}.get(sc, 5001))
        if sc == "simultaneous":
            s.passive = False
            self.scripts = [[Step("open_both"), Step("close_both")]]
            return (f"Both ends open actively at the same moment, as in RFC 9293 Figure 7 (ISNs {c.iss} and "
                    f"{s.iss}), and later both close at once (Figure 13). {msl_words}.")
        self._listen(1)
        if sc == "handshake":
            self.scripts = [[Step("open"), Step("send", 1, "client", b"Hello, server!"), Step("close")]]
            return (f"The server listens on port {s.port}. The client will open a connection (RFC 9293 Figure 6: "
                    f"its ISN is {c.iss}, the server's {s.iss}), send a 14-byte message down the four layers and "
                    f"close (Figure 12). {msl_words}.")
        if sc == "old_duplicate_syn":
            self.old_syn = True
            self.scripts = [[Step("open"), Step("send", 1, "client", b"Hello, server!"), Step("close")]]
            return (f"The server listens. An old duplicate SYN with SEQ={c.iss - 10}, from an earlier incarnation of "
                    f"this connection, is still in the network and will arrive before the client's SYN "
                    f"(SEQ={c.iss}): RFC 9293 Figure 8. {msl_words}.")
        if sc == "transfer":
            self.scripts = [[Step("open"), Step("send", 1, "client", bulk(p.data_bytes, b"file.bin\n")), Step("close")]]
            return (f"The client will open a connection and send a {_bytes_words(p.data_bytes)} file in segments of "
                    f"up to {p.mss:,} bytes, then close. {msl_words}.")
        if sc == "http":
            body = bulk(6000, b"<!doctype html><title>Example</title>\n")
            resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6000\r\nConnection: close\r\n\r\n"
                    + body)
            req = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
            s.close_on_eof = True
            self.scripts = [[Step("open", note="The browser opens a TCP connection to port 80."),
                             Step("send", 1, "client", req, "The browser sends its HTTP request: GET / HTTP/1.1."),
                             Step("send", 1, "server", resp, "The web server answers 200 OK with a 6,000-byte page."),
                             Step("close", 1, "server", note="With Connection: close the server closes first, so "
                                                              "it is the server that waits in TIME-WAIT.")]]
            return (f"A browser fetches http://example.com/ over TCP: the server listens on port 80. {msl_words}.")
        if sc == "smtp":
            lines = [
                ("server", "220 mail.example.org ESMTP ready"), ("client", "EHLO client.example.com"),
                ("server", "250 mail.example.org"), ("client", "MAIL FROM:<alice@example.com>"),
                ("server", "250 OK"), ("client", "RCPT TO:<bob@example.org>"), ("server", "250 OK"),
                ("client", "DATA"), ("server", "354 End data with <CR><LF>.<CR><LF>"),
                ("client", "Subject: Hello\r\n\r\nHi Bob!\r\n."), ("server", "250 OK: queued"),
                ("client", "QUIT"), ("server", "221 Bye"),
            ]
            steps = [Step("open", note="The mail client opens a TCP connection to the server's port 25.")]
            for side, line in lines:
                steps.append(Step("send", 1, side, (line + "\r\n").encode(), f"{'Server' if side == 'server' else 'Client'}: {line.splitlines()[0]}"))
            steps.append(Step("close", 1, "server", note="After 221 the server closes the connection."))
            self.scripts = [steps]
            return f"An SMTP session (RFC 5321) over TCP: each command waits for the reply before it. {msl_words}."
        if sc == "ftp":
            self._endpoint_pair(2, 49153, 20)
            d_c, d_s = self.tcbs["client:49153"], self.tcbs["server:20"]
            d_s.passive = False  # active-mode FTP: the server opens the data connection from port 20
            d_c.passive = True
            f = bulk(8000, b"report.txt\n")
            ctl = [("server", "220 ftp.example.org FTP server ready"), ("client", "USER anonymous"),
                   ("server", "331 Please specify the password."), ("client", "PASS guest"),
                   ("server", "230 Login successful."), ("client", "PORT 192,0,2,10,192,1"),
                   ("server", "200 PORT command successful."), ("client", "RETR report.txt"),
                   ("server", "150 Opening data connection for report.txt (8000 bytes).")]
            steps = [Step("open", note="The FTP client opens the control connection to port 21.")]
            for side, line in ctl:
                steps.append(Step("send", 1, side, (line + "\r\n").encode(), f"Control: {line}"))
            steps += [Step("listen", 2, "client", note="The client listens on port 49153 for the data connection."),
                      Step("open", 2, "server", note="The server opens the data connection from port 20 to the "
                                                       "port the client named in PORT (192*256+1 = 49153)."),
                      Step("send", 2, "server", f, "The file travels on the data connection, not the control one."),
                      Step("close", 2, "server", note="The server closes the data connection: end of file."),
                      Step("send", 1, "server", b"226 Transfer complete.\r\n", "Control: 226 Transfer complete."),
                      Step("send", 1, "client", b"QUIT\r\n", "Control: QUIT"),
                      Step("send", 1, "server", b"221 Goodbye.\r\n", "Control: 221 Goodbye."),
                      Step("close", 1, "server", note="The server closes the control connection.")]
            self.scripts = [steps]
            return ("FTP (RFC 959) uses two TCP connections: commands and replies on a control connection to port 21, "
                    f"and the file on a separate data connection. {msl_words}.")
        if sc == "streaming":
            steps = [Step("open", note="The video player opens a connection to the streaming server.")]
            for i in (1, 2, 3):
                req = f"GET /video/seg-{i}.m4s HTTP/1.1\r\nHost: cdn.example.com\r\n\r\n".encode()
                body = bulk(12000, f"seg-{i}\n".encode())
                resp = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                steps.append(Step("send", 1, "client", req, f"The player asks for video segment {i} (2 s of video)."))
                steps.append(Step("send", 1, "server", resp, f"The server streams segment {i}, 12,000 bytes."))
            steps.append(Step("close", 1, "client", note="The viewer stops: the player closes the connection."))
            self.scripts = [steps]
            return ("A video player fetches three 2-second segments over HTTP on TCP (as DASH and HLS do), on a path "
                    f"that loses {self.loss_rate:.0%} of segments: TCP repairs every loss, at the cost of delay. {msl_words}.")
        raise ValueError(sc)  # pragma: no cover

    def _listen(self, flow: int) -> None:
        s = self.tcbs[self.flows[flow][1]]
        self._to(s, LISTEN)

    # -- the contract --------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return not self.pending and self.sched.peek_time() is None

    def step(self) -> Frame:
        events: list[Event] = []
        if self.pending:
            narration = " ".join(self.pending)
            events = self.pending_events
            self.pending, self.pending_events = [], []
            self.index += 1
            return self._frame(narration, events)
        p: TcpParams = self.params  # type: ignore[assignment]
        occ = self.sched.pop()
        if occ is None:
            self.index += 1
            return self._frame("Every connection is closed and nothing is on the wire: the run is over.", events)
        texts = [self._occur(occ, events)]
        if p.frame_ms:
            until = occ.time + p.frame_ms
            while (t := self.sched.peek_time()) is not None and t <= until:
                texts.append(self._occur(self.sched.pop(), events))
            texts = [t for t in texts if t]
            if len(texts) > 2:
                narration = f"{texts[0]} ... and {len(texts) - 1} more events up to {_ms_words(self.sched.now)}: {texts[-1]}"
            else:
                narration = " ".join(texts)
        else:
            narration = texts[0]
        self._record_series()
        self.index += 1
        return self._frame(narration or "Nothing visible happens.", events)

    def _occur(self, occ: Any, events: list[Event]) -> str:
        if occ.kind == "seg":
            seg = self.segs.pop(occ.ref)
            self.seg_cache.pop(seg.id, None)
            return self._arrive(seg, events)
        if occ.kind == "timer":
            t = occ.timer
            tcb = self.tcbs[t.owner]
            return getattr(self, "_timer_" + t.kind)(tcb, events)
        if occ.kind == "app":
            return self._run_script_step(int(occ.ref), events)
        raise ValueError(occ.kind)  # pragma: no cover

    # -- state changes -------------------------------------------------------------------

    def _to(self, tcb: TCB, state: str) -> None:
        key = (tcb.state, state)
        if key not in FIGURE5 and key not in RESET_TRANSITIONS:
            raise AssertionError(f"{tcb.id}: {tcb.state} -> {state} is not in RFC 9293 Figure 5")
        self.transitions.append((tcb.id, tcb.state, state, self.sched.now))
        tcb.state = state
        if state == CLOSED:
            for k in ("rto", "persist", "dack", "tw", "read"):
                self.sched.cancel_timer(f"{k}:{tcb.id}")

    # -- sending -----------------------------------------------------------------------

    def _window(self, tcb: TCB) -> int:
        """The receive window to advertise: the free room in the receive buffer."""
        return max(0, tcb.rcv_buf - tcb.unread)

    def _emit(self, tcb: TCB, seq: int, flags: tuple[str, ...], data: bytes = b"", *, retrans: bool = False,
              ack: int | None = None, probe: bool = False) -> Seg:
        p: TcpParams = self.params  # type: ignore[assignment]
        peer = self.tcbs[tcb.peer]
        if ack is None:
            ack = tcb.rcv_nxt if "ACK" in flags else 0
        window = min(self._window(tcb), 65535) if tcb.state != CLOSED else 0
        if "ACK" in flags:
            tcb.rcv_adv = max(tcb.rcv_adv, tcb.rcv_nxt + window)
            tcb.ack_pending = 0
            self.sched.cancel_timer(f"dack:{tcb.id}")
        mss_opt = tcb.mss if "SYN" in flags else None
        flags = tuple(f for f in FLAG_ORDER if f in flags)
        if data and "PSH" not in flags:
            flags = tuple(f for f in FLAG_ORDER if f in (*flags, "PSH"))
        self.next_seg += 1
        now = self.sched.now
        # latency, then loss: one draw each, in that order
        delay = float(p.one_way_latency_ms)
        if p.jitter_ms:
            delay += round(p.jitter_ms * self.rng.random(), 3)
        lost = self.loss_rate > 0 and self.rng.random() < self.loss_rate
        seg = Seg(self.next_seg, tcb.id, tcb.peer, seq, ack, flags, bytes(data), window, mss_opt, now, 0.0, retrans, -1,
                  probe=probe)
        if lost:
            seg.fate, seg.lost_by = "will_drop", "loss"
        armed = self.armed.get((tcb.id, peer.id))
        if armed:
            fault, ms = armed.pop(0)
            if not armed:
                del self.armed[(tcb.id, peer.id)]
            if fault == "drop":
                seg.fate, seg.lost_by = "will_drop", seg.lost_by or "learner"
            elif fault == "corrupt":
                seg.bitflip = self._flip_bit(seg)
            else:
                delay += ms
        # Serialization on the sender's link: frames leave one after another.
        size = len(seg.data) + TCP_HEADER + (MSS_OPTION if mss_opt else 0) + IP_HEADER + ETH_HEADER + ETH_FCS
        free = max(now, self.iface_free.get(tcb.host, 0.0))
        done_at = round(free + size * 8 / p.link_kbps, 3)
        self.iface_free[tcb.host] = done_at
        delay += done_at - now
        seg.sent_at = round(free, 3)  # its first bit goes on the wire when the link is free
        if self.fairness:
            delay = self._via_router(seg, tcb, delay)
        seg.deliver_at = round(now + delay, 3)
        seg.qseq = self.sched.schedule(seg.deliver_at, "seg", seg.id)
        self.segs[seg.id] = seg
        if retrans:
            self.counts["retransmissions"] += 1
        end = seq + seg.seg_len
        if end > tcb.snd_max:
            tcb.snd_max = end
        if seg.seg_len and not probe and not self.sched.timer(f"rto:{tcb.id}"):
            self.sched.set_timer(f"rto:{tcb.id}", tcb.rto, owner=tcb.id, kind="rto")  # RFC 6298 §5.1
        if seg.seg_len and not retrans and not probe and tcb.rtt_seq is None and end > tcb.snd_una:
            tcb.rtt_seq, tcb.rtt_time = end, now  # time this one (one at a time: Karn)
        if not self.chosen and self.inspected not in self.segs:
            # Unless the learner chose one, the layers box shows a segment for its whole flight,
            # then the next one sent.
            self.seg_dirty.add(self.inspected)
            self.inspected = seg.id
        self.log.append((now, tcb.id, tcb.state, seq, ack, flags, len(seg.data)))
        if len(self.log) > 400:
            del self.log[:100]
        return seg

    def _via_router(self, seg: Seg, tcb: TCB, delay: float) -> float:
        """Data from a client crosses the router's drop-tail queue and its slower outgoing link."""
        p: TcpParams = self.params  # type: ignore[assignment]
        seg.via = "router"
        if tcb.host == "server":
            return delay
        half = delay / 2
        arrive = round(seg.sent_at + half, 3)
        deps = self.router_departures
        while deps and deps[0] <= arrive:
            deps.pop(0)
        seg.router_at = arrive
        size = len(seg.data) + TCP_HEADER + IP_HEADER + ETH_HEADER + ETH_FCS
        if len(deps) >= p.queue_packets:
            seg.fate, seg.lost_by = "queue_drop", "router"
            seg.router_out = None
            return half
        start = max(arrive, deps[-1] if deps else arrive)
        out = round(start + size / self.bottleneck, 3)
        deps.append(out)
        seg.router_out = out
        return out - seg.sent_at + half

    def _flip_bit(self, seg: Seg) -> int:
        n = (TCP_HEADER + len(seg.data)) * 8
        return self.rng.randrange(n) if n else 0

    def _header_bytes(self, seg: Seg, checksum: int = 0) -> bytes:
        src, dst = self.tcbs[seg.src], self.tcbs[seg.dst]
        bits = 0
        for f in seg.flags:
            bits |= FLAG_BITS[f]
        opts = struct.pack("!BBH", 2, 4, seg.mss_opt) if seg.mss_opt else b""
        offset = (TCP_HEADER + len(opts)) // 4
        return struct.pack("!HHIIBBHHH", src.port, dst.port, seg.seq % 2**32, seg.ack % 2**32, offset << 4, bits,
                           seg.window, checksum, 0) + opts

    def _sum(self, seg: Seg) -> int:
        """The checksum the sender put in the segment (computed when first needed: by the
        receiver of a corrupted segment, or to show it)."""
        if seg.checksum < 0:
            seg.checksum = self._checksum(seg)
        return seg.checksum

    def _checksum(self, seg: Seg, flip: int | None = None) -> int:
        src, dst = self.tcbs[seg.src], self.tcbs[seg.dst]
        body = self._header_bytes(seg) + seg.data
        if flip is not None:
            b = bytearray(body)
            b[flip // 8] ^= 0x80 >> (flip % 8)
            body = bytes(b)
        pseudo = _IP[src.host] + _IP[dst.host] + struct.pack("!BBH", 0, 6, len(body))
        return inet_checksum(pseudo + body)

    def _send_ack(self, tcb: TCB) -> Seg:
        return self._emit(tcb, tcb.snd_nxt, ("ACK",))

    def _output(self, tcb: TCB) -> list[Seg]:
        """Send what the windows allow: data from SND.NXT, then the FIN once every byte is sent."""
        if tcb.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK):
            return []
        sent: list[Seg] = []
        base = tcb.iss + 1
        data_end = base + len(tcb.out)
        while True:
            flight = tcb.snd_nxt - tcb.snd_una
            usable = min(tcb.cwnd, tcb.snd_wnd) - flight
            avail = data_end - tcb.snd_nxt
            if avail > 0:
                n = min(avail, tcb.mss, usable)
                if n <= 0:
                    break
                # Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a full segment, all that is left, or
                # nothing else in flight.
                if n < min(tcb.mss, avail) and flight > 0:
                    break
                off = tcb.snd_nxt - base
                retrans = tcb.snd_nxt < tcb.snd_max
                sent.append(self._emit(tcb, tcb.snd_nxt, ("ACK",), bytes(tcb.out[off:off + n]), retrans=retrans))
                tcb.snd_nxt += n
                continue
            if tcb.fin_wanted and tcb.snd_nxt == data_end and (tcb.fin_seq is None or tcb.snd_nxt == tcb.fin_seq):
                retrans = tcb.fin_seq is not None
                tcb.fin_seq = tcb.snd_nxt
                if tcb.state == ESTABLISHED:
                    self._to(tcb, FIN_WAIT_1)
                elif tcb.state == CLOSE_WAIT:
                    self._to(tcb, LAST_ACK)
                sent.append(self._emit(tcb, tcb.snd_nxt, ("FIN", "ACK"), retrans=retrans))
                tcb.snd_nxt += 1
            break
        if (data_end > tcb.snd_nxt and tcb.snd_wnd == 0 and tcb.snd_nxt == tcb.snd_una
                and not self.sched.timer(f"persist:{tcb.id}")):
            delay = min(tcb.rto * (2 ** tcb.persist_backoff), RTO_MAX_MS)
            self.sched.set_timer(f"persist:{tcb.id}", delay, owner=tcb.id, kind="persist")
        return sent

    # -- timers ----------------------------------------------------------------------------

    def _timer_rto(self, tcb: TCB, events: list[Event]) -> str:
        """RFC 6298 §5.4-5.6 and RFC 5681 §3.1 on a timeout."""
        p: TcpParams = self.params  # type: ignore[assignment]
        if tcb.snd_una >= tcb.snd_max:
            return f"{tcb.id}'s retransmission timer expires with nothing outstanding."
        smss = tcb.mss
        flight = tcb.snd_max - tcb.snd_una
        old_rto = tcb.rto
        tcb.rto = min(tcb.rto * 2, RTO_MAX_MS)  # §5.5: back off
        tcb.rtt_seq = None  # Karn: the timed segment may be retransmitted
        events.append(Event("timeout", f"{tcb.id}: RTO {_ms_words(old_rto)} expired at SND.UNA={tcb.snd_una}.",
                            actor=tcb.id, severity="warn"))
        if tcb.state in (SYN_SENT, SYN_RECEIVED):
            tcb.syn_lost = True
            flags = ("SYN",) if tcb.state == SYN_SENT else ("SYN", "ACK")
            self._emit(tcb, tcb.iss, flags, retrans=True)
            self.sched.set_timer(f"rto:{tcb.id}", tcb.rto, owner=tcb.id, kind="rto")
            return (f"No answer to {tcb.id}'s {'SYN' if tcb.state == SYN_SENT else 'SYN,ACK'} within the RTO of "
                    f"{_ms_words(old_rto)}, so it sends it again and doubles the RTO to {_ms_words(tcb.rto)} "
                    "(RFC 6298 §5.5).")
        repeat = tcb.timeout_seq == tcb.snd_una
        data_sender = self._charted(tcb)
        if not repeat:
            tcb.ssthresh = max(flight // 2, 2 * smss)  # RFC 5681 equation (4)
        tcb.cwnd = smss  # the loss window
        tcb.in_recovery = False
        tcb.dupacks = 0
        tcb.timeout_seq = tcb.snd_una
        tcb.snd_nxt = tcb.snd_una  # go back to the first unacknowledged byte
        if data_sender:
            self.marks.append((self.sched.now, "timeout"))
        self.sched.cancel_timer(f"rto:{tcb.id}")
        sent = self._output(tcb)
        self.sched.set_timer(f"rto:{tcb.id}", tcb.rto, owner=tcb.id, kind="rto")
        what = f"{_seg_words(sent[0])}" if sent else "nothing"
        held = (f"ssthresh stays {tcb.ssthresh:,} (the same segment timed out again)" if repeat else
                f"ssthresh = max(FlightSize/2, 2·SMSS) = max({flight // 2:,}, {2 * smss:,}) = {tcb.ssthresh:,}")
        return (f"{tcb.id}'s retransmission timer expired after {_ms_words(old_rto)} with no ACK for SND.UNA="
                f"{tcb.snd_una}: it resends {what}, doubles the RTO to {_ms_words(tcb.rto)}; {held} and cwnd = 1 SMSS = "
                f"{smss:,} bytes (RFC 5681 §3.1).")

    def _timer_persist(self, tcb: TCB, events: list[Event]) -> str:
        base = tcb.iss + 1
        off = tcb.snd_nxt - base
        if tcb.snd_wnd > 0 or off >= len(tcb.out) or tcb.state not in (ESTABLISHED, CLOSE_WAIT):
            tcb.persist_backoff = 0
            return f"{tcb.id}'s persist timer expires, but the window is open again."
        seg = self._emit(tcb, tcb.snd_nxt, ("ACK",), bytes(tcb.out[off:off + 1]), probe=True)
        tcb.persist_backoff = min(tcb.persist_backoff + 1, 6)
        delay = min(tcb.rto * (2 ** tcb.persist_backoff), RTO_MAX_MS)
        self.sched.set_timer(f"persist:{tcb.id}", delay, owner=tcb.id, kind="persist")
        return (f"{tcb.peer} advertises a zero window, so {tcb.id} sends a one-byte zero-window probe "
                f"{_seg_words(seg)} (RFC 9293 §3.8.6.1); the next probe follows in {_ms_words(delay)} if the window "
                "stays shut.")

    def _timer_dack(self, tcb: TCB, events: list[Event]) -> str:
        if tcb.state in (CLOSED, LISTEN, SYN_SENT):
            return f"{tcb.id}'s delayed-ACK timer expires with nothing to acknowledge."
        seg = self._send_ack(tcb)
        return f"{tcb.id}'s delayed-ACK timer ({_ms_words(DELAYED_ACK_MS)}) expires, so it sends {_seg_words(seg)}."

    def _timer_tw(self, tcb: TCB, events: list[Event]) -> str:
        self._to(tcb, CLOSED)
        p: TcpParams = self.params  # type: ignore[assignment]
        events.append(Event("closed", f"{tcb.id} left TIME-WAIT.", actor=tcb.id, severity="success"))
        self._script_tick()
        return (f"{tcb.id} has waited 2 MSL ({2 * p.msl_s:g} s) in TIME-WAIT, long enough for any old duplicate of "
                "this connection to have died out, and deletes its TCB: CLOSED.")

    def _timer_read(self, tcb: TCB, events: list[Event]) -> str:
        p: TcpParams = self.params  # type: ignore[assignment]
        before = self._window(tcb)
        n = min(tcb.unread, max(1, int(p.read_bytes_per_s * READ_TICK_MS / 1000)))
        tcb.unread -= n
        after = self._window(tcb)
        if tcb.unread:
            self.sched.set_timer(f"read:{tcb.id}", READ_TICK_MS, owner=tcb.id, kind="read")
        text = f"The application on {tcb.id} reads {_bytes_words(n)}; its window grows from {before:,} to {after:,}."
        # Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): announce once the window grew enough.
        grown = tcb.rcv_nxt + after - tcb.rcv_adv
        if tcb.state in SYNCHRONIZED and grown >= min(tcb.rcv_buf // 2, tcb.mss) and tcb.state != TIME_WAIT:
            seg = self._send_ack(tcb)
            text += f" It sends a window update {_seg_words(seg)} with WND={seg.window:,}."
        return text

    # -- arrival (RFC 9293 §3.10.7) --------------------------------------------------------

    def _arrive(self, seg: Seg, events: list[Event]) -> str:
        tcb = self.tcbs[seg.dst]
        name = f"segment {seg.id} {_seg_words(seg)}"
        self.last_packet = (seg.id, "delivered")
        if seg.fate == "queue_drop":
            self.counts["lost"] += 1
            self.router_drops += 1
            self.last_packet = (seg.id, "lost")
            return f"The router's queue is full ({self.params.queue_packets} packets): it drops {name} (drop-tail)."
        if seg.fate == "will_drop":
            self.counts["lost"] += 1
            self.last_packet = (seg.id, "lost")
            events.append(Event("lost", f"Segment {seg.id} lost.", severity="warn"))
            by = "you dropped it" if seg.lost_by == "learner" else f"the path loses {self.loss_rate:.0%} of segments"
            return f"{name} from {seg.src} is lost on the way ({by}): {seg.dst} never sees it."
        if seg.bitflip is not None and self._checksum(seg, seg.bitflip) != self._sum(seg):
            self.counts["discarded"] += 1
            self.last_packet = (seg.id, "discarded")
            events.append(Event("checksum", f"Segment {seg.id} failed its checksum.", actor=tcb.id, severity="error"))
            return (f"{tcb.id} adds up {name}: the checksum does not match (one bit was flipped on the way), so it "
                    "discards the segment without acknowledging it. This is TCP's error checking; the correction "
                    "is the sender's retransmission.")
        before = tcb.state
        text = self._segment_arrives(tcb, seg, events)
        if tcb.state != before:
            text += f" {tcb.id}: {before} \u2192 {tcb.state}."
        self._script_tick()
        return text

    def _segment_arrives(self, tcb: TCB, seg: Seg, events: list[Event]) -> str:
        st = tcb.state
        name = _seg_words(seg)
        if st == CLOSED:
            if "RST" in seg.flags:
                return f"{tcb.id} is CLOSED and ignores the reset {name}."
            if "ACK" in seg.flags:
                r = self._emit_rst(tcb, seg.ack)
            else:
                r = self._emit(tcb, 0, ("RST", "ACK"), ack=seg.seq + seg.seg_len)
            return f"{tcb.id} is CLOSED: a segment for no connection, {name}, is answered by a reset {_seg_words(r)}."
        if st == LISTEN:
            if "RST" in seg.flags:
                return f"{tcb.id} is listening and ignores the reset {name}."
            if "ACK" in seg.flags:
                r = self._emit_rst(tcb, seg.ack)
                return f"{tcb.id} is listening: an ACK here is for no connection, so it answers {_seg_words(r)}."
            if "SYN" in seg.flags:
                tcb.irs = seg.seq
                tcb.rcv_nxt = seg.seq + 1
                self._peer_opts(tcb, seg)
                tcb.snd_wnd = seg.window
                tcb.snd_una = tcb.iss
                tcb.snd_nxt = tcb.iss
                self._to(tcb, SYN_RECEIVED)
                self._init_cwnd(tcb)
                r = self._emit(tcb, tcb.iss, ("SYN", "ACK"))
                tcb.snd_nxt = tcb.iss + 1
                return (f"{tcb.id} receives {name}: it records the client's ISN {seg.seq}, sets RCV.NXT = {tcb.rcv_nxt} "
                        f"and answers {_seg_words(r)} with its own ISN {tcb.iss} (the SYN takes one sequence number).")
            return f"{tcb.id} is listening and drops {name}."
        if st == SYN_SENT:
            acked = "ACK" in seg.flags
            if acked and (seg.ack <= tcb.iss or seg.ack > tcb.snd_max):
                if "RST" in seg.flags:
                    return f"{tcb.id} drops {name}: a reset whose ACK is not for its SYN."
                r = self._emit_rst(tcb, seg.ack)
                return (f"{tcb.id} is in SYN-SENT with ISN {tcb.iss}, but {name} acknowledges {seg.ack}, not "
                        f"{tcb.iss + 1}: an answer to an old SYN. It sends the reset {_seg_words(r)} and keeps "
                        "waiting for the answer to its own.")
            if "RST" in seg.flags:
                if acked:
                    self._to(tcb, CLOSED)
                    return f"{tcb.id} receives {name}: connection refused, CLOSED."
                return f"{tcb.id} drops {name}: a reset without an ACK in SYN-SENT."
            if "SYN" in seg.flags:
                tcb.irs = seg.seq
                tcb.rcv_nxt = seg.seq + 1
                self._peer_opts(tcb, seg)
                if acked:
                    self._ack_sample(tcb, seg.ack)
                    tcb.snd_una = seg.ack
                    self.sched.cancel_timer(f"rto:{tcb.id}")
                    tcb.snd_wnd, tcb.snd_wl1, tcb.snd_wl2 = seg.window, seg.seq, seg.ack
                    self._to(tcb, ESTABLISHED)
                    self._established(tcb)
                    r = self._send_ack(tcb)
                    out = self._output(tcb)
                    more = f", and starts sending data ({len(out)} segment{'s' if len(out) != 1 else ''})" if out else ""
                    return (f"{tcb.id} receives {name}: its SYN is acknowledged and the server's ISN is {seg.seq}, "
                            f"so it answers {_seg_words(r)}, a pure ACK that takes no sequence number{more}.")
                tcb.snd_wnd = seg.window
                self._to(tcb, SYN_RECEIVED)
                r = self._emit(tcb, tcb.iss, ("SYN", "ACK"))
                return (f"{tcb.id} is in SYN-SENT and receives a SYN {name} without an ACK: a simultaneous open. It "
                        f"answers {_seg_words(r)} and waits in SYN-RECEIVED.")
            return f"{tcb.id} drops {name}: in SYN-SENT only a SYN or a reset matters."
        # SYN-RECEIVED and the synchronized states.
        flags = seg.flags
        seq = seg.seq
        data = seg.data
        syn_dup = False
        if "SYN" in flags and seq == tcb.irs and tcb.rcv_nxt > seq:
            # The SYN was received already: trim it off (RFC 9293 §3.10.7.4 "trimming").
            flags = tuple(f for f in flags if f != "SYN")
            seq += 1
            syn_dup = True
        length = len(data) + ("FIN" in flags)
        wnd = max(tcb.rcv_adv, tcb.rcv_nxt + self._window(tcb)) - tcb.rcv_nxt
        ok = self._acceptable(seq, length, tcb.rcv_nxt, wnd)
        if "RST" in flags:
            if seq != tcb.rcv_nxt:
                return f"{tcb.id} ignores the reset {name}: its sequence number is not RCV.NXT = {tcb.rcv_nxt}."
            if st == SYN_RECEIVED and tcb.passive:
                self._to(tcb, LISTEN)
                tcb.iss += 100  # a new incarnation takes a new ISN (the ISN clock has moved on)
                tcb.snd_una = tcb.snd_nxt = tcb.snd_max = tcb.iss
                self.sched.cancel_timer(f"rto:{tcb.id}")
                return (f"{tcb.id} receives the reset {name}: its half-open connection came from an old SYN, so it "
                        f"returns to LISTEN (it was opened passively); a new connection will take ISN {tcb.iss}.")
            self._to(tcb, CLOSED)
            events.append(Event("reset", f"{tcb.id} was reset.", actor=tcb.id, severity="error"))
            return f"{tcb.id} receives the reset {name} and aborts the connection: CLOSED."
        if not ok or (syn_dup and st != SYN_RECEIVED):
            if st == TIME_WAIT and "FIN" in flags:
                self._start_time_wait(tcb)
                r = self._send_ack(tcb)
                return f"{tcb.id} in TIME-WAIT gets the FIN again (its ACK was lost): it acknowledges {_seg_words(r)} and restarts the 2 MSL wait."
            r = self._send_ack(tcb)
            why = (("a zero-window probe: the window is 0, so the byte is not accepted" if wnd == 0 and data else
                    "a duplicate of what it has already received") if not syn_dup else "a repeated SYN it already has")
            self._note_window(tcb, seg)
            return f"{tcb.id} receives {name}, {why}; it answers {_seg_words(r)} and drops it (RFC 9293 §3.10.7.4)."
        if "SYN" in flags:
            if st == SYN_RECEIVED and tcb.passive:
                self._to(tcb, LISTEN)
                return f"{tcb.id} receives a new SYN {name} in SYN-RECEIVED and returns to LISTEN."
            r = self._send_ack(tcb)
            return f"{tcb.id} receives a SYN {name} in {st}: it answers with a challenge ACK {_seg_words(r)} (RFC 5961 §4)."
        if "ACK" not in flags:
            return f"{tcb.id} drops {name}: it has no ACK."
        text: list[str] = []
        if st == SYN_RECEIVED:
            if tcb.snd_una < seg.ack <= tcb.snd_max:
                self._ack_sample(tcb, seg.ack)
                tcb.snd_una = seg.ack
                tcb.snd_nxt = max(tcb.snd_nxt, seg.ack)
                self.sched.cancel_timer(f"rto:{tcb.id}")
                tcb.snd_wnd, tcb.snd_wl1, tcb.snd_wl2 = seg.window, seq, seg.ack
                self._to(tcb, ESTABLISHED)
                self._established(tcb)
                text.append(f"{tcb.id} receives {name}: its SYN is acknowledged, so the connection is established.")
            else:
                r = self._emit_rst(tcb, seg.ack)
                return f"{tcb.id} receives {name}, whose ACK is not for its SYN: it answers {_seg_words(r)}."
        else:
            text.append(self._process_ack(tcb, seg, seq, data, flags))
        # The text.
        st = tcb.state
        if "FIN" in flags:
            tcb.peer_fin_seq = seq + len(data)
        if data and st in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2):
            text.append(self._accept_data(tcb, seq, data, "FIN" in flags))
        elif data:
            text.append(f"The {len(data)} data bytes arrive after {tcb.id}'s peer closed; they are not accepted.")
        if tcb.peer_fin_seq is not None and tcb.peer_fin_seq == tcb.rcv_nxt and st in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2):
            text.append(self._accept_fin(tcb))
        out = self._output(tcb)
        if out and self._is_data(tcb):
            first, last = out[0], out[-1]
            rng = f"{first.seq}" if len(out) == 1 else f"{first.seq} to {last.seq + last.seg_len - 1}"
            text.append(f"It sends {len(out)} segment{'s' if len(out) != 1 else ''} (from {rng}); cwnd {tcb.cwnd:,}, "
                        f"FlightSize {tcb.snd_nxt - tcb.snd_una:,}, peer window {tcb.snd_wnd:,}.")
        return " ".join(t for t in text if t)

    @staticmethod
    def _acceptable(seq: int, length: int, rcv_nxt: int, wnd: int) -> bool:
        """RFC 9293 §3.10.7.4's four cases."""
        if length == 0:
            return seq == rcv_nxt if wnd == 0 else rcv_nxt <= seq < rcv_nxt + wnd
        if wnd == 0:
            return False
        end = seq + length - 1
        return rcv_nxt <= seq < rcv_nxt + wnd or rcv_nxt <= end < rcv_nxt + wnd

    def _emit_rst(self, tcb: TCB, seq: int) -> Seg:
        return self._emit(tcb, seq, ("RST",))

    def _peer_opts(self, tcb: TCB, seg: Seg) -> None:
        if seg.mss_opt:
            tcb.peer_mss = seg.mss_opt
            tcb.mss = min(tcb.mss, seg.mss_opt)

    def _init_cwnd(self, tcb: TCB) -> None:
        """A new connection's congestion window: IW (RFC 5681 §3.1, or RFC 6928)."""
        p: TcpParams = self.params  # type: ignore[assignment]
        tcb.cwnd = initial_window(tcb.mss, p.initial_window)

    def _established(self, tcb: TCB) -> None:
        """Entering ESTABLISHED: IW for the (possibly smaller) negotiated MSS, or one segment after a
        lost SYN or SYN,ACK (RFC 5681 §3.1). RFC 6298 §5.7: the timer expired awaiting the ACK of
        a SYN and this TCP's initial RTO (1 s) is under 3 s, so "the RTO MUST be re-initialized to
        3 seconds when data transmission begins" (§7: "the default RTO is reverted to 3
        seconds"), whatever the backed-off value."""
        if tcb.syn_lost:
            tcb.cwnd = tcb.mss
            tcb.rto = 3000.0
        else:
            self._init_cwnd(tcb)
        tcb.timeout_seq = None

    def _note_window(self, tcb: TCB, seg: Seg) -> None:
        if "ACK" in seg.flags and tcb.state in SYNCHRONIZED and tcb.snd_una <= seg.ack <= tcb.snd_max:
            if tcb.snd_wl1 < seg.seq or (tcb.snd_wl1 == seg.seq and tcb.snd_wl2 <= seg.ack):
                opened = tcb.snd_wnd == 0 and seg.window > 0
                tcb.snd_wnd, tcb.snd_wl1, tcb.snd_wl2 = seg.window, seg.seq, seg.ack
                if opened:
                    tcb.persist_backoff = 0
                    self.sched.cancel_timer(f"persist:{tcb.id}")

    def _ack_sample(self, tcb: TCB, ack: int) -> str:
        """RFC 6298 §2: a sample when the timed segment is acknowledged (never a retransmitted one)."""
        if tcb.rtt_seq is None or ack < tcb.rtt_seq:
            return ""
        r = round(self.sched.now - tcb.rtt_time, 3)
        tcb.rtt_seq = None
        self.rtt_update(tcb, r)
        return f"RTT sample {_ms_words(r)}: SRTT {tcb.srtt:.1f} ms, RTTVAR {tcb.rttvar:.1f} ms, RTO {_ms_words(tcb.rto)}."

    @staticmethod
    def rtt_update(tcb: Any, r: float) -> None:
        if tcb.srtt is None:  # §2.2
            tcb.srtt = r
            tcb.rttvar = r / 2
        else:  # §2.3: RTTVAR first, with the old SRTT
            tcb.rttvar = 0.75 * tcb.rttvar + 0.25 * abs(tcb.srtt - r)
            tcb.srtt = 0.875 * tcb.srtt + 0.125 * r
        tcb.rto = min(max(tcb.srtt + max(G_MS, 4 * tcb.rttvar), RTO_MIN_MS), RTO_MAX_MS)  # §2.4, §2.5

    def _process_ack(self, tcb: TCB, seg: Seg, seq: int, data: bytes, flags: tuple[str, ...]) -> str:
        ack = seg.ack
        smss = tcb.mss
        old_wnd = tcb.snd_wnd
        if ack > tcb.snd_max:
            r = self._send_ack(tcb)
            return f"{tcb.id} receives {_seg_words(seg)}, acknowledging bytes never sent: it answers {_seg_words(r)}."
        if ack <= tcb.snd_una:
            self._note_window(tcb, seg)
            outstanding = tcb.snd_max > tcb.snd_una
            dup = (outstanding and not data and "SYN" not in flags and "FIN" not in flags and ack == tcb.snd_una
                   and seg.window == old_wnd)
            if not dup:
                if tcb.snd_wnd != old_wnd:
                    return f"{tcb.id} learns that {tcb.peer}'s window is now {tcb.snd_wnd:,} bytes."
                return ""
            tcb.dupacks += 1
            if tcb.dupacks < 3 and not tcb.in_recovery:
                return (f"{tcb.id} receives duplicate ACK {tcb.dupacks} for {ack}: a later segment arrived, so "
                        f"{ack} may be lost.")
            if tcb.dupacks == 3 and not tcb.in_recovery:
                flight = tcb.snd_nxt - tcb.snd_una
                tcb.ssthresh = max(flight // 2, 2 * smss)  # RFC 5681 equation (4)
                tcb.rtt_seq = None  # Karn
                n = min(smss, tcb.snd_max - tcb.snd_una, max(0, tcb.iss + 1 + len(tcb.out) - tcb.snd_una))
                if n > 0:
                    off = tcb.snd_una - tcb.iss - 1
                    r = self._emit(tcb, tcb.snd_una, ("ACK",), bytes(tcb.out[off:off + n]), retrans=True)
                else:
                    r = self._emit(tcb, tcb.snd_una, ("FIN", "ACK"), retrans=True)
                tcb.cwnd = tcb.ssthresh + 3 * smss
                tcb.in_recovery = True
                if self._charted(tcb):
                    self.marks.append((self.sched.now, "3 dup ACKs"))
                self._output(tcb)
                return (f"{tcb.id} receives the third duplicate ACK for {ack}: fast retransmit of {_seg_words(r)} "
                        f"without waiting for the timer. ssthresh = max(FlightSize/2, 2·SMSS) = max({flight // 2:,}, "
                        f"{2 * smss:,}) = {tcb.ssthresh:,}; cwnd = ssthresh + 3·SMSS = {tcb.cwnd:,} (fast recovery, "
                        "RFC 5681 §3.2).")
            tcb.cwnd += smss
            return (f"{tcb.id} receives another duplicate ACK for {ack} in fast recovery: one more segment has left "
                    f"the network, so cwnd grows by SMSS to {tcb.cwnd:,}.")
        # New data acknowledged (N counts data bytes: not the SYN or FIN).
        base = tcb.iss + 1
        data_end = base + len(tcb.out)
        newly = max(0, min(ack, data_end) - max(tcb.snd_una, base))
        sample = self._ack_sample(tcb, ack)
        tcb.snd_una = ack
        if tcb.snd_nxt < ack:
            tcb.snd_nxt = ack
        tcb.dupacks = 0
        tcb.timeout_seq = None
        self._note_window(tcb, seg)
        what = _bytes_words(newly) if newly else ("its FIN" if tcb.fin_seq is not None and ack > tcb.fin_seq else "its SYN")
        parts = [f"{tcb.id} receives {_seg_words(seg)}: {what} newly acknowledged."]
        if tcb.in_recovery:
            tcb.cwnd = tcb.ssthresh  # deflate (RFC 5681 §3.2 step 6)
            tcb.in_recovery = False
            parts.append(f"Fast recovery ends: cwnd = ssthresh = {tcb.cwnd:,}.")
        elif newly and tcb.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK):
            if tcb.cwnd < tcb.ssthresh:
                inc = min(newly, smss)  # equation (2)
                tcb.cwnd += inc
                parts.append(f"Slow start: cwnd += min(N, SMSS) = {inc:,}, now {tcb.cwnd:,}.")
            else:
                inc = max(1, smss * smss // tcb.cwnd)  # equation (3)
                tcb.cwnd += inc
                parts.append(f"Congestion avoidance: cwnd += SMSS·SMSS/cwnd = {inc:,}, now {tcb.cwnd:,}.")
        if sample:
            parts.append(sample)
        if tcb.snd_una >= tcb.snd_max:
            self.sched.cancel_timer(f"rto:{tcb.id}")  # §5.2
        else:
            self.sched.set_timer(f"rto:{tcb.id}", tcb.rto, owner=tcb.id, kind="rto")  # §5.3
        fin_acked = tcb.fin_seq is not None and ack > tcb.fin_seq
        if fin_acked:
            if tcb.state == FIN_WAIT_1:
                self._to(tcb, FIN_WAIT_2)
                parts.append(f"Its FIN is acknowledged: FIN-WAIT-2, waiting for {tcb.peer}'s FIN.")
            elif tcb.state == CLOSING:
                self._to(tcb, TIME_WAIT)
                self._start_time_wait(tcb)
                parts.append("Its FIN is acknowledged: TIME-WAIT for 2 MSL.")
            elif tcb.state == LAST_ACK:
                self._to(tcb, CLOSED)
                parts.append("Its FIN is acknowledged: the connection is closed.")
        return " ".join(parts)

    def _accept_data(self, tcb: TCB, seq: int, data: bytes, fin: bool) -> str:
        p: TcpParams = self.params  # type: ignore[assignment]
        # Trim what is already received, and what lies beyond the window.
        if seq < tcb.rcv_nxt:
            data = data[tcb.rcv_nxt - seq:]
            seq = tcb.rcv_nxt
        right = max(tcb.rcv_adv, tcb.rcv_nxt + self._window(tcb))
        data = data[:max(0, right - seq)]
        if not data:
            return ""
        if seq > tcb.rcv_nxt:
            tcb.ooo[seq] = data
            r = self._send_ack(tcb)  # RFC 5681 §4.2: an out-of-order segment is acknowledged at once
            return (f"{tcb.id} receives {_bytes_words(len(data))} at {seq}, but it expects {tcb.rcv_nxt}: it holds "
                    f"them out of order and sends a duplicate ACK {_seg_words(r)}.")
        had_gap = bool(tcb.ooo)
        self._deliver(tcb, data)
        held = 0
        while tcb.rcv_nxt in tcb.ooo:
            chunk = tcb.ooo.pop(tcb.rcv_nxt)
            held += len(chunk)
            self._deliver(tcb, chunk)
        for k in [k for k in tcb.ooo if k < tcb.rcv_nxt]:
            chunk = tcb.ooo.pop(k)
            if k + len(chunk) > tcb.rcv_nxt:
                rest = chunk[tcb.rcv_nxt - k:]
                self._deliver(tcb, rest)
                held += len(rest)
        text = f"{tcb.id} receives {_bytes_words(len(data))} in order at {seq}"
        if len(data) <= 80 and not held:
            text = (f"Up the layers at {tcb.id}: the link layer checks the frame's FCS and strips its {ETH_HEADER}-byte "
                    f"header and {ETH_FCS}-byte trailer, IP its {IP_HEADER}-byte header, and TCP checks its checksum and strips its {TCP_HEADER}-byte "
                    f"header; the {_bytes_words(len(data))} in order at {seq} go to the application")
        if held:
            text += f", and with them the {_bytes_words(held)} it held out of order go to the application in order"
        if p.delayed_ack and not had_gap and not tcb.ooo and tcb.ack_pending == 0 and not fin:
            tcb.ack_pending = 1
            self.sched.set_timer(f"dack:{tcb.id}", DELAYED_ACK_MS, owner=tcb.id, kind="dack")
            return text + "; it delays its ACK (RFC 5681 §4.2: at least every second segment, within 200 ms)."
        if fin and tcb.peer_fin_seq == tcb.rcv_nxt:
            return text + "."
        r = self._send_ack(tcb)
        return text + f"; it acknowledges {_seg_words(r)}, advertising a window of {r.window:,}."

    def _deliver(self, tcb: TCB, data: bytes) -> None:
        p: TcpParams = self.params  # type: ignore[assignment]
        peer = self.tcbs[tcb.peer]
        start = len(tcb.received)
        tcb.received += data
        tcb.rcv_nxt += len(data)
        if bytes(peer.out[start:start + len(data)]) != data and not self.violation:
            self.violation = f"{tcb.id} got bytes {start}..{start + len(data)} that differ from what was sent"
        if p.read_bytes_per_s:
            tcb.unread += len(data)
            if not self.sched.timer(f"read:{tcb.id}"):
                self.sched.set_timer(f"read:{tcb.id}", READ_TICK_MS, owner=tcb.id, kind="read")

    def _accept_fin(self, tcb: TCB) -> str:
        tcb.rcv_nxt += 1  # the FIN takes one sequence number
        st = tcb.state
        if st in (SYN_RECEIVED, ESTABLISHED):
            self._to(tcb, CLOSE_WAIT)
            r = self._send_ack(tcb)
            text = (f"{tcb.id} receives the FIN: its peer has no more to send. It acknowledges {_seg_words(r)} and "
                    "waits in CLOSE-WAIT for its own application to close.")
            if tcb.close_on_eof and not self._script_owns_close(tcb):
                self._schedule_close(tcb)
            return text
        if st == FIN_WAIT_1:
            self._to(tcb, CLOSING)
            r = self._send_ack(tcb)
            return (f"{tcb.id} receives its peer's FIN before the ACK of its own: simultaneous close, CLOSING. It "
                    f"acknowledges {_seg_words(r)}.")
        if st == FIN_WAIT_2:
            self._to(tcb, TIME_WAIT)
            self._start_time_wait(tcb)
            r = self._send_ack(tcb)
            p: TcpParams = self.params  # type: ignore[assignment]
            return (f"{tcb.id} receives the FIN, acknowledges it {_seg_words(r)} and enters TIME-WAIT for 2 MSL "
                    f"({2 * p.msl_s:g} s), in case that ACK is lost and the FIN comes again.")
        return ""

    def _start_time_wait(self, tcb: TCB) -> None:
        p: TcpParams = self.params  # type: ignore[assignment]
        for k in ("rto", "persist", "dack", "read"):
            self.sched.cancel_timer(f"{k}:{tcb.id}")
        self.sched.set_timer(f"tw:{tcb.id}", 2 * p.msl_s * 1000.0, owner=tcb.id, kind="tw")

    def _charted(self, tcb: TCB) -> bool:
        """Is this end's congestion window on the chart (it sends bulk data)?"""
        if tcb.id in self.charted:
            return True
        if len(tcb.out) >= 3 * tcb.mss:
            self.charted.add(tcb.id)
            self.chart_single = False
            return True
        return False

    def _is_data(self, tcb: TCB) -> bool:
        """Does this end send bulk data (its congestion window is the one charted)?"""
        return len(tcb.out) > 0

    # -- application scripts ---------------------------------------------------------------

    def _script_owns_close(self, tcb: TCB) -> bool:
        """Does the application script close this end itself (else it closes on reading EOF)?"""
        side = "client" if self.flows[tcb.flow][0] == tcb.id else "server"
        return any(s.flow == tcb.flow and (s.kind == "close_both" or (s.kind == "close" and s.side == side))
                   for steps in self.scripts for s in steps)

    def _schedule_close(self, tcb: TCB) -> None:
        self.sched.set_timer(f"app:{tcb.id}", 0.0, owner=tcb.id, kind="app_close", priority=1)

    def _timer_app_close(self, tcb: TCB, events: list[Event]) -> str:
        if tcb.state != CLOSE_WAIT:
            return f"The application on {tcb.id} would close, but the connection is {tcb.state}."
        tcb.fin_wanted = True
        self._output(tcb)
        return (f"The application on {tcb.id} has read to the end and closes too: {tcb.id} sends its FIN "
                f"<SEQ={tcb.fin_seq}><ACK={tcb.rcv_nxt}><CTL=FIN,ACK> and waits in LAST-ACK.")

    def _tcb(self, flow: int, side: str) -> TCB:
        if flow not in self.flows:
            raise ValueError(f"There is no connection {flow} in this scenario.")
        c, s = self.flows[flow]
        return self.tcbs[c if side == "client" else s]

    def _step_done(self, st: Step) -> bool:
        if st.kind in ("open", "open_both"):
            a, b = self._tcb(st.flow, "client"), self._tcb(st.flow, "server")
            return a.state in SYNCHRONIZED and b.state in SYNCHRONIZED
        if st.kind == "send":
            tcb = self._tcb(st.flow, st.side)
            peer = self.tcbs[tcb.peer]
            return len(peer.received) >= len(tcb.out) or peer.state in (CLOSED,)
        return True

    def _script_tick(self) -> None:
        for i, steps in enumerate(self.scripts):
            if self.script_wait[i]:
                pos = self.script_pos[i]
                if pos >= len(steps) or self._step_done(steps[pos]):
                    self._advance_script(i)

    def _advance_script(self, i: int, initial: bool = False) -> None:
        if initial:
            self.script_pos.append(-1)
            self.script_wait.append(True)
        self.script_pos[i] += 1
        pos = self.script_pos[i]
        steps = self.scripts[i]
        self.script_wait[i] = False
        if pos >= len(steps):
            return
        st = steps[pos]
        delay = st.ms if st.kind == "wait" else (0.0 if initial else 1.0)
        self.sched.schedule(round(self.sched.now + delay, 3), "app", i, priority=1)

    def _run_script_step(self, i: int, events: list[Event]) -> str:
        st = self.scripts[i][self.script_pos[i]]
        text = self._do_step(st)
        self.script_wait[i] = True
        self._script_tick()
        return text

    def _do_step(self, st: Step) -> str:
        note = (st.note + " ") if st.note else ""
        if st.kind == "wait":
            return f"{_ms_words(st.ms)} have passed: connection {st.flow + 0} starts now."
        if st.kind == "listen":
            tcb = self._tcb(st.flow, st.side)
            self._to(tcb, LISTEN)
            return note + f"{tcb.id}: passive OPEN, CLOSED \u2192 LISTEN."
        if st.kind == "open":
            side = st.side if st.side else "client"
            tcb = self._tcb(st.flow, side)
            return note + self._active_open(tcb)
        if st.kind == "open_both":
            a, b = self._tcb(st.flow, "client"), self._tcb(st.flow, "server")
            return self._active_open(a) + " At the same moment " + self._active_open(b)
        if st.kind == "send":
            tcb = self._tcb(st.flow, st.side)
            tcb.out += st.data
            out = self._output(tcb)
            what = f"{len(out)} segment{'s' if len(out) != 1 else ''}" if out else "nothing yet (the window is full)"
            first = out[0] if out else None
            enc = ""
            if first is not None and len(st.data) <= 80:
                n = len(first.data)
                enc = (f" Down the layers: {_bytes_words(n)} of application data, behind a {TCP_HEADER}-byte TCP "
                       f"header (a segment of {n + TCP_HEADER}), a {IP_HEADER}-byte IPv4 header (a packet of "
                       f"{n + TCP_HEADER + IP_HEADER}), and a {ETH_HEADER}-byte Ethernet header and {ETH_FCS}-byte FCS "
                       f"(a frame of {n + TCP_HEADER + IP_HEADER + ETH_HEADER + ETH_FCS}).")
            return note + (f"The application on {tcb.id} writes {_bytes_words(len(st.data))}; TCP sends {what}"
                           f"{' ' + _seg_words(first) if first is not None and len(out) == 1 else ''}.{enc}")
        if st.kind == "close":
            tcb = self._tcb(st.flow, st.side)
            return note + self._close(tcb)
        if st.kind == "close_both":
            a, b = self._tcb(st.flow, "client"), self._tcb(st.flow, "server")
            return self._close(a) + " At the same moment " + self._close(b)
        raise ValueError(st.kind)  # pragma: no cover

    def _active_open(self, tcb: TCB) -> str:
        self._to(tcb, SYN_SENT)  # CLOSED -> SYN-SENT (OPEN), or LISTEN -> SYN-SENT (SEND on a listening socket)
        tcb.passive = False
        tcb.snd_una = tcb.snd_nxt = tcb.iss
        self._init_cwnd(tcb)
        seg = self._emit(tcb, tcb.iss, ("SYN",))
        tcb.snd_nxt = tcb.iss + 1
        if self.old_syn and tcb.host == "client":
            self.old_syn = False
            self._old_duplicate(tcb, seg)
            return (f"{tcb.id} opens actively: it sends {_seg_words(seg)} with its ISN {tcb.iss} and enters SYN-SENT. "
                    f"Meanwhile the old duplicate <SEQ={tcb.iss - 10}><CTL=SYN> is on its way too, and will arrive "
                    "first (this SYN is held up in the network).")
        return (f"{tcb.id} opens actively: it sends {_seg_words(seg)} with its initial sequence number {tcb.iss} and "
                "enters SYN-SENT (the SYN takes one sequence number).")

    def _old_duplicate(self, tcb: TCB, real: Seg) -> None:
        p: TcpParams = self.params  # type: ignore[assignment]
        lat = float(p.one_way_latency_ms)
        self.sched.cancel(real.qseq)
        real.deliver_at = round(real.deliver_at + 3 * lat, 3)
        real.qseq = self.sched.schedule(real.deliver_at, "seg", real.id)
        self.next_seg += 1
        old = Seg(self.next_seg, tcb.id, tcb.peer, tcb.iss - 10, 0, ("SYN",), b"", 65535, tcb.mss, self.sched.now,
                  round(self.sched.now + lat, 3), False, -1)
        old.qseq = self.sched.schedule(old.deliver_at, "seg", old.id)
        self.segs[old.id] = old
        self.seg_dirty.add(real.id)

    def _close(self, tcb: TCB) -> str:
        st = tcb.state
        if st in (ESTABLISHED, CLOSE_WAIT, SYN_RECEIVED):
            tcb.fin_wanted = True
            if st == SYN_RECEIVED:
                tcb.fin_seq = tcb.snd_nxt
                self._to(tcb, FIN_WAIT_1)
                seg = self._emit(tcb, tcb.snd_nxt, ("FIN", "ACK"))
                tcb.snd_nxt += 1
                return f"The application on {tcb.id} closes: it sends {_seg_words(seg)}."
            out = self._output(tcb)
            fin = [s for s in out if "FIN" in s.flags]
            if fin:
                return (f"The application on {tcb.id} closes: every byte is sent, so it sends its FIN "
                        f"{_seg_words(fin[0])} (the FIN takes one sequence number) and enters {tcb.state}.")
            return (f"The application on {tcb.id} closes: its FIN will follow the last of its data, once every "
                    "byte before it has been sent.")
        if st == LISTEN:
            self._to(tcb, CLOSED)
            return f"{tcb.id} stops listening: CLOSED."
        if st == SYN_SENT:
            self._to(tcb, CLOSED)
            return f"{tcb.id} gives up its connection attempt: CLOSED."
        raise ValueError(f"{tcb.id} is {st}: there is nothing to close.")

    # -- actions ---------------------------------------------------------------------------

    def _pick(self, segment: int, flow: int, side: str) -> tuple[Seg | None, TCB]:
        tcb = self._tcb(flow, side)
        if segment == 0:
            return None, tcb
        seg = self.segs.get(segment)
        if seg is None:
            raise ValueError(f"Segment {segment} is not on the wire now (segments on the wire: "
                             f"{', '.join(str(k) for k in sorted(self.segs)) or 'none'}).")
        if seg.fate != "in_flight":
            raise ValueError(f"Segment {segment} is already going to be lost.")
        return seg, self.tcbs[seg.src]

    def _effect(self, text: str, event: Event) -> Event:
        self.pending.append(text)
        self.pending_events.append(event)
        return event

    def apply(self, action: Any) -> Event | None:
        self.seg_dirty.update(self.segs)  # an action may change any segment's fate or time
        if isinstance(action, Inspect):
            if action.segment == 0:
                self.chosen = False
                return self._effect("The layers box follows the segments sent again: each for its whole flight, then the next one sent.",
                                    Event("inspect", "Following the segments sent."))
            if action.segment not in self.segs:
                raise ValueError(f"Segment {action.segment} is not on the wire now.")
            self.chosen = True
            self.seg_dirty.update(self.segs)
            self.inspected = action.segment
            seg = self.segs[action.segment]
            return self._effect(f"You open segment {seg.id} {_seg_words(seg)}: its Ethernet frame, IP packet and TCP "
                                "segment are shown layer by layer.", Event("inspect", f"Inspecting segment {seg.id}."))
        if isinstance(action, SetLoss):
            self.loss_rate = action.rate
            return self._effect(f"From now on each segment is lost with probability {action.rate:g}.",
                                Event("loss", f"Loss rate {action.rate:g}.", severity="warn"))
        if isinstance(action, (Drop, Corrupt, Delay, Duplicate)):
            seg, tcb = self._pick(action.segment, action.flow, action.side)
            verb = {Drop: "drop", Corrupt: "corrupt", Delay: "delay", Duplicate: "duplicate"}[type(action)]
            if seg is None:
                if isinstance(action, Duplicate):
                    raise ValueError("Pick a segment on the wire to duplicate.")
                ms = float(action.ms) if isinstance(action, Delay) else 0.0
                self.armed.setdefault((tcb.id, tcb.peer), []).append((verb, ms))
                return self._effect(f"The next segment {tcb.id} sends will be {verb}{'p' if verb == 'drop' else ''}ed.",
                                    Event(verb, f"Next segment from {tcb.id}: {verb}.", severity="warn"))
            if isinstance(action, Drop):
                seg.fate, seg.lost_by = "will_drop", "learner"
                text = f"You drop segment {seg.id} {_seg_words(seg)}: it will not arrive."
            elif isinstance(action, Corrupt):
                seg.bitflip = self._flip_bit(seg)
                text = f"You flip one bit of segment {seg.id} {_seg_words(seg)} on the wire."
            elif isinstance(action, Delay):
                self.sched.cancel(seg.qseq)
                seg.deliver_at = round(seg.deliver_at + action.ms, 3)
                seg.qseq = self.sched.schedule(seg.deliver_at, "seg", seg.id)
                text = f"You hold segment {seg.id} {_seg_words(seg)} {action.ms} ms longer: later segments overtake it."
            else:
                self.next_seg += 1
                dup = copy.copy(seg)
                dup.id = self.next_seg
                dup.copy_of = seg.id
                dup.deliver_at = round(seg.deliver_at + 5.0, 3)
                dup.qseq = self.sched.schedule(dup.deliver_at, "seg", dup.id)
                self.segs[dup.id] = dup
                text = f"The network duplicates segment {seg.id}: a copy, segment {dup.id}, arrives 5 ms later."
            return self._effect(text, Event(verb, f"Segment {seg.id}: {verb}.", severity="warn"))
        if isinstance(action, Send):
            tcb = self._tcb(action.flow, action.side)
            if tcb.state == LISTEN:
                # RFC 9293 §3.10.2, SEND in LISTEN: the connection turns active and sends a SYN.
                tcb.out += bulk(action.bytes, b"more\n")
                text = self._active_open(tcb)
                return self._effect(f"The application on the listening {tcb.id} writes {_bytes_words(action.bytes)}, "
                                    f"so the connection turns active: {text}",
                                    Event("send", f"{tcb.id} writes {action.bytes} bytes while listening."))
            if tcb.state not in (ESTABLISHED, CLOSE_WAIT):
                raise ValueError(f"{tcb.id} is {tcb.state}: it cannot send now.")
            if tcb.fin_wanted:
                raise ValueError(f"The application on {tcb.id} has closed its end: it cannot send any more.")
            tcb.out += bulk(action.bytes, b"more\n")
            out = self._output(tcb)
            return self._effect(f"The application on {tcb.id} writes {_bytes_words(action.bytes)}; TCP sends "
                                f"{len(out)} segment{'s' if len(out) != 1 else ''} now.",
                                Event("send", f"{tcb.id} writes {action.bytes} bytes."))
        if isinstance(action, Close):
            tcb = self._tcb(action.flow, action.side)
            if tcb.fin_wanted:
                raise ValueError(f"{tcb.id} has already closed.")
            return self._effect(self._close(tcb), Event("close", f"{tcb.id} closes.", actor=tcb.id))
        raise ValueError(f"Unknown action {action!r}")

    # -- frames ----------------------------------------------------------------------------

    def _record_series(self) -> None:
        now = self.sched.now
        for flow, (cid, sid) in self.flows.items():
            for tid in (cid, sid):
                tcb = self.tcbs[tid]
                if tcb.cwnd == 0 or not self._charted(tcb):
                    continue
                if self.fairness:
                    self._point(f"cwnd {flow}", now, tcb.cwnd / tcb.mss)
                else:
                    who = "" if self.chart_single else f" {tid}"
                    self._point(f"cwnd{who}", now, tcb.cwnd / tcb.mss)
                    if tcb.ssthresh != self.params.initial_ssthresh or f"ssthresh{who}" in self.series:
                        self._point(f"ssthresh{who}", now, tcb.ssthresh / tcb.mss)

    def _point(self, key: str, t: float, v: float) -> None:
        pts = self.series.setdefault(key, [])
        v = round(v, 2)
        if pts and pts[-1][1] == v:
            return
        self.series_version[key] = self.series_version.get(key, 0) + 1
        if pts and pts[-1][0] == t:
            pts[-1] = [t, v]
        else:
            pts.append([t, v])
        if len(pts) > SERIES_POINTS + SERIES_TRIM:
            # The oldest go a batch at a time: the chart's window opens at a series' first
            # point, and one that moved with every new point had the chart drawn anew each frame.
            del pts[:SERIES_TRIM]

    def data_sender(self) -> TCB | None:
        best = None
        for tcb in self.tcbs.values():
            if tcb.flow == 1 and self._is_data(tcb) and (best is None or len(tcb.out) > len(best.out)):
                best = tcb
        return best

    _TIMER_WORDS = {"rto": "retransmission", "persist": "persist", "dack": "delayed ACK", "tw": "TIME-WAIT"}

    def _next_timer(self, tcb: TCB) -> Any:
        best = None
        timers = self.sched.timers
        for k in ("rto", "persist", "dack", "tw"):
            t = timers.get(f"{k}:{tcb.id}")
            if t is not None and (best is None or t.deadline < best.deadline):
                best = t
        return best

    def _endpoint_entity(self, tcb: TCB) -> Entity:
        t = self._next_timer(tcb)
        timer = None if t is None else {"kind": self._TIMER_WORDS[t.kind],
                                        "start": t.start, "deadline": t.deadline}
        phase = ""
        if tcb.cwnd and tcb.state in SYNCHRONIZED and self._is_data(tcb):
            phase = "fast recovery" if tcb.in_recovery else "slow start" if tcb.cwnd < tcb.ssthresh else "congestion avoidance"
        return Entity(tcb.id, "endpoint", {
            "host": tcb.host, "port": tcb.port, "flow": tcb.flow, "state": tcb.state,
            "snd_una": tcb.snd_una, "snd_nxt": tcb.snd_nxt, "rcv_nxt": tcb.rcv_nxt,
            "cwnd": tcb.cwnd, "ssthresh": tcb.ssthresh, "rwnd": self._window(tcb),
            "flight_size": tcb.snd_nxt - tcb.snd_una,
            "srtt": None if tcb.srtt is None else round(tcb.srtt / 1000, 6),
            "rttvar": None if tcb.rttvar is None else round(tcb.rttvar / 1000, 6),
            "rto": round(tcb.rto / 1000, 6), "dupacks": tcb.dupacks, "phase": phase,
            "sent_bytes": max(0, min(tcb.snd_una - tcb.iss - 1, len(tcb.out))), "received_bytes": len(tcb.received),
            "unread": tcb.unread, "peer_window": tcb.snd_wnd, "timer": timer,
        })

    def _layers(self, seg: Seg) -> dict[str, int]:
        return {"eth": ETH_HEADER + ETH_FCS, "ip": IP_HEADER, "tcp": TCP_HEADER + (MSS_OPTION if seg.mss_opt else 0),
                "data": len(seg.data)}

    def _segment_entity(self, seg: Seg) -> Entity:
        return Entity(f"s{seg.id}", "segment", {
            "src": seg.src, "dst": seg.dst, "seq": seg.seq, "ack": seg.ack, "flags": list(seg.flags),
            "len": len(seg.data), "window": seg.window, "sent_at": seg.sent_at, "deliver_at": seg.deliver_at,
            "retransmission": seg.retransmission, "corrupted": seg.bitflip is not None, "fate": seg.fate,
            "layers": self._layers(seg), "via": seg.via, "router_at": seg.router_at, "router_out": seg.router_out,
            "inspected": seg.id == self.inspected, "probe": seg.probe,
        })

    def packet_layers(self, seg: Seg) -> list[dict[str, Any]]:
        """Each layer's header fields, outermost first, with their sizes (RFC 9293 §3.1, RFC 791, IEEE 802.3)."""
        src, dst = self.tcbs[seg.src], self.tcbs[seg.dst]
        sip, smac = HOSTS[src.host]
        dip, dmac = HOSTS[dst.host]
        if seg.via:
            dmac = HOSTS["router"][1] if src.host != "server" else dmac
        tcp_len = TCP_HEADER + (MSS_OPTION if seg.mss_opt else 0)
        total = IP_HEADER + tcp_len + len(seg.data)
        tcp_fields = [["src port", src.port], ["dst port", dst.port], ["seq", seg.seq], ["ack", seg.ack],
                      ["offset", tcp_len // 4], ["flags", _flags_words(seg.flags)], ["window", seg.window],
                      ["checksum", f"0x{self._sum(seg):04x}"], ["urgent", 0]]
        if seg.mss_opt:
            tcp_fields.append(["MSS option", seg.mss_opt])
        return [
            {"layer": "link", "name": "Ethernet II frame", "header": ETH_HEADER, "trailer": ETH_FCS,
             "fields": [["dst MAC", dmac], ["src MAC", smac], ["type", "0x0800 (IPv4)"]]},
            {"layer": "internet", "name": "IPv4 packet", "header": IP_HEADER, "trailer": 0,
             "fields": [["version", 4], ["IHL", 5], ["total length", total], ["TTL", 64], ["protocol", "6 (TCP)"],
                        ["src", sip], ["dst", dip]]},
            {"layer": "transport", "name": "TCP segment", "header": tcp_len, "trailer": 0, "fields": tcp_fields},
            {"layer": "application", "name": "data", "header": 0, "trailer": 0, "fields": [["length", len(seg.data)]]},
        ]

    def _packet_entity(self) -> Entity | None:
        sid = self.inspected
        seg = self.segs.get(sid)
        where = "on the wire"
        if seg is None:
            if self.packet_cache is None:
                return None
            st = dict(self.packet_cache)
            if self.last_packet[0] == sid and self.last_packet[1]:
                st["where"] = self.last_packet[1]
                self.packet_cache = st
            return Entity("packet", "packet", st)
        if seg.bitflip is not None:
            where = "on the wire, corrupted"
        pc = self.packet_cache
        if pc is not None and pc["segment"] == seg.id and pc["where"] == where and pc["chosen"] == self.chosen:
            return Entity("packet", "packet", pc)
        preview = seg.data[:40].decode("latin-1")
        preview = "".join(ch if 32 <= ord(ch) < 127 else "." for ch in preview)
        st = {"segment": seg.id, "where": where, "chosen": self.chosen, "layers": self.packet_layers(seg),
              "payload": preview}
        self.packet_cache = st
        return Entity("packet", "packet", st)

    def _frame(self, narration: str, events: list[Event]) -> Frame:
        ep_cache = self.ep_cache
        entities = []
        for f in sorted(self.flows):
            for i in self.flows[f]:
                t = self.tcbs[i]
                timer = self._next_timer(t)
                version = (t.state, t.snd_una, t.snd_nxt, t.rcv_nxt, t.cwnd, t.ssthresh, t.unread, t.rto, t.srtt,
                           t.rttvar, t.dupacks, t.in_recovery, t.snd_wnd, len(t.received), len(t.out),
                           timer.seq if timer is not None else 0)
                hit = ep_cache.get(i)
                if hit is None or hit[0] != version:
                    hit = ep_cache[i] = (version, self._endpoint_entity(t))
                entities.append(hit[1])
        # A segment's entity is built when it is sent and again only when an action or the
        # inspected choice touches it (`seg_dirty`). Segments are kept in the order sent (ids grow).
        cache, dirty = self.seg_cache, self.seg_dirty
        for sid, seg in self.segs.items():
            ent = cache.get(sid)
            if ent is None or sid in dirty:
                ent = cache[sid] = self._segment_entity(seg)
            entities.append(ent)
        dirty.clear()
        pkt = self._packet_entity()
        if pkt is not None:
            entities.append(pkt)
        if self.fairness:
            p: TcpParams = self.params  # type: ignore[assignment]
            now = self.sched.now
            q = sum(1 for d in self.router_departures if d > now)
            entities.append(Entity("router", "router", {"queue": q, "limit": p.queue_packets,
                                                        "drops": self.router_drops, "rate_kbps": p.bottleneck_kbps}))
        for key, pts in self.series.items():
            version = self.series_version.get(key, 0)
            hit = self.series_cache.get(key)
            if hit is None or hit[0] != version:
                # A shallow copy: points are replaced, never changed in place, so frames keep theirs.
                hit = self.series_cache[key] = (version, Entity(key.replace(" ", "-").replace(":", "-"), "series",
                                                                {"name": key, "points": list(pts)}))
            entities.append(hit[1])
        if len(self.marks) != self.marks_cache[0]:
            shown = self.marks[-8:]  # the chart marks each loss as its sender detects it
            first = len(self.marks) - len(shown)
            self.marks_cache = (len(self.marks), tuple(
                Entity(f"mark{first + i}", "mark", {"t": t, "label": label}) for i, (t, label) in enumerate(shown)))
        entities.extend(self.marks_cache[1])
        c, s = self.flows[1]
        ds = self.data_sender()
        delivered = sum(len(t.received) for t in self.tcbs.values())
        metrics: dict[str, Any] = {
            "time_ms": self.sched.now,
            "client_state": self.tcbs[c].state,
            "server_state": self.tcbs[s].state,
        }
        if ds is not None:
            metrics.update(cwnd=ds.cwnd, ssthresh=ds.ssthresh, flight_size=ds.snd_nxt - ds.snd_una, rto_ms=ds.rto)
        metrics.update(delivered_bytes=delivered, retransmissions=self.counts["retransmissions"],
                       lost=self.counts["lost"], discarded=self.counts["discarded"],
                       in_order_exactly_once="violated" if self.violation else "ok")
        return Frame(index=self.index, time=self.sched.now, entities=tuple(entities), metrics=metrics,
                     events=tuple(events), narration=narration, done=self.done)

    def __deepcopy__(self, memo: dict[int, Any]) -> TcpEngine:
        cls = type(self)
        twin = cls.__new__(cls)
        memo[id(self)] = twin
        memo[id(self.params)] = self.params
        rng = random.Random()
        rng.setstate(self.rng.getstate())
        memo[id(self.rng)] = rng
        for name, value in self.__dict__.items():
            if name in self._CACHES:
                continue
            setattr(twin, name, copy.deepcopy(value, memo))
        twin.seg_cache, twin.ep_cache, twin.series_cache = {}, {}, {}
        twin.marks_cache, twin.seg_dirty = (-1, ()), set()
        return twin

    #: Frame caches (entities rebuilt from the state when it changes): a snapshot leaves them behind.
    _CACHES = frozenset({"seg_cache", "seg_dirty", "ep_cache", "series_cache", "marks_cache"})


# --------------------------------------------------------------------------- presets

#: The seed content's key features and use cases (topics/content/seed.py, "tcp-ip-model"), word for word.
CONNECTION = "Connection-oriented communication"
ERRORS = "Error checking and correction"
ORDERING = "Packet ordering guarantees"
CONGESTION = "Congestion control mechanisms"
WEB = "Web browsing (HTTP over TCP)"
EMAIL = "Email transmission (SMTP)"
FTP = "File transfer (FTP)"
STREAMING = "Streaming services"


def _next(verb: str, side: str = "client", **more: Any) -> dict[str, Any]:
    return {"type": verb, "segment": 0, "side": side, "flow": 1, **more}


#: MSL shortened in presets (the intro narration says so): TIME-WAIT is then 2 s, not 4 minutes.
_SHORT_MSL = {"msl_s": 1.0}

TcpEngine.presets = (
    Preset(
        "handshake-and-close", "Three-way handshake and close",
        "RFC 9293 Figure 6, then Figure 12: SYN <SEQ=100>, SYN,ACK <SEQ=300><ACK=101>, ACK <SEQ=101><ACK=301>; "
        "the SYN takes one sequence number, the ACK none. A 14-byte message goes down the four layers and up "
        "again. The client closes first: FIN, ACK, the server's FIN, the last ACK, and the client waits 2 MSL "
        "in TIME-WAIT (MSL is shortened to 1 s here; the RFC's is 2 minutes).",
        {"scenario": "handshake", **_SHORT_MSL}, feature=CONNECTION,
    ),
    Preset(
        "simultaneous-open-and-close", "Simultaneous open and close",
        "Both ends send a SYN at the same moment (RFC 9293 Figure 7): each goes SYN-SENT, then SYN-RECEIVED on "
        "the other's SYN, and ESTABLISHED on the SYN,ACK. Then both close at once (Figure 13): each receives the "
        "other's FIN in FIN-WAIT-1, goes CLOSING, and both wait in TIME-WAIT.",
        {"scenario": "simultaneous", "isn_client": 100, "isn_server": 300, **_SHORT_MSL}, feature=CONNECTION,
    ),
    Preset(
        "old-duplicate-syn", "An old duplicate SYN answered by RST",
        "RFC 9293 Figure 8: an old SYN (SEQ=90) reaches the server first. The server answers it; the client, "
        "whose SYN was SEQ=100, sees an ACK of 91 and sends <SEQ=91><CTL=RST>; the server returns to LISTEN, "
        "and the client's real SYN then opens the connection (the server's new ISN is 400).",
        {"scenario": "old_duplicate_syn", **_SHORT_MSL}, feature=CONNECTION,
    ),
    Preset(
        "flow-control", "Flow control: a slow reader closes the window",
        "The receiving application reads only 1,000 bytes a second from a 4,000-byte buffer, so the window the "
        "server advertises shrinks to zero and the sender stops; it probes the zero window with one byte, and "
        "sends again when a window update arrives. Flow control is per connection: the receiver's window, not the "
        "network, limits the sender here.",
        {"scenario": "transfer", "data_bytes": 8000, "rcv_buffer": 4000, "read_bytes_per_s": 1000, **_SHORT_MSL},
        feature=CONNECTION,
    ),
    Preset(
        "corrupt-and-lost", "A corrupted and a lost segment, repaired",
        "One segment has a bit flipped on the way: the receiver's checksum does not match, so it discards it "
        "without an ACK. Later another is lost outright. Both are repaired the same way: the segments behind each "
        "bring three duplicate ACKs, and the sender retransmits it (fast retransmit). Error checking is the "
        "checksum; correction is the retransmission.",
        {"scenario": "transfer", "data_bytes": 24000, **_SHORT_MSL}, actions=((8, _next("corrupt")), (28, _next("drop"))),
        feature=ERRORS,
    ),
    Preset(
        "reordering", "Out of order, delivered in order",
        "One data segment is held up 15 ms on the wire, so the two behind it arrive first. The receiver holds "
        "them out of order, acknowledges each at once with a duplicate ACK for the missing bytes, and when the "
        "late segment arrives delivers all of it to the application in sequence order. Two duplicate ACKs are "
        "fewer than the three of fast retransmit, so nothing is sent again: reordering is not loss.",
        {"scenario": "transfer", "data_bytes": 12000, **_SHORT_MSL}, actions=((8, _next("delay", ms=15)),),
        feature=ORDERING,
    ),
    Preset(
        "congestion-control", "Slow start, fast retransmit and a timeout",
        "An 80 KB transfer: cwnd grows by one segment per ACK in slow start. A lost segment brings three duplicate "
        "ACKs: fast retransmit and fast recovery halve the window (ssthresh = FlightSize/2, cwnd = ssthresh + "
        "3 SMSS, then cwnd = ssthresh) and congestion avoidance adds about one segment per round trip. Near the "
        "end a segment is lost with too few segments behind it to bring three duplicate ACKs: the timer expires, "
        "ssthresh = max(FlightSize/2, 2 SMSS) and cwnd falls to 1 SMSS, back to slow start. The chart marks "
        "each event.",
        {"scenario": "transfer", "data_bytes": 80000, **_SHORT_MSL},
        actions=((20, _next("drop")), (100, _next("drop"))),
        feature=CONGESTION,
    ),
    Preset(
        "two-flows-one-bottleneck", "Two flows share a bottleneck",
        "Two connections send 200 KB each through one router whose 1 Mbit/s link queues 12 packets and drops "
        "the tail. The first has the link to itself for half a second; then both windows grow by about a "
        "segment per round trip and are halved when the queue overflows (AIMD: additive increase, "
        "multiplicative decrease), and the two settle near half of the link each. (Initial ssthresh is 8,000 "
        "bytes, so slow start ends before it floods the small queue; one frame shows 20 ms.)",
        {"scenario": "fairness", "data_bytes": 200000, "mss": 1000, "frame_ms": 20, "one_way_latency_ms": 50,
         "queue_packets": 12, "initial_ssthresh": 8000, **_SHORT_MSL},
        feature=CONGESTION,
    ),
    Preset(
        "http", "Web browsing: an HTTP request over TCP",
        "The browser opens a connection to port 80, sends GET / HTTP/1.1 and receives a 6,000-byte page in "
        "segments. With Connection: close the server closes first, so the server waits in TIME-WAIT.",
        {"scenario": "http", **_SHORT_MSL}, use_case=WEB,
    ),
    Preset(
        "smtp", "Email: SMTP's command exchange",
        "An SMTP session over one TCP connection to port 25: 220 greeting, EHLO, MAIL FROM, RCPT TO, DATA, the "
        "message ending with a lone dot, QUIT. Each command waits for the server's reply, so each costs a round "
        "trip.",
        {"scenario": "smtp", **_SHORT_MSL}, use_case=EMAIL,
    ),
    Preset(
        "ftp", "File transfer: FTP's control and data connections",
        "FTP logs in and sends RETR on a control connection to port 21; the file travels on a second TCP "
        "connection, which the server opens from port 20 to the port the client named in PORT, and closes at the "
        "end of the file. The control connection then carries 226 and QUIT.",
        {"scenario": "ftp", **_SHORT_MSL}, use_case=FTP,
    ),
    Preset(
        "streaming", "Streaming video under loss",
        "A player fetches three video segments over HTTP on TCP, as DASH and HLS players do, on a path losing 3% "
        "of segments. TCP repairs every loss, so the video arrives whole and in order, but each repair costs time "
        "and halves the congestion window: the player needs a buffer to play smoothly.",
        {"scenario": "streaming", "loss_rate": 0.03, **_SHORT_MSL}, seed=2, use_case=STREAMING,
    ),
)
