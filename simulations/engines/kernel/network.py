"""A network of nodes and links carrying messages, on a `Scheduler`'s clock.

- Every message is plain data (`Message`: src, dst, sent_at, deliver_at, type, payload),
  in flight from `send` until its delivery entry comes due, so a stage can draw it moving.
- Each link's one-way latency is drawn per message from the run's `random.Random`,
  uniformly within the link's bounds (the network's default bounds unless the link has
  its own); each link loses a message with its loss probability (the network's default
  unless set). Loss is decided when the message is sent, so the stage can show it fading.
- A partition splits the nodes into groups; a message between groups is lost when it
  arrives (it was on the wire when the cut happened, or was sent into the cut). Healing
  joins every group again.
- A crashed node receives nothing: a message that arrives while its receiver is down is
  lost. What a node keeps across a crash and restart is the engine's business; the
  network only knows up or down.
- One-shot faults on a directed link src -> dst: drop or delay "the next message",
  which is the one in flight on that link that arrives first, or when none is in flight
  the next one sent.

Draws from the rng happen in a fixed order (latency, then loss when the link is lossy),
so a seed gives the same run every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from simulations.engines.kernel.clock import Scheduler

#: The queue entry kind that delivers a message; its ref is the message id.
DELIVER = "deliver"

#: Why a message did not arrive (`Network.receive`'s outcome when not "delivered").
LOST = "lost"  # by the link's loss probability, or dropped by the learner
CUT = "cut"  # sender and receiver are in different partition groups
DOWN = "down"  # the receiver is crashed


def link_key(a: str, b: str) -> str:
    """The undirected link between a and b, as "a-b" with the names sorted."""
    return f"{a}-{b}" if a <= b else f"{b}-{a}"


@dataclass(slots=True)
class Link:
    """Per-link settings that differ from the network's defaults (None: the default)."""

    latency: tuple[float, float] | None = None
    loss: float | None = None


@dataclass(slots=True)
class Message:
    id: int
    src: str
    dst: str
    type: str
    payload: dict[str, Any]
    sent_at: float
    deliver_at: float
    seq: int  # the scheduler entry that delivers it
    lost: bool = False  # will not arrive: lost by the link or dropped by the learner
    lost_by: str = ""  # "loss" | "learner" when lost
    delayed_ms: float = 0.0  # extra delay the learner added


@dataclass(slots=True)
class Network:
    nodes: list[str]
    latency: tuple[float, float] = (10.0, 20.0)
    loss: float = 0.0
    links: dict[str, Link] = field(default_factory=dict)
    up: dict[str, bool] = field(default_factory=dict)
    group_of: dict[str, int] = field(default_factory=dict)
    in_flight: dict[int, Message] = field(default_factory=dict)
    #: One-shot faults armed for the next message sent on a directed link: (src, dst) ->
    #: [("drop", 0.0) | ("delay", ms), ...], used first-in first-out.
    armed: dict[tuple[str, str], list[tuple[str, float]]] = field(default_factory=dict)
    next_id: int = 0
    priority: int = 0  # queue priority of deliveries (timers at the same instant use their own)

    def __post_init__(self) -> None:
        lo, hi = self.latency
        if not 0 <= lo <= hi:
            raise ValueError(f"latency bounds must satisfy 0 <= low <= high, not {self.latency}")
        for node in self.nodes:
            self.up.setdefault(node, True)
            self.group_of.setdefault(node, 0)

    # -- links ------------------------------------------------------------

    def _check(self, *nodes: str) -> None:
        for node in nodes:
            if node not in self.up:
                raise ValueError(f"there is no node {node!r} in this network")

    def link(self, a: str, b: str) -> Link:
        return self.links.get(link_key(a, b)) or Link()

    def latency_of(self, a: str, b: str) -> tuple[float, float]:
        if not self.links:
            return self.latency
        own = self.link(a, b).latency
        return own if own is not None else self.latency

    def loss_of(self, a: str, b: str) -> float:
        if not self.links:
            return self.loss
        own = self.link(a, b).loss
        return own if own is not None else self.loss

    def set_loss(self, a: str, b: str, p: float) -> None:
        self._check(a, b)
        if a == b:
            raise ValueError("a link joins two different nodes")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"a loss probability is between 0 and 1, not {p}")
        self.links.setdefault(link_key(a, b), Link()).loss = p

    def set_latency(self, a: str, b: str, low: float, high: float) -> None:
        self._check(a, b)
        if not 0 <= low <= high:
            raise ValueError(f"latency bounds must satisfy 0 <= low <= high, not ({low}, {high})")
        self.links.setdefault(link_key(a, b), Link()).latency = (low, high)

    # -- partitions and crashes ---------------------------------------------

    def partition(self, groups: list[list[str]]) -> list[list[str]]:
        """Split the nodes into `groups`; nodes left out form one more group together.
        Returns the groups now in force."""
        full = self.plan_partition(groups)
        for number, group in enumerate(full):
            for node in group:
                self.group_of[node] = number
        return self.groups()

    def plan_partition(self, groups: list[list[str]]) -> list[list[str]]:
        """The groups `partition(groups)` would put in force, changing nothing (ValueError
        for an unknown node or one listed twice)."""
        seen: set[str] = set()
        for group in groups:
            for node in group:
                self._check(node)
                if node in seen:
                    raise ValueError(f"{node} appears in two groups; each node belongs to one")
                seen.add(node)
        rest = [n for n in self.nodes if n not in seen]
        return [list(g) for g in groups if g] + ([rest] if rest else [])

    def heal(self) -> None:
        for node in self.nodes:
            self.group_of[node] = 0

    def groups(self) -> list[list[str]]:
        by: dict[int, list[str]] = {}
        for node in self.nodes:
            by.setdefault(self.group_of[node], []).append(node)
        return [by[k] for k in sorted(by)]

    @property
    def partitioned(self) -> bool:
        first = self.group_of[self.nodes[0]]
        return any(self.group_of[n] != first for n in self.nodes)

    def cut(self, a: str, b: str) -> bool:
        return self.group_of[a] != self.group_of[b]

    def cut_links(self) -> list[str]:
        nodes = self.nodes
        return [
            link_key(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:] if self.group_of[a] != self.group_of[b]
        ]

    def crash(self, node: str) -> None:
        self._check(node)
        self.up[node] = False

    def restart(self, node: str) -> None:
        self._check(node)
        self.up[node] = True

    # -- messages -----------------------------------------------------------

    def send(self, sched: Scheduler, rng: random.Random, src: str, dst: str, type: str,
             payload: dict[str, Any]) -> Message:
        """Put a message on the link src -> dst; it comes due after the link's latency."""
        lo, hi = self.latency_of(src, dst)
        delay = lo + (hi - lo) * rng.random() if hi > lo else lo
        loss = self.loss_of(src, dst)
        lost = loss > 0.0 and rng.random() < loss
        lost_by = "loss" if lost else ""
        extra = 0.0
        armed = self.armed.get((src, dst)) if self.armed else None
        if armed:
            fault, ms = armed.pop(0)
            if not armed:
                del self.armed[(src, dst)]
            if fault == "drop":
                lost, lost_by = True, lost_by or "learner"
            else:
                extra = ms
        now = sched.now
        deliver_at = round(now + delay + extra, 3)
        self.next_id += 1
        seq = sched.schedule(deliver_at, DELIVER, self.next_id, self.priority)
        msg = Message(self.next_id, src, dst, type, payload, now, deliver_at, seq, lost, lost_by, extra)
        self.in_flight[msg.id] = msg
        return msg

    def outcome(self, msg: Message) -> str:
        """What would happen to `msg` if it arrived now: "delivered", LOST, DOWN or CUT."""
        if msg.lost:
            return LOST
        if not self.up[msg.dst]:
            return DOWN
        if self.group_of[msg.src] != self.group_of[msg.dst]:
            return CUT
        return "delivered"

    def receive(self, msg_id: int) -> tuple[Message, str]:
        """The message whose delivery came due, taken off the wire, and its outcome."""
        msg = self.in_flight.pop(msg_id)
        return msg, self.outcome(msg)

    def next_on(self, src: str, dst: str) -> Message | None:
        """The message in flight on src -> dst that will arrive first (not already lost)."""
        best = None
        for msg in self.in_flight.values():
            if msg.src == src and msg.dst == dst and not msg.lost:
                if best is None or (msg.deliver_at, msg.seq) < (best.deliver_at, best.seq):
                    best = msg
        return best

    def drop_next(self, src: str, dst: str) -> Message | None:
        """Lose the next message on src -> dst: the one in flight (returned), or, when none
        is, the next one sent (None: armed)."""
        self._check(src, dst)
        msg = self.next_on(src, dst)
        if msg is not None:
            msg.lost, msg.lost_by = True, "learner"
            return msg
        self.armed.setdefault((src, dst), []).append(("drop", 0.0))
        return None

    def delay_next(self, sched: Scheduler, src: str, dst: str, ms: float) -> Message | None:
        """Hold the next message on src -> dst for `ms` more: the one in flight (returned),
        or, when none is, the next one sent (None: armed)."""
        self._check(src, dst)
        if ms < 0:
            raise ValueError("a delay is not negative")
        msg = self.next_on(src, dst)
        if msg is not None:
            sched.cancel(msg.seq)
            msg.deliver_at = round(msg.deliver_at + ms, 3)
            msg.delayed_ms += ms
            msg.seq = sched.schedule(msg.deliver_at, DELIVER, msg.id, self.priority)
            return msg
        self.armed.setdefault((src, dst), []).append(("delay", float(ms)))
        return None
