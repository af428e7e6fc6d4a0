"""The Locks stage's core timeline, drawn by the shared timeline part (render/timeline.py) in
its merged form: every engine segment in view is a bar of the right kind, place and lane;
the cached, incremental drawing of a lane is the same as drawing it afresh; and the parts
the Locks stage added to timeline.py (the "work" kind, colour strings, the legend) work on
their own."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations.engines.locks import TIMELINE_TICKS
from simulations.engines.locks import LocksEngine as Engine
from simulations.render import timeline
from simulations.render.locks import BAR, _window, render_stage
from simulations.render.timeline import Bar, Lane, defs, render_timeline

NS = "{http://www.w3.org/2000/svg}"
SUBPATH = re.compile(r"M(-?[\d.]+),(-?[\d.]+)h(-?[\d.]+)v")


def frames_of(slug: str):
    p = next(p for p in Engine.presets if p.slug == slug)
    e = Engine(Engine.parse_params(dict(p.params)), random.Random(p.seed))
    frames = [e.reset()]
    while not e.done:
        frames.append(e.step())
    return frames


def drawn_bars(svg: str) -> tuple[set, list[str]]:
    """(lane, kind, start tick, end tick) of every bar the stage's timeline draws, and the chip
    labels, read back from the markup."""
    root = ET.fromstring(svg)
    tl = next(g for g in root.iter(f"{NS}g") if g.get("class") == "timeline")
    width = 432
    out, labels = set(), []
    for lane in tl.iter(f"{NS}g"):
        if lane.get("class") != "tl-lanebars":
            continue
        _, ty = map(float, re.match(r"translate\(([-\d.]+),([-\d.]+)\)", lane.get("transform")).groups())
        index = round((ty - 22) / (timeline.LANE_H + timeline.GAP))
        for group in lane.findall(f"{NS}g"):
            cls = group.get("class").split()
            if cls[0] != "tl-bar":
                continue
            kind = cls[1].removeprefix("tl-")
            paths = group.findall(f"{NS}path")
            for d in {p.get("d") for p in paths}:  # a spin's zigzag repeats its bars' path
                for x, _, w in SUBPATH.findall(d):
                    sx = (width - timeline.LABEL_W - 8) / TIMELINE_TICKS
                    out.add((index, kind, round(float(x) / sx, 1), round((float(x) + float(w)) / sx, 1)))
        labels += [t.text for t in lane.iter(f"{NS}text")]
    return out, labels


@pytest.mark.parametrize("slug", ["mutex-protects", "spinlock-long", "deadlock", "peterson-tso", "connection-pool"])
def test_every_segment_in_view_is_a_bar_of_its_kind_on_its_core(slug):
    for f in frames_of(slug):
        t0, t1 = _window(f.time)
        assert t0 <= f.time <= t1 and t1 - t0 == TIMELINE_TICKS
        want = set()
        for i, core in enumerate(e for e in f.entities if e.kind == "core"):
            for tid, a, b, kind in core.state["segments"]:
                if b > a and b > t0:
                    want.add((i, BAR[kind][0], float(max(a, t0)), float(b)))
        got, labels = drawn_bars(render_stage(f, "stage"))
        assert got == want, f.time
        threads = {e.id for e in f.entities if e.kind == "thread"}
        assert set(labels) <= threads


def test_the_legend_names_spinning_only_where_threads_can_spin():
    mutex = render_stage(frames_of("mutex-protects")[5], "s")
    spin = render_stage(frames_of("spinlock-long")[5], "s")
    assert ">in CS<" in mutex and ">spin<" not in mutex and 's-zigzag' not in mutex
    assert ">spin<" in spin and 'id="s-zigzag"' in spin and "url(#s-zigzag)" in spin


bars_st = st.lists(
    st.tuples(st.integers(1, 4), st.sampled_from(["run", "work", "spin", "blocked", "switch"]),
              st.sampled_from([0, 1, "#64748b"]), st.sampled_from(["", "T1", "T2"])),
    min_size=1, max_size=14)


@settings(max_examples=60, deadline=None)
@given(bars=bars_st, t0=st.sampled_from([0, 6, 12]))
def test_a_merged_lane_is_the_same_however_its_caches_were_filled(bars, t0):
    lane, t = [], 0
    for length, kind, colour, label in bars:
        lane.append(Bar(t, t + length, label, kind, colour))
        t += length
    lane = tuple(lane)
    kw = dict(t_range=(t0, t0 + 24), now=min(t, t0 + 24), patterns="p", merged=True)
    timeline._groups.cache_clear(), timeline._parts.cache_clear()
    fresh, _ = render_timeline([Lane("core 1", lane)], **kw)
    timeline._groups.cache_clear(), timeline._parts.cache_clear()
    for k in range(1, len(lane) + 1):  # frame by frame, as a run grows its lane
        grown, _ = render_timeline([Lane("core 1", lane[:k])], **kw)
    assert grown == fresh
    # And it parses, every bar in view drawn once.
    root = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{defs("p")}{fresh}</svg>')
    shown = [b for b in lane if b.end > t0 and b.start < t0 + 24]
    drawn = sum(len(SUBPATH.findall(p.get("d"))) for g in root.iter(f"{NS}g")
                if (g.get("class") or "").startswith("tl-bar ") for p in g.findall(f"{NS}path")
                if p.get("fill") != "url(#p-zigzag)")
    assert drawn == len(shown)


def test_work_bars_colour_strings_and_the_legend():
    lanes = [Lane("core 1", (Bar(0, 2, "T1", "work", "#64748b"), Bar(2, 6, "T1", "run", "#1d4ed8"),
                             Bar(6, 9, "T2", "spin", "#b45309"))), Lane("core 2", (), "idle")]
    legend = (("work", "work", "#64748b"), ("run", "in CS", "#1d4ed8"), ("spin", "spin"))
    g, h = render_timeline(lanes, t_range=(0, 12), now=9, caption="cores", merged=True, legend=legend)
    root = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{defs()}{g}</svg>')
    assert h == timeline.timeline_height(2)
    kinds = {g.get("class").split()[1]: g for g in root.iter(f"{NS}g") if (g.get("class") or "").startswith("tl-bar ")}
    assert set(kinds) == {"tl-work", "tl-run", "tl-spin"}
    work = kinds["tl-work"].find(f"{NS}path")
    assert work.get("fill") == "#64748b" and f"v{timeline.WORK_H}h" in work.get("d")  # a thin bar
    assert f"v{timeline.LANE_H}h" in kinds["tl-run"].find(f"{NS}path").get("d")  # a full one
    assert [p.get("fill") for p in kinds["tl-spin"].findall(f"{NS}path")] == ["#b45309", "url(#tl-zigzag)"]
    # Labels on chips, where they fit (the 2-tick work bar's "T1" does at 12 ticks on 348 units).
    chips = [t.text for t in root.iter(f"{NS}text") if t.text in ("T1", "T2")]
    assert chips == ["T1", "T1", "T2"]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert {"work", "in CS", "spin", "idle"} <= set(texts)
    legend_g = next(g for g in root.iter(f"{NS}g") if g.get("class") == "tl-legend")
    assert [p.get("fill") for p in legend_g.findall(f"{NS}path")] == ["#64748b", "#1d4ed8", "#64748b", "url(#tl-zigzag)"]
    # The per-bar form draws a work bar thin as well.
    g2, _ = render_timeline([Lane("c", (Bar(0, 2, "", "work", 1),))], t_range=(0, 10))
    rect = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{g2}</svg>').find(f".//{NS}g[@class='tl-bar tl-work']/{NS}rect")
    assert rect.get("height") == str(timeline.WORK_H) and rect.get("fill") == timeline.COLOURS[1]
    assert 'id="x-hatch"' not in defs("x", hatch=False) and 'id="x-zigzag"' in defs("x", hatch=False)
