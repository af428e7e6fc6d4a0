"""The race-conditions renderer: one well-formed element per frame (a <div> holding one
<svg> per column, so a phone can stack them; issue 8), real SVG inside every svg, every
text escaped; the explorer as a <section> fragment."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from simulations.engines.base import Entity, Frame
from simulations.engines.race_conditions import RaceConditionsEngine as Engine, RunThread, explore
from simulations.render.race_conditions import render_analysis, render_stage

SVG = "{http://www.w3.org/2000/svg}"
SVG_TAGS = {"svg", "g", "rect", "text", "tspan", "line", "path"}
HTML_TAGS = {"div", "span", "p"}  # the stage, its board, a value in flight, the race alert


def make(seed: int = 1, **params) -> Engine:
    engine = Engine(Engine.parse_params(params), random.Random(seed))
    engine.reset()  # frame 0, as the app builds it
    return engine


def pick(engine: Engine, *threads: int) -> Frame:
    for t in threads:
        engine.apply(RunThread(thread=t))
        frame = engine.step()
    return frame


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def local(tag: str) -> str:
    return tag.removeprefix(SVG)


def classes(root: ET.Element) -> list[set[str]]:
    return [set(el.get("class", "").split()) for el in root.iter()]


def texts(root: ET.Element) -> str:
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def all_frames(engine: Engine, limit: int = 300) -> list[Frame]:
    frames = [engine.frame]
    while not engine.done and engine.index < limit:
        if engine.awaiting_input:
            s = engine.state
            t = next(t for t in range(engine.program.threads) if s.pcs[t] < engine.program.end and not s.waiting[t])
            engine.apply(RunThread(thread=t + 1))
        frames.append(engine.step())
    return frames


def test_stage_is_one_element_with_the_id_and_an_accessible_name():
    html = render_stage(make().frame, "stage-1")
    root = parse(html)
    assert root.tag == "div"
    assert root.get("id") == "stage-1" and root.get("role") == "img"
    assert root.get("aria-label", "").startswith("Step 0:")
    cols = [el for el in root.iter(f"{SVG}svg")]
    assert len(cols) == 3  # T1, shared, T2
    assert all(len(c.get("viewBox").split()) == 4 for c in cols)
    assert html.startswith("<div ") and html.endswith("</div>")


@pytest.mark.parametrize("preset", Engine.presets, ids=lambda p: p.slug)
def test_every_frame_of_every_preset_renders_real_svg(preset):
    engine = make(preset.seed, **preset.params)
    for frame in all_frames(engine):
        root = parse(render_stage(frame, "stage"))
        svg_tags = {local(el.tag) for col in root.iter(f"{SVG}svg") for el in col.iter()}
        assert svg_tags <= SVG_TAGS, svg_tags - SVG_TAGS  # no foreignObject, no HTML in an svg
        assert all(el.tag.startswith(SVG) for col in root.iter(f"{SVG}svg") for el in col.iter())
        html_tags = {el.tag for el in root.iter() if not el.tag.startswith(SVG)}
        assert html_tags <= HTML_TAGS, html_tags - HTML_TAGS
        names = [e.state["name"] for e in frame.entities if e.kind == "thread"]
        shown = texts(root)
        for name in names:
            assert name in shown
        thread_groups = [c for c in classes(root) if "thread" in c]
        assert len(thread_groups) == len(names)


def test_size_does_not_change_between_frames():
    engine = make(threads=3, fix="mutex", increments=2)
    boxes = {(parse(render_stage(f, "s")).get("style"), tuple(c.get("viewBox") for c in parse(render_stage(f, "s")).iter(f"{SVG}svg")))
             for f in all_frames(engine)}
    assert len(boxes) == 1


def test_race_frame_draws_the_race_in_red():
    engine = make(threads=2, increments=1, scheduler="manual")
    quiet = pick(engine, 1, 1, 1)
    assert not any("race" in c for c in classes(parse(render_stage(quiet, "s"))))
    frame = pick(engine, 2)  # T2's load races with T1's store
    root = parse(render_stage(frame, "s"))
    cls = classes(root)
    assert any("race" in c for c in cls) and any("race-alert" in c for c in cls)
    assert sum(1 for c in cls if "line-race" in c) == 2  # both racing accesses marked
    assert sum(1 for c in cls if {"thread", "racing"} <= c) == 2
    assert "data race on counter" in "".join(root.itertext())
    assert "data race" in root.get("aria-label")


def test_blocked_thread_is_greyed_with_a_lock_icon():
    engine = make(fix="mutex", scheduler="manual")
    frame = pick(engine, 1, 2)
    root = parse(render_stage(frame, "s"))
    blocked = [el for el in root.iter(f"{SVG}g") if {"thread", "blocked"} <= set(el.get("class", "").split())]
    assert len(blocked) == 1
    assert any("lock-icon" in (el.get("class") or "") for el in blocked[0].iter())
    assert "blocked on lock" in "".join(blocked[0].itertext())
    assert any({"lock", "held"} <= c for c in classes(root))


def test_changed_memory_cell_is_marked_for_animation():
    engine = make(scheduler="manual")
    read = parse(render_stage(pick(engine, 1), "s"))
    assert any({"cell", "just-read"} <= c for c in classes(read))
    pick(engine, 1)
    written = parse(render_stage(pick(engine, 1), "s"))
    assert any({"cell", "just-written"} <= c for c in classes(written))
    assert "written by T1" in texts(written)


def test_overwritten_line_is_marked_in_the_file():
    engine = make(scenario="file_access", scheduler="manual")
    frame = pick(engine, 1, 2, 1, 2)
    root = parse(render_stage(frame, "s"))
    cls = classes(root)
    assert any({"file-line", "overwrote"} <= c for c in cls)
    assert any("lost-line" in c for c in cls)
    assert "P1: hello" in texts(root)


def test_current_line_and_registers_and_clock_are_drawn():
    engine = make(scheduler="manual")
    root = parse(render_stage(pick(engine, 1, 1), "s"))
    cls = classes(root)
    assert any("line-current" in c for c in cls) and any("pc" in c for c in cls)
    shown = texts(root)
    assert "tmp = 1" in shown and "T1:2" in shown and "T2:0" in shown


def test_all_text_is_escaped():
    hostile = '<script>alert("x")</script>&'
    frame = Frame(
        index=3,
        time=3.0,
        entities=(
            Entity("t1", "thread", {"name": hostile, "code": (hostile, "  ok // " + hostile), "line": 0,
                                     "executed_line": 1, "pc": 0, "status": "running",
                                     "registers": {hostile: hostile}, "clock": (1,), "holds_lock": False}),
            Entity("mem", "memory", {"name": hostile, "value": 1, "display": hostile, "last_writer": hostile,
                                     "access": "write", "by": hostile}),
            Entity("lock", "lock", {"name": hostile, "holder": hostile, "waiters": (hostile,)}),
            Entity("file", "file", {"name": hostile, "size": 10, "lost": (hostile,),
                                     "lines": ({"offset": 0, "text": hostile, "writer": hostile,
                                                "overwrote": (hostile,), "written": True},)}),
            Entity("race", "race", {"location": hostile,
                                     "earlier": {"thread": hostile, "kind": "write", "line": 0, "code": hostile, "clock": (1,)},
                                     "later": {"thread": hostile, "kind": "read", "line": 1, "code": hostile, "clock": (1,)}}),
        ),
        metrics={},
        events=(),
        narration=hostile,
    )
    svg = render_stage(frame, 'x" onload="alert(1)')
    assert "<script" not in svg
    root = parse(svg)
    assert root.get("id") == 'x" onload="alert(1)'
    assert root.get("onload") is None
    assert hostile in "".join(root.itertext())


# -- the explorer view ---------------------------------------------------------


def test_explore_section_has_chart_table_and_sentence():
    data = explore(Engine.parse_params({"threads": 2, "increments": 1}))
    html = render_analysis("explore", data, "explore-1")
    root = ET.fromstring(html)
    assert root.tag == "section" and root.get("id") == "explore-1"
    assert "18 of 20 interleavings lose an update." in "".join(root.itertext())
    chart = root.find(f"{SVG}svg")
    assert chart is not None and chart.get("role") == "img"
    bars = [el for el in chart.iter(f"{SVG}g") if "bar" in (el.get("class") or "").split()]
    assert len(bars) == 2
    assert [b.get("class") for b in bars] == ["bar wrong", "bar correct"]
    assert "90%" in "".join(bars[0].itertext()) and "correct" in "".join(bars[1].itertext())
    rows = root.findall("./table/tbody/tr")
    assert len(rows) == 2
    assert "T1\u00d72 T2 T1 T2\u00d72" in "".join(rows[0].itertext())  # run-length schedule
    assert "(correct)" in "".join(rows[1].itertext())


def test_explore_section_for_processes_and_reduced_runs():
    data = explore(Engine.parse_params({"scenario": "file_access"}))
    html = render_analysis("explore", data, "e")
    assert "P1" in html and "T1" not in html
    reduced = explore(Engine.parse_params({"threads": 4, "increments": 5}))
    root = ET.fromstring(render_analysis("explore", reduced, "e"))
    notes = [p for p in root.iter("p") if p.get("class") == "analysis-note"]
    assert notes and "too many" in "".join(notes[0].itertext())


def test_explore_section_escapes_and_handles_errors():
    root = ET.fromstring(render_analysis("explore", {"error": "<b>too big</b>"}, "e"))
    assert root.get("id") == "e" and "<b>too big</b>" in "".join(root.itertext())
    root = ET.fromstring(render_analysis("other", {}, "e"))
    assert root.tag == "section"


@pytest.mark.parametrize(
    "params",
    [{}, {"fix": "mutex"}, {"scenario": "check_then_act", "threads": 4},
     {"scenario": "double_checked_locking", "threads": 3}, {"scenario": "double_checked_locking", "fix": "once"}],
)
def test_explore_sections_parse(params):
    data = explore(Engine.parse_params(params))
    root = ET.fromstring(render_analysis("explore", data, "e"))
    assert len(root.findall("./table/tbody/tr")) == len(data["outcomes"])


def test_a_load_or_store_sends_its_value_travelling():
    """Issue 8: the value moves between the thread and the cell, as an element new in the
    frame (a CSS animation on an inserted element is what the ws extension's swap allows)."""
    engine = make(scheduler="manual", increments=1)
    assert 'class="race-flight' not in render_stage(engine.frame, "s")
    load = parse(render_stage(pick(engine, 1), "s"))  # T1: tmp = counter
    flights = [el for el in load.iter("span") if "race-flight" in el.get("class", "")]
    assert [f.get("class") for f in flights] == ["race-flight race-flight--read"] and flights[0].text == "0"
    for var in ("--x0", "--y1", "--nx0", "--ny1"):
        assert var + ":" in flights[0].get("style")
    assert 'class="race-flight' not in render_stage(pick(engine, 1), "s")  # tmp + 1: no memory access
    store = parse(render_stage(pick(engine, 1), "s"))  # counter = tmp
    flights = [el for el in store.iter("span") if "race-flight" in el.get("class", "")]
    assert [f.get("class") for f in flights] == ["race-flight race-flight--write"] and flights[0].text == "1"
