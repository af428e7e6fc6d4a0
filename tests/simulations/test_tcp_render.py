"""The TCP stage: one SVG that parses, legible at phone width, the same height on every frame
of a run, the inspected segment's layers with their real header sizes, and segments queued
behind others on the sender's link waiting at its start (a positive animation delay)."""

from __future__ import annotations

import html
import random
import re
import xml.etree.ElementTree as ET

from simulations.engines.tcp import TcpEngine as Engine
from simulations.render.svg import legible_font
from simulations.render.tcp import WIDTH, render_stage
from tests.simulations.html import forget_drawings


def _frames(slug: str) -> list:
    p = next(p for p in Engine.presets if p.slug == slug)
    e = Engine(Engine.parse_params(dict(p.params)), random.Random(p.seed))
    frames = [e.reset()]
    acts = dict(p.actions)
    for n in range(2000):
        if e.done:
            break
        if n in acts:
            e.apply(Engine.parse_action(dict(acts[n])))
        frames.append(e.step())
    return frames


def test_every_preset_draws_one_legible_svg_of_fixed_height():
    for p in Engine.presets:
        heights = set()
        for f in _frames(p.slug)[::3]:
            svg = render_stage(f, "st")
            root = ET.fromstring(svg)
            assert root.get("id") == "st"
            heights.add(root.get("viewBox"))
            sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
            assert all(s >= legible_font(WIDTH) for s in sizes), p.slug
        assert len(heights) == 1, (p.slug, heights)


def test_layers_box_names_each_header_and_its_size():
    f = _frames("handshake-and-close")[5]  # the 14-byte message on the wire
    svg = html.unescape(render_stage(f, "st"))  # (non-ASCII text is sent as character references)
    assert "Link: Ethernet II frame, 72 B" in svg and "header 14 B + FCS 4 B; type 0x0800 (IPv4)" in svg
    assert "Internet: IPv4 packet, 54 B" in svg and "Transport: TCP segment, 34 B" in svg
    assert "Application: 14 B \u201cHello, server!\u201d" in svg


def test_a_segment_queued_on_the_senders_link_waits_at_its_start():
    frames = _frames("congestion-control")
    for f in frames:
        queued = [e for e in f.entities if e.kind == "segment" and e.state["sent_at"] > f.time]
        if queued:
            svg = render_stage(f, "st")
            delays = [float(t) for t in re.findall(r"--t:(-?[\d.]+)s", svg)]
            assert any(d > 0 for d in delays)
            return
    raise AssertionError("no frame with a queued segment")


def test_the_drawing_cached_from_frame_to_frame_equals_a_fresh_one():
    """The stage keeps what it drew (endpoint blocks by state, a chart line extended as its
    series grows, message and timer markup): played in order, each frame draws what a fresh
    process draws for it."""
    for slug in ("two-flows-one-bottleneck", "congestion-control", "streaming"):
        frames = _frames(slug)
        played = [render_stage(f, "st") for f in frames]
        for i in range(0, len(frames), 9):
            forget_drawings()
            assert render_stage(frames[i], "st") == played[i], (slug, i)


def test_every_chart_line_starts_at_the_windows_opening():
    """The engine keeps a series' latest points only: a busy cwnd's start later than a quiet
    ssthresh's, and the chart opened at the earliest, so cwnd's line began midway, as if
    there were no window before it. The window opens where every line has its points."""
    from simulations.render.chart import plot_box
    from tests.simulations.test_stage_parts import line_points

    left = plot_box(WIDTH, 1)[0]
    ns = "{http://www.w3.org/2000/svg}"
    checked = 0
    for frame in _frames("congestion-control")[::7]:
        root = ET.fromstring(render_stage(frame, "s"))
        for line in root.iter(f"{ns}path"):
            if "chart-line" in (line.get("class") or ""):
                assert line_points(line)[0][0] == round(left, 1), (frame.index, line.get("data-series"))
                checked += 1
    assert checked > 20


def _data_pills(root: ET.Element) -> list[tuple[float, float, float, float, float]]:
    """Each plain data segment's pill on its way as (+1 rightwards, -1 leftwards; left, top, right,
    bottom) where it is drawn now; not those still queued on the sender's link (a positive
    animation delay), which wait together at its start."""
    ns = "{http://www.w3.org/2000/svg}"
    out = []
    for g in root.iter(f"{ns}g"):
        if g.get("class") != "topo-msg append":  # (not one inspected, resent, corrupted or to be lost)
            continue
        x, y = map(float, re.match(r"translate\(([-\d.]+),([-\d.]+)\)", g.get("transform")).groups())
        way = dict(kv.split(":") for kv in g.get("style").split(";"))
        if way["--t"] not in ("0s",) and not way["--t"].startswith("-"):
            continue
        rect = next(r for r in g.iter(f"{ns}rect") if "msg-pill" in (r.get("class") or ""))
        left, top = x + float(rect.get("x")), y + float(rect.get("y"))
        out.append((1 if float(way["--x1"]) > float(way["--x0"]) else -1, left, top,
                    left + float(rect.get("width")), top + float(rect.get("height"))))
    return out


def test_back_to_back_data_segments_on_the_direct_link_do_not_cover_each_other():
    """Slow start sends two segments per ACK, one serialisation delay (6 ms) apart: their
    pills, 75 units wide, covered each other's sequence numbers on one lane. Every other
    segment takes the outer lane, so two plain data segments going the same way never cover
    each other's numbers. (Too many are in flight to draw them all: those on the wire are drawn first.)"""
    checked = 0
    for slug in ("congestion-control", "corrupt-and-lost", "http", "streaming"):
        for f in _frames(slug):
            pills = _data_pills(ET.fromstring(render_stage(f, "st")))
            for i, a in enumerate(pills):
                for b in pills[i + 1:]:
                    if a[0] != b[0]:  # opposite ways: they pass on either side of the link
                        continue
                    checked += 1
                    # Apart, or one covering no more than the other's end padding (8 units):
                    # every glyph and number stays in sight.
                    overlap_x = min(a[3], b[3]) - max(a[1], b[1])
                    apart_y = a[4] <= b[2] or b[4] <= a[2]
                    assert apart_y or overlap_x <= 8, (slug, f.index, a, b)
    assert checked > 100


def test_segments_on_the_wire_are_drawn_before_those_still_queued():
    """With more segments than are drawn (MAX_DRAWN), the six most recently handed to the
    link were drawn: in slow start all still queued at the sender, the wire between the
    hosts empty while nine segments crossed it."""
    from simulations.render.tcp import MAX_DRAWN

    crowded = 0
    for f in _frames("congestion-control"):
        segs = [e.state for e in f.entities if e.kind == "segment"]
        special = [s for s in segs if s["inspected"] or s["fate"] != "in_flight" or s["corrupted"] or s["retransmission"]]
        on_wire = [s for s in segs if s["sent_at"] <= f.time and s not in special]
        if len(segs) <= MAX_DRAWN or not on_wire:
            continue
        crowded += 1
        drawn = re.findall(r'class="topo-msg[^"]*" transform="[^"]*" style="[^"]*--t:([^;"]*)', render_stage(f, "st"))
        departed = [t for t in drawn if t == "0s" or t.startswith("-")]
        # (the specials are drawn first, wherever they are)
        assert len(departed) >= min(len(on_wire), MAX_DRAWN - len(special)), (f.index, len(on_wire), drawn)
    assert crowded > 20


def test_the_chart_caption_names_only_the_lines_it_draws():
    """The caption said "cwnd and ssthresh" while only cwnd had a line (ssthresh is charted
    once it leaves its initial value, and never in the two-flow chart)."""
    ns = "{http://www.w3.org/2000/svg}"
    for slug in ("congestion-control", "two-flows-one-bottleneck"):
        seen = set()
        for f in _frames(slug)[::5]:
            root = ET.fromstring(render_stage(f, "st"))
            lines = {p.get("data-series") for p in root.iter(f"{ns}path") if "chart-line" in (p.get("class") or "")}
            captions = [t.text for t in root.iter(f"{ns}text") if t.text and t.text.endswith("(segments)")]
            if not lines:
                continue
            assert len(captions) == 1
            assert ("ssthresh" in captions[0]) == any(n.startswith("ssthresh") for n in lines), (slug, f.index, captions, lines)
            seen.add(captions[0])
        assert len(seen) == 2, seen  # (each preset's chart gains a line on the way)


def test_every_header_line_of_the_layers_box_is_whole():
    """The link line was cut before its EtherType and the IP line before its TTL ("TT…"):
    each header's lines fit whole (only the application data's preview may be cut)."""
    ns = "{http://www.w3.org/2000/svg}"
    seen = 0
    for slug in ("handshake-and-close", "congestion-control", "two-flows-one-bottleneck", "ftp"):
        for f in _frames(slug)[::11]:
            root = ET.fromstring(render_stage(f, "st"))
            box = next(g for g in root.iter(f"{ns}g") if g.get("class") == "tcp-layers")
            lines = [t.text or "" for t in box.iter(f"{ns}text") if t.get("class") != "layers-title"]
            if not lines:
                continue
            seen += 1
            assert any("type 0x0800" in ln for ln in lines) and any(ln.endswith("TTL 64") for ln in lines), lines
            cut = [ln for ln in lines if ln.endswith("\u2026") and not ln.startswith("Application")]
            assert not cut, (slug, f.index, cut)
    assert seen > 10
