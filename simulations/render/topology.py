"""The topology stage part: nodes, the links between them, a partition drawn as a cut, and
messages that move along their link between frames as well as at them.

A layout module turns its engine's entities into `StageNode`, `StageMessage` and
`Network` and calls `render_topology`, which returns an SVG fragment (a <g>) and its height
for the layout to place in its one top-level <svg>.

Motion. The stage is replaced whole on every frame, so nothing can transition; a message is
an inserted element with a CSS animation from its link's start to its end (translate
keyframes over custom properties, simulations.css "Message-passing stages"). Its duration
and negative delay come from virtual time:

    duration = (deliver_at - sent_at) * time_scale        (wall seconds at speed 1)
    delay    = -(now - sent_at) * time_scale

so the animation starts where the message is *now* and ends on arrival, and the stylesheet
divides both by ``var(--sim-speed, 1)``: one rendered frame serves viewers at every speed.
`TIME_SCALE` is 0.01: at speed 1, 100 ms of virtual time take 1 s. A timer is a ring that
empties from its start to its deadline, animated the same way. Playing must pace frames on
the same scale, (next.time - time) * TIME_SCALE / speed seconds apart, or a message would
run ahead of the next frame and jump back when it arrives.

Every moving element also carries its position at `now` as its SVG `transform` (or
`stroke-dashoffset`) attribute: a running CSS animation overrides it, and under
``prefers-reduced-motion`` (no animation) that is what is drawn. When the panel is paused
the animations are paused too, which also shows the position at `now`.

Colours are the stylesheet's (classes on every element; simulations.css, "Message-passing
stages"): the markup keeps geometry and classes only, since a frame's bytes are budgeted.

Shape and label carry state as well as colour: a leader has a double ring and a crown, a
candidate a dashed ring, a crashed node a grey body, a cross and the word "crashed"; each
message kind has its own glyph (square, diamond, circle, triangle) beside its label; a
message that will be lost ends mid-link, fading, with a dashed outline and a cross; links
that a partition cuts are drawn broken, and dashed rays from the centre mark the cut.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from simulations.render.memo import IdentityMemo
from simulations.render.svg import escape, fit, num, secs, text_width, translate

#: Wall seconds (at speed 1) per unit of virtual time (ms): 100 ms of virtual time take 1 s.
TIME_SCALE = 0.01
NODE_R = 24
FONT = 16  # the smallest text of the part: 12 px when a 432-wide stage is 324 px wide
LINE_H = 19
LABEL_W = 136  # the widest label line under a node (longer lines are cut with "…")
LABEL_REACH = NODE_R + 12  # from a node's centre to its label: clear of the timer ring
ELLIPSE = 0.74  # the node ellipse's height over its width
LANE = 7  # messages keep to the right of their link, so a request and its reply pass
DROP_AT = 0.6  # a message that will be lost vanishes at this fraction of its link
MSG_H = 22
NETWORK_LINE_H = 26  # the line above the nodes that says whether the network is whole
EN_DASH = "\u2013"


class Timer(NamedTuple):
    """A countdown drawn as a ring around its node that empties from start to deadline."""

    start: float
    deadline: float
    kind: str = "timeout"  # a class: "election", "heartbeat"...
    label: str = ""  # words for a layout's own titles (the ring has none: a frame's bytes are budgeted)


class StageNode(NamedTuple):
    id: str
    role: str = ""  # the word under the id (and a class): "leader", "crashed"...
    shape: str = "plain"  # "plain" | "double" | "dashed" | "crashed" | "done" (finished: grey, a tick)
    lines: tuple[str, ...] = ()  # more lines under the role word ("term 3")
    crown: bool = False
    timer: Timer | None = None
    title: str = ""


class StageMessage(NamedTuple):
    id: str
    src: str
    dst: str
    sent_at: float
    deliver_at: float
    label: str  # short: "Vote?", "Append 2", "ACK"
    shape: str = "square"  # "square" | "diamond" | "circle" | "triangle"
    kind: str = ""  # a class for its colour
    drop: bool = False  # will be lost: ends mid-link, fading
    title: str = ""
    #: 1: one pill's height further to the right of its way than lane 0, so that messages sent
    #: close behind each other (TCP's back-to-back segments) pass side by side.
    lane: int = 0


class Network(NamedTuple):
    """The network's condition. `groups`: the partition's sides (none or one: whole);
    `loss`: "a-b" (sorted pair) -> probability, for lossy links; `links`: the pairs that
    exist (None: every pair); `cut`: the "a-b" links the partition cuts (None: every link
    between two groups); `caption`: the line above the nodes, in the layout's own words
    (empty: `network_words`)."""

    groups: tuple[tuple[str, ...], ...] = ()
    loss: Mapping[str, float] = MappingProxyType({})
    links: tuple[tuple[str, str], ...] | None = None
    cut: frozenset[str] | None = None
    caption: str = ""


def pair_key(a: str, b: str) -> str:
    return f"{a}-{b}" if a <= b else f"{b}-{a}"


def timing(now: float, start: float, end: float, time_scale: float = TIME_SCALE) -> tuple[float, float, float]:
    """(duration s, delay s, fraction done at `now`) of a CSS animation standing for the
    virtual interval [start, end] seen at `now`. The delay is negative (or zero): the
    animation starts part way, where the thing is now."""
    span = end - start
    if span <= 0:
        return 0.0, 0.0, 1.0
    elapsed = min(max(now - start, 0.0), span)
    return span * time_scale, -elapsed * time_scale, elapsed / span


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True, eq=False)  # hashed by identity: layouts are cached, one per shape
class _Layout:
    pos: Mapping[str, tuple[float, float]]
    side: Mapping[str, str]  # where each node's label goes: "above" | "below"
    centre: tuple[float, float]
    rx: float  # the ellipse the nodes sit on (0: a given layout, no cut rays)
    ry: float
    order: tuple[str, ...]
    height: float
    #: (src, dst, drop) -> where a message on that link starts and ends; filled as used.
    paths: dict = field(default_factory=dict, compare=False, hash=False)


def _label_box(side: str, lines: int) -> tuple[float, float, float, float]:
    """The label's box relative to its node centre: (x0, y0, x1, y1), centred under (or,
    for the nodes at the top, over) the node, clear of its timer ring and crown."""
    h = lines * LINE_H
    if side == "above":
        return -LABEL_W / 2, -LABEL_REACH - 8 - h, LABEL_W / 2, -LABEL_REACH - 8
    return -LABEL_W / 2, LABEL_REACH, LABEL_W / 2, LABEL_REACH + h


@lru_cache(maxsize=64)
def _circle_layout(order: tuple[str, ...], width: float, lines: int) -> _Layout:
    """Nodes on an ellipse (wider than tall: a stage is read on a screen), from the top,
    clockwise; labels under the nodes, over those at the top. The ellipse is the widest
    that keeps every label inside the width; the height fits everything. Depends only on
    the node ids, the width and the label's line count, so it does not jump per frame."""
    n = len(order)
    angles = [-math.pi / 2 + 2 * math.pi * i / max(n, 1) for i in range(n)]
    sides = ["above" if math.sin(a) < -0.55 else "below" for a in angles]
    room = width / 2 - 8 - max(LABEL_W / 2, NODE_R + 12)
    widest = max((abs(math.cos(a)) for a in angles), default=0.0)
    rx = min(room / widest if widest > 0.01 else room, 180.0)
    ry = rx * ELLIPSE
    if n == 1:
        rx = ry = 0.0
    cx = width / 2
    tops, bottoms = [], []
    for a, sd in zip(angles, sides):
        y = ry * math.sin(a)
        bx0, by0, bx1, by1 = _label_box(sd, lines)
        tops.append(y + min(by0, -NODE_R - 14))
        bottoms.append(y + max(by1, NODE_R + 12))
    top = min(tops, default=0.0)
    bottom = max(bottoms, default=0.0)
    cy = NETWORK_LINE_H + 4 - top
    pos = {nid: (cx + rx * math.cos(a), cy + ry * math.sin(a)) for nid, a in zip(order, angles)}
    return _Layout(pos, dict(zip(order, sides)), (cx, cy), rx, ry, order, cy + bottom + 4)


#: (id(positions), order, lines) -> (positions, layout), for positions that cannot change
#: (a MappingProxyType, as the layouts keep them): found without converting them.
_GIVEN: dict[tuple, tuple] = {}


def _given_layout(order: tuple[str, ...], positions: Mapping[str, tuple[float, float]], lines: int) -> _Layout:
    """The layout of nodes at given positions, one per (order, positions, lines): cached, so
    that the parts cached per layout (the network, message paths) are reused frame to frame."""
    frozen = isinstance(positions, MappingProxyType)
    if frozen:
        hit = _GIVEN.get((id(positions), order, lines))
        if hit is not None and hit[0] is positions:
            return hit[1]
    layout = _given_layout_of(order, tuple((k, (float(v[0]), float(v[1]))) for k, v in positions.items()), lines)
    if frozen:
        if len(_GIVEN) > 64:
            _GIVEN.clear()
        _GIVEN[(id(positions), order, lines)] = (positions, layout)
    return layout


@lru_cache(maxsize=64)
def _given_layout_of(order: tuple[str, ...], items: tuple[tuple[str, tuple[float, float]], ...], lines: int) -> _Layout:
    positions = dict(items)
    bottom = max((y for x, y in positions.values()), default=0.0) + LABEL_REACH + lines * LINE_H + 6
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return _Layout(dict(positions), {nid: "below" for nid in order}, centre, 0.0, 0.0, order, bottom)


# --------------------------------------------------------------------------- pieces


def _fit(line: str, width: float = LABEL_W, size: float = FONT) -> str:
    return fit(line, width, size)


#: The crown over a leader, above its ring (centred on the node, its base NODE_R + 7 above the centre).
_CROWN = f"M-10,{-NODE_R - 7}v-9l5,5l5,-7l5,7l5,-5v9z"


@lru_cache(maxsize=512)
def _node_body(nid: str, role_word: str, shape: str, more: tuple[str, ...], crown: bool, title: str,
               x: float, y: float, side: str) -> tuple[str, str]:
    """A node without its timer (the part that is the same from frame to frame), as the
    group's opening (and title) and the rest: the timer ring goes between, under the body."""
    role = escape(role_word)
    r = NODE_R
    shaped = f" shape-{shape}" if shape != "plain" else ""
    head = f'<g class="topo-node {role}{shaped}" transform="{translate(x, y)}">'
    if title:
        head += f"<title>{escape(title)}</title>"
    out = []
    if shape == "double":  # (its fill and the strokes' widths are the stylesheet's)
        out.append(f'<circle class="node-ring" r="{r + 5}"/>')
    dash = ' stroke-dasharray="6 4"' if shape in ("dashed", "crashed") else ""
    out.append(f'<circle class="node-body" r="{r}"{dash}/>')
    if shape == "crashed":
        k = num(r * 0.62)
        out.append(f'<path class="node-cross" d="M-{k},-{k}L{k},{k}M{k},-{k}L-{k},{k}"/>')
    elif shape == "done":  # finished, not failed: a small tick under the id, where a crashed node has its cross
        out.append(f'<path class="node-tick" d="M-{num(r * 0.27)},{num(r * 0.6)}l{num(r * 0.18)},{num(r * 0.18)}'
                   f'l{num(r * 0.36)},-{num(r * 0.36)}"/>')
    if crown:
        out.append(f'<path class="node-crown" d="{_CROWN}"/>')
    out.append(f'<text class="node-id" y="6">{escape(nid)}</text>')
    lines = ((role_word,) if role_word else ()) + more
    if lines:
        bx0, by0, bx1, by1 = _label_box(side, len(lines))
        out.append('<text class="node-label">')
        for i, ln in enumerate(lines):
            cls = ' class="node-role"' if i == 0 and role_word else ""
            x = ' x="0"' if i else ""  # the first line starts at the text's own x, 0
            out.append(f'<tspan{cls}{x} y="{num(by0 + LINE_H * i + 14)}">{escape(_fit(ln))}</tspan>')
        out.append("</text>")
    out.append("</g>")
    return head, "".join(out)


@lru_cache(maxsize=64)
def _class(name: str) -> str:
    return escape(name)


def _timer_ring(timer: Timer, now: float, time_scale: float) -> str:
    """The ring, in its node's group (its colours are the stylesheet's; `timer.label` is left
    to the layout, which may put it in the node's title: a frame's bytes are budgeted)."""
    head, mid = _timer_static(timer, time_scale)
    span = timer.deadline - timer.start
    if span <= 0:
        frac, delay = 1.0, 0.0
    else:
        elapsed = min(max(now - timer.start, 0.0), span)
        frac, delay = elapsed / span, -elapsed * time_scale
    return f'{head}{num(100 * frac)}{mid}{_delay(delay)}"/></g>'


@lru_cache(maxsize=512)
def _timer_static(timer: Timer, time_scale: float) -> tuple[str, str]:
    """A timer ring's markup around what changes per frame (its emptied part and delay)."""
    dur = timing(timer.start, timer.start, timer.deadline, time_scale)[0]
    return (
        f'<g class="topo-timer {_class(timer.kind)}">'
        f'<circle r="{NODE_R + 10}"/>'  # the track: its stroke is the group's
        f'<circle class="timer-ring" r="{NODE_R + 10}" pathLength="100" stroke-dashoffset="',
        f'" style="--d:{secs(dur)};--t:',
    )


def _glyph(shape: str, gx: float) -> str:
    x = num(gx)
    if shape == "diamond":
        return f'<path class="msg-glyph" d="M{x},-6.5l6.5,6.5l-6.5,6.5l-6.5,-6.5z"/>'
    if shape == "circle":
        return f'<circle class="msg-glyph" cx="{x}" r="5.5"/>'
    if shape == "triangle":
        return f'<path class="msg-glyph" d="M{num(gx - 6)},5l6,-11l6,11z"/>'
    return f'<path class="msg-glyph" d="M{num(gx - 5)},-5h10v10h-10z"/>'


def _message_parts(kind: str, label: str, shape: str, drop: bool, title: str) -> tuple[str, str, float]:
    """A message's class list (without "across-cut"), its inside (title, pill, glyph,
    label) and its pill's width. The same for every frame the message is in flight."""
    cls, body, width = _pill(kind, label, shape, drop)
    return cls, (f"<title>{escape(title)}</title>{body}" if title else body), width


@lru_cache(maxsize=1024)
def _pill(kind: str, label: str, shape: str, drop: bool) -> tuple[str, str, float]:
    """The class list, the pill (glyph then label, centred on the message's position) and its
    width: shared by every message of a kind and label (a title is often one message's own)."""
    shown = label + (" \u2715" if drop else "")
    w = pill_width(label, drop)
    left = -w / 2
    body = (
        f'<rect class="msg-pill" x="{num(left)}" y="{num(-MSG_H / 2)}" width="{num(w)}" height="{MSG_H}" rx="{MSG_H // 2}"/>'
        f'{_glyph(shape, left + 13)}<text x="{num(left + 22)}" y="5.5">{escape(shown)}</text>'
    )
    return "topo-msg " + escape(kind) + (" dropping" if drop else ""), body, w


def pill_width(label: str, drop: bool = False) -> float:
    """The width of a message's pill (glyph, label, and the cross of one that will be lost)."""
    return 8 + 14 + text_width(label + (" \u2715" if drop else ""), FONT) + 8


def message_path(a: tuple[float, float], b: tuple[float, float], width: float = 0.0,
                 lane: int = 0) -> tuple[float, float, float, float]:
    """Where a message (a pill `width` wide) from a node at `a` to one at `b` starts and
    ends: with the pill just clear of each node's timer ring, shifted off the link to the
    right of its way (by `lane` more pill heights), so that a request and its reply pass. On
    a link too short for that, it runs from the link's middle less a little to its middle
    plus a little."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    off = LANE + lane * (MSG_H + 2)
    nx, ny = -uy * off, ux * off
    extent = abs(ux) * width / 2 + abs(uy) * MSG_H / 2  # the pill's half-size along the link
    reach = min(NODE_R + 12 + extent, length / 2 - 8)
    return (a[0] + ux * reach + nx, a[1] + uy * reach + ny, b[0] - ux * reach + nx, b[1] - uy * reach + ny)


#: A message's static parts, found by its identity (and its layout's, held in the key): a
#: layout that hands the same StageMessage to the next frame (TCP's) skips hashing it.
_STATICS: IdentityMemo[tuple | None] = IdentityMemo(1024)


def _message(m: StageMessage, layout: _Layout, now: float, across: bool, time_scale: float) -> str:
    """A message at `now`: its static parts are cached (`_message_static`); only its place
    and its animation's delay are formatted per frame."""
    static = _STATICS.of(m, lambda: _message_static(m, layout, across, time_scale), (layout, across, time_scale))
    if static is None:
        return ""
    head, x0, y0, dx, dy, mid, tail = static
    span = m.deliver_at - m.sent_at
    if span > 0:
        elapsed = min(max(now - m.sent_at, 0.0), span)
        frac = elapsed / span
        # A message that leaves later (queued behind others on its sender's link) waits at its start.
        delay = (m.sent_at - now if now < m.sent_at else -elapsed) * time_scale
    else:
        frac, delay = 1.0, 0.0
    return f"{head}{num(x0 + dx * frac)},{num(y0 + dy * frac)}{mid}{_delay(delay)}{tail}"


def _delay(value: float) -> str:
    """`secs(value)` for an animation's delay, which is zero or negative but for a message
    queued behind others (the common cases first: this runs per message and timer per frame)."""
    if value < 0:
        s = f"{value:.3f}".rstrip("0")
        if s.startswith("-0."):
            return "-." + s[3:] + "s" if len(s) > 3 else "0s"
    return secs(value)


@lru_cache(maxsize=1024)
def _message_static(m: StageMessage, layout: _Layout, across: bool, time_scale: float) -> tuple | None:
    """What a message's drawing keeps while it is in flight: the group's opening up to its
    place, its path and duration, and its inside (None: an end is not on the stage)."""
    cls, inside, width = _message_parts(m.kind, m.label, m.shape, m.drop, m.title)
    key = (m.src, m.dst, m.drop, width, m.lane)
    path = layout.paths.get(key)
    if path is None:
        pos = layout.pos
        if m.src not in pos or m.dst not in pos:
            return None
        x0, y0, x1, y1 = message_path(pos[m.src], pos[m.dst], width, m.lane)
        if m.drop:
            x1, y1 = x0 + (x1 - x0) * DROP_AT, y0 + (y1 - y0) * DROP_AT
        path = layout.paths[key] = (x0, y0, x1, y1, f"--x0:{num(x0)};--y0:{num(y0)};--x1:{num(x1)};--y1:{num(y1)}")
    x0, y0, x1, y1, where = path
    span = m.deliver_at - m.sent_at
    dur = span * time_scale if span > 0 else 0.0
    head = f'<g class="{cls}{" across-cut" if across else ""}" transform="translate('
    return head, x0, y0, x1 - x0, y1 - y0, f')" style="{where};--d:{secs(dur)};--t:', f'">{inside}</g>'


@lru_cache(maxsize=256)
def _network_part(layout: _Layout, given: bool, groups: tuple[tuple[str, ...], ...], loss: tuple[tuple[str, float], ...],
                  links: tuple[tuple[str, str], ...] | None, cut_given: frozenset[str] | None, down: tuple[str, ...],
                  x: float, y: float, width: float, caption: str = "") -> tuple[str, frozenset[str]]:
    """The part's opening, the network line, the links and the cut: the same until the
    network changes. Also the set of cut links ("a-b")."""
    order = layout.order
    group_of: dict[str, int] = {}
    if len(groups) > 1:
        for gi, g in enumerate(groups):
            for nid in g:
                group_of[nid] = gi
    pairs = links if links is not None else tuple(
        (order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))
    )
    if cut_given is not None:
        cut = cut_given
    else:
        cut = frozenset(pair_key(a, b) for a, b in pairs if group_of and group_of.get(a, -1) != group_of.get(b, -1))
    partitioned = bool(cut) or len(groups) > 1
    state = " partitioned" if partitioned else ""
    where = "" if x == 0 and y == 0 else f' transform="{translate(x, y)}"'
    out = [f'<g class="topo{state}"{where} font-size="{FONT}">']
    words = caption or network_words(Network(groups, dict(loss)), order)
    out.append(f'<text class="topo-network{state}" x="8" y="18">{escape(_fit(words, width - 16))}</text>')  # (600: CSS)
    out.append(_links(tuple(layout.pos.items()), pairs, cut, frozenset(k for k, _ in loss), frozenset(down)))
    if partitioned and not given:
        out.append(_cut_rays(layout, group_of))
    return "".join(out), cut


@lru_cache(maxsize=128)
def _links(pos_items: tuple, pairs: tuple[tuple[str, str], ...], cut: frozenset, lossy: frozenset, down: frozenset) -> str:
    """Every link, one <path> per kind: whole, lossy (dotted), to a crashed node (faint
    dots), and cut by the partition (broken: a stub from each end, a gap mid-link and a
    tick across each stub's end; `data-links` lists them)."""
    pos = dict(pos_items)
    kinds: dict[str, list[str]] = {"link": [], "link lossy": [], "link down": [], "link cut": []}
    cut_keys = []
    whole: list[tuple[str, str]] = []
    for a, b in pairs:
        if a not in pos or b not in pos:
            continue
        (ax, ay), (bx, by) = pos[a], pos[b]
        key = pair_key(a, b)
        if key in cut:
            mx1, my1 = ax + (bx - ax) * 0.4, ay + (by - ay) * 0.4
            mx2, my2 = ax + (bx - ax) * 0.6, ay + (by - ay) * 0.6
            length = math.hypot(bx - ax, by - ay) or 1.0
            tx, ty = -(by - ay) / length * 5, (bx - ax) / length * 5
            kinds["link cut"].append(
                f"M{num(ax)},{num(ay)}L{num(mx1)},{num(my1)}M{num(mx2)},{num(my2)}L{num(bx)},{num(by)}"
                f"M{num(mx1 - tx)},{num(my1 - ty)}L{num(mx1 + tx)},{num(my1 + ty)}"
                f"M{num(mx2 - tx)},{num(my2 - ty)}L{num(mx2 + tx)},{num(my2 + ty)}"
            )
            cut_keys.append(key)
            continue
        kind = "link down" if (a in down or b in down) else "link lossy" if key in lossy else "link"
        if kind == "link":
            whole.append((a, b))
        else:  # (dotted: each link its own subpath, so that its dots start at its end)
            kinds[kind].append(f"M{num(ax)},{num(ay)}L{num(bx)},{num(by)}")
    for trail in _trails(whole):
        kinds["link"].append("M" + "L".join(f"{num(pos[n][0])},{num(pos[n][1])}" for n in trail))
    out = ['<g class="topo-links" fill="none" stroke-width="2">']
    extra = {"link lossy": ' stroke-dasharray="2 4"', "link down": ' stroke-dasharray="1 6"',
             "link cut": f' data-links="{" ".join(cut_keys)}"'}
    for kind, ds in kinds.items():
        if ds:
            out.append(f'<path class="{kind}" d="{"".join(ds)}"{extra.get(kind, "")}/>')
    out.append("</g>")
    return "".join(out)


def _trails(edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """The edges as few trails (node sequences, each edge once) as Euler allows: a link
    drawn as part of a trail is the same line, in fewer bytes (the joins are under the
    nodes). Deterministic: edges are taken in the order given."""
    adj: dict[str, list[tuple[str, int]]] = {}
    for i, (a, b) in enumerate(edges):
        adj.setdefault(a, []).append((b, i))
        adj.setdefault(b, []).append((a, i))
    nodes = list(adj)
    # A virtual node joined to every odd one makes every degree even: one circuit per part,
    # cut into trails where it passes the virtual node.
    odd = [n for n in nodes if len(adj[n]) % 2]
    virtual = object()
    n_edges = len(edges)
    for k, n in enumerate(odd):
        adj[n].append((virtual, n_edges + k))
    if odd:
        adj[virtual] = [(n, n_edges + k) for k, n in enumerate(odd)]  # type: ignore[index]
    used = [False] * (n_edges + len(odd))
    trails: list[list[str]] = []
    for start in ([virtual] if odd else []) + nodes:
        if all(used[i] for _, i in adj[start]):  # type: ignore[index]
            continue
        stack, circuit = [start], []
        while stack:  # Hierholzer: walk until stuck, back up, and splice in what is left
            n = stack[-1]
            nxt = next(((m, i) for m, i in adj[n] if not used[i]), None)  # type: ignore[index]
            if nxt is None:
                circuit.append(stack.pop())
            else:
                used[nxt[1]] = True
                stack.append(nxt[0])
        trail: list[str] = []
        for n in circuit:
            if n is virtual:
                if len(trail) > 1:
                    trails.append(trail)
                trail = []
            else:
                trail.append(n)  # type: ignore[arg-type]
        if len(trail) > 1:
            trails.append(trail)
    return trails


def _cut_rays(layout: _Layout, group_of: Mapping[str, int]) -> str:
    """Dashed rays from the centre through each gap between neighbours on the circle that
    are on different sides of the partition: together they draw the cut."""
    order = layout.order
    n = len(order)
    if layout.rx <= 0 or n < 2:
        return ""
    cx, cy = layout.centre
    grow = 1 + (NODE_R + 6) / layout.rx
    d = []
    for i in range(n):
        a, b = order[i], order[(i + 1) % n]
        if group_of.get(a, -1) == group_of.get(b, -1):
            continue
        angle = -math.pi / 2 + 2 * math.pi * (i + 0.5) / n
        ex, ey = cx + layout.rx * grow * math.cos(angle), cy + layout.ry * grow * math.sin(angle)
        d.append(f"M{num(cx)},{num(cy)}L{num(ex)},{num(ey)}")
    if not d:
        return ""
    path = "".join(d)
    return f'<path class="topo-cut" d="{path}" fill="none" stroke-width="3" stroke-dasharray="8 5"/>'


def network_words(network: Network, ids: Sequence[str]) -> str:
    groups = [g for g in network.groups if g]
    if len(groups) > 1:
        words = "Partition: " + " | ".join(" ".join(g) for g in groups)
    else:
        words = f"All {len(ids)} nodes connected"
    if network.loss:
        lossy = ", ".join(f"{k.replace('-', EN_DASH)} {round(v * 100)}%" for k, v in sorted(network.loss.items()))
        words += f" \u00b7 loss {lossy}"
    return words


# --------------------------------------------------------------------------- the part


def render_topology(
    nodes: Sequence[StageNode],
    messages: Sequence[StageMessage],
    now: float,
    network: Network = Network(),
    *,
    x: float = 0,
    y: float = 0,
    width: float = 432,
    positions: Mapping[str, tuple[float, float]] | None = None,
    lines: int | None = None,
    time_scale: float = TIME_SCALE,
) -> tuple[str, float]:
    """The topology as a <g> placed at (x, y), and its height.

    `positions` (node id -> (x, y) within the part) replaces the circle; `lines` is the
    label's line count the layout reserves (default: the most any node has now; pass the
    engine's fixed count so the size does not change between frames)."""
    order = tuple(nd.id for nd in nodes)
    if lines is None:
        lines = max((len(nd.lines) + (1 if nd.role else 0) for nd in nodes), default=0)
    layout = _given_layout(order, positions, lines) if positions else _circle_layout(order, width, lines)
    pos = layout.pos
    down = tuple(nd.id for nd in nodes if nd.shape == "crashed")
    loss = tuple(sorted(network.loss.items())) if network.loss else ()
    cut_given = network.cut if network.cut is None or isinstance(network.cut, frozenset) else frozenset(network.cut)
    chrome, cut = _network_part(layout, bool(positions), tuple(g if isinstance(g, tuple) else tuple(g) for g in network.groups if g),
                                loss, network.links, cut_given, down, x, y, width, network.caption)
    out = [chrome]
    out.append('<g text-anchor="middle">')  # the nodes (then the messages, over them, in the part's group)
    for nd in nodes:
        nx, ny = pos[nd.id]
        head, rest = _node_body(nd.id, nd.role, nd.shape, nd.lines, nd.crown, nd.title, nx, ny, layout.side[nd.id])
        out.append(head)
        if nd.timer is not None and nd.shape != "crashed":
            out.append(_timer_ring(nd.timer, now, time_scale))
        out.append(rest)
    out.append("</g>")
    for m in messages:
        out.append(_message(m, layout, now, bool(cut) and pair_key(m.src, m.dst) in cut, time_scale))
    out.append("</g>")
    return "".join(out), layout.height
