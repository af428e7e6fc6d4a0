"""The Locks & Synchronization stage: the threads, each lock with its holders and its wait
queue (table part), the wait-for graph with its cycle (topology part at a layout given
here, with arrows drawn over it), and the core timeline (spinning drawn as a zigzag).

One top-level <svg id=dom_id>, 432 units wide with no text under 16 units (svg.legible_font
at svg.PHONE_WIDTH), so it is legible on a 390 px phone. Its height depends only on the
params (thread, lock and core counts, the scenario), never on the step.

Shape and label carry state, not colour alone: each thread's state has its own glyph and
word (running ▶, in critical section ■, spinning ↻, blocked ⏸, sleeping z, ready ○, done
✓); a lock's holders are solid cells and its waiters dashed outlines, in queue order; a
wait-for edge is an arrow, and the edges of a cycle are thick and dashed with the cycle
spelled out in words; on the timeline, critical-section ticks are tall blocks, work is a
thin bar and spinning is a zigzag.

The core timeline is the shared timeline part (simulations/render/timeline.py), merged (one
path per kind in a lane, the threads' names on chips), coloured by kind; its window is the
24 ticks of history a frame carries and jumps by 12, so bars stay put between jumps and their
paths are cached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from simulations.engines.base import Entity, Frame
from simulations.engines.locks import TIMELINE_TICKS
from simulations.render import timeline
from simulations.render.svg import escape, fit, legible_font, num, svg_root
from simulations.render.table import Cell, Row, render_table, table_height
from simulations.render.timeline import Bar, Lane, render_timeline
from simulations.render.topology import Network, StageNode, render_topology

WIDTH = 432
FONT = legible_font(WIDTH)  # 16
GAP = 12
LINE = 22

GLYPH = {"running": "\u25b6", "in_cs": "\u25a0", "spinning": "\u21bb", "blocked": "\u2016", "sleeping": "z",
         "ready": "\u25cb", "done": "\u2713"}
WORD = {"running": "running", "in_cs": "in critical section", "spinning": "spinning", "blocked": "blocked",
        "sleeping": "backing off", "ready": "ready (no core)", "done": "done"}
NODE_WORD = {"in_cs": "in CS", "ready": "ready", "sleeping": "backing off"}
SHAPE = {"blocked": "dashed", "spinning": "dashed", "in_cs": "double", "done": "done"}


def _txt(x: float, y: float, s: str, cls: str = "", anchor: str = "", weight: str = "") -> str:
    a = f' text-anchor="{anchor}"' if anchor else ""
    w = f' font-weight="{weight}"' if weight else ""
    c = f' class="{cls}"' if cls else ""
    return f'<text{c} x="{num(x)}" y="{num(y)}"{a}{w}>{escape(s)}</text>'


# --------------------------------------------------------------------------- threads


@lru_cache(maxsize=1024)
def _thread_line(name: str, state: str, op: str, holds: tuple[str, ...], waiting_for: str | None, core: int | None,
                 y: float, slowed: int = 0) -> str:
    where = f"core {core}" if core else ""
    tail = []
    if holds:
        tail.append("holds " + ",".join(holds))
    if slowed:
        tail.append(f"next CS +{slowed}")
    detail = " \u00b7 ".join(x for x in (WORD.get(state, state), where, op, *tail) if x)
    shown = fit(detail, WIDTH - 70, FONT)
    tip = f"<title>{escape(name + ': ' + detail)}</title>" if shown != detail else ""  # cut: the whole on hover
    return (
        f'<g class="st-{state}" transform="translate(0,{num(y)})">{tip}'
        f'<text class="lk-glyph" x="10">{escape(GLYPH.get(state, "?"))}</text>'
        f'<text x="30" font-weight="600">{escape(name)}</text>'
        f'<text class="lk-tdetail" x="62">{escape(shown)}</text></g>'
    )


def _threads(threads: Sequence[Entity], y: float) -> tuple[str, float]:
    out = [f'<g class="lk-threads" transform="translate(0,{num(y + 16)})">']
    for i, e in enumerate(threads):
        s = e.state
        out.append(_thread_line(s["name"], s["state"], s["op"], tuple(s["holds"]), s["waiting_for"], s["core"], i * LINE,
                                s.get("slowed", 0)))
    out.append("</g>")
    return "".join(out), len(threads) * LINE


# --------------------------------------------------------------------------- locks (table part)

LOCK_LEGEND = (("solid", "holds"), ("outline", "waits, in order"))


def _lock_row(e: Entity) -> Row:
    s = e.state
    return _lock_row_of(s["name"], s["lock_type"], s["mode"], tuple(s["holders"]), tuple(s["waiters"]),
                        tuple(s["waiter_modes"]), s["value"], s["permits"], s["policy"])


@lru_cache(maxsize=512)
def _lock_row_of(name: str, kind: str, mode: str, holders: tuple[str, ...], waiters: tuple[str, ...],
                 waiter_modes: tuple[str, ...], value: int | None, permits: int | None, policy: str | None) -> Row:
    cells: list[Cell] = []
    for h in holders:
        cls = "lk-writer" if mode == "write" else "lk-holder"
        cells.append(Cell(h.removeprefix("T"), cls, "solid"))
    for w, m in zip(waiters, waiter_modes):
        # No per-cell titles: the row's title and the thread list say who waits for what, and a
        # frame's bytes are budgeted. A queued writer is marked "w".
        cells.append(Cell(w.removeprefix("T") + ("w" if m == "w" else ""), "lk-waiter", "outline"))
    if kind == "semaphore":
        note = f"sem {value}/{permits} free"
    elif kind == "rwlock":
        note = {"free": "rw free", "read": "rw: readers", "write": "rw: writer"}[mode]
        note += " " + {"reader_pref": "R-pref", "writer_pref": "W-pref", "fair": "fair"}.get(policy or "", "")
    else:
        note = f"{kind} {'held' if holders else 'free'}"
    return Row(name, tuple(cells), kind, None, f"{name}: {note}", note)


# --------------------------------------------------------------------------- wait-for graph


@lru_cache(maxsize=32)
def _positions(ids: tuple[str, ...]) -> tuple[tuple[str, tuple[float, float]], ...]:
    n = len(ids)
    if n >= 3:  # a ring, so a cycle's arrows never pass behind a node
        return tuple((tid, (WIDTH / 2 + 150 * math.sin(2 * math.pi * i / n), 130 - 80 * math.cos(2 * math.pi * i / n)))
                     for i, tid in enumerate(ids))
    per_row = n
    out = []
    for i, tid in enumerate(ids):
        row, col = divmod(i, per_row)
        count = min(per_row, n - row * per_row)
        x = WIDTH * (col + 0.5) / count
        out.append((tid, (x, 60 + row * 110)))
    return tuple(out)


@lru_cache(maxsize=256)
def _arrows(pos_items: tuple, edges: tuple[tuple[str, str], ...], cycle_edges: frozenset) -> str:
    """Every wait-for edge as an arrow (a curve and a head), the edges of a cycle thick, dashed
    and red: one path of curves and one of heads per kind, so many edges stay a few elements."""
    pos = dict(pos_items)
    curves: dict[bool, list[str]] = {False: [], True: []}
    heads: dict[bool, list[str]] = {False: [], True: []}
    for a, b in edges:
        if a not in pos or b not in pos:
            continue
        (ax, ay), (bx, by) = pos[a], pos[b]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        # A pair of opposite edges bows apart so both show.
        bow = 18 if (b, a) in edges else 0
        nx, ny = -uy * bow, ux * bow
        x0, y0 = ax + ux * 28 + nx * 0.5, ay + uy * 28 + ny * 0.5
        x1, y1 = bx - ux * 30 + nx * 0.5, by - uy * 30 + ny * 0.5
        cx, cy = (x0 + x1) / 2 + nx, (y0 + y1) / 2 + ny
        tx, ty = x1 - cx, y1 - cy
        tl = math.hypot(tx, ty) or 1.0
        tx, ty = tx / tl, ty / tl
        hx, hy = x1 - tx * 10, y1 - ty * 10
        k = (a, b) in cycle_edges
        curves[k].append(f"M{x0:.0f},{y0:.0f}Q{cx:.0f},{cy:.0f} {x1:.0f},{y1:.0f}")
        heads[k].append(f"M{x1:.0f},{y1:.0f}L{hx - ty * 6:.0f},{hy + tx * 6:.0f}L{hx + ty * 6:.0f},{hy - tx * 6:.0f}Z")
    out = ['<g class="wf-edges">']
    for k, cls, colour, extra in ((False, "wf-edge", "#334155", ' stroke-width="2"'),
                                  (True, "wf-edge wf-cycle", "#b42318", ' stroke-width="4" stroke-dasharray="8 4"')):
        if curves[k]:
            out.append(f'<g class="{cls}" stroke="{colour}" fill="{colour}"><path d="{"".join(curves[k])}" fill="none"{extra}/>'
                       f'<path class="wf-head" d="{"".join(heads[k])}" stroke="none"/></g>')
    out.append("</g>")
    return "".join(out)


def _wait_for(threads: Sequence[Entity], wf: Entity, y: float) -> tuple[str, float]:
    key = tuple((e.id, e.state["state"], e.state["waiting_for"], tuple(e.state["holds"])) for e in threads)
    return _wait_for_of(key, tuple(map(tuple, wf.state["edges"])), tuple(wf.state["cycle"]), wf.state["deadlock"], y)


@lru_cache(maxsize=256)
def _wait_for_of(threads: tuple, edges: tuple[tuple[str, str], ...], cycle: tuple[str, ...], deadlock: bool,
                 y: float) -> tuple[str, float]:
    ids = tuple(t[0] for t in threads)
    positions = dict(_positions(ids))
    in_cycle = set(cycle)
    nodes = []
    for tid, state, waiting_for, holds in threads:
        shape = "double" if tid in in_cycle else SHAPE.get(state, "plain")
        role = "in cycle" if tid in in_cycle else NODE_WORD.get(state, state)
        nodes.append(StageNode(tid, role, shape, (), False, None, ""))
    if cycle:
        ring = " \u2192 ".join(cycle + (cycle[0],))
        caption = f"Deadlock: {ring}" if deadlock else f"Cycle: {ring} (a timeout will break it)"
    elif edges:
        caption = "Wait-for graph: " + ", ".join(f"{a}\u2192{b}" for a, b in edges[:4])
    else:
        caption = "Wait-for graph: nobody waits"
    net = Network(links=(), caption=caption) if "caption" in Network._fields else Network(links=())
    topo, h = render_topology(nodes, (), 0.0, net, y=y, width=WIDTH, positions=positions, lines=1)
    cycle_edges = frozenset(zip(cycle, cycle[1:] + cycle[:1])) if cycle else frozenset()
    arrows = _arrows(tuple(sorted(positions.items())), edges, cycle_edges)
    cls = "wf wf-deadlock" if deadlock else "wf"
    return f'<g class="{cls}">{topo}<g transform="translate(0,{num(y)})">{arrows}</g></g>', h


def _coffman(conditions: Sequence[Mapping[str, Any]], y: float) -> tuple[str, float]:
    out = [f'<g class="lk-coffman" transform="translate(0,{num(y)})">',
           _txt(8, 16, "Coffman's conditions (all four needed)", "lk-caption", weight="600")]
    for i, c in enumerate(conditions):
        mark = "\u2713 holds" if c["holds"] else "\u2717 broken"
        line = f"{c['name']}: {mark}" + ("" if c["holds"] else f" by {c['broken_by']}")
        out.append(f'<text class="lk-cond {"holds" if c["holds"] else "broken"}" x="8" y="{num(16 + LINE * (i + 1))}">{escape(fit(line, WIDTH - 16, FONT))}</text>')
    out.append("</g>")
    return "".join(out), LINE * (len(conditions) + 1) + 4


# --------------------------------------------------------------------------- Peterson's memory


def _peterson(memory: Sequence[Entity], buffers: Sequence[Entity], y: float) -> tuple[str, float]:
    out = [f'<g class="lk-memory" transform="translate(0,{num(y)})">', _txt(8, 16, "memory", "lk-caption", weight="600")]
    x = 84
    for e in memory:
        label = f"{e.state['name']}={e.state['value']}"
        out.append(f'<rect class="lk-mem" x="{num(x)}" y="0" width="108" height="24" rx="4" fill="#ffffff" stroke="#334155" stroke-width="1.5"/>')
        out.append(_txt(x + 54, 17, label, "lk-mem-text", "middle"))
        x += 116
    for i, b in enumerate(buffers):
        by = 34 + i * 30
        out.append(_txt(8, by + 16, f"{b.state['thread']} buffer", "lk-caption"))
        entries = b.state["entries"]
        if not entries:
            out.append(_txt(112, by + 16, "empty", "lk-empty"))
        bx = 112
        for en in entries[:3]:
            out.append(f'<rect class="lk-buf" x="{num(bx)}" y="{num(by)}" width="100" height="24" rx="4" fill="#fff7ed" stroke="#b45309" stroke-width="1.5" stroke-dasharray="4 2"/>')
            out.append(_txt(bx + 50, by + 17, en, "lk-buf-text", "middle"))
            bx += 106
        if len(entries) > 3:
            out.append(_txt(bx, by + 16, f"+{len(entries) - 3}", "lk-empty"))
    out.append("</g>")
    return "".join(out), 34 + 30 * len(buffers) + 4


# --------------------------------------------------------------------------- the core timeline

#: The engine's segment kinds as the shared timeline's bar kinds and colours: a critical
#: section is a tall solid blue bar, the rest of a thread's running a thin grey one, and
#: spinning an amber bar crossed by a zigzag; the thread's name is on its bar's chip.
BAR = {"cs": ("run", "#1d4ed8"), "run": ("work", "#64748b"), "spin": ("spin", "#b45309")}
TL_LEGEND = (("work", "work", "#64748b"), ("run", "in CS", "#1d4ed8"), ("spin", "spin", "#b45309"))
TL_STEP = TIMELINE_TICKS // 2  # the window jumps by half its width, so bars stay put between jumps


@lru_cache(maxsize=4096)
def _seg_bar(tid: str, a: int, b: int, kind: str) -> Bar:
    bar_kind, colour = BAR.get(kind, BAR["run"])
    return Bar(a, b, tid, bar_kind, colour)


@lru_cache(maxsize=2048)
def _seg_bars(segments: tuple) -> tuple[Bar, ...]:
    """The segments' bars: those of all but the last (cached from an earlier frame) and the last."""
    if not segments:
        return ()
    tid, a, b, kind = segments[-1]
    return _seg_bars(segments[:-1]) + ((_seg_bar(tid, a, b, kind),) if b > a else ())


def _core_lane(index: int, segments: Sequence[Sequence[Any]], t0: float = 0) -> Lane:
    """A core's lane from `t0` on. Between two frames only its last segment usually changes (it
    grew), so the bars of the ones before are cached; the ones that ended before t0 are left
    out, so that the engine trimming its history does not change what is cached."""
    for first, seg in enumerate(segments):
        if seg[2] > t0:
            break
    else:
        return Lane(_lane_label(index), (), "idle")
    if type(segments) is not tuple:
        segments = tuple(map(tuple, segments))
    tid, a, b, kind = segments[-1]
    bars = _seg_bars(segments[first:-1])
    return Lane(_lane_label(index), bars + (_seg_bar(tid, a, b, kind),) if b > a else bars, "idle")


@lru_cache(maxsize=16)
def _lane_label(index: int) -> str:
    return f"core {index}"


def _window(now: float) -> tuple[float, float]:
    """TIMELINE_TICKS wide (the history a frame carries), ending at or after now."""
    if now <= TIMELINE_TICKS:
        return 0.0, float(TIMELINE_TICKS)
    t0 = TL_STEP * math.ceil((now - TIMELINE_TICKS) / TL_STEP)
    return float(t0), float(t0 + TIMELINE_TICKS)


def _timeline(cores: Sequence[Entity], now: float, y: float, dom_id: str, spins: bool = True) -> tuple[str, float]:
    t0, t1 = _window(now)
    lanes = [_core_lane(e.state["index"], e.state["segments"], t0) for e in cores]
    return render_timeline(lanes, y=y, width=WIDTH, t_range=(t0, t1), now=now, caption="cores",
                           t_unit="ticks", patterns=dom_id, merged=True, legend=TL_LEGEND if spins else TL_LEGEND[:2],
                           ticks=2)


# --------------------------------------------------------------------------- the stage


@lru_cache(maxsize=256)
def _table(rows: tuple[Row, ...], y: float) -> tuple[str, float]:
    return render_table(rows, y=y, width=WIDTH, legend=LOCK_LEGEND, caption="locks: holders, then the queue",
                        cell_w=26, note_w=150)


def render_stage(frame: Frame, dom_id: str) -> str:
    groups: dict[str, list[Entity]] = {}
    for e in frame.entities:
        groups.setdefault(e.kind, []).append(e)
    threads, locks, cores = groups.get("thread", []), groups.get("lock", []), groups.get("core", [])
    memory, buffers = groups.get("memory", []), groups.get("store_buffer", [])
    wf = groups["wait_for"][0] if "wait_for" in groups else None
    cv = groups["condvar"][0] if "condvar" in groups else None
    parts = []
    y = 0.0
    part, h = _threads(threads, y + 4)
    parts.append(part)
    y += h + 8
    if locks:
        rows = [_lock_row(e) for e in locks]
        if cv is not None:
            s = cv.state
            rows.append(Row("cv", tuple(Cell(w.removeprefix("T"), "lk-waiter", "outline") for w in s["waiters"]),
                            "condvar", None, f"{s['name']}: condition variable with {s['mutex']}", f"items={s['items']}"))
        table, th = _table(tuple(rows), y)
        parts.append(table)
        y += th + 4
    if memory and buffers:
        part, h = _peterson(memory, buffers, y)
        parts.append(part)
        y += h
        inside = [e.id for e in threads if e.state["state"] == "in_cs"]
        broken = len(inside) > 1
        words = (f"\u2717 mutual exclusion broken: {' and '.join(inside)} inside" if broken
                 else f"\u2713 mutual exclusion: {inside[0] if inside else 'nobody'} inside")
        parts.append(f'<text class="lk-me {"broken" if broken else "holds"}" x="8" y="{num(y + 16)}" font-weight="600" fill="{"#b42318" if broken else "#15803d"}">{escape(words)}</text>')
        y += LINE + GAP
    elif memory:
        m = memory[0].state
        parts.append(_txt(8, y + 16, f"{m['name']} = {m['value']}", "lk-caption", weight="600"))
        y += LINE + 4
    if wf is not None:
        part, h = _wait_for(threads, wf, y)
        parts.append(part)
        y += h + 4
        if wf.state["conditions"]:
            part, h = _coffman(wf.state["conditions"], y)
            parts.append(part)
            y += h + 4
    # Only spinlocks and Peterson's busy-wait spin: elsewhere the legend leaves spinning out, and
    # the stage needs no zigzag pattern.
    spins = bool(buffers) or any(e.state["lock_type"] == "spinlock" for e in locks)
    part, h = _timeline(cores, frame.time, y + 4, dom_id, spins)
    if spins:
        parts.append(timeline.defs(dom_id, hatch=False))
    parts.append(part)
    y += h + 8
    busy = ", ".join(f"{e.id} {WORD.get(e.state['state'], e.state['state'])}" for e in threads)
    label = f"Tick {frame.time:.0f}: {busy}" + (f"; deadlock {' '.join(wf.state['cycle'])}" if wf is not None and wf.state["cycle"] else "")
    body = f'<g font-size="{num(FONT)}" fill="#0f172a">{"".join(parts)}</g>'
    return svg_root(dom_id, WIDTH, y, body, cls="msg-stage lk-stage", label=label)


# --------------------------------------------------------------------------- analyses


def render_analysis(name: str, data: Mapping[str, Any], dom_id: str) -> str:
    kind = data.get("kind")
    out = [f'<section id="{escape(dom_id)}" class="sim-analysis lk-analysis" aria-label="Analysis: {escape(name)}">']
    if kind == "peterson":
        out.append("<p>Every interleaving of one entry, critical section and exit per thread (a store-buffer flush is a step of its own under TSO).</p>")
        out.append("<table><thead><tr><th>memory model</th><th>interleavings</th><th>both in the critical section</th><th>distinct states</th><th>states with both inside</th></tr></thead><tbody>")
        for r in data["rows"]:
            out.append(f"<tr><td>{escape(r['label'])}</td><td>{r['interleavings']:,}</td><td>{r['violating']:,}</td><td>{r['states']:,}</td><td>{r['violating_states']:,}</td></tr>")
        out.append("</tbody></table>")
        for r in data["rows"]:
            if r["example"]:
                out.append(f"<p>An example under {escape(r['label'])}: {escape(', '.join(r['example']))}.</p>")
    elif kind == "deadlock":
        out.append("<table><thead><tr><th>lock orders</th><th>interleavings</th><th>deadlock</th><th>states</th></tr></thead><tbody>")
        for r in data["rows"]:
            out.append(f"<tr><td>{escape(r['label'])}: {escape('; '.join(r['orders']))}</td><td>{r['interleavings']:,}</td><td>{r['deadlocking']:,}</td><td>{r['states']:,}</td></tr>")
        out.append("</tbody></table>")
        for r in data["rows"]:
            if r["example"]:
                out.append(f"<p>A deadlocking schedule: {escape(', '.join(f'T{t}' for t in r['example']))}.</p>")
    elif kind == "throughput":
        out.append(f"<p>{data['threads']} threads, increments per tick (higher is better).</p>")
        out.append("<table><thead><tr><th>counter</th><th>1 core</th><th>2 cores</th><th>3 cores</th><th>4 cores</th></tr></thead><tbody>")
        for r in data["rows"]:
            cells = "".join(f"<td>{c['throughput']:.2f}" + (f" ({c['failed_cas']} failed CAS)" if c["failed_cas"] else "") + "</td>" for c in r["cells"])
            out.append(f"<tr><td>{escape(r['counter'].replace('_', '-'))}</td>{cells}</tr>")
        out.append("</tbody></table>")
    if data.get("summary"):
        out.append(f"<p>{escape(data['summary'])}</p>")
    out.append("</section>")
    return "".join(out)
