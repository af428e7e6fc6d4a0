"""The Threads & Processes stage and the timeline stage part (simulations/render/timeline.py):
one SVG per frame that parses, text legible at phone width, bar kinds told apart by shape and
pattern, and the stage showing what the frame holds."""

from __future__ import annotations

import html
import random
import re
import xml.etree.ElementTree as ET

from simulations.engines.threads_processes import ThreadsProcessesEngine as TP
from simulations.render.svg import PHONE_WIDTH, legible_font
from simulations.render.threads_processes import WIDTH, render_stage
from simulations.render.timeline import Bar, Lane, defs, render_timeline

NS = "{http://www.w3.org/2000/svg}"


def frames_of(slug: str):
    p = next(p for p in TP.presets if p.slug == slug)
    engine = TP(TP.parse_params(dict(p.params)), random.Random(1))
    frames = [engine.reset()]
    actions = {s: dict(a) for s, a in p.actions}
    while not engine.done:
        if len(frames) - 1 in actions:
            engine.apply(TP.parse_action(actions[len(frames) - 1]))
        frames.append(engine.step())
    return frames


def test_every_preset_frame_draws_one_legible_svg():
    smallest = legible_font(WIDTH)
    assert smallest <= 16 and WIDTH * 12 / 16 <= PHONE_WIDTH  # 16 units = 12 px at phone width
    for p in TP.presets:
        for f in frames_of(p.slug):
            svg = render_stage(f, "stage")
            root = ET.fromstring(svg)
            assert root.tag == f"{NS}svg" and root.get("id") == "stage"
            assert root.get("viewBox").split()[2] == str(WIDTH)
            for m in re.finditer(r'font-size="([\d.]+)"', svg):
                assert float(m.group(1)) >= smallest, p.slug


def test_the_stage_shows_cores_threads_pages_and_channels():
    f = frames_of("pipe")[5]
    svg = html.unescape(render_stage(f, "s"))  # (non-ASCII text is sent as character references)
    assert "core 1" in svg and 'class="tp-thread' in svg and 'class="tp-page' in svg
    ch = next(e for e in f.entities if e.kind == "channel").state
    assert f"pipe: pid {ch['src']} \u2192 pid {ch['dst']}" in svg
    for item in ch["items"]:
        assert f">{item}<" in svg
    fork = frames_of("fork-cow")[2]
    svg = render_stage(fork, "s")
    assert "tp-cow" in svg and "fork()=0" in svg and "fork()=2" in svg


def test_speedup_chart_has_amdahl_and_measured_series():
    svg = render_stage(frames_of("speedup")[0], "s")
    assert "Amdahl&#x27;s law" in svg or "Amdahl's law" in svg
    assert 'data-series="measured (simulated)"' in svg


def test_timeline_bar_kinds_differ_by_shape_or_pattern():
    lanes = [Lane("core 1", (Bar(0, 4, "A", "run", 0), Bar(4, 5, "", "switch"), Bar(5, 9, "B", "spin", 1))),
             Lane("A waits", (Bar(4, 8, "", "blocked", 0),))]
    g, h = render_timeline(lanes, t_range=(0, 10), now=9)
    root = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{defs()}{g}</svg>')
    bars = {b.get("class").split()[1]: b for b in root.iter(f"{NS}g") if (b.get("class") or "").startswith("tl-bar")}
    assert set(bars) == {"tl-run", "tl-switch", "tl-spin", "tl-blocked"}
    assert bars["tl-switch"].find(f"{NS}rect").get("fill") == "url(#tl-hatch)"
    assert any(r.get("fill") == "url(#tl-zigzag)" for r in bars["tl-spin"].iter(f"{NS}rect"))
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert ids == {"tl-hatch", "tl-zigzag"}
    g2, _ = render_timeline(lanes, t_range=(0, 10), patterns="sim-x-stage")
    assert "url(#sim-x-stage-hatch)" in g2 and 'id="sim-x-stage-hatch"' in defs("sim-x-stage")
    blocked = bars["tl-blocked"].find(f"{NS}rect")
    assert blocked.get("fill") == "none" and blocked.get("stroke-dasharray")
    assert h > 2 * 30
    # Bars are placed by time: B starts where the switch ends.
    xs = {k: float(b.find(f"{NS}rect").get("x")) for k, b in bars.items()}
    assert xs["tl-run"] < xs["tl-switch"] < xs["tl-spin"]


def test_the_gantt_matches_the_engine_segments():
    f = frames_of("round-robin")[-1]
    svg = render_stage(f, "s")
    labels = re.findall(r'<g class="tl-bar tl-run"><title>(\w) ran (\d+)-(\d+)</title>', svg)
    core = next(e for e in f.entities if e.kind == "core").state
    assert [(t, int(a), int(b)) for t, a, b in labels] == [(t, a, b) for t, a, b, k in core["segments"] if k == "run"]
