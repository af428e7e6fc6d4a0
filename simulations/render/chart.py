"""A small time-series chart stage part: one line per series over virtual time, axes with a
few ticks, a legend naming the series, and optional event markers ("loss", "timeout") as
vertical ticks. First drawn for Raft's term and commit index; TCP's congestion window and
the load balancer's latencies are next.

Input: `Series(name, points)` with points as (t, value) pairs in time order. A series is
drawn as a step line by default (a value holds until the next point, as a term or a window
size does), else straight segments. Each series has its own dash pattern as well as its
colour, and the legend shows both.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from simulations.render.svg import group, line, num, path, text, text_width, translate

FONT = 16
CAPTION_H = 22
LEGEND_H = 22
AXIS_H = 22  # the time labels under the plot
LEFT = 44  # room for the value labels
RIGHT = 12
TOP_PAD = 10

COLOURS = ("#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be185d")
DASHES = ("", "7 4", "2 3", "10 3 2 3", "4 4")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]
    step: bool = True


@dataclass(frozen=True, slots=True)
class Marker:
    t: float
    label: str
    cls: str = ""


def nice_ticks(lo: float, hi: float, count: int = 4, integer: bool = False) -> list[float]:
    """About `count` round values covering [lo, hi] (1, 2 or 5 times a power of ten)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    # The finest round step that gives at most count + 1 intervals.
    step = next(m * mag for m in (1, 2, 5, 10, 20) if (hi - lo) / (m * mag) <= count + 1)
    if integer:
        step = max(1.0, round(step))
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 and len(ticks) < 20:
        ticks.append(round(v, 10))
        v += step
    return ticks


def plot_box(width: float, height: float, *, caption: bool = True, legend: bool = True) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the plot area inside a chart this big."""
    top = (CAPTION_H if caption else 0) + (LEGEND_H if legend else 0) + TOP_PAD
    return LEFT, top, width - RIGHT, height - AXIS_H


def _label(v: float) -> str:
    if abs(v - round(v)) < 1e-9:
        return f"{int(round(v)):,}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def render_chart(
    series: Sequence[Series],
    *,
    x: float = 0,
    y: float = 0,
    width: float = 432,
    height: float = 190,
    t_range: tuple[float, float] | None = None,
    v_range: tuple[float, float] | None = None,
    markers: Sequence[Marker] = (),
    caption: str = "",
    t_unit: str = "ms",
    integer: bool = True,
    now: float | None = None,
    legend: bool = True,
) -> tuple[str, float]:
    """The chart as a <g> at (x, y), and its height (the given one). A step line's last
    value holds until `now` (default: the end of `t_range`). Give a `t_range` that changes
    only now and then (`time_window`): the axes, ticks and legend are then drawn once for
    many frames, and only the lines are new. `legend=False` leaves the legend out (a second
    chart of the same series under one that has it) and gives its room to the plot."""
    left, top, right, bottom = plot_box(width, height, caption=bool(caption), legend=legend)
    t0, t1 = t_range if t_range else _extent([p[0] for s in series for p in s.points], (0.0, 1.0))
    if t1 <= t0:
        t1 = t0 + 1.0
    if v_range:
        v0, v1 = v_range
    else:
        v0, v1 = value_range([p[1] for s in series for p in s.points], integer)
    out = [_chrome(x, y, width, height, tuple(s.name for s in series), caption, t0, t1, v0, v1, t_unit, integer, legend)]
    sx = (right - left) / (t1 - t0)
    sy = (bottom - top) / (v1 - v0)
    end = t1 if now is None else min(max(now, t0), t1)

    # Event markers: a dashed vertical tick, labelled at the top unless it would touch the last label.
    last_label_end = -1e9
    for m in markers:
        if not t0 <= m.t <= t1:
            continue
        xx = left + (m.t - t0) * sx
        cls = f"chart-marker {escape(m.cls)}" if m.cls else "chart-marker"
        out.append(
            f'<g class="{cls}"><title>{escape(m.label)} at {_label(m.t)} {escape(t_unit)}</title>'
            f'<line x1="{xx:.1f}" y1="{top:.1f}" x2="{xx:.1f}" y2="{bottom:.1f}" stroke="#b42318" stroke-width="1.5" stroke-dasharray="3 3"/>'
        )
        w = text_width(m.label, FONT)
        if xx - w / 2 > last_label_end + 4:
            out.append(f'<text x="{xx:.1f}" y="{top - 2:.1f}" text-anchor="middle" fill="#b42318">{escape(m.label)}</text>')
            last_label_end = xx + w / 2
        out.append("</g>")

    # The lines (each series' points up to `end` drawn once per window and scale: cached).
    for i, s in enumerate(series):
        k = i % len(COLOURS)
        points = s.points
        cut = bisect_right(points, (end, math.inf))
        body, last_y = _line(points if cut == len(points) else points[:cut], s.step, t0, v0, left, bottom, sx, sy)
        if not body:
            continue
        if s.step:
            body += f" {left + (end - t0) * sx:.1f},{last_y:.1f}"  # the last value holds until now
        pts = (body,)
        dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
        out.append(
            f'<polyline class="chart-line series-{k}" data-series="{escape(s.name)}" points="{" ".join(pts)}" fill="none" '
            f'stroke="{COLOURS[k]}" stroke-width="3" stroke-linejoin="round"{dash}/>'
        )
    out.append("</g>")
    return "".join(out), height


@lru_cache(maxsize=256)
def _line(points: tuple[tuple[float, float], ...], step: bool, t0: float, v0: float, left: float, bottom: float,
          sx: float, sy: float) -> tuple[str, float]:
    """A series' polyline points (all of them at or before the chart's end), and the last y."""
    pts: list[str] = []
    held: float | None = None  # the value holding when the window opens
    last_y = 0.0
    for t, v in points:
        if t < t0:
            held = v
            continue
        xx = left + (t - t0) * sx
        yy = bottom - (v - v0) * sy
        if held is not None and not pts:
            last_y = bottom - (held - v0) * sy
            pts.append(f"{left:.1f},{last_y:.1f}")
        if step and pts:
            pts.append(f"{xx:.1f},{last_y:.1f}")
        pts.append(f"{xx:.1f},{yy:.1f}")
        last_y = yy
    if not pts and held is not None:
        last_y = bottom - (held - v0) * sy
        pts.append(f"{left:.1f},{last_y:.1f}")
    return " ".join(pts), last_y


def _extent(values: Sequence[float], default: tuple[float, float]) -> tuple[float, float]:
    return (min(values), max(values)) if values else default


def value_range(values: Sequence[float], integer: bool = True) -> tuple[float, float]:
    """From 0 (or the least value, if negative) to the next round value above the greatest."""
    v0 = min(0.0, min(values, default=0.0))
    v1 = max(values, default=1.0)
    if v1 <= v0:
        v1 = v0 + 1.0
    ticks = nice_ticks(v0, v1, 3, integer)
    if len(ticks) > 1:  # up to the next round value, so the top has a tick
        step = ticks[1] - ticks[0]
        v1 = math.ceil(v1 / step - 1e-9) * step
    return v0, v1


def time_window(start: float, now: float, parts: int = 4) -> tuple[float, float]:
    """A time axis from `start` that reaches past `now` to a round value: it changes only
    when `now` passes that value, so most frames share their axes."""
    span = max(now - start, 1.0)
    ticks = nice_ticks(0.0, span, parts)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    return start, start + math.ceil(span / step + 1e-9) * step


@lru_cache(maxsize=128)
def _chrome(x: float, y: float, width: float, height: float, names: tuple[str, ...], caption: str,
            t0: float, t1: float, v0: float, v1: float, t_unit: str, integer: bool, legend: bool = True) -> str:
    """The opening, caption, legend, axes and ticks: everything but the lines and markers."""
    left, top, right, bottom = plot_box(width, height, caption=bool(caption), legend=legend)
    sx = (right - left) / (t1 - t0)
    sy = (bottom - top) / (v1 - v0)
    out = [f'<g class="chart" transform="{translate(x, y)}" font-size="{FONT}" fill="#0f172a">']
    ly = 0.0
    if caption:
        out.append(f'<text class="chart-caption" x="8" y="16" font-weight="600">{escape(caption)}</text>')
        ly = CAPTION_H
    # Legend: a swatch of each series' own line (dash and colour), then its name.
    lx = 8.0
    keys = []
    for i, name in enumerate(names):
        k = i % len(COLOURS)
        keys.append(group(
            line(lx, 10, lx + 24, 10, stroke=COLOURS[k], sw=3, dash=DASHES[k] or None)
            + text(lx + 30, 15, name, size=FONT, fill="#334155"),
            cls=f"chart-key series-{k}",
        ))
        lx += 30 + text_width(name, FONT) + 16
    if legend:
        out.append(group(keys, cls="chart-legend", transform=f"translate(0,{num(ly)})"))
    out.append(path(f"M{num(left)},{num(top)} L{num(left)},{num(bottom)} L{num(right)},{num(bottom)}",
                    cls="chart-axis", stroke="#94a3b8", sw=1.5))
    ticks = []
    for v in nice_ticks(v0, v1, 3, integer):
        yy = bottom - (v - v0) * sy
        ticks.append(line(left, yy, right, yy, cls="chart-grid", stroke="#e2e8f0", sw=1))
        ticks.append(text(left - 6, yy + 5.5, _label(v), size=FONT, anchor="end"))
    t_ticks = nice_ticks(t0, t1, 3)
    for i, t in enumerate(t_ticks):
        xx = left + (t - t0) * sx
        label = _label(t) + (f" {t_unit}" if t_unit and i == len(t_ticks) - 1 else "")
        anchor = "end" if xx + text_width(label, FONT) / 2 > width - 2 else "middle"
        ticks.append(line(xx, bottom, xx, bottom + 4, stroke="#94a3b8", sw=1.5))
        ticks.append(text(xx, bottom + 19, label, size=FONT, anchor=anchor))
    out.append(group(ticks, cls="chart-ticks", extra=' fill="#475569"'))
    return "".join(out)
