"""The per-row table stage part: one row per node (or queue, or cache), one column per
position (log index 1..N, queue slot, cache line), each cell a short text with a class and
a mark, and an optional marker between two columns of each row (Raft's commit index).

Generic: a layout module turns its entities into `Row`s of `Cell`s. A cell's `mark` is its
shape: "solid" (filled: committed, hit, taken) or "outline" (dashed outline: not yet
committed, free); its `cls` picks a colour (Raft: the entry's term) through `palette` for
the default colours and through the stylesheet for the light and dark ones; its `title`
is the hover text (Raft: the command).

When the rows are longer than the width holds, the table shows the last columns that fit
(every row the same window) and says which ones in its header ("…" before the first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

from simulations.render.svg import escape, fit, group, num, path, text, text_width, translate

FONT = 16
CELL_W = 22
CELL_H = 22
ROW_H = 26
LABEL_W = 36
CHAR_W = 9.2  # a digit at 16 units, semibold
CAPTION_H = 22
LEGEND_H = 24
HEADER_H = 20
DEFAULT_FILL = "#475569"


class Cell(NamedTuple):  # a tuple: cheap to build and to hash (rows are cached by value)
    text: str
    cls: str = ""
    mark: str = "solid"  # "solid" | "outline"
    title: str = ""


class Row(NamedTuple):
    label: str
    cells: tuple[Cell | None, ...]  # cells[i] is column start + i; None: an empty slot
    cls: str = ""
    marker: int | None = None  # a marker after this column (0: before the first); None: no marker
    title: str = ""
    note: str = ""  # a short text after the cells (Raft: the node's key-value state)
    #: The column of cells[0]. A long row may leave out the cells the table will not show
    #: (before `window(...)[0]`): its length is then start - 1 + len(cells).
    start: int = 1

    @property
    def length(self) -> int:
        return self.start - 1 + len(self.cells)

    def cell(self, col: int) -> Cell | None:
        i = col - self.start
        return self.cells[i] if 0 <= i < len(self.cells) else None


#: The legend a log table shows: (mark, words). Marks: "solid", "outline", "marker".
LOG_LEGEND = (("solid", "committed"), ("outline", "not committed"), ("marker", "commit index"))


def capacity(width: float, cell_w: float = CELL_W, note_w: float = 0) -> int:
    """How many columns fit in a table this wide (with room for notes `note_w` wide)."""
    return max(1, int((width - 16 - LABEL_W - (note_w + 8 if note_w else 0)) // (cell_w + 2)))


def window(rows: Sequence[Row], width: float, cell_w: float = CELL_W, note_w: float = 0) -> tuple[int, int]:
    """(first column shown, how many): all from 1 when they fit, else the last ones."""
    cap = capacity(width, cell_w, note_w)
    longest = max((r.length for r in rows), default=0)
    return (1 if longest <= cap else longest - cap + 1), cap


def _squares(xs: Sequence[float], w: float, inset: float = 0) -> str:
    """Squares of side `w - 2 inset` at each x, as one path (relative moves: after `z` the
    pen is back at the square's corner)."""
    side = num(w - 2 * inset)
    box = f"h{side}v{side}h-{side}z"
    out = []
    last = None
    for x in xs:
        out.append(f"M{num(x + inset)},{num(inset)}{box}" if last is None else f"m{num(x - last)},0{box}")
        last = x
    return "".join(out)


def _chars(cells: Sequence[tuple[float, str]]) -> tuple[str, str]:
    """One <text>'s x list and characters for many cells: each character placed on its own
    (an absolutely placed character starts a new chunk, centred by text-anchor middle)."""
    xs: list[str] = []
    chars: list[str] = []
    for cx, label in cells:
        n = len(label)
        for i, ch in enumerate(label):
            xs.append(num(cx + (i - (n - 1) / 2) * CHAR_W))
            chars.append(ch)
    return " ".join(xs), escape("".join(chars))


@lru_cache(maxsize=256)
def _row(row: Row, y: float, first: int, cap: int, cell_w: float, note_w: float,
         palette_items: tuple[tuple[str, str], ...]) -> str:
    """One row, compact: the cells of one mark and class share one <path> of squares and one
    <text> of characters, so a 20-entry log is a few elements, not sixty."""
    palette = dict(palette_items)
    pitch = cell_w + 2
    x0 = 8 + LABEL_W
    cls = f"trow {escape(row.cls)}" if row.cls else "trow"
    out = [f'<g class="{cls}" transform="translate(0,{num(y)})">']
    if row.title:
        out.append(f"<title>{escape(row.title)}</title>")
    out.append(f'<text class="trow-label" x="8" y="{num(CELL_H / 2 + 6)}">{escape(row.label)}</text>')
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for i in range(cap):
        cx = x0 + i * pitch
        cell = row.cell(first + i)
        if cell is not None:
            groups.setdefault((cell.mark, cell.cls), []).append((cx, cell.text))
    solid_text: list[tuple[float, str]] = []
    texts = []
    for (mark, ccls), items in groups.items():
        colour = palette.get(ccls, DEFAULT_FILL)
        c = escape(ccls)
        m = escape(mark)
        xs = [cx for cx, _ in items]
        if mark == "solid":
            out.append(f'<path class="tcells {m} {c}" d="{_squares(xs, cell_w)}" fill="{colour}"/>')
            solid_text.extend((cx + cell_w / 2, t) for cx, t in items)
            continue
        out.append(
            f'<path class="tcells {m} {c}" d="{_squares(xs, cell_w, 1)}" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="4 2"/>'
        )
        px, chars = _chars([(cx + cell_w / 2, t) for cx, t in items])
        texts.append(f'<text class="tcell-text {m} {c}" x="{px}" fill="{colour}">{chars}</text>')
    if solid_text:
        px, chars = _chars(solid_text)
        texts.append(f'<text class="tcell-text solid" x="{px}" fill="#ffffff">{chars}</text>')
    if texts:
        out.append(f'<g font-weight="600" text-anchor="middle" transform="translate(0,{num(CELL_H / 2 + 5.5)})">{"".join(texts)}</g>')
    if row.marker is not None:
        at = min(max(row.marker - first + 1, 0), cap)
        mx = x0 + at * pitch - 1
        out.append(f'<path class="tmarker" d="M{num(mx)},-3v{CELL_H + 6}m-4,-{CELL_H + 7}h8" data-after="{row.marker}"/>')
    if row.note and note_w:
        shown = fit(row.note, note_w)
        tip = f"<title>{escape(row.note)}</title>" if shown != row.note else ""  # cut: the whole on hover
        out.append(f'<text class="trow-note" x="{num(x0 + cap * pitch + 8)}" y="{num(CELL_H / 2 + 6)}">{tip}{escape(shown)}</text>')
    out.append("</g>")
    return "".join(out)


@lru_cache(maxsize=64)
def _column_tips(rows: tuple[Row, ...], first: int, cap: int, cell_w: float, y: float, h: float) -> str:
    """A hover target per column: the cells' titles, once when the rows agree (Raft's logs
    mostly do), else each with the rows that hold it."""
    pitch = cell_w + 2
    out = ['<g class="tcols" fill="transparent">']
    for i in range(cap):
        col = first + i
        seen: dict[str, list[str]] = {}
        for r in rows:
            cell = r.cell(col)
            if cell is not None and cell.title:
                seen.setdefault(cell.title, []).append(r.label)
        if not seen:
            continue
        if len(seen) == 1:
            tip = next(iter(seen))
        else:
            tip = "; ".join(f"{t} ({' '.join(who)})" for t, who in seen.items())
        out.append(
            f'<rect x="{num(8 + LABEL_W + i * pitch)}" y="{num(y)}" width="{num(cell_w)}" height="{num(h)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    out.append("</g>")
    return "".join(out)


def _legend(legend: Sequence[tuple[str, str]], y: float) -> str:
    """Each mark's shape, then what it means: "■ committed  ⬚ not committed  ┃ commit index"."""
    out = []
    x = 0.0
    for mark, words in legend:
        if mark == "marker":
            out.append(path(f"M{num(x + 6)},0v16m-4,-17h8", cls="tmarker", fill=None))
        elif mark == "outline":
            out.append(path(f"M{num(x + 1)},1h14v14h-14z", cls="tlegend-box outline", fill=None, dash="4 2"))
        else:
            out.append(path(f"M{num(x)},0h16v16h-16z", cls="tlegend-box solid", fill=None))
        out.append(text(x + 21, 13.5, words, cls="tlegend-text", size=FONT))
        x += 21 + text_width(words, FONT) + 14
    return group(out, cls="tlegend", transform=f"translate(8,{num(y)})")


def table_height(rows: int, *, caption: bool = True, legend: bool = True) -> float:
    return (CAPTION_H if caption else 0) + (LEGEND_H if legend else 0) + HEADER_H + rows * ROW_H + 4


@lru_cache(maxsize=128)
def _chrome(x: float, y: float, nrows: int, first: int, cap: int, caption: str, legend: tuple[tuple[str, str], ...],
            header: str, cell_w: float, note_w: float, note_header: str) -> tuple[str, float]:
    """The table's opening, caption, legend, column numbers and empty slots (the same on most
    frames), and the y where the rows start."""
    pitch = cell_w + 2
    out = [f'<g class="ttable" transform="{translate(x, y)}" font-size="{FONT}" fill="#0f172a">']
    ty = 0.0
    if caption:
        out.append(f'<text class="tcaption" x="8" y="16" font-weight="600">{escape(caption)}</text>')
        ty += CAPTION_H
    if legend:
        out.append(_legend(legend, ty + 2))
        ty += LEGEND_H
    x0 = 8 + LABEL_W
    head = ['<g class="theader" fill="#64748b" text-anchor="middle">']
    if header:
        head.append(f'<text x="8" y="{num(ty + 15)}" text-anchor="start">{escape(header)}</text>')
    numbers = []
    for i in range(cap):
        col = first + i
        if i == 0 and first > 1:  # the first columns are off the left: say so
            head.append(f'<text x="{num(x0 + cell_w)}" y="{num(ty + 15)}" text-anchor="end">\u2026{col}</text>')
            continue
        # Column numbers too wide for their column: every other one.
        if col % 2 and text_width(str(col), FONT) > pitch - 8:
            continue
        numbers.append((x0 + i * pitch + cell_w / 2, str(col)))
    if numbers:
        xs, chars = _chars(numbers)
        head.append(f'<text class="tnumbers" x="{xs}" y="{num(ty + 15)}">{chars}</text>')
    if note_w and note_header:
        head.append(f'<text x="{num(x0 + cap * pitch + 8)}" y="{num(ty + 15)}" text-anchor="start">{escape(note_header)}</text>')
    head.append("</g>")
    out.append("".join(head))
    ty += HEADER_H
    if nrows:  # the empty slots: one dashed stroke per row (dash = a slot), under the cells
        d = "".join(f"M{num(x0)},{num(ty + k * ROW_H + CELL_H / 2)}h{num(cap * pitch)}" for k in range(nrows))
        out.append(f'<path class="tslots" d="{d}" stroke="#eef2f7" stroke-width="{CELL_H}" stroke-dasharray="{num(cell_w)} 2"/>')
    return "".join(out), ty


def render_table(
    rows: Sequence[Row],
    *,
    x: float = 0,
    y: float = 0,
    width: float = 432,
    caption: str = "",
    legend: Sequence[tuple[str, str]] = LOG_LEGEND,
    palette: Mapping[str, str] | tuple[tuple[str, str], ...] | None = None,
    header: str = "",
    cell_w: float = CELL_W,
    note_w: float = 0,
    note_header: str = "",
) -> tuple[str, float]:
    """The table as a <g> at (x, y), and its height (fixed by the row count: the same on
    every frame). `header` names the columns ("index") at the left of their numbers; a cell
    holds about `cell_w / 10` characters. `note_w` reserves room after the cells for each
    row's note (cut with "…" to fit), under `note_header`."""
    first, cap = window(rows, width, cell_w, note_w)
    pal = palette if isinstance(palette, tuple) else tuple(sorted((palette or {}).items()))
    chrome, ty = _chrome(x, y, len(rows), first, cap, caption, tuple(legend), header, cell_w, note_w, note_header)
    out = [chrome]
    body_top = ty
    for r in rows:
        out.append(_row(r, ty, first, cap, cell_w, note_w, pal))
        ty += ROW_H
    out.append(_column_tips(tuple(rows), first, cap, cell_w, body_top, ty - body_top))
    out.append("</g>")
    return "".join(out), ty + 4
