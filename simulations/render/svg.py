"""Tiny SVG primitives shared by the stage parts (topology, table, chart) and layouts.

Frame rendering is the hot path (DESIGN.md, Performance), so these are plain functions that
return strings, with no template engine and no object tree: a part joins their output once.
Text is escaped here (`esc`), numbers are formatted short (`num`); attributes that take
neither (a class list the caller built, a style of custom properties) are passed through
as they are, so callers must only put their own constants or escaped text in them.

Units: every stage is laid out in viewBox units. A stage that is scaled down to a phone
(PHONE_WIDTH px wide) must still show 12 px text, so its smallest font size is
``legible_font(width)``: 16 units for a 432-unit-wide stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from html import escape as _html_escape

SVG_NS = "http://www.w3.org/2000/svg"
#: The narrowest width a stage is drawn at: a 390 px phone less the page's, the panel's and
#: the stage frame's padding (measured in Chromium: 324 px).
PHONE_WIDTH = 324
#: The smallest text a learner should have to read, in CSS px.
MIN_TEXT_PX = 12
FONT = "system-ui, sans-serif"
MONO = "ui-monospace, Menlo, Consolas, monospace"


def ascii_markup(html: str) -> str:
    """`html` with each non-ASCII character as a character reference: the same page to the
    browser, and a message the server encodes as one byte a character. The step and jump
    messages are built once and sent to every viewer of a run, and each send is encoded to
    UTF-8: a copy for an ASCII string, a transcoding otherwise (with its marker, 0.3 µs
    against 2.6 µs for a Raft frame message, measured on this machine)."""
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


def escape(s: str, quote: bool = True) -> str:
    """`html.escape`, made ASCII (`ascii_markup`): the stages' text is ASCII at its source, so
    the messages' own check finds nothing to rewrite (a 4-thread Race Conditions frame with
    one en dash in it cost 257 µs a frame live under `make bench`'s capacity row, 221
    without)."""
    return ascii_markup(_html_escape(s, quote))


def esc(value: object) -> str:
    """Text or an attribute value, escaped for markup (quotes too)."""
    return escape(str(value), quote=True)


def num(value: float) -> str:
    """A coordinate, short: at most one decimal, no trailing ".0", never "-0"."""
    s = f"{value:.1f}"  # (formatted, not round(): this runs for every coordinate of every frame)
    if s[-1] == "0":
        s = s[:-2]
        if s == "-0":
            return "0"
    return s


def secs(value: float) -> str:
    """A duration in seconds for CSS (".35s", "-1.2s", "2s"): milliseconds precision, short."""
    s = f"{value:.3f}".rstrip("0").rstrip(".")
    if s[0] == "0":
        return "." + s[2:] + "s" if len(s) > 1 else "0s"
    if s.startswith("-0"):
        return "-." + s[3:] + "s" if len(s) > 2 else "0s"
    return s + "s"


def legible_font(width: float) -> float:
    """The smallest font size (viewBox units) still MIN_TEXT_PX px when a stage this wide is
    scaled to PHONE_WIDTH."""
    return MIN_TEXT_PX * width / PHONE_WIDTH


def text_width(text: str, size: float, mono: bool = False) -> float:
    """A rough width of `text` at `size` (no font metrics on the server): enough to size a
    label's background or to decide that a label does not fit."""
    return len(text) * size * (0.6 if mono else 0.56)


def fit(line: str, width: float, size: float = 16) -> str:
    """`line`, cut with "…" when it would be wider than `width` at `size`."""
    if text_width(line, size) <= width:
        return line
    keep = max(1, int(width / (size * 0.56)) - 1)
    return line[:keep] + "\u2026"


def _opt(name: str, value: object) -> str:
    return "" if value is None or value == "" else f' {name}="{value}"'


def text(
    x: float,
    y: float,
    content: str,
    *,
    cls: str = "",
    size: float = 16,
    anchor: str | None = None,
    weight: str | None = None,
    fill: str | None = None,
    extra: str = "",
    raw: bool = False,
) -> str:
    """A <text>; `content` is escaped unless `raw` (already markup, e.g. tspans)."""
    body = content if raw else escape(content)
    return (
        f'<text{_opt("class", cls)} x="{num(x)}" y="{num(y)}" font-size="{num(size)}"'
        f'{_opt("text-anchor", anchor)}{_opt("font-weight", weight)}{_opt("fill", fill)}{extra}>{body}</text>'
    )


def rect(
    x: float,
    y: float,
    w: float,
    h: float,
    *,
    cls: str = "",
    rx: float = 0,
    fill: str | None = None,
    stroke: str | None = None,
    sw: float | None = None,
    extra: str = "",
) -> str:
    return (
        f'<rect{_opt("class", cls)} x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}"'
        f'{_opt("rx", num(rx) if rx else None)}{_opt("fill", fill)}{_opt("stroke", stroke)}'
        f'{_opt("stroke-width", None if sw is None else num(sw))}{extra}/>'
    )


def circle(
    cx: float,
    cy: float,
    r: float,
    *,
    cls: str = "",
    fill: str | None = None,
    stroke: str | None = None,
    sw: float | None = None,
    extra: str = "",
) -> str:
    return (
        f'<circle{_opt("class", cls)} cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}"'
        f'{_opt("fill", fill)}{_opt("stroke", stroke)}{_opt("stroke-width", None if sw is None else num(sw))}{extra}/>'
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    cls: str = "",
    stroke: str | None = None,
    sw: float | None = None,
    dash: str | None = None,
    extra: str = "",
) -> str:
    return (
        f'<line{_opt("class", cls)} x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}"'
        f'{_opt("stroke", stroke)}{_opt("stroke-width", None if sw is None else num(sw))}'
        f'{_opt("stroke-dasharray", dash)}{extra}/>'
    )


def path(
    d: str,
    *,
    cls: str = "",
    fill: str | None = "none",
    stroke: str | None = None,
    sw: float | None = None,
    dash: str | None = None,
    extra: str = "",
) -> str:
    return (
        f'<path{_opt("class", cls)} d="{d}"{_opt("fill", fill)}{_opt("stroke", stroke)}'
        f'{_opt("stroke-width", None if sw is None else num(sw))}{_opt("stroke-dasharray", dash)}{extra}/>'
    )


def polyline(points: Iterable[tuple[float, float]], *, cls: str = "", stroke: str | None = None,
             sw: float | None = None, dash: str | None = None, extra: str = "") -> str:
    pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return (
        f'<polyline{_opt("class", cls)} points="{pts}" fill="none"{_opt("stroke", stroke)}'
        f'{_opt("stroke-width", None if sw is None else num(sw))}{_opt("stroke-dasharray", dash)}{extra}/>'
    )


def title(content: str) -> str:
    """A hover tooltip (and accessible description) for the enclosing element."""
    return f"<title>{escape(content)}</title>" if content else ""


def group(children: str | Iterable[str], *, cls: str = "", transform: str | None = None, extra: str = "") -> str:
    body = children if isinstance(children, str) else "".join(children)
    return f'<g{_opt("class", cls)}{_opt("transform", transform)}{extra}>{body}</g>'


def translate(x: float, y: float) -> str:
    return f"translate({num(x)},{num(y)})"


def svg_root(dom_id: str, width: float, height: float, body: str | Iterable[str], *, cls: str = "",
             label: str = "", style: str = "", font: str | None = FONT) -> str:
    """The one top-level <svg> of a stage, carrying its id (htmx swaps it by id). `font=None`
    leaves the font family to the stylesheet (a .msg-stage has it)."""
    inner = body if isinstance(body, str) else "".join(body)
    head, tail = _root_parts(dom_id, width, height, cls, style, font)
    return f'{head}{_opt("aria-label", esc(label) if label else None)}{tail}{inner}</svg>'


@lru_cache(maxsize=256)
def _root_parts(dom_id: str, width: float, height: float, cls: str, style: str, font: str | None) -> tuple[str, str]:
    """The root's opening around its accessible name (the one part that changes per frame)."""
    return (f'<svg id="{esc(dom_id)}"{_opt("class", cls)} xmlns="{SVG_NS}" viewBox="0 0 {num(width)} {num(height)}"'
            f' role="img"', f'{_opt("style", style)}{_opt("font-family", font)}>')
