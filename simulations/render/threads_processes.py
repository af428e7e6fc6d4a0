"""The Threads & Processes stage: the cores' Gantt timeline, the threads with their state and
times, the processes with their pages (shared and copy-on-write marked), pipes and message
queues between processes, event-loop tasks, and for the speed-up scenario the chart of
Amdahl's law beside the measured speed-ups.

One top-level <svg id=dom_id>, 432 units wide with no text under 16 units (12 px on a phone).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from simulations.engines.base import Entity, Frame
from simulations.render import timeline
from simulations.render.chart import Series, render_chart
from simulations.render.svg import escape, fit, svg_root, text_width
from simulations.render.timeline import Bar, Lane, render_timeline

WIDTH = 432
FONT = 16
ROW = 22
GAP = 12
MAX_THREADS = 10
WAIT_LANES = 3  # rows for the first threads that wait off the core (I/O, a pipe, a join...)

STATE_GLYPH = {"running": "\u25b6", "ready": "\u25cb", "blocked": "\u2016", "done": "\u2713"}
TASK_GLYPH = {"running": "\u25b6", "ready": "\u25cb", "awaiting": "\u2026", "blocking": "\u25a0", "done": "\u2713"}


def _colour_map(threads: list[Entity]) -> dict[str, int]:
    """A thread's colour is its place among the threads: the engine lists them in the order
    they arrived, so a thread that arrives later never changes the colour of another."""
    return {e.id: i for i, e in enumerate(threads)}


def _lanes(cores: list[Entity], colours: dict[str, int]) -> list[Lane]:
    cmap = tuple(colours.items())
    return [_lane(c.id, tuple(map(tuple, c.state["segments"])), c.state["running"], c.state["switching_to"], cmap)
            for c in cores]


@lru_cache(maxsize=1024)
def _lane(cid: str, segments: tuple, running: str | None, switching: str | None, cmap: tuple) -> Lane:
    colours = dict(cmap)
    bars = []
    for tid, start, end, kind in segments:
        if end <= start:
            continue
        if kind == "switch":
            bars.append(Bar(start, end, "", "switch", 0, f"context switch to {tid}, {start}-{end}"))
        else:
            bars.append(Bar(start, end, tid, kind, colours.get(tid, 0), f"{tid} ran {start}-{end}"))
    note = running or (f"\u2192{switching}" if switching else "idle")
    return Lane(f"core {cid[4:]}", tuple(bars), note)


def _t_range(cores: list[Entity], now: float) -> tuple[float, float]:
    first = min((c.state["segments"][0][1] for c in cores if c.state["segments"]), default=0)
    span = max(now - first, 10.0)
    step = 10 if span <= 40 else 20 if span <= 80 else 50
    end = first + (int(span // step) + 1) * step
    return float(first), float(end)


def _thread_rows(threads: list[Entity], y: float, colours: dict[str, int]) -> tuple[str, float]:
    out = [f'<g class="tp-threads" font-size="{FONT}" transform="translate(0,{y:.0f})">', _THREADS_HEAD]
    ty = ROW + 2.0
    for e in threads[:MAX_THREADS]:
        st = e.state
        out.append(_thread_row(e.id, st["state"], st["doing"], st["arrival"], st["first_run"], st["completion"],
                               st["process"], st["remaining"], st["length"], colours[e.id], ty))
        ty += ROW
    if len(threads) > MAX_THREADS:
        out.append(f'<text x="26" y="{ty + 17:.0f}" fill="#475569">and {len(threads) - MAX_THREADS} more</text>')
        ty += ROW
    out.append("</g>")
    return "".join(out), y + ty


_THREADS_HEAD = ('<text x="4" y="16" font-weight="600">threads</text>'
                 '<text x="428" y="16" text-anchor="end" fill="#475569">arr / 1st / done</text>')


@lru_cache(maxsize=2048)
def _thread_row(tid: str, state: str, doing_text: str, arrival, first_run, completion, pid: int, remaining: int,
                length: int, colour: int, y: float) -> str:
    k = colour % len(timeline.COLOURS)
    times = " / ".join("\u2013" if v is None else str(v) for v in (arrival, first_run, completion))
    hollow = ' fill-opacity="0.2" stroke-dasharray="3 2"' if state in ("blocked", "done") else ""
    shape = (f'<rect x="4" y="{y + 3:.0f}" width="16" height="16" rx="3" fill="{timeline.COLOURS[k]}"'
             f'{hollow} stroke="{timeline.COLOURS[k]}" stroke-width="2"/>')
    if state == "done" and doing_text == "exited" and first_run is not None and arrival is not None:
        doing_text = f"resp {first_run - arrival}, turn {completion - arrival}"
    words = state if doing_text == state else f"{state}: {doing_text}"
    doing = fit(f"{STATE_GLYPH.get(state, '')} {words}", 250, FONT)
    return (f'<g class="tp-thread tp-{escape(state)}"><title>{escape(tid)} in pid {pid}: {escape(state)}, '
            f'{remaining} of {length} ticks left</title>{shape}'
            f'<text x="26" y="{y + 17:.0f}" font-weight="600">{escape(tid)}</text>'
            f'<text x="62" y="{y + 17:.0f}">{escape(doing)}</text>'
            f'<text x="428" y="{y + 17:.0f}" text-anchor="end" fill="#334155">{escape(times)}</text></g>')


def _process_boxes(procs: list[Entity], y: float) -> tuple[str, float]:
    out = [f'<g class="tp-procs" font-size="16" transform="translate(0,{y:.0f})">']
    py = 0.0
    for e in procs:
        st = e.state
        seen = _SEEN.get(id(st))
        if seen is not None and seen[0] is st:  # the engine reused an unchanged entity
            box, h = seen[1]
        else:
            pages = tuple((pg["page"], pg["frame"], pg["shared"], pg["cow"], pg["value"], pg["use"]) for pg in st["pages"])
            box, h = _process_box(st["pid"], st["parent"], st["name"], st["exit_status"], st["killed_by"],
                                  st["fork_return"], pages)
            if len(_SEEN) > 512:
                _SEEN.clear()
            _SEEN[id(st)] = (st, (box, h))
        out.append(f'<g transform="translate(0,{py:.0f})">{box}</g>')
        py += h
    out.append(_PAGES_KEY.format(y=py + 14))
    py += ROW
    out.append("</g>")
    return "".join(out), y + py


#: id(state) -> (state, drawing) for process entities seen lately: an entity the engine reused
#: unchanged is drawn again without reading its pages (the `is` check makes a reused id harmless).
_SEEN: dict[int, tuple[Any, tuple[str, float]]] = {}
_PAGES_KEY = '<text x="4" y="{y:.0f}" fill="#475569" font-size="16">dashed: copy-on-write; thick: shared frame</text>'


@lru_cache(maxsize=1024)
def _process_box(pid: int, parent, name: str, exit_status, killed_by, fork_return, pages: tuple) -> tuple[str, float]:
    status = ("running" if exit_status is None
              else f"killed by {killed_by}" if killed_by else f"exited {exit_status}")
    fr = "" if fork_return is None or exit_status is not None else f", fork()={fork_return}"
    parent_text = "" if parent is None else f" (child of {parent})"
    head = fit(f"pid {pid} {name}{parent_text}: {status}{fr}", 424, 16)
    cls = "tp-proc tp-dead" if exit_status is not None else "tp-proc"
    out = [f'<g class="{cls}"><text x="4" y="16" font-weight="600">{escape(head)}</text>']
    y = float(ROW)
    px = 4.0
    for page, frame, shared, cow, value, use in pages:
        label = f"{'s' + use[6:] if use.startswith('stack') else page}:{value}"
        w = max(44.0, text_width(label, 16) + 10)
        if px + w > 428:
            px = 4.0
            y += 34
        # Fill and stroke come from the stylesheet (.tp-page rect); the shape that carries the
        # state stays in the markup: dashed when copy-on-write, thick when the frame is shared.
        dash = ' stroke-dasharray="4 3"' if cow else ""
        sw = ' stroke-width="3"' if shared else ""
        marks = ", ".join(m for m, on in (("shared", shared), ("copy-on-write", cow)) if on)
        out.append(
            f'<g class="tp-page{" tp-cow" if cow else ""}{" tp-shared" if shared else ""}">'
            f'<title>{escape(use)} page {page}, frame {frame}{": " + marks if marks else ""}</title>'
            f'<rect x="{px:.0f}" y="{y + 2:.0f}" width="{w:.0f}" height="28"{sw}{dash}/>'
            f'<text x="{px + w / 2:.0f}" y="{y + 21:.0f}" text-anchor="middle">{escape(label)}</text></g>')
        px += w + 4
    if not pages:
        out.append(f'<text x="4" y="{y + 20:.0f}" fill="#475569">no pages (freed)</text>')
    y += 36
    out.append("</g>")
    return "".join(out), y


def _channels(chans: list[Entity], y: float) -> tuple[str, float]:
    out = ['<g class="tp-channels" font-size="16">']
    for e in chans:
        st = e.state
        what = "pipe" if st["type"] == "pipe" else "message queue"
        closed = ", write end closed" if st["write_closed"] else ""
        dst = f"pid {st['dst']}" if st["dst"] else "workers"
        head = fit(f"{what}: pid {st['src']} \u2192 {dst}{closed}", 424)
        out.append(f'<text x="4" y="{y + 16:.0f}" font-weight="600">{escape(head)}</text>')
        y += ROW
        cap = st["capacity"]
        w = min(52.0, (424 - 40) / max(cap, 1))
        for i in range(cap):
            item = st["items"][i] if i < len(st["items"]) else ""
            fill = "#dbeafe" if item else "#fff"
            out.append(f'<rect x="{4 + i * w:.0f}" y="{y + 2:.0f}" width="{w - 3:.0f}" height="28" fill="{fill}" stroke="#334155"/>'
                       + (f'<text x="{4 + i * w + (w - 3) / 2:.0f}" y="{y + 21:.0f}" text-anchor="middle">'
                          f'{escape(fit(item, w - 4))}</text>' if item else ""))
        full = "full" if len(st["items"]) >= cap else "empty" if not st["items"] else f"{len(st['items'])}/{cap}"
        out.append(f'<text x="428" y="{y + 21:.0f}" text-anchor="end" fill="#475569">{full}</text>')
        y += 34
        if st["waiting"]:
            out.append(f'<text x="4" y="{y + 14:.0f}" fill="#b42318">blocked on it: {escape(", ".join(st["waiting"]))}</text>')
        y += ROW
    out.append("</g>")
    return "".join(out), y


def _tasks(tasks: list[Entity], y: float) -> tuple[str, float]:
    out = ['<g class="tp-tasks" font-size="16">', f'<text x="4" y="{y + 16:.0f}" font-weight="600">event loop tasks (thread E)</text>']
    y += ROW
    w = 424 / max(len(tasks), 1)
    for i, e in enumerate(tasks):
        st = e.state["state"]
        dash = ' stroke-dasharray="4 3"' if st in ("awaiting", "blocking") else ""
        fill = "#fee2e2" if st == "blocking" else "#dcfce7" if st == "running" else "#fff"
        out.append(f'<g class="tp-task tp-{st}"><title>{e.id}: {st}</title><rect x="{4 + i * w:.0f}" y="{y:.0f}" width="{w - 4:.0f}" '
                   f'height="44" rx="6" fill="{fill}" stroke="#334155"{dash}/>'
                   f'<text x="{4 + i * w + (w - 4) / 2:.0f}" y="{y + 18:.0f}" text-anchor="middle">{escape(TASK_GLYPH.get(st, ""))} {escape(e.id[4:])}</text>'
                   f'<text x="{4 + i * w + (w - 4) / 2:.0f}" y="{y + 38:.0f}" text-anchor="middle">{escape(fit(st, w - 8))}</text></g>')
    y += 50
    out.append("</g>")
    return "".join(out), y


def _requests(reqs: list[Entity], y: float) -> tuple[str, float]:
    served = sum(1 for e in reqs if e.state["served"] is not None)
    taken = sum(1 for e in reqs if e.state["started"] is not None)
    line = f"requests: {served} served, {taken - served} in progress, {len(reqs) - taken} queued or to come"
    return f'<text class="tp-requests" x="4" y="{y + 16:.0f}" font-size="16">{escape(fit(line, 424))}</text>', y + ROW


def _speedup(points: list[Entity], y: float) -> tuple[str, float]:
    amd = tuple((float(e.state["cores"]), float(e.state["amdahl"])) for e in points)
    meas = tuple((float(e.state["cores"]), float(e.state["measured"])) for e in points if e.state["measured"] is not None)
    chart, h = render_chart(
        [Series("Amdahl's law", amd, step=False), Series("measured (simulated)", meas, step=False)],
        y=y, width=WIDTH, height=190, t_range=(1.0, 8.0), v_range=(0.0, max(5.0, max(v for _, v in amd))),
        caption="speed-up vs cores", t_unit="cores", integer=False,
    )
    return chart, y + h


def render_stage(frame: Frame, dom_id: str) -> str:
    groups: dict[str, list[Entity]] = {}
    for e in frame.entities:
        groups.setdefault(e.kind, []).append(e)
    cores, threads = groups.get("core", []), groups.get("thread", [])
    colours = _colour_map(threads)
    now = frame.time
    parts = [timeline.defs(dom_id)]
    lanes = _lanes(cores, colours)
    waiting = [e for e in threads if e.state["waits"]][:WAIT_LANES]
    for e in waiting:
        lanes.append(Lane(f"{e.id} waits", tuple(
            Bar(a, b, "", "blocked", colours[e.id], f"{e.id} blocked {a}-{b}") for a, b in e.state["waits"] if b > a)))
    tl, h = render_timeline(lanes, width=WIDTH, t_range=_t_range(cores, now), now=now,
                            caption="cores over time (red dashes: now)", t_unit="ticks", patterns=dom_id)
    parts.append(tl)
    y = h + 4
    key = "hatched: context switch; dashed outline: blocked" if waiting else "hatched: context switch"
    parts.append(f'<text x="4" y="{y + 14:.0f}" font-size="16" fill="#475569">{key}</text>')
    y += ROW
    if groups.get("speedup"):
        s, y = _speedup(groups["speedup"], y + 4)
        parts.append(s)
    rows, y = _thread_rows(threads, y + 4, colours)
    parts.append(rows)
    if groups.get("task"):
        s, y = _tasks(groups["task"], y + 4)
        parts.append(s)
    if groups.get("request"):
        s, y = _requests(groups["request"], y + 4)
        parts.append(s)
    if groups.get("channel"):
        s, y = _channels(groups["channel"], y + 4)
        parts.append(s)
    s, y = _process_boxes(groups.get("process", []), y + 4)
    parts.append(s)
    running = [c.state["running"] for c in cores if c.state["running"]]
    label = (f"tick {now:g}: " + (f"running {', '.join(running)}" if running else "no thread running")
             + f"; {sum(1 for t in threads if t.state['state'] == 'ready')} ready, "
             f"{sum(1 for t in threads if t.state['state'] == 'blocked')} blocked")
    return svg_root(dom_id, WIDTH, y + 4, parts, cls="tp-stage", label=label)


