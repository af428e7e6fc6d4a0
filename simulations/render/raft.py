"""The Raft stage: the cluster (topology with moving RPCs), every node's log (table), and,
when the frame carries `series` entities, a chart of them over time.

Reads the entity shape fixed in .coord/raft-shape.md: `node`, `message` and `network`
entities, plus optional `series` entities ({"name", "points": [[t, v], ...]}).

One top-level <svg id=dom_id>, 432 units wide with no text under 16 units, so that drawn
324 px wide on a 390 px phone its text is still 12 px; the parts are stacked, and the size depends
only on the node count and whether there are series, never on the step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from simulations.engines.base import Entity, Frame
from simulations.render.chart import Series, render_chart, time_window
from simulations.render.svg import svg_root
from simulations.render.table import Cell, Row, capacity, render_table
from simulations.render.topology import Network, StageMessage, StageNode, Timer, render_topology

WIDTH = 432
GAP = 10
CHART_H = 160
LABEL_LINES = 2  # role, then term (a candidate: and its votes)
NOTE_W = 84  # the key-value state after each log

#: Entry colours by term (term % 6), white text on each at 4.5:1 or more; the stylesheet has
#: the same classes for dark mode.
TERM_COLOURS = ("#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be185d", "#0f766e")
PALETTE = tuple((f"term-{i}", c) for i, c in enumerate(TERM_COLOURS))  # class -> colour

ROLE_SHAPE = {"leader": "double", "candidate": "dashed", "crashed": "crashed", "follower": "plain"}


def _kv(state: Mapping[str, Any]) -> str:
    if not state:
        return "no keys"
    return " ".join(f"{k}={v}" for k, v in state.items())


def _ms(t: float) -> str:
    return f"{t:,.0f} ms" if abs(t - round(t)) < 0.05 else f"{t:,.1f} ms"


# Entity -> part input, cached by value: a node, a message in flight or a log mostly looks
# the same as on the frame before, and these are the costly part of a render.
_ENTRY = itemgetter("term", "command")


@lru_cache(maxsize=512)
def _node_base(nid: str, role: str, term: int, voted_for: str | None, commit: int, applied: int,
               kv: tuple[tuple[str, Any], ...], votes: int) -> StageNode:
    second = f"term {term}"
    if role == "candidate":
        second += f", {votes} vote{'s' if votes != 1 else ''}"
    # What the labels and the table do not show (the role, term, commit index and state are there).
    title = f"{nid} voted for {voted_for} in term {term}" if voted_for else f"{nid} has not voted in term {term}"
    return StageNode(nid, role, ROLE_SHAPE.get(role, "plain"), (second,), role == "leader", None, title)


@lru_cache(maxsize=512)
def _timer(start: float, deadline: float, kind: str) -> Timer:
    what = "election timeout" if kind == "election" else "next heartbeat"
    return Timer(start, deadline, kind, f"{what} at {_ms(deadline)}")


_NODE_FIELDS = itemgetter("role", "term", "voted_for", "commit_index", "last_applied")
_MSG_FIELDS = itemgetter(
    "type", "src", "dst", "term", "sent_at", "deliver_at", "fate", "last_log_index", "last_log_term", "vote_granted",
    "prev_log_index", "prev_log_term", "leader_commit", "success", "match_index",
)


def _node(e: Entity) -> StageNode:
    st = e.state
    role, term, voted_for, commit, applied = _NODE_FIELDS(st)
    node = _node_base(e.id, role, term, voted_for, commit, applied, tuple((st["state"] or {}).items()), len(st["votes"] or ()))
    t = st["timer"]
    if t and role != "crashed":
        return StageNode(node.id, role, node.shape, node.lines, node.crown, _timer(t["start"], t["deadline"], t["kind"]), node.title)
    return node


def _message(e: Entity) -> StageMessage:
    st = e.state
    entries = st["entries"]
    return _message_of(e.id, _MSG_FIELDS(st), len(entries) if entries else 0)


@lru_cache(maxsize=1024)
def _message_of(mid: str, fields: tuple, entries: int) -> StageMessage:
    (kind, src, dst, term, sent_at, deliver_at, fate, last_log_index, last_log_term, vote_granted,
     prev_log_index, prev_log_term, leader_commit, success, match_index) = fields
    if kind == "RequestVote":
        label, shape, cls = "Vote?", "diamond", "vote-req"
        detail = f"last log {last_log_index} (term {last_log_term})"
    elif kind == "RequestVoteReply":
        label, shape, cls = ("Vote \u2713", "circle", "vote-yes") if vote_granted else ("Vote \u2717", "circle", "vote-no")
        detail = "granted" if vote_granted else "refused"
        kind = "RequestVote reply"
    elif kind == "AppendEntries":
        prev = prev_log_index or 0
        if not entries:
            label, cls = "Beat", "heartbeat"
        elif entries == 1:
            label, cls = f"Append {prev + 1}", "append"
        else:
            label, cls = f"Append {prev + 1}\u2013{prev + entries}", "append"
        shape = "square"
        count = f"{entries} entr{'y' if entries == 1 else 'ies'}" if entries else "heartbeat"
        detail = f"{count} after {prev} (term {prev_log_term}), commit {leader_commit}"
    else:  # AppendEntriesReply
        label, shape, cls = (f"ACK {match_index}", "triangle", "ack") if success else ("NACK", "triangle", "nack")
        detail = f"success, match {match_index}" if success else "refused: logs differ"
        kind = "AppendEntries reply"
    drop = fate == "will_drop"
    title = f"{kind}, term {term}: {detail}" + ("; will be lost" if drop else "")
    return StageMessage(mid, src, dst, sent_at, deliver_at, label, shape, cls, drop, title)


def _log_row(e: Entity, first: int) -> Row:
    """A node's log from column `first` (the table shows no earlier ones): each entry's term,
    solid when committed, its command on hover; the key-value state after it."""
    st = e.state
    return _row_of(e.id, st["role"], st["commit_index"], st["last_applied"], first,
                   tuple(map(_ENTRY, st["log"][first - 1:])), tuple((st["state"] or {}).items()))


@lru_cache(maxsize=512)
def _row_of(nid: str, role: str, commit: int, applied: int, first: int,
            entries: tuple[tuple[int, str], ...], kv_items: tuple[tuple[str, Any], ...]) -> Row:
    n = len(TERM_COLOURS)
    cells = tuple(
        Cell(str(t), f"term-{t % n}", "solid" if i <= commit else "outline", f"{i}: {command} (term {t})")
        for i, (t, command) in enumerate(entries, start=first)
    )
    kv = _kv(dict(kv_items))
    return Row(nid, cells, role, commit, "", kv, first)


def _network(e: Entity | None) -> Network:
    if e is None:
        return Network()
    st = e.state
    cut = st.get("cut")
    return _network_of(tuple(map(tuple, st.get("groups") or ())), tuple(sorted((st.get("loss") or {}).items())),
                       tuple(cut) if cut is not None else None)


@lru_cache(maxsize=64)
def _network_of(groups: tuple[tuple[str, ...], ...], loss: tuple[tuple[str, float], ...], cut: tuple[str, ...] | None) -> Network:
    return Network(groups, MappingProxyType(dict(loss)), None, frozenset(cut) if cut is not None else None)


def _summary(frame: Frame, nodes: Sequence[Entity], messages: int, network: Network) -> str:
    """The stage in words (its accessible name): nodes grouped by role, with their terms."""
    by_role: dict[str, list[str]] = {}
    for e in nodes:
        by_role.setdefault(e.state["role"], []).append(f"{e.id} (term {e.state['term']})")
    plural = {"leader": "leaders", "candidate": "candidates", "follower": "followers", "crashed": "crashed"}
    parts = [
        f"{', '.join(who)} {role if len(who) == 1 else plural.get(role, role)}"
        for role in ("leader", "candidate", "follower", "crashed", *by_role) if (who := by_role.pop(role, None))
    ]
    text = f"{_ms(frame.time)}: {'; '.join(parts)}; {messages} message{'s' if messages != 1 else ''} in flight"
    groups = [g for g in network.groups if g]
    if len(groups) > 1:
        text += "; partition " + " | ".join(" ".join(g) for g in groups)
    return text


def render_stage(frame: Frame, dom_id: str) -> str:
    nodes: list[Entity] = []
    messages: list[StageMessage] = []
    series: list[Series] = []
    net: Entity | None = None
    for e in frame.entities:
        kind = e.kind
        if kind == "node":
            nodes.append(e)
        elif kind == "message":
            messages.append(_message(e))
        elif kind == "network":
            net = e
        elif kind == "series":
            pts = tuple((float(t), float(v)) for t, v in e.state.get("points") or ())
            series.append(Series(str(e.state.get("name", e.id)), pts))
    network = _network(net)
    now = frame.time
    topo, topo_h = render_topology(
        [_node(e) for e in nodes], messages, now, network, width=WIDTH, lines=LABEL_LINES
    )
    longest = max((len(e.state["log"]) for e in nodes), default=0)
    first = max(1, longest - capacity(WIDTH, note_w=NOTE_W) + 1)
    table, table_h = render_table(
        [_log_row(e, first) for e in nodes],
        y=topo_h + GAP,
        width=WIDTH,
        palette=PALETTE,
        header="log",
        note_w=NOTE_W,
        note_header="state",
    )
    height = topo_h + GAP + table_h
    parts = [topo, table]
    if series:
        start = min((s.points[0][0] for s in series if s.points), default=0.0)
        chart, chart_h = render_chart(
            series, y=height + GAP, width=WIDTH, height=CHART_H, t_range=time_window(start, now), now=now,
            colours=False,
        )
        parts.append(chart)
        height += GAP + chart_h
    return svg_root(
        dom_id, WIDTH, height, parts, cls="msg-stage raft-stage",
        label=_summary(frame, nodes, len(messages), network), font=None,
    )
