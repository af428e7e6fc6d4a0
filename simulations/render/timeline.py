"""A CPU timeline stage part (a Gantt chart): one row per core (or per thread), bars for who
ran when, over virtual time. First drawn for Threads & Processes; written for the Locks
engine too.

Bar kinds, told apart by shape and pattern as well as colour:
* "run": a solid bar in the thread's colour, labelled with the thread when it fits;
* "switch": a context switch, diagonal hatching on grey;
* "spin": busy-waiting on a lock, the thread's colour crossed by a zigzag (it burns the core);
* "blocked": waiting off the core, an outline with a dashed border and no fill;
* anything else: a plain outline.

Input: `Lane(label, bars)` with `Bar(start, end, label, kind, colour, title)`; `colour` is an
index into COLOURS. Plain f-strings (the hot path); the patterns are defined once per stage
by `defs(prefix)` (call it once in the stage's <svg>; pass the same prefix as `patterns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import NamedTuple

from simulations.render.chart import nice_ticks
from simulations.render.svg import legible_font, num, text_width

COLOURS = ("#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be185d", "#0f766e", "#9a3412", "#4338ca")
LANE_H = 30
GAP = 6
LABEL_W = 76
AXIS_H = 24


class Bar(NamedTuple):
    start: float
    end: float
    label: str = ""
    kind: str = "run"
    colour: int = 0
    title: str = ""


class Lane(NamedTuple):
    label: str
    bars: tuple[Bar, ...] = ()
    note: str = ""  # drawn after the label, e.g. "idle"


def defs(prefix: str = "tl") -> str:
    """The hatch and zigzag patterns the bars use, once per <svg>, with ids "<prefix>-hatch" and
    "<prefix>-zigzag" (give the stage's dom id, so that two stages on a page never share one)."""
    return _defs(prefix)


@lru_cache(maxsize=64)
def _defs(prefix: str) -> str:
    p = escape(prefix)
    return (
        f'<defs><pattern id="{p}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#e2e8f0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#475569" stroke-width="2.5"/>'
        f'</pattern><pattern id="{p}-zigzag" width="8" height="8" patternUnits="userSpaceOnUse">'
        '<path d="M0,6 L2,2 L4,6 L6,2 L8,6" fill="none" stroke="#fff" stroke-width="1.5"/></pattern></defs>'
    )


def timeline_height(lanes: int, caption: bool = True) -> float:
    return (22 if caption else 0) + lanes * (LANE_H + GAP) + AXIS_H


@lru_cache(maxsize=4096)
def _bar(b: Bar, x0: float, sx: float, y: float, font: float, patterns: str = "tl") -> str:
    x = x0 + b.start * sx
    w = max(1.5, (b.end - b.start) * sx)
    colour = COLOURS[b.colour % len(COLOURS)]
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
) -> tuple[str, float]:
    """The timeline as a <g> at (x, y), and its height. Bars are clipped to `t_range`; a
    dashed line marks `now`. `patterns` is the prefix given to `defs` in the same <svg>."""
    font = legible_font(width) if width >= 300 else 16
    t0, t1 = t_range
    if t1 <= t0:
        t1 = t0 + 1
    plot_w = width - LABEL_W - 8
    sx = plot_w / (t1 - t0)
    x0 = LABEL_W - t0 * sx
    top = 22.0 if caption else 0.0
    out = [_chrome(x, y, width, font, caption, tuple(lane.label for lane in lanes), t0, t1, t_unit)]
    for i, lane in enumerate(lanes):
        ly = top + i * (LANE_H + GAP)
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
        out.append(f'<line class="tl-now" x1="{nx:.1f}" y1="{top:.1f}" x2="{nx:.1f}" y2="{axis_y - GAP:.1f}" '
                   f'stroke="#b42318" stroke-width="2" stroke-dasharray="4 3"/>')
    out.append("</g>")
    return "".join(out), timeline_height(len(lanes), bool(caption))


@lru_cache(maxsize=256)
def _chrome(x: float, y: float, width: float, font: float, caption: str, labels: tuple[str, ...],
            t0: float, t1: float, t_unit: str) -> str:
    """The opening, caption, lanes and time axis: the same for many frames."""
    plot_w = width - LABEL_W - 8
    sx = plot_w / (t1 - t0)
    x0 = LABEL_W - t0 * sx
    out = [f'<g class="timeline" transform="translate({num(x)},{num(y)})" font-size="{num(font)}" fill="#0f172a">']
    top = 0.0
    if caption:
        out.append(f'<text class="tl-caption" x="4" y="16" font-weight="600">{escape(caption)}</text>')
        top = 22
    for i, label in enumerate(labels):
        ly = top + i * (LANE_H + GAP)
        out.append(f'<rect class="tl-lane" x="{LABEL_W}" y="{ly:.1f}" width="{plot_w:.1f}" height="{LANE_H}" fill="#f8fafc" stroke="#cbd5e1"/>')
        out.append(f'<text class="tl-label" x="4" y="{ly + LANE_H / 2 + font * 0.35:.1f}">{escape(label)}</text>')
    axis_y = top + len(labels) * (LANE_H + GAP)
    for j, t in enumerate(nice_ticks(t0, t1, 4, integer=True)):
        tx = x0 + t * sx
        label = f"{t:g}" + (f" {t_unit}" if j == len(nice_ticks(t0, t1, 4, integer=True)) - 1 and t_unit else "")
        anchor = "end" if tx + text_width(label, font) / 2 > width else "middle"
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y - GAP:.1f}" x2="{tx:.1f}" y2="{axis_y:.1f}" stroke="#94a3b8"/>'
                   f'<text x="{tx:.1f}" y="{axis_y + font:.1f}" text-anchor="{anchor}" fill="#475569">{escape(label)}</text>')
    return "".join(out)
