"""Race-conditions frames and analyses as HTML/SVG strings.

This is the hot path (one render per frame, shared by every viewer), so it is
plain f-strings joined once, with `html.escape` on every piece of text. The
stage is one top-level ``<div id=...>`` that htmx's ws extension swaps out of
band; it holds one ``<svg>`` per column (each with its svg parent, so its
children are real SVG: g, rect, text, tspan, line, path), placed by CSS from
stage units on their style (``--x``/``--y`` wide, ``--nx``/``--ny`` narrow), so
a phone stacks the columns at a legible size while every viewer gets the same
HTML. Every element carries a class for the stylesheet and default
fills/strokes as attributes so it reads correctly without CSS. Motion comes from
CSS animations keyed on classes of elements that are new in this frame
(``just-written``, ``just-read``, ``line-executed``, ``race``, ``just-lost``,
and ``race-flight``: the value of a load or store travelling between the thread
and the cell), since the whole stage is replaced each step and transitions would
never run: an element that persists from frame to frame must not carry an
animated class, or it would replay on every step.

Layout: one column per thread; shared memory, the lock and the file in a
middle column (threads split left and right of it); narrow, all in one column in
the same order. The size depends only on the program (thread count, code
length), not on the step, so the stage does not jump between frames. The
detector's vector clocks carry ``sim-internal``: shown when the learner asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from functools import lru_cache
from typing import Any, NamedTuple

from simulations.engines.base import Entity, Frame
from simulations.render.svg import escape

#: Names, values and registers repeat from frame to frame (about 50 escapes a 4-thread
#: frame): escaped once each.
_esc = lru_cache(maxsize=4096)(escape)

PAD = 12
GAP = 18
COL_W = 330
MEM_W = 230
HEADER_H = 26
LINE_H = 17
CHAR_W = 6.6  # monospace at 11px
CODE_X = 20
REG_H = 22
CLOCK_H = 34
NARROW_W = COL_W  # a phone's stage: one column this many units wide
CELL_H = 50
CELL_GAP = 10
LOCK_H = 58
FILE_LINE_H = 18

# White text on each at least 4.5:1. Blocked is the held lock's amber: it waits for that lock.
STATUS_FILL = {"running": "#2563eb", "ready": "#64748b", "blocked": "#b45309", "done": "#15803d"}
STATUS_LABEL = {"running": "running", "ready": "ready", "blocked": "blocked on lock", "done": "done"}
RACE_RED = "#dc2626"
RACE_BAND = 30  # room under the columns for the race label, always reserved


def _register_value(value: Any) -> str:
    """A register's value as markup: an unset one is a dash, as a character reference so
    that the frame stays ASCII (and its message is not rewritten: svg.ascii_markup)."""
    return "&#8211;" if value is None else _esc(str(value))


@lru_cache(maxsize=256)
def _code_rows(code: tuple[str, ...]) -> tuple[tuple[float, str, str], ...]:
    """Each code line as (indent in px, escaped code, escaped comment). Leading
    spaces become an x offset because SVG collapses whitespace."""
    rows = []
    for line in code:
        stripped = line.lstrip(" ")
        indent = (len(line) - len(stripped)) * CHAR_W
        body, sep, comment = stripped.partition("//")
        rows.append((indent, escape(body.rstrip()), escape(sep + comment) if sep else ""))
    return tuple(rows)


@lru_cache(maxsize=1024)
def _code_text(code: tuple[str, ...], current: int | None, top: float) -> str:
    """A thread's code lines, the current one marked: the same for every frame that stands
    on that line, so it is built once (most of a column's cost otherwise)."""
    out = []
    for i, (indent, body, comment) in enumerate(_code_rows(code)):
        cls = "code-line current" if i == current else "code-line"
        tail = f'<tspan class="comment" fill="#64748b"> {comment}</tspan>' if comment else ""
        out.append(
            f'<text class="{cls}" x="{CODE_X + indent:.1f}" y="{top + i * LINE_H + 12:.0f}" fill="#0f172a">'
            f"{body}{tail}</text>"
        )
    return "".join(out)


def _lock_icon(x: float, y: float, fill: str) -> str:
    # A padlock: shackle arc over a body.
    return (
        f'<g class="lock-icon" transform="translate({x:.0f},{y:.0f})">'
        f'<path d="M-4,0 v-3 a4,4 0 0 1 8,0 v3" fill="none" stroke="{fill}" stroke-width="1.8"/>'
        f'<rect x="-6" y="0" width="12" height="9" rx="1.5" fill="{fill}"/></g>'
    )


def _thread_column(e: Entity, x: float, y: float, height: float, race_lines: Set[int], names: list[str]) -> str:
    st = e.state
    status = st["status"]
    name = _esc(st["name"])
    out: list[str] = []
    racing = " racing" if race_lines else ""
    blocked = status == "blocked"
    out.append(f'<g class="thread {status}{racing}" transform="translate({x:.0f},{y:.0f})">')
    out.append(
        f'<rect class="thread-box" width="{COL_W}" height="{height:.0f}" rx="8" fill="#ffffff" '
        f'stroke="{RACE_RED if race_lines else "#cbd5e1"}" stroke-width="{2 if race_lines else 1}"/>'
    )
    out.append(f'<rect class="thread-head" width="{COL_W}" height="{HEADER_H}" rx="8" fill="{STATUS_FILL[status]}"/>')
    out.append(
        f'<text class="thread-name" x="10" y="18" fill="#ffffff" font-size="13" font-weight="bold">{name}</text>'
        f'<text class="thread-status" x="{COL_W - 10}" y="18" fill="#ffffff" font-size="11" '
        f'text-anchor="end">{STATUS_LABEL[status]}</text>'
    )
    if blocked:
        out.append(_lock_icon(COL_W - 118, 10, "#ffffff"))
    body_opacity = ' opacity="0.7"' if blocked or status == "done" else ""
    out.append(f'<g class="code" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11"{body_opacity}>')
    top = HEADER_H + 8
    current, executed = st["line"], st["executed_line"]
    if executed is not None:
        out.append(
            f'<rect class="line-executed" x="4" y="{top + executed * LINE_H:.0f}" width="{COL_W - 8}" '
            f'height="{LINE_H}" rx="3" fill="#dbeafe"/>'
        )
    if current is not None:
        cy = top + current * LINE_H
        out.append(
            f'<rect class="line-current" x="4" y="{cy:.0f}" width="{COL_W - 8}" height="{LINE_H}" rx="3" '
            f'fill="{"#e5e7eb" if blocked else "#fde68a"}"/>'
        )
        out.append(f'<path class="pc" d="M6,{cy + 3:.0f} l9,5.5 l-9,5.5 z" fill="#1d4ed8"/>')
    for k in sorted(race_lines):
        out.append(
            f'<rect class="line-race" x="3" y="{top + k * LINE_H - 1:.0f}" width="{COL_W - 6}" height="{LINE_H + 2}" '
            f'rx="3" fill="none" stroke="{RACE_RED}" stroke-width="2"/>'
        )
    out.append(_code_text(st["code"], current, top))
    out.append("</g>")
    regs_y = height - CLOCK_H - REG_H + 14
    # No-break spaces (as a character reference, so the message stays ASCII and cheap to
    # encode): SVG collapses runs of ordinary spaces.
    regs = "&#160;&#160;&#160;".join(f"{_esc(str(k))} = {_register_value(v)}" for k, v in st["registers"].items()) or "no registers"
    out.append(
        f'<line class="sep" x1="8" x2="{COL_W - 8}" y1="{regs_y - 16:.0f}" y2="{regs_y - 16:.0f}" stroke="#e2e8f0"/>'
        f'<text class="registers" x="10" y="{regs_y:.0f}" font-family="ui-monospace, Menlo, Consolas, monospace" '
        f'font-size="12" fill="#0f172a">{regs}</text>'
    )
    clock_y = height - CLOCK_H + 6
    out.append(
        f'<g class="clock sim-internal" transform="translate(10,{clock_y:.0f})">'
        f'<text class="clock-label" x="0" y="14" font-size="10" fill="#475569">vector clock</text>'
    )
    me = st["name"]
    for i, c in enumerate(st["clock"]):
        bx = 72 + i * 56
        own = names[i] == me
        cls, fill, weight = ("clock-entry own", "#dbeafe", ' font-weight="bold"') if own else ("clock-entry", "#f1f5f9", "")
        out.append(
            f'<rect class="{cls}" x="{bx}" y="0" width="50" height="20" rx="4" fill="{fill}" stroke="#94a3b8"/>'
            f'<text x="{bx + 25}" y="14" font-size="11" text-anchor="middle" fill="#0f172a"{weight}>'
            f"{_esc(names[i])}:{c}</text>"
        )
    out.append("</g></g>")
    return "".join(out)


#: What a placed thread column shows -> its markup: a step changes one or two threads, and
#: the engine hands every thread a new state, so the others are found by what they show.
#: Past COLUMNS_KEPT the oldest goes (the columns other viewers show now stay).
_COLUMNS: dict[tuple, str] = {}
COLUMNS_KEPT = 2048
_NO_LINES: frozenset[int] = frozenset()  # a thread with no line in this step's race


def _placed_column(e: Entity, x: float, y: float, height: float, ny: float, race_lines: Set[int],
                   names: tuple[str, ...]) -> str:
    st = e.state
    key = (st["name"], st["status"], st["line"], st["executed_line"], tuple(st["registers"].items()),
           tuple(st["clock"]), st["code"], x, y, height, ny, tuple(sorted(race_lines)) if race_lines else (), names)
    drawn = _COLUMNS.get(key)
    if drawn is None:
        drawn = _col(x, y, COL_W, height, 0, ny, "race-col--thread", _thread_column(e, 0, 0, height, race_lines, list(names)))
        if len(_COLUMNS) >= COLUMNS_KEPT:
            del _COLUMNS[next(iter(_COLUMNS))]
        _COLUMNS[key] = drawn
    return drawn


def _memory_cell(e: Entity, x: float, y: float, w: float) -> str:
    st = e.state
    return _cell_markup(st["name"], st["display"], st["last_writer"], st["access"], st["by"], x, y, w)


@lru_cache(maxsize=4096)
def _cell_markup(name: str, display: str, writer: str | None, access: str | None, by: str | None,
                 x: float, y: float, w: float) -> str:
    """A memory cell: the same for every frame that shows the same value, writer and access."""
    cls = "cell" + (" just-written" if access == "write" else " just-read" if access == "read" else "")
    fill, stroke = ("#fef3c7", "#d97706") if access == "write" else ("#eff6ff", "#2563eb") if access == "read" else ("#ffffff", "#334155")
    tag = ""
    if access and by:
        tag = (
            f'<text class="cell-access" x="{w - 8:.0f}" y="16" font-size="10" text-anchor="end" '
            f'fill="{"#92400e" if access == "write" else "#1d4ed8"}">'
            f'{"written" if access == "write" else "read"} by {_esc(by)}</text>'
        )
    return (
        f'<g class="{cls}" transform="translate({x:.0f},{y:.0f})">'
        f'<rect width="{w:.0f}" height="{CELL_H}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        f'<text class="cell-name" x="10" y="16" font-size="11" fill="#475569" '
        f'font-family="ui-monospace, Menlo, Consolas, monospace">{_esc(name)}</text>{tag}'
        f'<text class="cell-value" x="10" y="40" font-size="20" font-weight="bold" fill="#0f172a">{_esc(display)}</text>'
        f'<text class="cell-writer" x="{w - 8:.0f}" y="40" font-size="10" text-anchor="end" fill="#475569">'
        f'{"last write: " + _esc(writer) if writer else "not written yet"}</text></g>'
    )


def _lock_box(e: Entity, x: float, y: float, w: float) -> str:
    st = e.state
    holder = st["holder"]
    waiters = st["waiters"]
    cls = "lock held" if holder else "lock free"
    colour = "#b45309" if holder else "#15803d"
    wait = f'waiting: {_esc(", ".join(waiters))}' if waiters else "no one waiting"
    return (
        f'<g class="{cls}" transform="translate({x:.0f},{y:.0f})">'
        f'<rect width="{w:.0f}" height="{LOCK_H}" rx="6" fill="#ffffff" stroke="{colour}" stroke-width="1.5"/>'
        f"{_lock_icon(16, 14, colour)}"
        f'<text class="lock-name" x="30" y="22" font-size="12" font-weight="bold" fill="#0f172a">{_esc(st["name"])}</text>'
        f'<text class="lock-holder" x="{w - 8:.0f}" y="22" font-size="11" text-anchor="end" fill="{colour}">'
        f'{"held by " + _esc(holder) if holder else "free"}</text>'
        f'<text class="lock-waiters" x="10" y="46" font-size="11" fill="#475569">{wait}</text></g>'
    )


def _file_box(e: Entity, x: float, y: float, w: float, height: float) -> str:
    st = e.state
    out = [
        f'<g class="file" transform="translate({x:.0f},{y:.0f})">'
        f'<rect width="{w:.0f}" height="{height:.0f}" rx="6" fill="#ffffff" stroke="#334155" stroke-width="1.5"/>'
        f'<text class="file-name" x="10" y="18" font-size="12" font-weight="bold" fill="#0f172a">'
        f'{_esc(st["name"])}</text>'
        f'<text class="file-size" x="{w - 8:.0f}" y="18" font-size="10" text-anchor="end" fill="#475569">{st["size"]} bytes</text>'
    ]
    mono = 'font-family="ui-monospace, Menlo, Consolas, monospace"'
    ly = 28
    if not st["lines"]:
        out.append(f'<text class="file-empty" x="10" y="{ly + 13}" font-size="11" fill="#64748b">(empty)</text>')
    for line in st["lines"]:
        cls = "file-line" + (" just-written" if line["written"] else "") + (" overwrote" if line["overwrote"] else "")
        bg = "#fef3c7" if line["written"] else "none"
        out.append(
            f'<g class="{cls}"><rect x="4" y="{ly}" width="{w - 8:.0f}" height="{FILE_LINE_H - 2}" rx="3" fill="{bg}"/>'
            f'<text class="file-off" x="10" y="{ly + 12}" font-size="10" fill="#64748b" {mono}>{line["offset"]:>3}</text>'
            f'<text class="file-text" x="40" y="{ly + 12}" font-size="11" fill="#0f172a" {mono}>{_esc(line["text"])}</text>'
        )
        if line["overwrote"]:
            out.append(
                f'<text class="overwrote-note" x="{w - 8:.0f}" y="{ly + 12}" font-size="10" text-anchor="end" '
                f'fill="{RACE_RED}">over {_esc(", ".join(line["overwrote"]))}</text>'
            )
        out.append("</g>")
        ly += FILE_LINE_H
    if st["lost"]:
        ly += 4
        out.append(f'<text class="lost-title" x="10" y="{ly + 12}" font-size="11" font-weight="bold" fill="{RACE_RED}">lost:</text>')
        # A line written over another on this step: the newest lost line is new in this frame.
        newest = len(st["lost"]) - 1 if any(line["written"] and line["overwrote"] for line in st["lines"]) else -1
        for k, text in enumerate(st["lost"]):
            t = _esc(text)
            width = len(text) * CHAR_W
            out.append(
                f'<g class="lost-line{" just-lost" if k == newest else ""}"><text x="48" y="{ly + 12}" font-size="11" fill="{RACE_RED}" {mono} '
                f'text-decoration="line-through">{t}</text>'
                f'<line x1="48" x2="{48 + width:.0f}" y1="{ly + 8}" y2="{ly + 8}" stroke="{RACE_RED}" stroke-width="1.2"/></g>'
            )
            ly += FILE_LINE_H
    out.append("</g>")
    return "".join(out)


def _col(x: float, y: float, w: float, h: float, nx: float, ny: float, cls: str, body: str) -> str:
    """One column as its own <svg>, placed by CSS from its wide (--x, --y) or narrow
    (--nx, --ny) position: every length is in stage units, so the page scales them."""
    return f"{_col_open(x, y, w, h, nx, ny, cls)}{body}</svg>"


@lru_cache(maxsize=256)
def _col_open(x: float, y: float, w: float, h: float, nx: float, ny: float, cls: str) -> str:
    # A column's place is the program's (its layout), so its tag is built once per place.
    return (
        f'<svg class="race-col {cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" '
        f'style="--x:{x:.0f};--y:{y:.0f};--w:{w:.0f};--h:{h:.0f};--nx:{nx:.0f};--ny:{ny:.0f}" '
        f'font-family="system-ui, sans-serif" aria-hidden="true">'
    )


class _Layout(NamedTuple):
    """Where the columns go: wide (x) and narrow (ny) per thread name, the shared column's
    place, and the sizes (read only: one is shared by every frame of its program shape)."""

    col_x: Mapping[str, float]
    col_ny: Mapping[str, float]
    col_h: float
    file_h: float
    mem_h: float
    top: float
    mem_x: float
    mem_ny: float
    mem_nx: float
    width: float
    height: float
    narrow_h: float


@lru_cache(maxsize=256)
def _layout(names: tuple[str, ...], max_lines: int, cells: int, lock: bool, file: bool) -> _Layout:
    """Where each column goes, wide and narrow: it depends only on the program (thread names,
    code length, what is shared), so it is worked out once per program shape."""
    n = len(names)
    col_h = HEADER_H + 8 + max_lines * LINE_H + 10 + REG_H + CLOCK_H
    file_h = 36 + n * FILE_LINE_H + (4 + (n - 1) * FILE_LINE_H if n > 1 else 0)
    mem_h = cells * (CELL_H + CELL_GAP) + (LOCK_H + CELL_GAP if lock else 0) + (file_h if file else 0) + 22
    body_h = max(col_h, mem_h)
    top = PAD + 4

    # Wide: threads split left and right of the shared-memory column. Narrow (a phone):
    # one column of NARROW_W units, in the same order, the shared column centred.
    left = (n + 1) // 2
    col_x: dict[str, float] = {}
    col_ny: dict[str, float] = {}
    x = PAD
    mem_x = PAD
    ny = 0.0
    mem_ny = 0.0
    for i, name in enumerate(names):
        if i == left:
            mem_x = x
            x += MEM_W + GAP
            mem_ny = ny
            ny += mem_h + GAP
        col_x[name] = x
        col_ny[name] = ny
        x += COL_W + GAP
        ny += col_h + GAP
    width = x - GAP + PAD
    height = top + body_h + PAD
    narrow_h = ny - GAP
    mem_nx = (NARROW_W - MEM_W) / 2
    return _Layout(col_x, col_ny, col_h, file_h, mem_h, top, mem_x, mem_ny, mem_nx, width, height, narrow_h)


def render_stage(frame: Frame, dom_id: str) -> str:
    threads: list[Entity] = []
    cells: list[Entity] = []
    races: list[Entity] = []
    lock = file = None
    for e in frame.entities:
        kind = e.kind
        if kind == "thread":
            threads.append(e)
        elif kind == "memory":
            cells.append(e)
        elif kind == "race":
            races.append(e)
        elif kind == "lock":
            lock = e
        elif kind == "file":
            file = e
    n = len(threads)
    names_key = tuple([t.state["name"] for t in threads])
    max_lines = max([len(t.state["code"]) for t in threads], default=0)
    (col_x, col_ny, col_h, file_h, mem_h, top, mem_x, mem_ny, mem_nx, width, height,
     narrow_h) = _layout(names_key, max_lines, len(cells), lock is not None, file is not None)

    race_lines: dict[str, set[int]] = {}
    for r in races:
        for side in ("earlier", "later"):
            acc = r.state[side]
            race_lines.setdefault(acc["thread"], set()).add(acc["line"])

    status_words = ", ".join([f"{t.state['name']} {t.state['status']}" for t in threads])
    memory_words = ", ".join([f"{c.state['name']} = {c.state['display']}" for c in cells])
    label = f"Step {frame.index}: {status_words}" + (f"; {memory_words}" if memory_words else "")
    if races:
        label += f"; data race on {races[0].state['location']}"
    out: list[str] = [
        f'<div id="{_esc(dom_id)}" class="race-stage race-stage--n{n}" role="img" aria-label="{escape(label)}" '
        f'style="--W:{width:.0f};--H:{height:.0f};--NH:{narrow_h:.0f}"><div class="race-board">'
    ]
    for t in threads:
        name = t.state["name"]
        out.append(_placed_column(t, col_x[name], top, col_h, col_ny[name], race_lines.get(name, _NO_LINES), names_key))

    # Shared memory, lock, file: one column.
    cw = MEM_W
    shared = [
        f'<text class="column-title" x="{cw / 2:.0f}" y="12" font-size="12" '
        f'text-anchor="middle" fill="#475569">shared</text>'
    ]
    my = 22
    cell_pos: dict[str, float] = {}
    for c in cells:
        shared.append(_memory_cell(c, 0, my, cw))
        cell_pos[c.state["name"]] = my + CELL_H / 2
        my += CELL_H + CELL_GAP
    if lock is not None:
        shared.append(_lock_box(lock, 0, my, cw))
        my += LOCK_H + CELL_GAP
    if file is not None:
        shared.append(_file_box(file, 0, my, cw, file_h))
        cell_pos[file.state["name"]] = my + 18
    out.append(_col(mem_x, top, cw, mem_h, mem_nx, mem_ny, "race-col--shared", "".join(shared)))

    # This step's load or store: its value travels between the thread and the cell (a CSS
    # animation on this element, new in this frame). From and to, in wide and narrow units.
    code_top = HEADER_H + 8
    for t in threads:
        st = t.state
        if st["executed_line"] is None:
            continue
        tname = st["name"]
        tx, tny = col_x[tname], col_ny[tname]
        line_y = code_top + st["executed_line"] * LINE_H
        reg_y = col_h - CLOCK_H - REG_H
        on_left = tx < mem_x
        for c in cells:
            cs = c.state
            access = cs["access"]
            if not access or cs["by"] != tname:
                continue
            cy = cell_pos[cs["name"]] - 8
            # thread end: beside the code line (a store) or at the registers (a load)
            ty = line_y if access == "write" else reg_y
            wt = (tx + (COL_W - 70 if on_left else 40), top + ty)
            wc = (mem_x + cw / 2, top + cy)
            nt = (COL_W / 2, tny + ty)
            nc = (mem_nx + cw / 2, mem_ny + cy)
            (a, b), (na, nb) = ((wt, wc), (nt, nc)) if access == "write" else ((wc, wt), (nc, nt))
            out.append(
                f'<span class="race-flight race-flight--{access}" aria-hidden="true" '
                f'style="--x0:{a[0]:.0f};--y0:{a[1]:.0f};--x1:{b[0]:.0f};--y1:{b[1]:.0f};'
                f'--nx0:{na[0]:.0f};--ny0:{na[1]:.0f};--nx1:{nb[0]:.0f};--ny1:{nb[1]:.0f}">'
                f"{escape(cs['display'])}</span>"
            )
    out.append("</div>")

    # The race the detector flagged on this step: the two lines are outlined in red in
    # their columns, and said in words under the board.
    if races:
        where = ", ".join(dict.fromkeys(r.state["location"] for r in races))
        first = races[0].state
        text = f"data race on {where}: {first['earlier']['thread']} and {first['later']['thread']} unordered"
        out.append(f'<p class="race race-alert">{escape(text)}</p>')
    out.append("</div>")
    return "".join(out)


# --------------------------------------------------------------------------
# Analyses
# --------------------------------------------------------------------------


def _schedule_text(schedule: list[int], prefix: str) -> str:
    """Run-length: [1, 1, 1, 2, 2, 2] -> "T1×3 T2×3"."""
    runs: list[list[int]] = []
    for t in schedule:
        if runs and runs[-1][0] == t:
            runs[-1][1] += 1
        else:
            runs.append([t, 1])
    return " ".join(f"{prefix}{t}" + (f"\u00d7{c}" if c > 1 else "") for t, c in runs)


def _percent(p: float, count: int) -> str:
    if count and p < 0.01:
        return "&lt;0.01%"  # escaped here: it goes straight into markup
    return f"{p:.2f}%".replace(".00%", "%")


def render_analysis(name: str, data: Mapping[str, Any], dom_id: str) -> str:
    sid = escape(dom_id)
    if name != "explore":
        return f'<section id="{sid}" class="analysis"><p class="error">Unknown analysis {escape(name)}.</p></section>'
    if "error" in data:
        return f'<section id="{sid}" class="analysis explore"><p class="error">{escape(data["error"])}</p></section>'
    prefix = "P" if data.get("scenario") == "file_access" else "T"
    outcomes = data["outcomes"]
    total = data["total"]
    out = [f'<section id="{sid}" class="analysis explore">']
    out.append('<h3 class="analysis-title">Every interleaving</h3>')
    out.append(f'<p class="analysis-summary">{escape(data["summary"])}</p>')
    reduced = data.get("reduced")
    if reduced:
        out.append(f'<p class="analysis-note">{escape(reduced["reason"])}</p>')
    out.append(
        f'<p class="analysis-detail">{total:,} interleavings in all, counted exactly over '
        f'{data["states"]:,} distinct states. Correct outcome: {escape(data["correct_label"])}.</p>'
    )

    # Bar chart: one bar per outcome, length by share, the correct one in green.
    label_w, bar_w, row_h = 210, 250, 28
    chart_w = label_w + bar_w + 230
    chart_h = row_h * len(outcomes) + 10
    chart_label = "Outcomes: " + "; ".join(f"{o['label']}: {o['count']:,}" for o in outcomes)
    out.append(
        f'<svg class="explore-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart_w} {chart_h}" width="{chart_w}" height="{chart_h}" role="img" '
        f'aria-label="{escape(chart_label)}" font-family="system-ui, sans-serif">'
    )
    for i, o in enumerate(outcomes):
        y = 5 + i * row_h
        w = max(2.0, bar_w * o["percent"] / 100) if o["count"] else 0
        ok = o["correct"]
        colour = "#15803d" if ok else RACE_RED
        mark = " \u2713 correct" if ok else ""
        out.append(
            f'<g class="bar {"correct" if ok else "wrong"}">'
            f'<text class="bar-label" x="{label_w - 8}" y="{y + 17}" font-size="12" text-anchor="end" fill="#0f172a">{escape(o["label"])}</text>'
            f'<rect class="bar-track" x="{label_w}" y="{y + 4}" width="{bar_w}" height="18" rx="3" fill="#f1f5f9"/>'
            f'<rect class="bar-fill" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="18" rx="3" fill="{colour}"/>'
            f'<text class="bar-count" x="{label_w + bar_w + 8}" y="{y + 17}" font-size="12" fill="#0f172a">'
            f'{o["count"]:,} ({_percent(o["percent"], o["count"])}){escape(mark)}</text></g>'
        )
    out.append("</svg>")

    out.append(
        '<table class="explore-table"><thead><tr><th scope="col">Outcome</th><th scope="col">Interleavings</th>'
        '<th scope="col">Share</th><th scope="col">Example schedule</th></tr></thead><tbody>'
    )
    for o in outcomes:
        cls = "correct" if o["correct"] else "wrong"
        out.append(
            f'<tr class="{cls}"><td>{escape(o["label"])}{" (correct)" if o["correct"] else ""}</td>'
            f'<td>{o["count"]:,}</td><td>{_percent(o["percent"], o["count"])}</td>'
            f'<td><code>{escape(_schedule_text(o["example"], prefix))}</code></td></tr>'
        )
    out.append("</tbody></table></section>")
    return "".join(out)
