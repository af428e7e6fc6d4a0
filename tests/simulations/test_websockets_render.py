"""The WebSockets stage: one SVG that parses, legible at phone width, the same height on
every frame, and showing what the frame holds (handshake lines, the newest frame's bytes)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from simulations.engines.ws_protocol import WebSocketsEngine as E
from simulations.render import svg as svgmod
from simulations.render.ws_protocol import WIDTH, render_stage
from simulations.runs import parse_run, replay
from tests.simulations.html import forget_drawings

NS = "{http://www.w3.org/2000/svg}"


def frames(slug):
    p = next(p for p in E.presets if p.slug == slug)
    return replay(E, parse_run(E, **p.run_data()), 2000)


def test_every_preset_frame_draws_one_svg_of_one_height_with_legible_text():
    for p in E.presets:
        heights = set()
        for f in replay(E, parse_run(E, **p.run_data()), 2000):
            root = ET.fromstring(render_stage(f, "st"))
            assert root.tag == NS + "svg" and root.get("id") == "st"
            heights.add(root.get("viewBox"))
            for el in root.iter():
                size = el.get("font-size")
                if size is not None:
                    assert float(size) >= svgmod.legible_font(WIDTH) - 1e-9, (p.slug, el.tag, size)
        assert len(heights) == 1, (p.slug, heights)


def test_the_handshake_lines_show_until_the_first_frame():
    f0 = frames("upgrade-handshake")[0]
    svg = render_stage(f0, "st")
    assert "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" in svg and "GET /chat HTTP/1.1" in svg
    failed = render_stage(frames("wrong-accept")[-1], "st")
    assert "FAILED" in failed and "expected: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in failed


def test_the_newest_frame_is_drawn_byte_by_byte_with_its_unmasked_text():
    fs = frames("upgrade-handshake")
    f = next(f for f in fs if any(e.kind == "frame" and e.state["bytes"] == "818537fa213d7f9f4d5158" for e in f.entities)
             and "client sends" in f.narration)
    svg = render_stage(f, "st")
    hexes = "".join(re.findall(r'<text class="ws-hex"[^>]*>([0-9a-f]+)</text>', svg))
    assert hexes == "818537fa213d7f9f4d5158"  # every byte, in order
    plain = "".join(re.findall(r'<text class="ws-plain"[^>]*>([^<]+)</text>', svg))
    assert plain == "Hello"  # the masked payload, unmasked under it
    assert "key 37fa213d" in svg and "MASK 1" in svg and "opcode 1 text" in svg
    for cls in ("ws-f-head", "ws-f-len", "ws-f-key", "ws-f-data"):
        assert f'class="{cls}"' in svg


def test_sixteen_bit_lengths_are_labelled_as_such():
    f = next(f for f in frames("collaborative-editing") if "fragment 1 of 3" in f.narration)
    svg = render_stage(f, "st")
    assert "length 126: 16-bit 200" in svg and 'class="ws-f-ext"' in svg


def test_frames_in_flight_move_along_the_link_and_the_cut_shows():
    fs = frames("heartbeat-dead-peer")
    moving = next(f for f in fs if any(e.kind == "frame" and e.state["status"] == "in_flight" for e in f.entities))
    assert 'class="topo-msg' in render_stage(moving, "st")
    cut = next(f for f in fs if any(e.kind == "link" and e.state["cut"] for e in f.entities))
    svg = render_stage(cut, "st")
    assert "Link cut silently" in svg and 'class="link cut"' in svg


def test_shared_part_extensions_are_backward_compatible():
    """chart.render_chart(legend=False) drops the legend and gives its room to the plot;
    topology.Network(caption=...) replaces the network line; the given layout is cached."""
    from simulations.render.chart import Series, plot_box, render_chart
    from simulations.render.topology import Network, StageNode, _given_layout, render_topology

    series = [Series("a", ((0.0, 1.0), (10.0, 2.0)))]
    with_legend, _ = render_chart(series, width=432, height=150, t_range=(0, 10))
    without, _ = render_chart(series, width=432, height=150, t_range=(0, 10), legend=False)
    assert "chart-legend" in with_legend and "chart-legend" not in without
    assert plot_box(432, 150, legend=False)[1] == plot_box(432, 150)[1] - 22
    nodes = [StageNode("a"), StageNode("b")]
    pos = {"a": (50.0, 60.0), "b": (300.0, 60.0)}
    plain, _ = render_topology(nodes, [], 0.0, Network(), positions=pos)
    captioned, _ = render_topology(nodes, [], 0.0, Network(caption="one link"), positions=pos)
    assert "All 2 nodes connected" in plain and "one link" in captioned and "All 2 nodes" not in captioned
    assert _given_layout(("a", "b"), pos, 1) is _given_layout(("a", "b"), dict(pos), 1)


def test_the_drawing_cached_from_frame_to_frame_equals_a_fresh_one():
    """The stage keeps what it drew (the byte grid's layout per frame size, messages and
    delay rows per state, chart lines extended as the series grow): played in order, each
    frame draws what a fresh process draws for it."""

    for slug in ("overhead-vs-polling", "collaborative-editing", "heartbeat-dead-peer"):
        fs = frames(slug)
        played = [render_stage(f, "st") for f in fs]
        for i in range(0, len(fs), 5):
            forget_drawings()
            assert render_stage(fs[i], "st") == played[i], (slug, i)


def test_a_frame_held_in_the_receivers_tcp_is_drawn_held_not_arriving():
    """After a lost segment, the frames behind it wait in the receiver's TCP (RFC 6455 §1.2
    builds on TCP's in-order delivery): the stage labels each one held and says why on
    hover, until TCP's retransmission lets them through."""
    run = parse_run(E, {}, 1, [{"step": 2, "action": {"type": "drop", "side": "client"}}])
    frames_ = replay(E, run, 2000)
    held_at = [f for f in frames_ if any(e.kind == "frame" and e.state["status"] == "held" for e in f.entities)]
    assert held_at, "the run holds a frame behind the lost segment"
    svg = ET.fromstring(render_stage(held_at[0], "s"))
    texts = " ".join("".join(t.itertext()) for t in svg.iter(f"{NS}text"))
    titles = [t.text or "" for t in svg.iter(f"{NS}title")]
    assert re.search(r"\bheld\b", texts), texts
    assert any("held in the receiver's TCP until the lost segment before it is resent" in t for t in titles)
    released = frames_[held_at[-1].index + 1]  # the frame after the last that held one
    assert "until the lost segment before it is resent" not in render_stage(released, "s")
