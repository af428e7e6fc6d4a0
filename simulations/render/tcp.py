"""The TCP/IP stage: the hosts (and the router of the bottleneck) with segments moving along
their links, each connection's two ends and their variables side by side, the inspected
segment opened layer by layer (Ethernet frame > IPv4 packet > TCP segment > data, with each
header's real fields and sizes), and a chart of cwnd (and ssthresh, once it leaves its
initial value) with each loss marked.

Reads the entities of simulations/engines/tcp.py: `endpoint`, `segment`, `packet`, `router`,
`series` and `mark`. One top-level <svg>, 432 units wide with no text under 16 units (12 px
on a phone); its height depends only on the scenario (how many connections, whether there is
a router), never on the step.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Any

from simulations.engines.base import Entity, Frame
from simulations.render.chart import Marker, Series, render_chart, time_window
from simulations.render.memo import IdentityMemo
from simulations.render.svg import esc, fit, legible_font, svg_root
from simulations.render.topology import Network, StageMessage, StageNode, Timer, render_topology

WIDTH = 432
GAP = 10
FONT = legible_font(WIDTH)  # 16
LINE = 19
CHART_H = 190
EP_LINES = 7
#: Lines per layer in the layers box, link first: every line whole at 432 units wide.
LAYER_LINES = (3, 2, 4, 1)
SHORT = {"client": "A", "server": "B", "client2": "A2", "router": "R"}
DIRECT = MappingProxyType({"A": (56.0, 70.0), "B": (376.0, 70.0)})
VIA = MappingProxyType({"A": (56.0, 64.0), "A2": (56.0, 174.0), "R": (216.0, 119.0), "B": (376.0, 119.0)})


@lru_cache(maxsize=256)
def _host(endpoint_id: str) -> str:
    return SHORT.get(endpoint_id.split(":")[0], "A")


def _ms(t: float) -> str:
    return f"{t:,.0f} ms" if abs(t - round(t)) < 0.05 else f"{t:,.1f} ms"


@lru_cache(maxsize=2048)
def _label(flags: tuple[str, ...], seq: int, ack: int, length: int) -> tuple[str, str, str]:
    """(pill label, glyph, class) of a segment."""
    if "RST" in flags:
        return "RST", "circle", "nack"
    if "SYN" in flags:
        return ("SYN+ACK" if "ACK" in flags else "SYN"), "diamond", "vote-req"
    if "FIN" in flags:
        return "FIN", "circle", "heartbeat"
    if length:
        return str(seq), "square", "append"
    return f"ack {ack}", "triangle", "ack"


@lru_cache(maxsize=256)
def _ring(kind: str, start: float, deadline: float) -> Timer:
    """The endpoint's next timer as a ring emptying around its host (retransmission, persist,
    delayed ACK or TIME-WAIT)."""
    return Timer(start, deadline, "heartbeat" if kind == "TIME-WAIT" else "election", kind)


#: The engine's points list -> its Series: the engine hands the same list to every frame
#: until it changes.
_SERIES: IdentityMemo[Series] = IdentityMemo(256)
#: series name -> the last (points list, Series) of that name: a changed list is a longer one
#: starting with the same points, so only the new points are converted.
_GROWN: dict[str, tuple[list, Series]] = {}


def _series(name: str, points: list) -> Series:
    """A series entity as the chart takes it, converted once (and extended as it grows)."""
    return _SERIES.of(points, lambda: _grown_series(name, points))


def _grown_series(name: str, points: list) -> Series:
    last = _GROWN.get(name)
    n = len(last[0]) if last is not None else 0
    if last is not None and n <= len(points) and points[:n] == last[0]:
        s = Series(name, last[1].points + tuple((float(t), float(v)) for t, v in points[n:]))
    else:
        s = Series(name, tuple((float(t), float(v)) for t, v in points))
    _GROWN[name] = (points, s)
    return s


#: A segment's state -> its StageMessage, for segments on a direct link (one whose drawing
#: does not depend on the time): the engine reuses an unchanged segment's state.
_MESSAGES: IdentityMemo[StageMessage | None] = IdentityMemo(1024)


def _message(e: Entity, now: float) -> StageMessage | None:
    if e.state["via"]:
        return _message_of(e, now)
    return _MESSAGES.of(e.state, lambda: _message_of(e, now))


def _message_of(e: Entity, now: float) -> StageMessage | None:
    st = e.state
    flags = tuple(st["flags"])
    label, shape, cls = _label(flags, st["seq"], st["ack"], st["len"])
    if st["retransmission"]:
        cls += " rexmit"
    if st["corrupted"]:
        cls += " corrupt"
        label += " !"
    if st["inspected"]:
        cls += " inspected"
    fate = st["fate"]
    src, dst = _host(st["src"]), _host(st["dst"])
    start, end = st["sent_at"], st["deliver_at"]
    drop = fate != "in_flight"
    if st["via"]:
        r_at, r_out = st["router_at"], st["router_out"]
        if r_at is None:  # the reverse path: half the way to the router, half from it
            r_at = r_out = (start + end) / 2
        if fate == "queue_drop":
            src, dst, end = src, "R", r_at
        elif now < r_at:
            dst, end = "R", r_at
            drop = False if fate == "in_flight" else drop
            if fate == "will_drop":
                drop = False
        elif r_out is not None and now < r_out:
            return None  # waiting in the router's queue
        else:
            src, start = "R", r_out if r_out is not None else r_at
    # The segment's number (what Inspect, Drop, Corrupt take), and more words only where the
    # pill does not say it all (a frame's bytes are budgeted).
    special = st["inspected"] or st["retransmission"] or st["corrupted"] or drop
    title = (f"#{e.id[1:]} {'+'.join(flags)} seq {st['seq']} ack {st['ack']} len {st['len']}"
             + (" resent" if st["retransmission"] else "") + (" corrupted" if st["corrupted"] else "")
             + (" lost" if drop else "")) if special else f"segment #{e.id[1:]}"
    # On the direct link one segment follows another by a serialisation delay shorter than a
    # pill's flight across its width: every other one takes the outer lane. A full-sized data
    # segment's place in its stream (seq // len: consecutive ones alternate whatever the ISN);
    # others by their number.
    lane = 0 if st["via"] else (st["seq"] // st["len"] if st["len"] else int(e.id[1:])) % 2
    return StageMessage(e.id, src, dst, start, end, label, shape, cls, drop, title, lane)


def _endpoint_block(eid: str, state: str, una: int, nxt: int, rcv: int, cwnd: int, ssthresh: int, rwnd: int,
                    flight: int, rto: float, srtt: float | None, phase: str, peer_window: int, x: float, y: float,
                    w: float) -> str:
    """One end of a connection: its name and state, then its variables (RFC 9293 names).
    Built from cached pieces: from one frame to the next, one or two of its lines change."""
    return "".join((
        _endpoint_head(x, y, w, phase, srtt),
        _endpoint_line(0, eid, w),
        _endpoint_line(1, state, w),
        _endpoint_line(2, f"UNA {una} NXT {nxt}", w),
        _endpoint_line(3, f"RCV.NXT {rcv}", w),
        _endpoint_line(4, f"rwnd {rwnd:,}", w),
        _endpoint_line(5, f"cwnd {cwnd:,} ss {ssthresh:,}" if cwnd else "cwnd not set yet", w),
        _endpoint_line(6, f"flight {flight:,} RTO {rto:g} s", w),
        "</g>",
    ))


@lru_cache(maxsize=256)
def _endpoint_head(x: float, y: float, w: float, phase: str, srtt: float | None) -> str:
    # The group's origin is the lines' left edge (8 in from the box's): the lines need no x.
    out = [f'<g class="tcp-ep" transform="translate({x + 8:.0f},{y:.0f})">',
           f'<rect class="ep-box" x="-8" width="{w:.0f}" height="{EP_LINES * LINE + 10}" rx="6"/>']
    if phase:  # what the lines do not say (a frame's bytes are budgeted)
        srtt_words = f"SRTT {srtt * 1000:.0f} ms" if srtt is not None else "no RTT sample yet"
        out.append(f"<title>{esc(phase)}; {esc(srtt_words)}</title>")
    return "".join(out)


_EP_CLASS = (' class="ep-name"', ' class="ep-state"', "", "", "", "", "")


@lru_cache(maxsize=2048)
def _endpoint_line(i: int, line: str, w: float) -> str:
    """Line `i` of an endpoint's box (the name, the state, then its variables)."""
    return f'<text y="{19 + i * LINE}"{_EP_CLASS[i]}>{esc(fit(line, w - 14, FONT))}</text>'


#: (an endpoint entity's state, where) -> its block: the engine hands an unchanged endpoint's
#: state object to the next frame, so its block is found without hashing its variables.
_BLOCKS: IdentityMemo[str] = IdentityMemo(512)
_MARKERS: IdentityMemo[Marker] = IdentityMemo(512)


def _marker(st: Any) -> Marker:
    """A loss mark as the chart takes it (once per state object: the engine reuses them)."""
    return _MARKERS.of(st, lambda: Marker(st["t"], st["label"], "loss"))


#: The last endpoints part: (their states, y, (markup, height)); most frames change no endpoint.
_LAST_ENDPOINTS: list = [(), None, None]


def _endpoints(endpoints: list[Entity], y: float) -> tuple[str, float]:
    states = tuple(e.state for e in endpoints)
    last = _LAST_ENDPOINTS
    if last[1] == y and len(last[0]) == len(states) and all(a is b for a, b in zip(last[0], states)):
        return last[2]  # (the same state objects: the same endpoints, unchanged)
    places, height = _endpoint_places(tuple(st["flow"] for st in states), y)
    w = EP_W
    out = []
    for e, where in zip(endpoints, places):
        if where is None:
            continue
        st = e.state
        x, yy = where
        out.append(_BLOCKS.of(st, lambda: _endpoint_block(
            e.id, st["state"], st["snd_una"], st["snd_nxt"], st["rcv_nxt"], st["cwnd"], st["ssthresh"], st["rwnd"],
            st["flight_size"], st["rto"], st["srtt"], st["phase"], st["peer_window"], x, yy, w), where))
    drawn = "".join(out), height
    last[:] = [states, y, drawn]
    return drawn


EP_W = (WIDTH - 3 * 6) / 2


@lru_cache(maxsize=64)
def _endpoint_places(flows: tuple[int, ...], y: float) -> tuple[tuple[tuple[float, float] | None, ...], float]:
    """Where each endpoint's block goes (None: not drawn), in the order given, and the part's
    height: a row per connection (flows in order), its first two ends side by side."""
    h = EP_LINES * LINE + 10
    rows = {flow: row for row, flow in enumerate(sorted(set(flows)))}
    seen: dict[int, int] = {}
    places = []
    for flow in flows:
        col = seen[flow] = seen.get(flow, -1) + 1
        places.append((6 + col * (EP_W + 6), y + rows[flow] * (h + 6)) if col < 2 else None)
    return tuple(places), len(rows) * (h + 6)


def _short_mac(mac: str) -> str:
    return "\u2026" + mac[-5:]


def _layers_box(st: Any, y: float) -> str:
    """The inspected segment (the packet entity's state) as nested boxes, outermost (the link
    layer) first."""
    seg_id, where, chosen, payload = st["segment"], st["where"], st["chosen"], st["payload"]
    eth, ip, tcp, app = st["layers"]
    ef, ipf, tf = dict(eth["fields"]), dict(ip["fields"]), dict(tcp["fields"])
    data_len = app["fields"][0][1]
    tcp_len = tcp["header"]
    frame_len = eth["header"] + 4 + ipf["total length"]
    heads = [
        (f"Link: Ethernet II frame, {frame_len} B", f"header {eth['header']} B + FCS 4 B; type 0x0800 (IPv4)",
         f"src {_short_mac(ef['src MAC'])} \u2192 dst {_short_mac(ef['dst MAC'])}"),
        (f"Internet: IPv4 packet, {ipf['total length']} B, TTL 64", f"header {ip['header']} B; {ipf['src']} \u2192 {ipf['dst']}"),
        (f"Transport: TCP segment, {tcp_len + data_len} B", f"header {tcp_len} B; port {tf['src port']} \u2192 {tf['dst port']}",
         f"seq {tf['seq']} ack {tf['ack']} {tf['flags']}", f"win {tf['window']:,} sum {tf['checksum']}"
         + (f" MSS {tf['MSS option']}" if "MSS option" in tf else "")),
        (f"Application: {data_len} B" + (f" \u201c{payload}\u201d" if payload and data_len else ""),),
    ]
    title = f"Segment {seg_id} ({where}){'' if chosen else ', followed'}"
    out = [f'<g class="tcp-layers" transform="translate(0,{y:.0f})">',
           f'<text x="8" y="16" class="layers-title">{esc(fit(title, WIDTH - 16, FONT))}</text>']
    for (box, slots), lines in zip(_layer_slots(LAYER_LINES), heads, strict=True):
        out.append(box)
        for (opening, room), line in zip(slots, lines):
            out.append(_layer_text(opening, line, room))
    out.append("</g>")
    return "".join(out)


@lru_cache(maxsize=8)
def _layer_slots(counts: tuple[int, ...]) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """Per layer, outermost first: its box, and per line the <text> opening and the room for
    the line (the first, the layer's name and size, in the head's weight). The same for
    every segment: each layer has the same number of lines."""
    tops = []
    yy = 24.0
    for n in counts:
        tops.append(yy)
        yy += n * LINE + 8
    inner_bottom = tops[-1] + counts[-1] * LINE + 4
    layers = []
    for i, n in enumerate(counts):
        inset = 8 * i
        x0 = 6 + inset
        w = WIDTH - 12 - 2 * inset
        top = tops[i] - 2
        h = inner_bottom + (len(counts) - 1 - i) * 5 - top
        box = f'<rect class="layer-box layer-{i}" x="{x0:.0f}" y="{top:.0f}" width="{w:.0f}" height="{h:.0f}" rx="5"/>'
        slots = tuple((f'<text x="{x0 + 8:.0f}" y="{tops[i] + 14 + k * LINE:.0f}"{cls}>', w - 14)
                      for k, cls in enumerate([' class="layer-head"'] + [""] * (n - 1)))
        layers.append((box, slots))
    return tuple(layers)


@lru_cache(maxsize=2048)
def _layer_text(opening: str, line: str, room: float) -> str:
    """A layer's line (most repeat from one inspected segment to the next)."""
    return f"{opening}{esc(fit(line, room, FONT))}</text>"


#: The packet entity's state -> its layers box: the engine hands the same state object to
#: every frame while the inspected segment and its place are unchanged.
_BOXES: IdentityMemo[str] = IdentityMemo(256)


def _packet_box(packet: Entity, y: float) -> str:
    return _BOXES.of(packet.state, lambda: _layers_box(packet.state, y), y)


def layers_height() -> float:
    return 24 + sum(LAYER_LINES) * LINE + 8 * len(LAYER_LINES) + 16


#: At most this many segments are drawn (a frame's bytes are budgeted): the inspected one, those
#: that will be lost, corrupted or are retransmissions, then those on the wire, the most recently
#: sent first, then those still queued on their sender's link, the next to leave first. The
#: stage's accessible name counts them all.
MAX_DRAWN = 6


def _drawn(segs: list[Entity], now: float) -> list[Entity]:
    if len(segs) <= MAX_DRAWN:
        return segs
    def rank(e: Entity) -> tuple:
        st = e.state
        special = st["inspected"] or st["fate"] != "in_flight" or st["corrupted"] or st["retransmission"]
        queued = st["sent_at"] > now
        return (not special, queued, st["sent_at"] if queued else -st["sent_at"])
    keep = {e.id for e in sorted(segs, key=rank)[:MAX_DRAWN]}
    return [e for e in segs if e.id in keep]


def _summary(frame: Frame, endpoints: list[Entity], n: int) -> str:
    ends = "; ".join(f"{e.id} {e.state['state']}" for e in endpoints)
    drawn = f" ({MAX_DRAWN} drawn)" if n > MAX_DRAWN else ""
    return f"{_ms(frame.time)}: {ends}; {n} segment{'s' if n != 1 else ''} on the wire{drawn}"


@lru_cache(maxsize=256)
def _router_node(queue: int, limit: int, drops: int) -> StageNode:
    return StageNode("R", "router", "plain", (f"queue {queue}/{limit}",), title=f"drops {drops}")


_NAMES = MappingProxyType({"A": "client", "A2": "client 2", "R": "router", "B": "server"})


def _host_node(h: str, mine: tuple[dict, ...]) -> StageNode:
    """A host as a node: its connections' first state under its name, a double ring once one
    is established, and the first running timer as a ring. Keyed by what it shows, not by
    the state objects: most segments change an endpoint's numbers and none of these."""
    t = next((st["timer"] for st in mine if st["timer"]), None)
    states = tuple(st["state"] for st in mine)
    return _host_node_of(h, states, (t["kind"], t["start"], t["deadline"]) if t else None)


@lru_cache(maxsize=512)
def _host_node_of(h: str, states: tuple[str, ...], timer: tuple[str, float, float] | None) -> StageNode:
    ring = _ring(*timer) if timer else None
    title = f"{timer[0]} timer running" if timer else ""  # stable text: the node's drawing is cached
    return StageNode(h, _NAMES[h], "double" if "ESTABLISHED" in states else "plain",
                     (" ".join(states[:1]),), False, ring, title)


@lru_cache(maxsize=64)
def _network(flows: int, rate_kbps: int | None) -> Network:
    """The links and the caption: "N TCP connections over IPv4 over Ethernet", and the bottleneck's rate."""
    words = f"{flows} TCP connection{'s' if flows != 1 else ''} over IPv4 over Ethernet"
    if rate_kbps is None:
        return Network(links=(("A", "B"),), caption=words)
    return Network(links=(("A", "R"), ("A2", "R"), ("R", "B")), caption=f"{words} · bottleneck {rate_kbps:,} kbit/s")


@lru_cache(maxsize=32)
def _chart_caption(names: tuple[str, ...]) -> str:
    """What the chart draws: ssthresh has a line once it leaves its initial value (the
    endpoint boxes show that value meanwhile), and not in the two-flow chart."""
    if any(n.startswith("ssthresh") for n in names):
        return "cwnd and ssthresh (segments)"
    return "cwnd of each flow (segments)" if len(names) > 1 else "cwnd (segments)"


def render_stage(frame: Frame, dom_id: str) -> str:
    endpoints: list[Entity] = []
    segs: list[Entity] = []
    series: list[Series] = []
    marks: list[Marker] = []
    packet = router = None
    for e in frame.entities:
        k = e.kind
        if k == "segment":
            segs.append(e)
        elif k == "endpoint":
            endpoints.append(e)
        elif k == "series":
            series.append(_series(e.state["name"], e.state["points"]))
        elif k == "mark":
            marks.append(_marker(e.state))
        elif k == "packet":
            packet = e
        elif k == "router":
            router = e
    now = frame.time
    via = router is not None
    by_host: dict[str, list[dict]] = {}
    for e in endpoints:
        by_host.setdefault(_host(e.id), []).append(e.state)
    nodes = []
    for h in (("A", "A2", "R", "B") if via else ("A", "B")):
        if h == "R":
            q = router.state if router else {"queue": 0, "limit": 0, "drops": 0}
            nodes.append(_router_node(q["queue"], q["limit"], q["drops"]))
        else:
            nodes.append(_host_node(h, by_host.get(h, ())))
    messages = [m for e in _drawn(segs, now) if (m := _message(e, now)) is not None]
    net = _network(len({e.state["flow"] for e in endpoints}), router.state["rate_kbps"] if via else None)
    topo, topo_h = render_topology(nodes, messages, now, net, width=WIDTH,
                                   positions=VIA if via else DIRECT, lines=2)
    # The endpoints and layers text inherit their size from this group, not from the page
    # (17 px on a desktop): their lines are cut to fit at FONT.
    parts = [topo, f'<g font-size="{FONT:.0f}">']
    y = topo_h + GAP
    ep, ep_h = _endpoints(endpoints, y)
    parts.append(ep)
    y += ep_h + GAP
    if packet is not None:
        parts.append(_packet_box(packet, y))
    else:
        parts.append(f'<g class="tcp-layers" transform="translate(0,{y:.0f})"><text x="8" y="16" class="layers-title">'
                     "No segment sent yet: the layers of the next one show here.</text></g>")
    y += layers_height() + GAP
    parts.append("</g>")
    # The engine keeps each series' latest points: the window opens where every line has
    # its points (a quiet ssthresh keeps older ones than a busy cwnd), so none starts midway.
    start = max((s.points[0][0] for s in series if s.points), default=0.0)
    chart, chart_h = render_chart(series, y=y, width=WIDTH, height=CHART_H, t_range=time_window(start, now), now=now,
                                  markers=marks, caption=_chart_caption(tuple(x.name for x in series)), integer=False,
                                  colours=False)
    parts.append(chart)
    y += chart_h
    return svg_root(dom_id, WIDTH, y, parts, cls="msg-stage tcp-stage", label=_summary(frame, endpoints, len(segs)),
                    font=None)
