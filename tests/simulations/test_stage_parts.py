"""The shared stage parts for message-passing simulations (topology, table, chart) and the
Raft layout on them, from hand-built frames: one well-formed <svg> carrying the dom id,
and what a learner would notice in it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from simulations.engines.base import Entity, Frame
from simulations.render import raft
from simulations.render.chart import Series, nice_ticks, plot_box, render_chart, time_window
from simulations.render.svg import PHONE_WIDTH, MIN_TEXT_PX, legible_font, num, secs
from simulations.render.table import Cell, Row, capacity, render_table
from simulations.render.topology import (
    DROP_AT,
    TIME_SCALE,
    Network,
    StageMessage,
    StageNode,
    message_path,
    pill_width,
    render_topology,
    timing,
)

SVG = "{http://www.w3.org/2000/svg}"


# --------------------------------------------------------------------------- frames by hand


def node(i, role="follower", term=1, log=(), commit=0, state=None, timer=None, votes=()):
    return Entity(f"n{i}", "node", {
        "role": role, "term": term, "voted_for": None,
        "log": [{"term": t, "command": c} for t, c in log],
        "commit_index": commit, "last_applied": commit, "state": state or {},
        "next_index": None, "match_index": None, "votes": list(votes), "timer": timer,
    })


def message(seq, type_, src, dst, term, sent, deliver, fate="in_flight", **rpc):
    state = {
        "type": type_, "src": src, "dst": dst, "term": term, "sent_at": sent, "deliver_at": deliver,
        "last_log_index": None, "last_log_term": None, "vote_granted": None, "prev_log_index": None,
        "prev_log_term": None, "entries": None, "leader_commit": None, "success": None, "match_index": None,
        "fate": fate,
    }
    state.update(rpc)
    return Entity(f"m{seq}", "message", state)


def network(groups, cut=(), loss=None):
    return Entity("network", "network", {"groups": [list(g) for g in groups], "loss": loss or {}, "cut": list(cut)})


def frame(entities, time=1000.0, index=7):
    return Frame(index=index, time=time, entities=tuple(entities), metrics={}, events=(), narration="")


LOG = [(1, "set x=1"), (1, "set y=2"), (2, "set x=3"), (2, "del y")]


def five_nodes(partition=False, series=False):
    ents = [
        node(1, "leader", 2, LOG, commit=3, state={"x": 3}, timer={"kind": "heartbeat", "start": 980.0, "deadline": 1030.0}),
        node(2, "follower", 2, LOG, commit=3, state={"x": 3}, timer={"kind": "election", "start": 900.0, "deadline": 1200.0}),
        node(3, "crashed", 1, LOG[:2], commit=1, state={"x": 1}),
        node(4, "candidate", 3, LOG[:3], commit=2, timer={"kind": "election", "start": 950.0, "deadline": 1250.0}, votes=["n4"]),
        node(5, "follower", 2, LOG, commit=2, state={"x": 1, "y": 2}),
        # 40% of the way: sent at 980, arrives at 1030, now is 1000.
        message(1, "AppendEntries", "n1", "n2", 2, 980.0, 1030.0, prev_log_index=3, prev_log_term=2,
                entries=[{"term": 2, "command": "del y"}], leader_commit=3),
        message(2, "AppendEntries", "n1", "n5", 2, 990.0, 1010.0, "will_drop", prev_log_index=4, prev_log_term=2,
                entries=[], leader_commit=3),
        message(3, "RequestVote", "n4", "n5", 3, 960.0, 1040.0, last_log_index=3, last_log_term=2),
        message(4, "RequestVoteReply", "n5", "n4", 3, 995.0, 1015.0, vote_granted=False),
        message(5, "AppendEntriesReply", "n2", "n1", 2, 970.0, 1020.0, success=True, match_index=4),
    ]
    if partition:
        ents.append(network([["n1", "n2"], ["n3", "n4", "n5"]],
                            cut=["n1-n3", "n1-n4", "n1-n5", "n2-n3", "n2-n4", "n2-n5"]))
    else:
        ents.append(network([["n1", "n2", "n3", "n4", "n5"]]))
    if series:
        ents.append(Entity("term", "series", {"name": "term", "points": [[0, 0], [200, 1], [700, 2]]}))
        ents.append(Entity("commit", "series", {"name": "commit index", "points": [[0, 0], [400, 1], [900, 3]]}))
    return frame(ents)


# --------------------------------------------------------------------------- helpers


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def cls(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def find_all(root: ET.Element, *names: str) -> list[ET.Element]:
    return [el for el in root.iter() if set(names) <= cls(el)]


def text_of(el: ET.Element) -> str:
    return " ".join(" ".join(t.itertext()) for t in el.iter(f"{SVG}text"))


def style_vars(el: ET.Element) -> dict[str, str]:
    return dict(part.split(":", 1) for part in (el.get("style") or "").split(";") if part)


def seconds(css: str) -> float:
    assert css.endswith("s") and not css.endswith("ms"), css
    return float(css[:-1])


def line_points(el: ET.Element) -> list[tuple[float, float]]:
    """The vertices of a chart line: its path's absolute start, then relative h, v and l steps."""
    d = el.get("d") or ""
    assert re.fullmatch(r"M[-\d.]+,[-\d.]+(?:[hv][-\d.]+|l[-\d.]+,?[-\d.]+)*", d), d
    pts: list[tuple[float, float]] = []
    for cmd, a, b in re.findall(r"([Mhvl])(-?[\d]*\.?\d+)(?:,?(-?[\d]*\.?\d+))?", d):
        x, y = pts[-1] if pts else (0.0, 0.0)
        if cmd == "M":
            pts.append((float(a), float(b)))
        elif cmd == "h":
            pts.append((x + float(a), y))
        elif cmd == "v":
            pts.append((x, y + float(a)))
        else:
            pts.append((x + float(a), y + float(b)))
    return pts


def translate_of(el: ET.Element) -> tuple[float, float]:
    m = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", el.get("transform") or "")
    assert m, el.get("transform")
    return float(m[1]), float(m[2])


def node_group(root: ET.Element, nid: str) -> ET.Element:
    for g in find_all(root, "topo-node"):
        if any(t.text == nid for t in g.iter(f"{SVG}text") if "node-id" in cls(t)):
            return g
    raise AssertionError(f"no node {nid}")


def stage(f: Frame, dom_id: str = "sim-raft-stage") -> ET.Element:
    svg = raft.render_stage(f, dom_id)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("id") == dom_id
    return root


# --------------------------------------------------------------------------- the stage


def test_stage_is_one_svg_with_the_id_an_accessible_name_and_a_fixed_size():
    root = stage(five_nodes(), "stage-9")
    assert len(root.get("viewBox").split()) == 4
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert label.startswith("1,000 ms: n1 (term 2) leader; n4 (term 3) candidate; n2 (term 2), n5 (term 2) followers; n3 (term 1) crashed")
    assert label.endswith("; 5 messages in flight")
    # The size depends on the node count (and the chart), never on the step.
    later = five_nodes(partition=True)
    assert stage(later).get("viewBox") == root.get("viewBox")
    assert stage(five_nodes(series=True)).get("viewBox") != root.get("viewBox")


def test_every_node_is_drawn_with_its_id_role_word_and_term():
    root = stage(five_nodes())
    for nid, role, term in (("n1", "leader", 2), ("n2", "follower", 2), ("n3", "crashed", 1),
                            ("n4", "candidate", 3), ("n5", "follower", 2)):
        g = node_group(root, nid)
        assert role in cls(g)
        words = text_of(g)
        assert role in words and f"term {term}" in words
    assert "1 vote" in text_of(node_group(root, "n4"))


def test_roles_differ_by_shape_not_only_colour():
    root = stage(five_nodes())
    leader, follower, candidate = node_group(root, "n1"), node_group(root, "n2"), node_group(root, "n4")
    assert find_all(leader, "node-ring") and find_all(leader, "node-crown")  # double ring and a crown
    assert not find_all(follower, "node-ring") and not find_all(follower, "node-crown")
    body = find_all(candidate, "node-body")[0]
    assert body.get("stroke-dasharray")  # dashed
    assert not find_all(follower, "node-body")[0].get("stroke-dasharray")


def test_crashed_node_has_the_crashed_shape_and_word_and_no_timer():
    root = stage(five_nodes())
    g = node_group(root, "n3")
    assert "shape-crashed" in cls(g)
    assert find_all(g, "node-cross"), "a cross through the node"
    assert "crashed" in text_of(g)
    assert not find_all(g, "topo-timer")
    with_timer = [text_of(find_all(n, "node-id")[0]) for n in find_all(root, "topo-node") if find_all(n, "topo-timer")]
    assert with_timer == ["n1", "n2", "n4"]


def test_a_message_now_sits_at_its_fraction_of_the_link_and_animates_from_there():
    # Worked example: AppendEntries n1 -> n2 sent at 980 ms, delivered at 1030 ms, seen at
    # 1000 ms: 20 of its 50 ms are gone, so it is 40% along. At speed 1 (100 ms of virtual
    # time = 1 s) the whole trip takes 0.5 s and the animation starts 0.2 s in: a delay of -0.2 s.
    assert timing(1000.0, 980.0, 1030.0) == pytest.approx((0.5, -0.2, 0.4))
    root = stage(five_nodes())
    msgs = find_all(root, "topo-msg")
    assert len(msgs) == 5
    m = next(g for g in msgs if "append" in cls(g))
    assert "Append 4" in text_of(m)
    v = style_vars(m)
    assert seconds(v["--d"]) == pytest.approx(0.5) and seconds(v["--t"]) == pytest.approx(-0.2)
    x0, y0, x1, y1 = (float(v[k]) for k in ("--x0", "--y0", "--x1", "--y1"))
    # It runs from n1's rim to n2's rim...
    n1, n2 = translate_of(node_group(root, "n1")), translate_of(node_group(root, "n2"))
    expected = message_path(n1, n2, pill_width("Append 4"))
    assert (x0, y0, x1, y1) == pytest.approx(expected, abs=0.06)
    # (its pill clear of both nodes and their timer rings)
    for (nx, ny), (px, py) in ((n1, (x0, y0)), (n2, (x1, y1))):
        assert ((px - nx) ** 2 + (py - ny) ** 2) ** 0.5 > 34 + 11
    # ...and, without motion (reduced motion, or paused), it is drawn 40% of the way along.
    sx, sy = translate_of(m)
    assert sx == pytest.approx(x0 + 0.4 * (x1 - x0), abs=0.11)  # each rounded to 0.1
    assert sy == pytest.approx(y0 + 0.4 * (y1 - y0), abs=0.11)


def test_timing_edge_cases_and_time_scale():
    assert TIME_SCALE == 0.01
    assert timing(500.0, 500.0, 600.0) == pytest.approx((1.0, 0.0, 0.0))  # just sent
    assert timing(650.0, 500.0, 600.0) == pytest.approx((1.0, -1.0, 1.0))  # late frame: at the end
    assert timing(10.0, 10.0, 10.0) == (0.0, 0.0, 1.0)  # zero latency
    assert secs(-0.2) == "-.2s" and secs(0) == "0s" and secs(1.23456) == "1.235s" and secs(0.35) == ".35s"
    assert num(-0.04) == "0" and num(12.0) == "12" and num(3.14159) == "3.1"


def test_messages_are_labelled_by_type_and_each_type_has_its_own_glyph():
    root = stage(five_nodes())
    outline = {}  # label -> the glyph's element and path commands, numbers left out
    for g in find_all(root, "topo-msg"):
        glyph = find_all(g, "msg-glyph")[0]
        outline[text_of(g)] = glyph.tag.removeprefix(SVG) + ":" + re.sub(r"[-\d.,]", "", glyph.get("d") or "")
    assert set(outline) == {"Append 4", "Beat \u2715", "Vote?", "Vote \u2717", "ACK 4"}
    assert outline["Append 4"] == outline["Beat \u2715"] == "path:Mhvhz"  # AppendEntries: a square
    assert outline["Vote?"] == "path:Mlllz"  # RequestVote: a diamond
    assert outline["Vote \u2717"] == "circle:"  # RequestVote reply: a circle
    assert outline["ACK 4"] == "path:Mllz"  # AppendEntries reply: a triangle


def test_a_message_that_will_be_lost_fades_out_mid_link():
    root = stage(five_nodes())
    m = next(g for g in find_all(root, "topo-msg") if "dropping" in cls(g))
    assert "\u2715" in text_of(m)
    v = style_vars(m)
    x0, y0, x1, y1 = (float(v[k]) for k in ("--x0", "--y0", "--x1", "--y1"))
    n1, n5 = translate_of(node_group(root, "n1")), translate_of(node_group(root, "n5"))
    full = message_path(n1, n5, pill_width("Beat", drop=True))
    # It ends part way along its link, never at n5.
    assert x1 == pytest.approx(full[0] + DROP_AT * (full[2] - full[0]), abs=0.06)
    assert y1 == pytest.approx(full[1] + DROP_AT * (full[3] - full[1]), abs=0.06)
    assert find_all(m, "msg-pill")[0] is not None


def test_partition_is_a_visible_cut_and_what_crosses_it_is_drawn_broken():
    whole = stage(five_nodes())
    assert not find_all(whole, "topo-cut") and not find_all(whole, "link", "cut")
    assert "All 5 nodes connected" in text_of(whole)
    assert not find_all(whole, "across-cut")

    root = stage(five_nodes(partition=True))
    assert "Partition: n1 n2 | n3 n4 n5" in text_of(root)
    assert find_all(root, "topo-cut"), "dashed rays through the gaps between the sides"
    cut = find_all(root, "link", "cut")
    assert len(cut) == 1
    assert set(cut[0].get("data-links").split()) == {"n1-n3", "n1-n4", "n1-n5", "n2-n3", "n2-n4", "n2-n5"}
    # Broken: each cut link is two stubs (and two ticks), not one line.
    assert cut[0].get("d").count("M") == 6 * 4
    # Links inside a side stay whole: n1-n2 and the n3/n4/n5 triangle are plain lines.
    whole_links = find_all(root, "link")
    plain = [p for p in whole_links if cls(p) == {"link"} or cls(p) == {"link", "down"}]
    assert sum(p.get("d").count("L") for p in plain) == 4  # (drawn as trails: one L per link)
    # The message from n1 to n5 crosses the cut: drawn broken (its own class, dashed outline).
    crossing = find_all(root, "topo-msg", "across-cut")
    assert {text_of(g) for g in crossing} == {"Beat \u2715"}
    assert {text_of(g) for g in find_all(root, "topo-msg")} - {text_of(g) for g in crossing} == {
        "Append 4", "Vote?", "Vote \u2717", "ACK 4"}


def test_timer_ring_empties_from_start_to_deadline():
    root = stage(five_nodes())
    assert find_all(node_group(root, "n1"), "topo-timer", "heartbeat")
    ring = find_all(find_all(node_group(root, "n2"), "topo-timer", "election")[0], "timer-ring")[0]
    # n2's election timer: started at 900, fires at 1200; at 1000 a third has run down.
    v = style_vars(ring)
    assert seconds(v["--d"]) == pytest.approx(3.0) and seconds(v["--t"]) == pytest.approx(-1.0)
    assert ring.get("pathLength") == "100"
    assert float(ring.get("stroke-dashoffset")) == pytest.approx(33.3, abs=0.1)


def test_committed_log_cells_are_solid_and_uncommitted_outlined_with_a_commit_marker():
    root = stage(five_nodes())
    rows = {text_of(find_all(r, "trow-label")[0]): r for r in find_all(root, "trow")}
    assert set(rows) == {"n1", "n2", "n3", "n4", "n5"}

    def count(row, mark):
        return sum(p.get("d").count("z") for p in find_all(row, "tcells", mark))

    assert (count(rows["n1"], "solid"), count(rows["n1"], "outline")) == (3, 1)
    assert (count(rows["n5"], "solid"), count(rows["n5"], "outline")) == (2, 2)
    assert (count(rows["n3"], "solid"), count(rows["n3"], "outline")) == (1, 1)
    assert find_all(rows["n1"], "tmarker")[0].get("data-after") == "3"
    # Each cell says its term; the key-value state follows the log.
    assert re.sub(r"\s", "", text_of(rows["n1"])) == "n1" + "2" + "112" + "x=3"
    assert "x=1 y=2" in text_of(rows["n5"])
    # The command is on hover, per column (once when the logs agree).
    tips = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert "4: del y (term 2)" in tips


def test_table_part_is_generic_and_keeps_the_last_columns_that_fit():
    rows = [Row("q1", tuple(Cell(str(i % 10), "job", "solid" if i < 25 else "outline", f"job {i}") for i in range(1, 31)))]
    svg, height = render_table(rows, width=432, legend=(), palette={"job": "#123456"})
    root = parse(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
    header = [t.text for t in find_all(root, "theader")[0]]
    assert header[0] == f"\u2026{31 - capacity(432)}"  # the first columns are off the left, and it says so
    assert header[1].endswith("30")  # the column numbers end with the last one
    assert height > 0
    solid = find_all(root, "tcells", "solid", "job")[0]
    assert solid.get("fill") == "#123456"


def test_chart_lines_map_time_and_value_monotonically_into_the_plot_box():
    f = five_nodes(series=True)
    root = stage(f)
    chart = find_all(root, "chart")[0]
    width = float(root.get("viewBox").split()[2])
    lines = find_all(chart, "chart-line")
    assert {line.get("data-series") for line in lines} == {"term", "commit index"}
    legend = [text_of(k) for k in find_all(chart, "chart-key")]
    assert legend == ["term", "commit index"]
    left, top, right, bottom = plot_box(width, raft.CHART_H, caption=False)
    for line in lines:
        pts = line_points(line)
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        assert xs == sorted(xs), "time runs left to right"
        assert all(left - 0.1 <= x <= right + 0.1 for x in xs) and all(top - 0.1 <= y <= bottom + 0.1 for y in ys)
        # The values only rise here, so the line only climbs (smaller y is higher).
        assert ys == sorted(ys, reverse=True)
        t0, t1 = time_window(0.0, f.time)
        assert t1 >= f.time  # the axis reaches just past now, to a round value...
        assert xs[-1] == pytest.approx(left + (f.time - t0) / (t1 - t0) * (right - left), abs=0.1)  # ...the lines end at now


def test_chart_part_on_its_own():
    series = [Series("cwnd", ((0.0, 1.0), (10.0, 2.0), (20.0, 4.0), (30.0, 2.0)), step=False)]
    svg, h = render_chart(series, width=432, height=160, caption="Congestion window")
    root = parse(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
    line = find_all(root, "chart-line")[0]
    pts = line_points(line)
    assert len(pts) == 4
    left, top, right, bottom = plot_box(432, 160)
    assert pts[0][0] == pytest.approx(left) and pts[-1][0] == pytest.approx(right)
    assert pts[2][1] == pytest.approx(top, abs=0.1) and pts[0][1] < bottom  # the peak reaches the top
    assert nice_ticks(0, 18, 3, True) == [0, 5, 10, 15]


def test_a_marker_label_at_either_edge_stays_inside_the_plot():
    """A loss at the window's first instant was labelled centred on its tick, over the value
    axis's numbers; at the edges a label starts (or ends) at its tick instead."""
    from simulations.render.chart import FONT, Marker
    from simulations.render.svg import text_width

    series = [Series("cwnd", ((0.0, 1.0), (100.0, 8.0)), step=False)]
    left, top, right, bottom = plot_box(432, 160)
    for t, anchor in ((0.0, "start"), (50.0, "middle"), (100.0, "end")):
        svg, _ = render_chart(series, width=432, height=160, t_range=(0.0, 100.0),
                              markers=[Marker(t, "3 dup ACKs", "loss")])
        root = parse(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
        label = next(el for el in root.iter(f"{SVG}text") if el.text == "3 dup ACKs")
        assert label.get("text-anchor") == anchor
        x, w = float(label.get("x")), text_width("3 dup ACKs", FONT)
        start = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        assert left <= start and start + w <= right, (t, start, start + w)


@pytest.mark.parametrize("t1", [100.0, 1760.0, 2000.0, 9000.0, 61_000.0])
def test_time_labels_never_overlap_and_the_last_names_the_unit(t1):
    """WebSockets' byte chart at 1,760 ms drew "1,500" into "2,000 ms"."""
    from simulations.render.chart import FONT
    from simulations.render.svg import text_width

    series = [Series("kB", ((0.0, 0.0), (t1, 3.0)), step=False)]
    svg, _ = render_chart(series, width=432, height=160, t_range=time_window(0.0, t1), t_unit="ms")
    root = parse(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
    _, _, _, bottom = plot_box(432, 160)
    spans = []
    for el in root.iter(f"{SVG}text"):
        if el.get("y") == num(bottom + 19):
            x, w = float(el.get("x")), text_width(el.text, FONT)
            spans.append((x - w, x) if el.get("text-anchor") == "end" else (x - w / 2, x + w / 2))
    assert len(spans) >= 2 and spans[-1] == max(spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans
    assert [el.text for el in root.iter(f"{SVG}text") if el.get("y") == num(bottom + 19)][-1].endswith(" ms")


def _font_sizes(el: ET.Element, inherited: float | None = None):
    size = el.get("font-size")
    own = float(size) if size else inherited
    if el.tag == f"{SVG}text" and "".join(el.itertext()).strip():
        yield own, "".join(el.itertext())
    for child in el:
        yield from _font_sizes(child, own)


@pytest.mark.parametrize("variant", ["plain", "partition", "series"])
def test_no_text_below_12px_when_the_stage_is_drawn_phone_wide(variant):
    f = five_nodes(partition=variant == "partition", series=variant == "series")
    root = stage(f)
    width = float(root.get("viewBox").split()[2])
    assert PHONE_WIDTH <= 360  # the brief's 360 px, less the panel's padding on a 390 px phone
    sizes = list(_font_sizes(root))
    assert sizes and all(s is not None for s, _ in sizes), "every text has a size"
    smallest = min(s for s, _ in sizes)
    assert smallest * PHONE_WIDTH / width >= MIN_TEXT_PX, min(sizes)
    assert legible_font(width) <= smallest


def test_text_is_escaped():
    f = frame([node(1, "leader", 1, [(1, "<script>&")], commit=1, state={"<b>": "\"q\""}),
               network([["n1"]])])
    svg = raft.render_stage(f, 'x"><script>')
    root = parse(svg)
    assert root.get("id") == 'x"><script>'
    assert "<script>" not in svg.replace('id="x&quot;&gt;&lt;script&gt;"', "")


def test_topology_part_takes_a_given_layout():
    nodes = [StageNode("a", "client"), StageNode("b", "server")]
    msgs = [StageMessage("m1", "a", "b", 0.0, 10.0, "SYN", "square")]
    svg, h = render_topology(nodes, msgs, 5.0, Network(), positions={"a": (60, 60), "b": (300, 60)})
    root = parse(f'<svg xmlns="http://www.w3.org/2000/svg">{svg}</svg>')
    m = find_all(root, "topo-msg")[0]
    x, y = translate_of(m)
    assert 60 < x < 300 and x == pytest.approx((60 + 300) / 2, abs=1)
    assert h > 60


def test_the_raft_engines_own_frames_render():
    """Every preset of the Raft engine (written against the same shape file), its first
    frames: well-formed, one node group per node, one pill per message, and a fixed size."""
    engines = pytest.importorskip("simulations.engines.raft")
    import random

    engine_cls = engines.RaftEngine
    for preset in engine_cls.presets:
        engine = engine_cls(engine_cls.parse_params(preset.params), random.Random(preset.seed))
        scripted: dict[int, list] = {}
        for step, action in preset.actions:
            scripted.setdefault(step, []).append(engine_cls.parse_action(action))
        frames = [engine.reset()]
        for i in range(60):
            for action in scripted.get(i, ()):
                engine.apply(action)
            if engine.done:
                break
            frames.append(engine.step())
        boxes = set()
        for f in frames:
            root = stage(f)
            boxes.add(root.get("viewBox"))
            nodes = [e for e in f.entities if e.kind == "node"]
            assert len(find_all(root, "topo-node")) == len(nodes), preset.slug
            assert len(find_all(root, "trow")) == len(nodes), preset.slug
            assert len(find_all(root, "topo-msg")) == sum(1 for e in f.entities if e.kind == "message"), preset.slug
        assert len(boxes) == 1, (preset.slug, boxes)


def test_a_chart_redrawn_at_another_time_equals_a_fresh_one():
    """The chart keeps its drawing per series and window and moves only the lines' ends: at
    any time, earlier or later, with points coming into or out of view, it draws what a
    fresh chart draws."""
    from simulations.render import chart

    series = (Series("a", ((0.0, 1.0), (10.0, 3.0), (20.0, 2.0), (30.0, 5.0))),
              Series("b", ((5.0, 2.0), (25.0, 4.0)), step=False))
    kw = dict(width=432, height=160, t_range=(0.0, 40.0), caption="c")
    seen = {}
    for now in (12.0, 22.0, 35.0, 8.0, 26.0, 26.5, 40.0, 1.0):
        seen[now] = render_chart(series, now=now, **kw)[0]
    chart._CHARTS.clear()
    chart._LINES.clear()
    for now, svg in seen.items():
        chart._CHARTS.clear()
        assert render_chart(series, now=now, **kw)[0] == svg, now
