"""The Paxos stage: proposers and acceptors (topology with moving messages), each labelled
with what the protocol keeps: a proposer's phase and proposal number, an acceptor's
promise and the proposal it accepted. Built on the same parts as Raft's stage."""

from __future__ import annotations

from functools import lru_cache

from simulations.engines.base import Entity, Frame
from simulations.render.svg import svg_root
from simulations.render.topology import Network, StageMessage, StageNode, Timer, render_topology

WIDTH = 432
LABEL_LINES = 2

_PHASE_SHAPE = {"idle": "plain", "preparing": "dashed", "accepting": "dashed", "chosen": "double"}
_MESSAGE = {
    # type: (label, shape, class)
    "prepare": ("Prepare", "diamond", "vote-req"),
    "promise": ("Promise", "circle", "vote-yes"),
    "nack": ("NACK", "circle", "vote-no"),
    "accept": ("Accept", "square", "append"),
    "accepted": ("Accepted", "triangle", "ack"),
}


@lru_cache(maxsize=512)
def _proposer(pid: str, crashed: bool, phase: str, number: int, proposing: str | None, value: str | None,
              promises: int, accepted: int, timer: tuple[float, float] | None) -> StageNode:
    if crashed:
        return StageNode(pid, "crashed", "crashed", (f"n = {number}",), title=f"{pid} is down; it keeps n = {number}")
    if phase == "preparing":
        line = f"prepare {number}: {promises} promise{'s' if promises != 1 else ''}"
    elif phase == "accepting":
        line = f"accept ({number}, {proposing}): {accepted}"
    elif phase == "chosen":
        line = f"{proposing} chosen"
    else:
        line = f"proposer, wants {value}" if value else "proposer"
    ring = Timer(timer[0], timer[1], "retry", "retry") if timer else None
    title = f"{pid}: asked to propose {value}" if value else f"{pid}: no value to propose"
    return StageNode(pid, phase, _PHASE_SHAPE.get(phase, "plain"), (line,), phase == "chosen", ring, title)


@lru_cache(maxsize=512)
def _acceptor(aid: str, crashed: bool, promised: int, accepted_n: int | None, accepted_v: str | None) -> StageNode:
    # Its promise and what it accepted, the two things it keeps on stable storage.
    promise = f"promised {promised}" if promised else "no promise"
    kept = promise + (f", took ({accepted_n},{accepted_v})" if accepted_n is not None else "")
    if crashed:
        return StageNode(aid, "crashed", "crashed", (kept,), title=f"{aid} is down; it keeps its promise and what it accepted")
    title = f"{aid} promised to ignore proposals numbered below {promised}" if promised else f"{aid} has promised nothing"
    return StageNode(aid, "acceptor", "plain", (kept,), title=title)


def _node(e: Entity) -> StageNode:
    st = e.state
    if e.kind == "proposer":
        t = st["timer"]
        return _proposer(e.id, st["crashed"], st["phase"], st["number"], st["proposing"], st["value"],
                         len(st["promises"]), len(st["accepted_by"]), (t["start"], t["deadline"]) if t else None)
    return _acceptor(e.id, st["crashed"], st["promised"], st["accepted_n"], st["accepted_v"])


@lru_cache(maxsize=1024)
def _message(mid: str, kind: str, src: str, dst: str, n: int, value: str | None, accepted_n: int | None,
             sent_at: float, deliver_at: float, fate: str) -> StageMessage:
    label, shape, cls = _MESSAGE.get(kind, (kind, "square", ""))
    text = f"{label} {n}" if kind != "accept" else f"Accept {n},{value}"
    if kind == "promise" and accepted_n is not None:
        detail = f"promise {n}, having accepted ({accepted_n}, {value})"
    else:
        detail = f"{kind} {n}" + (f" with value {value}" if value else "")
    drop = fate == "will_drop"
    return StageMessage(mid, src, dst, sent_at, deliver_at, text, shape, cls, drop, detail + ("; will be lost" if drop else ""))


def render_stage(frame: Frame, dom_id: str) -> str:
    nodes: list[StageNode] = []
    messages: list[StageMessage] = []
    network = Network()
    for e in frame.entities:
        if e.kind in ("proposer", "acceptor"):
            nodes.append(_node(e))
        elif e.kind == "message":
            st = e.state
            messages.append(_message(e.id, st["type"], st["src"], st["dst"], st["n"], st["value"], st["accepted_n"],
                                     st["sent_at"], st["deliver_at"], st["fate"]))
        elif e.kind == "network":
            groups = tuple(tuple(g) for g in e.state["groups"])
            network = Network(groups, cut=frozenset(e.state["cut"]))
    topo, height = render_topology(nodes, messages, frame.time, network, width=WIDTH, lines=LABEL_LINES)
    chosen = frame.metrics.get("chosen")
    label = f"{frame.time:,.0f} ms: {len(messages)} messages in flight; " + (
        f"{chosen} is chosen" if chosen not in (None, "none") else "no value chosen yet")
    return svg_root(dom_id, WIDTH, height, [topo], cls="msg-stage paxos-stage", label=label)
