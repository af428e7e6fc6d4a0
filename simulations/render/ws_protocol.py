"""The WebSockets stage: the two peers with frames moving along their link (topology part),
a detail box (the opening handshake's header lines until the first frame, then the latest
frame byte by byte: header fields coloured and labelled, masking key, masked payload, with
the unmasked text under it), and the polling comparison: bytes on the wire and the delay
of each server message, for short polling, long polling and the WebSocket (chart part).

Reads the entity kinds of simulations/engines/ws_protocol/engine.py: `peer`, `handshake`,
`http`, `frame`, `link`, `series`. One top-level <svg>, 432 units wide, no text under 16
units (12 px at phone width), and the same height on every frame.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Any

from simulations.engines.base import Frame
from simulations.render.chart import COLOURS, DASHES, Series, render_chart, time_window
from simulations.render.memo import IdentityMemo
from simulations.render.svg import MONO, escape, fit, num, svg_root
from simulations.render.topology import Network, StageMessage, StageNode, Timer, render_topology

WIDTH = 432
GAP = 10
FONT = 16
LINE = 19
BOX_H = 222
CHART_H = 150
PER_ROW = 8
ROWS = 3
CELL_W = (WIDTH - 16) / PER_ROW
CELL_H = 44
POSITIONS = MappingProxyType({"client": (72.0, 70.0), "server": (WIDTH - 72.0, 70.0)})
MONO_W = 0.6 * FONT
MAX_CHARS = int((WIDTH - 16) / MONO_W)

#: Field -> its class: the byte grid's colours are the stylesheet's, light and dark
#: (simulations.css, "WebSockets stage"; a frame's bytes are budgeted).
FIELDS = {
    "head": "ws-f-head",  # FIN, RSV1-3, opcode
    "len": "ws-f-len",  # MASK and the 7-bit length
    "ext": "ws-f-ext",  # the 16- or 64-bit length
    "key": "ws-f-key",  # the masking key
    "data": "ws-f-data",  # the payload
}


def _ms(t: float) -> str:
    return f"{t:,.0f} ms" if abs(t - round(t)) < 0.05 else f"{t:,.1f} ms"


# --------------------------------------------------------------------------- the link


_STATE_SHAPE = {"OPEN": "double", "CONNECTING": "dashed", "CLOSING": "dashed", "CLOSED": "crashed"}


@lru_cache(maxsize=256)
def _peer(pid: str, ready: str, last_event: str, code: int | None, timer: tuple | None) -> StageNode:
    line = last_event or "waiting"
    t = None
    if timer is not None:
        kind, start, deadline = timer
        t = Timer(start, deadline, "heartbeat" if kind == "ping" else "election",
                  f"{'next ping' if kind == 'ping' else 'pong due'} at {_ms(deadline)}")
    # The label says the readyState; the title adds only what is not drawn.
    title = "; ".join(x for x in (f"close code {code}" if code else "", t.label if t is not None else "") if x)
    return StageNode(pid, ready, _STATE_SHAPE.get(ready, "plain"), (line,), False, t, title)


_OPCODE_LABEL = {"text": "text", "binary": "binary", "continuation": "cont.", "ping": "Ping", "pong": "Pong", "close": "Close"}
_SHAPE = {"text": "square", "binary": "square", "continuation": "square", "ping": "diamond", "pong": "diamond",
          "close": "circle"}


#: A frame or http entity's state -> its StageMessage: the engine hands an
#: unchanged entity's state to the next frame.
_MSGS: IdentityMemo[StageMessage] = IdentityMemo(1024)


def _msg(eid: str, st: dict[str, Any], make) -> StageMessage:
    return _MSGS.of(st, lambda: make(eid, st))


_STATUS_WORDS = {"lost": "; lost",
                 "held": "; held in the receiver's TCP until the lost segment before it is resent"}


def _frame_msg(eid: str, st: dict[str, Any]) -> StageMessage:
    name = st["opcode_name"]
    label = _OPCODE_LABEL[name]
    if name == "close":
        label = f"Close {st['close_code']}"
    elif name in ("text", "binary", "continuation"):
        label = f"{label} {st['payload_length']} B"
    cls = "ws-data" if name in ("text", "binary", "continuation") else "ws-close" if name == "close" else "ws-control"
    title = (f"{len(st['bytes']) // 2} bytes, {'masked' if st['masked'] else 'unmasked'}"
             + (f": {st['note']}" if st["note"] else "") + _STATUS_WORDS.get(st["status"], ""))
    if st["status"] == "held":  # arrived, but its TCP holds it until the lost segment before it is resent
        label += " held"
    return StageMessage(eid, st["src"], st["dst"], st["sent_at"], st["deliver_at"], label, _SHAPE[name], cls,
                        st["status"] == "lost", title)


_HTTP_LABEL = {"upgrade_request": "GET Upgrade", "upgrade_response": "101", "tcp_close": "TCP FIN"}


def _http_msg(eid: str, st: dict[str, Any]) -> StageMessage:
    what = st["what"]
    title = {"upgrade_request": "HTTP/1.1 GET with Upgrade: websocket", "upgrade_response": "HTTP/1.1 101 Switching Protocols",
             "tcp_close": "the TCP connection closes"}[what]
    if st["bytes_length"]:
        title += f", {st['bytes_length']} bytes"
    return StageMessage(eid, st["src"], st["dst"], st["sent_at"], st["deliver_at"], _HTTP_LABEL[what], "triangle",
                        "ws-http", st["status"] == "lost", title)


# --------------------------------------------------------------------------- the detail box


def _wrap(line: str) -> list[str]:
    """A header line cut to the box's width: after "name:" first, then by characters."""
    if len(line) <= MAX_CHARS:
        return [line]
    name, sep, value = line.partition(": ")
    if sep and len(name) + 1 <= MAX_CHARS:
        rest = "  " + value
        return [name + ":"] + [rest[i:i + MAX_CHARS] for i in range(0, len(rest), MAX_CHARS)]
    return [line[i:i + MAX_CHARS] for i in range(0, len(line), MAX_CHARS)]


@lru_cache(maxsize=64)
def _handshake_box(y: float, key: str, accept: str | None, expected: str, req: tuple[str, ...], resp: tuple[str, ...],
                   status: str) -> str:
    out = [f'<g class="ws-box ws-handshake" transform="translate(0,{num(y)})" font-size="{FONT}">',
           f'<rect class="ws-box-bg" width="{WIDTH}" height="{BOX_H}" rx="6"/>']
    words = {"sent": "Opening handshake: the request is on its way",
             "answered": "Opening handshake: the server has answered",
             "accepted": "Opening handshake: accepted", "failed": "Opening handshake: FAILED, wrong accept"}[status]
    red = " ws-failed" if status == "failed" else ""
    out.append(f'<text class="ws-box-title{red}" x="8" y="18" font-weight="600">{escape(words)}</text>')
    lines: list[tuple[str, str]] = []
    # Once the response is in, the request keeps its start line and key (the rest is above, earlier).
    shown_req = req if not resp else tuple(ln for ln in req if ln.startswith(("GET ", "Sec-WebSocket-Key")))
    for ln in shown_req:
        lines.extend(("ws-req", part) for part in _wrap(ln))
    if resp:
        for ln in resp:
            bad = ln.startswith("Sec-WebSocket-Accept") and accept != expected
            lines.extend(("ws-resp ws-bad" if bad else "ws-resp", part) for part in _wrap(ln))
    else:
        lines.append(("ws-note", "(no response yet)"))
    if status == "failed":
        lines.append(("ws-bad", f"expected: {expected}"))
    room = int((BOX_H - 30) // 18)
    lines = lines[:room]
    out.append(f'<text class="ws-lines" font-family="{MONO}">')
    for i, (cls, ln) in enumerate(lines):
        out.append(f'<tspan class="{cls}" x="8" y="{num(40 + 18 * i)}">{escape(ln)}</tspan>')
    out.append("</text></g>")
    return "".join(out)


def _cell_x(i: int) -> float:
    return 8 + (i % PER_ROW) * CELL_W


#: Per byte index: the x list of its two hex digits, and the x of its middle.
_HEX_X = tuple(f"{num(_cell_x(i) + CELL_W / 2 - MONO_W / 2)} {num(_cell_x(i) + CELL_W / 2 + MONO_W / 2)}"
               for i in range(PER_ROW * ROWS))
_MID_X = tuple(num(_cell_x(i) + CELL_W / 2) for i in range(PER_ROW * ROWS))
GRID_TOP = 28
LEGEND_Y = GRID_TOP + ROWS * CELL_H + 14


@lru_cache(maxsize=64)
def _grid(n: int, ext: int, masked: bool) -> tuple[str, int, tuple[tuple[int, int, str, str, tuple[int, ...], str, str], ...]]:
    """What the byte grid of a frame of `n` bytes (at most a grid's worth) draws whatever its
    bytes: the field blocks, the number of header bytes, and per row (first byte, end,
    the hex digits' opening, its closing, the payload bytes' indices, the unmasked
    characters' opening, its closing)."""
    fields = (["head", "len"] + ["ext"] * ext + (["key"] * 4 if masked else []) + ["data"] * n)[:n]
    head_len = len(fields) - fields.count("data")
    # One block per run of bytes of one field within a row: the field reads as one shape.
    paths: dict[str, list[str]] = {}
    i = 0
    while i < n:
        j = i
        while j + 1 < n and fields[j + 1] == fields[i] and (j + 1) % PER_ROW:
            j += 1
        w = (j - i + 1) * CELL_W - 3
        paths.setdefault(fields[i], []).append(
            f"M{num(_cell_x(i) + 1.5)},{GRID_TOP + (i // PER_ROW) * CELL_H}h{num(w)}v{CELL_H - 4}h-{num(w)}z")
        i = j + 1
    blocks = "".join(f'<path class="{FIELDS[f]}" d="{"".join(ds)}"/>' for f, ds in paths.items())
    rows = []
    for r in range(0, n, PER_ROW):
        end = min(n, r + PER_ROW)
        data = tuple(k for k in range(r, end) if fields[k] == "data")
        rows.append((r, end, f'<text class="ws-hex" x="{" ".join(_HEX_X[r:end])}" y="{GRID_TOP + (r // PER_ROW) * CELL_H + 18}">',
                     "</text>", data,
                     f'<text class="ws-plain" x="{" ".join(_MID_X[k] for k in data)}" '
                     f'y="{GRID_TOP + (r // PER_ROW) * CELL_H + 36}">', "</text>"))
    return blocks, head_len, tuple(rows)


@lru_cache(maxsize=256)
def _byte_box(y: float, hexbytes: str, masked: bool, key: str | None, opcode: int, opname: str,
              payload_length: int, payload: str, is_text: bool, direction: str, status: str,
              close_code: int | None) -> str:
    """The frame byte by byte (§5.2): each field a coloured block (header byte, length,
    extended length, masking key, payload), the hex of every byte, the unmasked character
    under each payload byte, and three lines that spell the fields out."""
    raw = bytes.fromhex(hexbytes)
    n7 = raw[1] & 0x7F if len(raw) > 1 else 0
    shown = min(len(raw), PER_ROW * ROWS)
    blocks, head_len, rows = _grid(shown, 2 if n7 == 126 else 8 if n7 == 127 else 0, masked)
    body = raw[head_len:shown]
    if masked and key:
        k4 = bytes.fromhex(key)
        plain = bytes(b ^ k4[i % 4] for i, b in enumerate(body))
    else:
        plain = body
    src, _, dst = direction.partition("_to_")
    title = f"{src} \u2192 {dst}: {opname} frame, {len(raw)} bytes" + (" (lost)" if status == "lost" else "")
    out = [f'<g class="ws-box ws-bytes" transform="translate(0,{num(y)})" font-size="{FONT}">'
           f'<rect class="ws-box-bg" width="{WIDTH}" height="{BOX_H}" rx="6"/>'
           f'<text class="ws-box-title" x="8" y="18" font-weight="600">{escape(fit(title, WIDTH - 16))}</text>',
           blocks,
           # Hex digits, one <text> per row with each character placed; under payload bytes the unmasked character.
           f'<g class="ws-grid" font-family="{MONO}" text-anchor="middle">']
    for r, end, hex_open, hex_close, data, plain_open, plain_close in rows:
        out.append(f"{hex_open}{raw[r:end].hex()}{hex_close}")
        if data:
            chars = "".join(chr(c) if is_text and 32 <= c < 127 else "\u00b7" for c in plain[data[0] - head_len:data[-1] + 1 - head_len])
            out.append(f"{plain_open}{escape(chars)}{plain_close}")
    out.append("</g>")
    more = f" \u2026 +{len(raw) - shown} bytes" if len(raw) > shown else ""
    b0, b1 = raw[0], raw[1]
    length = f"{n7}" if n7 <= 125 else f"{n7}: {'16' if n7 == 126 else '64'}-bit {payload_length}"
    line1 = f"{b0:02x} = FIN {b0 >> 7}, RSV {(b0 >> 4) & 7:03b}, opcode {opcode:x} {opname}"
    line2 = f"{b1:02x} = MASK {b1 >> 7}, length {length}" + (f"; key {key}" if key else "")
    if opname == "close":
        line3 = f"status {close_code}" + (f", reason \u201c{payload}\u201d" if payload else "")
    elif is_text:
        line3 = f"text \u201c{payload}\u201d"
    else:
        line3 = f"data {payload}"
    swatch = ("head", ("ext" if n7 > 125 else "key" if key else "len"), "data")
    for k, (ln, f) in enumerate(zip((line1 + more, line2, line3), swatch)):
        ly = LEGEND_Y + LINE * k
        out.append(f'<rect class="{FIELDS[f]}" x="8" y="{ly - 12}" width="14" height="14"/>'
                   f'<text class="ws-legend" x="28" y="{ly}">{escape(fit(ln, WIDTH - 36))}</text>')
    out.append("</g>")
    return "".join(out)


@lru_cache(maxsize=64)
def _bytes_chart(series: tuple[Series, ...], y: float, t_range: tuple[float, float]) -> tuple[str, float]:
    return render_chart(series, y=y, width=WIDTH, height=CHART_H, t_range=t_range,
                        caption="kB on the wire, same traffic (key below)", integer=False, legend=False,
                        colours=False)


SHORT_NAMES = {"short polling": "short poll", "long polling": "long poll"}
BAR_ROW = 24


@lru_cache(maxsize=256)
def _delay_bars(y: float, rows: tuple[tuple[str, tuple[float, ...]], ...]) -> tuple[str, float]:
    """The mean delay of the server's messages per method, as bars, with the worst single
    delay after the mean. Each row starts with its method's line (colour and dash) from the
    chart above: this is that chart's legend too."""
    h = 26 + BAR_ROW * len(rows)
    out = [f'<g class="ws-delays" transform="translate(0,{num(y)})" font-size="{FONT}">',
           '<text class="chart-caption" x="8" y="16" font-weight="600">Delay of server messages (mean, worst)</text>']
    means = [sum(v) / len(v) if v else None for _, v in rows]
    top = max([m for m in means if m is not None] + [max(v) for _, v in rows if v] + [1.0])
    left, right = 130.0, WIDTH - 112.0
    for i, ((name, vals), mean) in enumerate(zip(rows, means)):
        yy = 26 + BAR_ROW * i
        dash = f' stroke-dasharray="{DASHES[i]}"' if DASHES[i] else ""
        out.append(f'<line class="chart-key series-{i}" x1="8" y1="{num(yy + 10)}" x2="32" y2="{num(yy + 10)}" '
                   f'stroke="{COLOURS[i]}" stroke-width="3"{dash}/><text x="38" y="{num(yy + 15)}">{escape(name)}</text>')
        if mean is None:
            out.append(f'<text x="{num(left)}" y="{num(yy + 15)}">none yet</text>')
            continue
        w = max(2.0, (right - left) * mean / top)
        out.append(f'<rect class="ws-bar series-{i}" x="{num(left)}" y="{num(yy + 3)}" width="{num(w)}" height="14"/><text x="{num(left + w + 6)}" y="{num(yy + 15)}">{mean:,.0f} ms, '
                   f'{max(vals):,.0f}</text>')
    out.append("</g>")
    return "".join(out), h


# --------------------------------------------------------------------------- the stage


#: A series entity's state -> its Series: the engine reuses it across frames, so its
#: conversion is too.
_SERIES_MEMO: IdentityMemo[Series] = IdentityMemo(512)


def _series_of(st: Any) -> Series:
    def convert() -> Series:
        scale = 1000.0 if st["chart"] == "bytes" else 1.0
        return Series(SHORT_NAMES.get(st["name"], st["name"]),
                      tuple((float(a), float(b) / scale) for a, b in st["points"]), step=False)

    return _SERIES_MEMO.of(st, convert)


_DELAYS: IdentityMemo[tuple[str, tuple[float, ...]]] = IdentityMemo(512)


def _delays_of(s: Series) -> tuple[str, tuple[float, ...]]:
    """A delay series as the bars take it: its name and its values (once per Series)."""
    return _DELAYS.of(s, lambda: (s.name, tuple(v for _, v in s.points)))


def render_stage(frame: Frame, dom_id: str) -> str:
    peers: list[StageNode] = []
    msgs: list[StageMessage] = []
    hs: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = []
    bytes_series: list[Series] = []
    delay_series: list[Series] = []
    cut = False
    latency = 0.0
    for e in frame.entities:
        k = e.kind
        st = e.state
        if k == "peer":
            t = st["timer"]
            peers.append(_peer(e.id, st["ready_state"], st["last_event"], st["close_code"],
                               (t["kind"], t["start"], t["deadline"]) if t else None))
        elif k == "frame":
            frames.append(st)
            if st["status"] != "arrived":
                msgs.append(_msg(e.id, st, _frame_msg))  # type: ignore[arg-type]
        elif k == "http":
            msgs.append(_msg(e.id, st, _http_msg))  # type: ignore[arg-type]
        elif k == "handshake":
            hs = st  # type: ignore[assignment]
        elif k == "link":
            cut, latency = st["cut"], st["latency_ms"]
        elif k == "series":
            (bytes_series if st["chart"] == "bytes" else delay_series).append(_series_of(st))
    now = frame.time
    caption = ("Link cut silently: nothing gets through" if cut
               else f"One TCP connection \u00b7 {latency:.0f} ms one way")
    network = Network(((("client",), ("server",)) if cut else ()), links=(("client", "server"),), caption=caption)
    topo, topo_h = render_topology(peers, msgs, now, network, width=WIDTH, positions=POSITIONS, lines=2)
    y = topo_h + GAP
    newest = next((f for f in frames if f["current"]), None)
    if newest is None or (hs is not None and hs["status"] == "failed"):
        assert hs is not None
        box = _handshake_box(y, hs["key"], hs["accept"], hs["expected_accept"], tuple(hs["request_lines"]),
                             tuple(hs["response_lines"]), hs["status"])
    else:
        f = newest
        box = _byte_box(y, f["bytes"], f["masked"], f["masking_key"], f["opcode"], f["opcode_name"],
                        f["payload_length"], f["payload"], f["payload_is_text"], f["direction"], f["status"],
                        f["close_code"])
    y += BOX_H + GAP
    parts = [topo, box]
    t_range = time_window(0.0, now)
    chart, h = _bytes_chart(tuple(bytes_series), y, t_range)
    parts.append(chart)
    y += h + GAP
    bars, h = _delay_bars(y, tuple(_delays_of(s) for s in delay_series))
    parts.append(bars)
    y += h
    states = ", ".join(f"{p.id} {p.role}" for p in peers)
    label = f"{_ms(now)}: {states}; {sum(1 for m in msgs)} in flight" + ("; link cut" if cut else "")
    return svg_root(dom_id, WIDTH, y, parts, cls="msg-stage ws-stage", label=label, font=None)
