"""A CPU timeline stage part (a Gantt chart): one row per core (or per thread), bars for who
ran when, over virtual time. First drawn for Threads & Processes; written for the Locks
engine too.

Bar kinds, told apart by shape and pattern as well as colour:
* "run": a solid bar in the thread's colour, labelled with the thread when it fits;
* "switch": a context switch, diagonal hatching on grey;
* "spin": busy-waiting on a lock, the thread's colour crossed by a zigzag (it burns the core);
* "work": running, but a thin bar (a stage whose solid "run" bar means something more, such
  as the Locks stage's critical sections, draws the rest of the running as "work");
* "blocked": waiting off the core, an outline with a dashed border and no fill;
* anything else: a plain outline.

Input: `Lane(label, bars)` with `Bar(start, end, label, kind, colour, title)`; `colour` is an
index into COLOURS (a thread's colour), or a CSS colour string (a stage that colours by kind). Plain f-strings (the hot path); the patterns are defined once per stage
by `defs(prefix)` (call it once in the stage's <svg>; pass the same prefix as `patterns`).

Two ways to draw the bars. By default each bar is its own <g class="tl-bar tl-KIND"> with a
<title> (Threads & Processes). With `merged=True`, a lane's bars of one kind and colour are
one <path> in one <g class="tl-bar tl-KIND">, without titles, and their labels sit on chips
(white rects, one path of class "tl-chip", behind the text, so a label reads on any bar
colour whatever a stylesheet does to text): fewer bytes for a stage with many short bars
(Locks). Merged lanes are drawn on the absolute time axis, shifted into place, so a bar's
path is the same string on every frame that shows it, and a lane's grouping is cached bar by
bar (a lane grows at its end: each frame adds to the frame before's). `legend` puts a swatch
of each kind named beside the caption.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from simulations.render.chart import nice_ticks
from simulations.render.svg import escape, legible_font, num, text_width

COLOURS = ("#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be185d", "#0f766e", "#9a3412", "#4338ca")
LANE_H = 30
GAP = 6
LABEL_W = 76
AXIS_H = 24
WORK_H = 8  # a "work" bar's height, centred in its lane
WORK_Y = (LANE_H - WORK_H) / 2
CHIP_H = 18
CHIP_Y = (LANE_H - CHIP_H) // 2


class Bar(NamedTuple):
    start: float
    end: float
    label: str = ""
    kind: str = "run"
    colour: int | str = 0
    title: str = ""


class Lane(NamedTuple):
    label: str
    bars: tuple[Bar, ...] = ()
    note: str = ""  # drawn after the label, e.g. "idle"


def defs(prefix: str = "tl", hatch: bool = True, zigzag: bool = True) -> str:
    """The hatch and zigzag patterns the bars use, once per <svg>, with ids "<prefix>-hatch" and
    "<prefix>-zigzag" (give the stage's dom id, so that two stages on a page never share one).
    A stage that draws no context switches (or no spinning) may leave that pattern out."""
    return _defs(prefix, hatch, zigzag)


@lru_cache(maxsize=64)
def _defs(prefix: str, hatch: bool = True, zigzag: bool = True) -> str:
    p = escape(prefix)
    out = ["<defs>"]
    if hatch:
        out.append(f'<pattern id="{p}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                   '<rect width="6" height="6" fill="#e2e8f0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#475569" stroke-width="2.5"/>'
                   '</pattern>')
    if zigzag:
        out.append(f'<pattern id="{p}-zigzag" width="8" height="8" patternUnits="userSpaceOnUse">'
                   '<path d="M0,6 L2,2 L4,6 L6,2 L8,6" fill="none" stroke="#fff" stroke-width="1.5"/></pattern>')
    out.append("</defs>")
    return "".join(out)


def colour_of(colour: int | str) -> str:
    """A Bar's colour as CSS: an index into COLOURS (wrapping), or the string itself."""
    return _esc(colour) if isinstance(colour, str) else COLOURS[colour % len(COLOURS)]


#: html.escape for the few kinds, colours and labels a timeline repeats (the hot path).
_esc = lru_cache(maxsize=1024)(escape)


def timeline_height(lanes: int, caption: bool = True) -> float:
    """The height render_timeline gives `lanes` lanes (with or without a caption row)."""
    return (22 if caption else 0) + lanes * (LANE_H + GAP) + AXIS_H


@lru_cache(maxsize=4096)
def _bar(b: Bar, x0: float, sx: float, y: float, font: float, patterns: str = "tl") -> str:
    x = x0 + b.start * sx
    w = max(1.5, (b.end - b.start) * sx)
    colour = colour_of(b.colour)
    tip = f"<title>{escape(b.title or f'{b.label} {num(b.start)}-{num(b.end)}')}</title>"
    h = LANE_H
    if b.kind == "switch":
        body = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="url(#{escape(patterns)}-hatch)" '
                f'stroke="#475569" stroke-width="1"/>')
    elif b.kind == "blocked":
        body = (f'<rect x="{x + 1:.1f}" y="{y + 4:.1f}" width="{max(1.0, w - 2):.1f}" height="{h - 8}" fill="none" '
                f'stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>')
    elif b.kind == "spin":
        body = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="{colour}"/>'
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="url(#{escape(patterns)}-zigzag)"/>')
    elif b.kind == "run":
        body = f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="{colour}" stroke="#fff" stroke-width="1"/>'
    elif b.kind == "work":
        body = f'<rect x="{x:.1f}" y="{y + WORK_Y:.1f}" width="{w:.1f}" height="{WORK_H}" fill="{colour}"/>'
    else:
        body = f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="none" stroke="{colour}"/>'
    label = ""
    if b.label and b.kind in ("run", "spin", "blocked") and text_width(b.label, font) + 4 <= w:
        fill = colour if b.kind == "blocked" else "#fff"
        label = (f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + font * 0.35:.1f}" text-anchor="middle" '
                 f'font-size="{num(font)}" fill="{fill}" font-weight="600">{escape(b.label)}</text>')
    return f'<g class="tl-bar tl-{escape(b.kind)}">{tip}{body}{label}</g>'


def render_timeline(
    lanes: Sequence[Lane],
    *,
    x: float = 0,
    y: float = 0,
    width: float = 432,
    t_range: tuple[float, float] = (0.0, 10.0),
    now: float | None = None,
    caption: str = "",
    t_unit: str = "ticks",
    patterns: str = "tl",
    merged: bool = False,
    legend: tuple[tuple[str, ...], ...] = (),
    ticks: int = 4,
) -> tuple[str, float]:
    """The timeline as a <g> at (x, y), and its height. Bars are clipped to `t_range`; a
    dashed line marks `now`. `patterns` is the prefix given to `defs` in the same <svg>.
    `merged`: one path per kind and colour in a lane, labels on chips (see the module's
    docstring). `legend`: (kind, word) or (kind, word, colour) entries drawn as swatches beside
    the caption. `ticks`: about how many intervals the time axis is cut into."""
    font = legible_font(width) if width >= 300 else 16
    t0, t1 = t_range
    if t1 <= t0:
        t1 = t0 + 1
    plot_w = width - LABEL_W - 8
    sx = plot_w / (t1 - t0)
    x0 = LABEL_W - t0 * sx
    top = 22.0 if caption else 0.0
    out = [_chrome(x, y, width, font, caption, tuple(lane.label for lane in lanes), t0, t1, t_unit,
                   tuple(legend), patterns, ticks)]
    for i, lane in enumerate(lanes):
        ly = top + i * (LANE_H + GAP)
        if merged:
            if lane.bars:
                out.append(_merged(lane.bars, t0, t1, sx, x0, ly, font, patterns))
        else:
            for b in lane.bars:
                if b.end <= t0 or b.start >= t1:
                    continue
                if b.start < t0 or b.end > t1:
                    b = b._replace(start=max(b.start, t0), end=min(b.end, t1))
                out.append(_bar(b, x0, sx, ly, font, patterns))
        if lane.note and not lane.bars:
            out.append(f'<text x="{LABEL_W + 6}" y="{ly + LANE_H / 2 + font * 0.35:.1f}" fill="#475569">{escape(lane.note)}</text>')
    axis_y = top + len(lanes) * (LANE_H + GAP)
    if now is not None and t0 <= now <= t1:
        nx = x0 + now * sx
        out.append(f'<line class="tl-now" x1="{_n(nx)}" y1="{_n(top)}" x2="{_n(nx)}" y2="{_n(axis_y - GAP)}" '
                   f'stroke="#b42318" stroke-width="2" stroke-dasharray="4 3"/>')
    out.append("</g>")
    return "".join(out), timeline_height(len(lanes), bool(caption))


@lru_cache(maxsize=8192)
def _n(v: float) -> str:
    """svg.num for the hot path, cached (a timeline's coordinates repeat: whole ticks times a
    scale): one decimal at most, no ".0", no "-0"."""
    s = "%.1f" % v
    if s[-1] == "0":
        s = s[:-2]
        return "0" if s == "-0" else s
    return s


@lru_cache(maxsize=8192)
def _piece(kind: str, start: float, end: float, sx: float) -> str:
    """One bar's outline on the absolute time axis (x = t * sx), y from its lane's top."""
    x, w = start * sx, max(1.5, (end - start) * sx)
    if kind == "blocked":
        w = _n(max(1.0, w - 2))
        return f"M{_n(x + 1)},4h{w}v{LANE_H - 8}h-{w}z"
    w = _n(w)
    if kind == "work":
        return f"M{_n(x)},{_n(WORK_Y)}h{w}v{WORK_H}h-{w}z"
    return f"M{_n(x)},0h{w}v{LANE_H}h-{w}z"


def _paint(kind: str, colour: str, d: str, patterns: str) -> str:
    """Bars of one kind and colour (path data d), in the kind's style, as paths."""
    return _style(kind, colour, patterns).replace("\0", d)


@lru_cache(maxsize=256)
def _style(kind: str, colour: str, patterns: str) -> str:
    """_paint's markup with NUL where the path data goes."""
    p = escape(patterns)
    if kind == "run":
        return f'<path d="\0" fill="{colour}" stroke="#fff"/>'
    if kind == "work":
        return f'<path d="\0" fill="{colour}"/>'
    if kind == "spin":
        return f'<path d="\0" fill="{colour}"/><path d="\0" fill="url(#{p}-zigzag)"/>'
    if kind == "switch":
        return f'<path d="\0" fill="url(#{p}-hatch)" stroke="#475569"/>'
    if kind == "blocked":
        return f'<path d="\0" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>'
    return f'<path d="\0" fill="none" stroke="{colour}"/>'


@lru_cache(maxsize=8192)
def _parts(b: Bar, t0: float, t1: float, sx: float, font: float) -> tuple[str, str, str, str, str] | None:
    """A bar clipped to [t0, t1] as (kind, colour, path data on the absolute time axis,
    its chip's path data and text, or "" where the label does not fit), or None if it is
    outside: the same for every frame that shows the bar."""
    if b.end <= t0 or b.start >= t1:
        return None
    start, end = max(b.start, t0), min(b.end, t1)
    chip = text = ""
    if b.label:
        cw = text_width(b.label, font) + 8
        if cw + 12 <= (end - start) * sx:  # a chip leaves some of its bar's colour showing
            cx = (start + end) / 2 * sx
            w = _n(cw)
            chip = f"M{_n(cx - cw / 2)},{CHIP_Y}h{w}v{CHIP_H}h-{w}z"
            text = f'<text x="{_n(cx)}" y="{_n(LANE_H / 2 + font * 0.35)}">{_esc(b.label)}</text>'
    return _esc(b.kind), colour_of(b.colour), _piece(b.kind, start, end, sx), chip, text


def _merged(bars: tuple[Bar, ...], t0: float, t1: float, sx: float, x0: float, y: float, font: float,
            patterns: str) -> str:
    """A lane's bars shifted into place: a <g class="tl-bar tl-KIND"> per kind holding a path
    per colour, then the labels that fit, on chips. From one frame to the next a lane usually
    differs only in its last bar (it grew), so the bars before it are grouped once (cached)
    and the last one added here."""
    for first, b in enumerate(bars):
        if b.end > t0:
            break
    else:
        return ""  # all gone from view (and the ones that are gone are not part of the key)
    groups, chips, texts = _groups(bars[first:-1], t0, t1, sx, font)
    last = _parts(bars[-1], t0, t1, sx, font)
    if last is not None:
        kind, colour, d, chip, text = last
        groups = dict(groups)
        groups[(kind, colour)] = groups.get((kind, colour), "") + d
        if chip:
            chips += chip
            texts += text
    if not groups:
        return ""
    out = [f'<g class="tl-lanebars" transform="translate({_n(x0)},{_n(y)})">']
    kind_now = None
    for (k, c), d in sorted(groups.items(), key=_by_kind) if len(groups) > 1 else groups.items():
        if k != kind_now:
            if kind_now is not None:
                out.append("</g>")
            out.append(f'<g class="tl-bar tl-{k}">')
            kind_now = k
        out.append(_style(k, c, patterns).replace("\0", d))
    out.append("</g>")
    if chips:
        out.append(f'<path class="tl-chip" d="{chips}" fill="#fff"/>'
                   f'<g class="tl-chiptext" text-anchor="middle" font-weight="600" fill="#0f172a">{texts}</g>')
    out.append("</g>")
    return "".join(out)


def _by_kind(item: tuple[tuple[str, str], str]) -> str:
    """Groups sorted so that one kind's colours are together (the sort is stable)."""
    return item[0][0]


@lru_cache(maxsize=2048)
def _groups(bars: tuple[Bar, ...], t0: float, t1: float, sx: float, font: float
            ) -> tuple[dict[tuple[str, str], str], str, str]:
    """The bars' path data by (kind, colour) in order of first appearance, and their chips'
    path data and texts (see _parts). Built from the same bars but the last, which the frame
    before cached (a lane grows at its end), so each frame adds one bar. Read only: the
    cache hands the dict out."""
    if not bars:
        return {}, "", ""
    groups, chips, texts = _groups(bars[:-1], t0, t1, sx, font)
    parts = _parts(bars[-1], t0, t1, sx, font)
    if parts is None:
        return groups, chips, texts
    kind, colour, d, chip, text = parts
    groups = dict(groups)
    groups[(kind, colour)] = groups.get((kind, colour), "") + d
    return groups, chips + chip, texts + text


def _legend(legend: tuple[tuple[str, ...], ...], width: float, font: float, patterns: str) -> str:
    """Swatches of the kinds named, right-aligned in the caption row, then their words. An entry
    is (kind, word) in neutral grey, or (kind, word, colour)."""
    paths, words = [], []
    x = width - 4 - sum(28 + text_width(item[1], font) for item in legend) + 10
    for kind, word, *colour in legend:
        h = {"work": WORK_H, "blocked": 12}.get(kind, 16)
        paths.append(_paint(kind, colour_of(colour[0]) if colour else "#64748b", f"M{num(x)},{num(10 - h / 2)}h14v{h}h-14z", patterns))
        words.append(f'<text x="{num(x + 18)}" y="16">{escape(word)}</text>')
        x += 28 + text_width(word, font)
    return f'<g class="tl-legend">{"".join(paths)}{"".join(words)}</g>'


@lru_cache(maxsize=256)
def _chrome(x: float, y: float, width: float, font: float, caption: str, labels: tuple[str, ...],
            t0: float, t1: float, t_unit: str, legend: tuple[tuple[str, ...], ...] = (), patterns: str = "tl",
            count: int = 4) -> str:
    """The opening, caption, lanes and time axis: the same for many frames."""
    plot_w = width - LABEL_W - 8
    sx = plot_w / (t1 - t0)
    x0 = LABEL_W - t0 * sx
    out = [f'<g class="timeline" transform="translate({num(x)},{num(y)})" font-size="{num(font)}" fill="#0f172a">']
    top = 0.0
    if caption:
        out.append(f'<text class="tl-caption" x="4" y="16" font-weight="600">{escape(caption)}</text>')
        top = 22
    if legend:
        out.append(_legend(legend, width, font, patterns))
    for i, label in enumerate(labels):
        ly = top + i * (LANE_H + GAP)
        out.append(f'<rect class="tl-lane" x="{LABEL_W}" y="{num(ly)}" width="{num(plot_w)}" height="{LANE_H}" fill="#f8fafc" stroke="#cbd5e1"/>')
        out.append(f'<text class="tl-label" x="4" y="{num(ly + LANE_H / 2 + font * 0.35)}">{escape(label)}</text>')
    axis_y = top + len(labels) * (LANE_H + GAP)
    ticks = nice_ticks(t0, t1, count, integer=True)
    marks, labels_out = [], []
    for j, t in enumerate(ticks):
        tx = x0 + t * sx
        label = f"{t:g}" + (f" {t_unit}" if j == len(ticks) - 1 and t_unit else "")
        end = ' text-anchor="end"' if tx + text_width(label, font) / 2 > width else ""
        marks.append(f"M{num(tx)},{num(axis_y - GAP)}v{GAP}")
        labels_out.append(f'<text x="{num(tx)}" y="{num(axis_y + font)}"{end}>{escape(label)}</text>')
    out.append(f'<path class="tl-ticks" d="{"".join(marks)}" stroke="#94a3b8"/>'
               f'<g class="tl-axis" text-anchor="middle" fill="#475569">{"".join(labels_out)}</g>')
    return "".join(out)
