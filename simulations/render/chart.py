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
from typing import NamedTuple

from simulations.render.svg import escape, fit, num, text_width, translate

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


class Marker(NamedTuple):  # a tuple: hashed in C (the markers are a cache key every frame)
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
    colours: bool = True,
) -> tuple[str, float]:
    """The chart as a <g> at (x, y), and its height (the given one). A step line's last
    value holds until `now` (default: the end of `t_range`). Give a `t_range` that changes
    only now and then (`time_window`): the axes, ticks and legend are then drawn once for
    many frames, and only the lines are new. `legend=False` leaves the legend out (a second
    chart of the same series under one that has it) and gives its room to the plot.
    `colours=False` leaves the colours out of the markup, for a stage whose stylesheet
    colours every part of the chart (a .msg-stage: simulations.css, "Time-series chart");
    the dashes, widths and shapes stay."""
    key = None
    if t_range:  # the same series, markers and window as a frame before: only the ends of the lines move
        key = (tuple(map(id, series)), tuple(map(id, markers)), x, y, width, height, t_range, v_range, caption, t_unit,
               integer, legend, colours)
        hit = _CHARTS.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], series)) and all(a is b for a, b in zip(hit[1], markers)):
            drawn = _redraw(hit[2], series, now)
            if drawn is not None:
                return drawn, height
    left, top, right, bottom = plot_box(width, height, caption=bool(caption), legend=legend)
    t0, t1 = t_range if t_range else _extent([p[0] for s in series for p in s.points], (0.0, 1.0))
    if t1 <= t0:
        t1 = t0 + 1.0
    v0, v1 = v_range if v_range else _value_range_of(series, integer)
    out = [_chrome(x, y, width, height, tuple(s.name for s in series), caption, t0, t1, v0, v1, t_unit, integer,
                   legend, colours)]
    sx = (right - left) / (t1 - t0)
    sy = (bottom - top) / (v1 - v0)
    end = t1 if now is None else min(max(now, t0), t1)

    if markers:
        out.append(_markers(tuple(markers), t0, t1, left, right, top, bottom, sx, t_unit, colours))
    lines: list[tuple] = []  # per series drawn: (its element up to its end, last x, step, closing, points cut at)

    # The lines (each series' points up to `end` drawn once per window and scale: cached).
    # A path in tenths of a unit: an absolute start, then relative steps ("h4.8v-.8").
    end_x = _to_tenths(left + (end - t0) * sx)
    for i, s in enumerate(series):
        k = i % len(COLOURS)
        body, last_x, last_y = _line_of(s.name, s.points, end, s.step, t0, v0, left, bottom, sx, sy)
        cut = bisect_right(s.points, (end, math.inf))
        if not body:
            lines.append(("", 0, False, "", cut))
            continue
        head, tail = _line_element(k, s.name, colours)
        lines.append((head + body, last_x, s.step, tail, cut))
    static = ("".join(out), tuple(lines), t0, t1, left, sx)
    if key is not None:
        if len(_CHARTS) > 128:
            _CHARTS.clear()
        _CHARTS[key] = (tuple(series), tuple(markers), static)
    return _redraw(static, series, now) or "", height


#: (ids of the series and markers, the chart's arguments) -> (series, markers, what `_redraw` takes).
_CHARTS: dict[tuple, tuple] = {}


def _redraw(static: tuple, series: Sequence[Series], now: float | None) -> str | None:
    """The chart from its drawing up to each line's last point, the step lines held until
    `now`; None when `now` moves a point in or out of what was drawn."""
    chrome, lines, t0, t1, left, sx = static
    end = t1 if now is None else min(max(now, t0), t1)
    end_x = _to_tenths(left + (end - t0) * sx)
    out = [chrome]
    for (element, last_x, step, tail, cut), s in zip(lines, series):
        points = s.points
        if (cut < len(points) and points[cut][0] <= end) or (cut and points[cut - 1][0] > end):
            return None  # (a point is now in, or out: seen at another time)
        if not element:
            continue
        if step and end_x != last_x:
            out.append(f"{element}h{_tenths(end_x - last_x)}{tail}")  # the last value holds until now
        else:
            out.append(f"{element}{tail}")
    out.append("</g>")
    return "".join(out)


@lru_cache(maxsize=256)
def _line_element(k: int, name: str, colours: bool) -> tuple[str, str]:
    """A series' <path> around its d: its class, name, colour and dash."""
    colour = f' stroke="{COLOURS[k]}"' if colours else ""
    dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
    return (f'<path class="chart-line series-{k}" data-series="{escape(name)}" d="',
            f'" fill="none"{colour} stroke-width="3" stroke-linejoin="round"{dash}/>')


def _to_tenths(v: float) -> int:
    """`v` in tenths, rounded as "%.1f" rounds it: the binary product v * 10 rounded, unless
    it is within a hair of a half, where the exact decimal value decides."""
    q = v * 10
    n = round(q)
    if -0.4999 < q - n < 0.4999:
        return n
    return int(f"{v:.1f}".replace(".", ""))


def _tenths(n: int) -> str:
    """An integer number of tenths as a short path number: 48 -> "4.8", -8 -> "-.8", 120 -> "12"."""
    if -_TENTHS_SPAN < n < _TENTHS_SPAN:
        return _TENTHS[n]
    return _tenths_of(n)


def _tenths_of(n: int) -> str:
    if n % 10 == 0:
        return str(n // 10)
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10)
    return f"{sign}{whole or ''}.{frac}"


#: _tenths of every step and place within a stage (negative indices from the end): a line's
#: points are formatted per frame when its window moves.
_TENTHS_SPAN = 10_000
_TENTHS = [_tenths_of(n) for n in range(_TENTHS_SPAN)] + [_tenths_of(n) for n in range(-_TENTHS_SPAN + 1, 0)]


@lru_cache(maxsize=256)
def _markers(markers: tuple[Marker, ...], t0: float, t1: float, left: float, right: float, top: float,
             bottom: float, sx: float, t_unit: str, colours: bool) -> str:
    """Event markers: a dashed vertical tick, labelled at the top unless it would touch the last
    label; a label that would reach over the value axis (or past the right edge) starts (or
    ends) at its tick instead of centring on it."""
    out = []
    last_label_end = -1e9
    stroke = ' stroke="#b42318"' if colours else ""
    fill = ' fill="#b42318"' if colours else ""
    for m in markers:
        if not t0 <= m.t <= t1:
            continue
        xx = left + (m.t - t0) * sx
        cls = f"chart-marker {escape(m.cls)}" if m.cls else "chart-marker"
        out.append(
            f'<g class="{cls}"><title>{escape(m.label)} at {_label(m.t)} {escape(t_unit)}</title>'
            f'<line x1="{num(xx)}" y1="{num(top)}" x2="{num(xx)}" y2="{num(bottom)}"{stroke} stroke-width="1.5" '
            f'stroke-dasharray="3 3"/>'
        )
        w = text_width(m.label, FONT)
        start, anchor = xx - w / 2, "middle"
        if start < left:
            start, anchor = xx + 2, "start"
        elif start + w > right:
            start, anchor = xx - 2 - w, "end"
        if start > last_label_end + 4:
            tx = xx + 2 if anchor == "start" else xx - 2 if anchor == "end" else xx
            out.append(f'<text x="{num(tx)}" y="{num(top - 2)}" text-anchor="{anchor}"{fill}>{escape(m.label)}</text>')
            last_label_end = start + w
        out.append("</g>")
    return "".join(out)


#: (series name, step, scale) -> (points, how many were drawn, the line's state): a series
#: grows from frame to frame (its points are replaced by a longer tuple that starts with
#: the same ones), so its line is extended by the new points instead of drawn again.
_LINES: dict[tuple, tuple] = {}
#: A line's state while it is drawn: (path so far, last x, last y in tenths, started, held value).
_START: tuple = ("", 0, 0, False, None)


def _grown(old: tuple, old_n: int, new: tuple, new_n: int) -> bool:
    """Whether `new`'s first `new_n` points start with `old`'s first `old_n` (cheap when the
    tuples share their points, as a grown series does)."""
    return old_n <= new_n and (old is new or new[:old_n] == old[:old_n])


def _line_of(name: str, points: tuple[tuple[float, float], ...], end: float, step: bool, t0: float, v0: float,
             left: float, bottom: float, sx: float, sy: float) -> tuple[str, int, int]:
    """The path of the points at or before `end`, and where it ends (tenths): the cached
    line, extended by the points it has not seen when the series has grown."""
    cut = bisect_right(points, (end, math.inf))
    key = (name, step, t0, v0, left, bottom, sx, sy)
    hit = _LINES.get(key)
    if hit is not None and hit[0] is points and hit[1] == cut:
        state = hit[2]
    else:
        if hit is not None and _grown(hit[0], hit[1], points, cut):
            state = _extend(hit[2], points[hit[1]:cut], step, t0, v0, left, bottom, sx, sy)
        else:
            state = _extend(_START, points[:cut], step, t0, v0, left, bottom, sx, sy)
        if len(_LINES) > 512:
            _LINES.clear()
        _LINES[key] = (points, cut, state)
    d, lx, ly, started, held = state
    if not started and held is not None:  # every point is before the window: the value held
        ly = _to_tenths(bottom - (held - v0) * sy)
        return f"M{_tenths(_to_tenths(left))},{_tenths(ly)}", _to_tenths(left), ly
    return d, lx, ly


def _extend(state: tuple, points: Sequence[tuple[float, float]], step: bool, t0: float, v0: float, left: float,
            bottom: float, sx: float, sy: float) -> tuple:
    """The line's state after `points` more (see _START): an absolute start, then relative
    steps ("h4.8v-.8") in tenths of a unit. A step line holds each value until the next point."""
    d0, lx, ly, started, held = state
    d: list[str] = [d0]
    for t, v in points:
        if t < t0:
            held = v  # the value holding when the window opens
            continue
        xx = _to_tenths(left + (t - t0) * sx)
        yy = _to_tenths(bottom - (v - v0) * sy)
        if not started:
            started = True
            if held is not None:
                lx, ly = _to_tenths(left), _to_tenths(bottom - (held - v0) * sy)
                d.append(f"M{_tenths(lx)},{_tenths(ly)}")
            else:
                lx, ly = xx, yy
                d.append(f"M{_tenths(xx)},{_tenths(yy)}")
                continue
        if step:
            if xx != lx:
                d.append("h" + _tenths(xx - lx))
            if yy != ly:
                d.append("v" + _tenths(yy - ly))
        elif yy == ly:
            if xx != lx:
                d.append(f"h{_tenths(xx - lx)}")
        elif xx == lx:
            d.append(f"v{_tenths(yy - ly)}")
        else:
            dy = _tenths(yy - ly)
            d.append(f"l{_tenths(xx - lx)}{dy if dy[0] == '-' else ',' + dy}")
        lx, ly = xx, yy
    return "".join(d), lx, ly, started, held


def _extent(values: Sequence[float], default: tuple[float, float]) -> tuple[float, float]:
    return (min(values), max(values)) if values else default


#: series name -> (points, their least and greatest value): extended as a series grows (see _LINES).
_RANGES: dict[str, tuple] = {}


def _extent_of(s: Series) -> tuple[float, float] | None:
    points = s.points
    hit = _RANGES.get(s.name)
    if hit is not None and hit[0] is points:
        return hit[1]
    n = len(points)
    if hit is not None and hit[1] is not None and _grown(hit[0], len(hit[0]), points, n):
        new = [p[1] for p in points[len(hit[0]):]]
        lo, hi = hit[1]
        ext = (min(lo, *new), max(hi, *new)) if new else hit[1]
    else:
        vals = [p[1] for p in points]
        ext = (min(vals), max(vals)) if vals else None
    if len(_RANGES) > 256:
        _RANGES.clear()
    _RANGES[s.name] = (points, ext)
    return ext


def _value_range_of(series: Sequence[Series], integer: bool) -> tuple[float, float]:
    """`value_range` of every series' values (from each series' extent, cached as it grows)."""
    lo = hi = None
    for s in series:
        ext = _extent_of(s)
        if ext is not None:
            lo = ext[0] if lo is None else min(lo, ext[0])
            hi = ext[1] if hi is None else max(hi, ext[1])
    return _value_range_between(lo, hi, integer)


@lru_cache(maxsize=256)
def _value_range_between(lo: float | None, hi: float | None, integer: bool) -> tuple[float, float]:
    return value_range(() if lo is None else (lo, hi), integer)


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
    when `now` passes that value, so most frames share their axes. (The step of
    `nice_ticks(0, span, parts)`, found without listing the ticks: this runs every frame.)"""
    span = max(now - start, 1.0)
    raw = span / parts
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10, 20) if span / (m * mag) <= parts + 1)
    step = round(step, 10) if step <= span + 1e-9 else span
    return start, start + math.ceil(span / step + 1e-9) * step


@lru_cache(maxsize=128)
def _chrome(x: float, y: float, width: float, height: float, names: tuple[str, ...], caption: str,
            t0: float, t1: float, v0: float, v1: float, t_unit: str, integer: bool, legend: bool = True,
            colours: bool = True) -> str:
    """The opening, caption, legend, axes and ticks: everything but the lines and markers.
    Text inherits the group's size and anchor, lines their group's stroke. In three parts
    cached apart: a moving time window (the common change) redraws only its own axis."""
    return (_chrome_head(x, y, width, height, names, caption, legend, colours)
            + _value_axis(width, height, bool(caption), legend, v0, v1, integer, colours)
            + _time_axis(width, height, bool(caption), legend, t0, t1, t_unit, colours))


@lru_cache(maxsize=128)
def _chrome_head(x: float, y: float, width: float, height: float, names: tuple[str, ...], caption: str,
                 legend: bool, colours: bool) -> str:
    """The opening, the caption, the legend and the axis lines."""
    left, top, right, bottom = plot_box(width, height, caption=bool(caption), legend=legend)
    where = "" if x == 0 and y == 0 else f' transform="{translate(x, y)}"'
    out = [f'<g class="chart"{where} font-size="{FONT}"{_fill(colours, "#0f172a")}>']
    ly = 0.0
    if caption:
        # Cut to the chart's width (bold runs about 6% wider than text_width's estimate).
        shown = fit(caption, width - 16, FONT * 1.06)
        tip = f"<title>{escape(caption)}</title>" if shown != caption else ""
        out.append(f'<text class="chart-caption" x="8" y="16" font-weight="600">{tip}{escape(shown)}</text>')
        ly = CAPTION_H
    # Legend: a swatch of each series' own line (dash and colour), then its name.
    if legend:
        lx = 8.0
        out.append(f'<g class="chart-legend" transform="translate(0,{num(ly)})">')
        for i, name in enumerate(names):
            k = i % len(COLOURS)
            dash = f' stroke-dasharray="{DASHES[k]}"' if DASHES[k] else ""
            out.append(
                f'<g class="chart-key series-{k}"><line x1="{num(lx)}" y1="10" x2="{num(lx + 24)}" y2="10"'
                f'{_stroke(colours, COLOURS[k])} stroke-width="3"{dash}/>'
                f'<text x="{num(lx + 30)}" y="15"{_fill(colours, "#334155")}>{escape(name)}</text></g>'
            )
            lx += 30 + text_width(name, FONT) + 16
        out.append("</g>")
    axis = _stroke(colours, "#94a3b8")
    out.append(f'<path class="chart-axis" d="M{num(left)},{num(top)}V{num(bottom)}H{num(right)}" fill="none"{axis} '
               f'stroke-width="1.5"/>')
    out.append(f'<g class="chart-ticks"{_fill(colours, "#475569")}>')
    return "".join(out)


@lru_cache(maxsize=128)
def _value_axis(width: float, height: float, caption: bool, legend: bool, v0: float, v1: float, integer: bool,
                colours: bool) -> str:
    """The grid lines and the value labels."""
    left, top, right, bottom = plot_box(width, height, caption=caption, legend=legend)
    sy = (bottom - top) / (v1 - v0)
    v_ticks = [(bottom - (v - v0) * sy, v) for v in nice_ticks(v0, v1, 3, integer)]
    # (One path per line: a browser draws one path of many lines a little differently.)
    grid = "".join(f'<path d="M{num(left)},{num(yy)}H{num(right)}"/>' for yy, _ in v_ticks)
    labels = "".join(f'<text x="{num(left - 6)}" y="{num(yy + 5.5)}">{_label(v)}</text>' for yy, v in v_ticks)
    return (f'<g class="chart-grid"{_stroke(colours, "#e2e8f0")} stroke-width="1">{grid}</g>'
            f'<g text-anchor="end">{labels}</g>')


@lru_cache(maxsize=128)
def _time_axis(width: float, height: float, caption: bool, legend: bool, t0: float, t1: float, t_unit: str,
               colours: bool) -> str:
    """The time ticks and their labels (closing the ticks' group)."""
    left, top, right, bottom = plot_box(width, height, caption=caption, legend=legend)
    sx = (right - left) / (t1 - t0)
    t_ticks = nice_ticks(t0, t1, 3)
    marks, labels = [], []
    next_start = math.inf  # where the label to the right begins: the last one (with the unit) is always drawn
    for i, t in reversed(list(enumerate(t_ticks))):
        xx = left + (t - t0) * sx
        label = _label(t) + (f" {t_unit}" if t_unit and i == len(t_ticks) - 1 else "")
        w = text_width(label, FONT)
        end_anchored = xx + w / 2 > width - 2
        start, end = (xx - w, xx) if end_anchored else (xx - w / 2, xx + w / 2)
        marks.append(f'<path d="M{num(xx)},{num(bottom)}v4"/>')
        if end + 6 > next_start:  # it would run into the next label: the tick alone
            continue
        anchor = ' text-anchor="end"' if end_anchored else ""
        labels.append(f'<text x="{num(xx)}" y="{num(bottom + 19)}"{anchor}>{escape(label)}</text>')
        next_start = start
    marks.reverse()
    labels.reverse()
    out = ""
    if marks:
        out = (f'<g class="chart-axis"{_stroke(colours, "#94a3b8")} stroke-width="1.5">{"".join(marks)}</g>'
               f'<g text-anchor="middle">{"".join(labels)}</g>')
    return out + "</g>"


def _fill(colours: bool, colour: str) -> str:
    return f' fill="{colour}"' if colours else ""


def _stroke(colours: bool, colour: str) -> str:
    return f' stroke="{colour}"' if colours else ""
