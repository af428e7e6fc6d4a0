"""Single-decree Paxos, as in Lamport's "Paxos Made Simple" (2001), on the timed kernel.

Proposers p1..pK, acceptors a1..aN. Proposal numbers come from disjoint sets, one per
proposer (§2.2: "different proposers choose their numbers from disjoint sets"): proposer k
of K uses k, k + K, k + 2K, ...

* Phase 1 (a): a proposer picks a number n higher than any it used and sends prepare(n) to
  the acceptors. (b) An acceptor that gets prepare(n) with n greater than any prepare it has
  answered promises never to accept a proposal numbered below n, and replies with the
  highest-numbered proposal it has accepted, if any. Otherwise it ignores the request and,
  as the paper suggests, tells the proposer the number it has promised.
* Phase 2 (a): with promises from a majority, the proposer sends accept(n, v) to those
  acceptors, where v is the value of the highest-numbered proposal among the promises, or
  its own value when they report none. (b) An acceptor accepts (n, v) unless it has
  answered a prepare numbered above n.
* Learning: each acceptor tells the proposer when it accepts; a value is chosen once a
  majority of acceptors have accepted one proposal.

Acceptors keep their promise and accepted proposal on stable storage: a crash loses neither.
A proposer that hears nothing conclusive within `retry_ms` starts a new round with a higher
number (after a random backoff when `backoff` is on); without backoff two proposers can
preempt each other forever, which the paper notes (§2.4) and a distinguished proposer avoids.

Monitors, checked after every step: Safety ("only a single value is chosen", §2.1) and P2c
(§2.2: every accept request (n, v) was issued with v the value of the highest-numbered
proposal accepted by the acceptors of its prepare quorum, or any value if none had accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field, model_validator

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.faults import fault_actions, groups_words
from simulations.engines.kernel import Network, Scheduler, link_key
from simulations.engines.kernel.network import DOWN, LOST

ProposerId = Literal["p1", "p2", "p3"]
NodeId = Literal["p1", "p2", "p3", "a1", "a2", "a3", "a4", "a5", "a6", "a7"]


class PaxosParams(Params):
    acceptors: int = Field(3, ge=3, le=7, title="Acceptors", description="How many acceptors (a1 to aN).")
    proposers: int = Field(2, ge=1, le=3, title="Proposers", description="How many proposers (p1 to pK).")
    latency_min_ms: int = Field(10, ge=1, le=50, title="Least latency (ms)", description="Shortest one-way delay.")
    latency_max_ms: int = Field(20, ge=1, le=50, title="Most latency (ms)", description="Longest one-way delay.")
    loss: float = Field(0.0, ge=0.0, le=0.5, title="Message loss", description="Chance that any message is lost.")
    retry_ms: int = Field(
        150, ge=50, le=2000, title="Retry after (ms)",
        description="A proposer whose round has not succeeded after this long starts a new, higher-numbered round.",
    )
    backoff: bool = Field(
        True, title="Random backoff",
        description="Wait a random extra 0-100% of the retry time before a new round; off, duelling proposers can livelock.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PaxosParams:
        if self.latency_min_ms > self.latency_max_ms:
            raise ValueError("the least latency must not exceed the most latency")
        return self


class Propose(Action):
    """A client asks a proposer to get `value` chosen: it starts a new round (phase 1)."""

    type: Literal["propose"] = "propose"
    proposer: ProposerId = Field(title="Proposer")
    value: str = Field("x", pattern=r"^[a-z][a-z0-9]{0,5}$", title="Value")


Crash, Restart, DropNext, DelayNext, Partition, Heal = fault_actions(
    NodeId, __name__, noun="Node", max_nodes=10,
    crash_doc="Crash a node: an acceptor keeps its promise and accepted proposal, a proposer the highest "
              "number it used (stable storage); the rest is lost.",
    groups_example='[["p1", "a1", "a2"], ["p2", "a3"]]',
)


PaxosAction = Annotated[Union[Propose, Crash, Restart, DropNext, DelayNext, Partition, Heal], Field(discriminator="type")]


class ProposerState(TypedDict):
    crashed: bool
    value: str | None
    number: int
    phase: Literal["idle", "preparing", "accepting", "chosen"]
    proposing: str | None
    promises: list[str]
    accepted_by: list[str]
    timer: dict[str, float] | None


class AcceptorState(TypedDict):
    crashed: bool
    promised: int
    accepted_n: int | None
    accepted_v: str | None


class PaxosMessageState(TypedDict):
    type: Literal["prepare", "promise", "nack", "accept", "accepted"]
    src: str
    dst: str
    n: int
    value: str | None
    accepted_n: int | None
    sent_at: float
    deliver_at: float
    fate: Literal["in_flight", "will_drop"]


class PaxosNetworkState(TypedDict):
    groups: list[list[str]]
    cut: list[str]


@dataclass(slots=True)
class Proposer:
    id: str
    index: int
    crashed: bool = False
    value: str | None = None  # the client's value
    number: int = 0  # the highest number it has used (stable storage)
    phase: str = "idle"
    proposing: str | None = None  # phase 2's value
    promises: dict[str, tuple[int, str] | None] = field(default_factory=dict)
    accepted_by: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Acceptor:
    id: str
    crashed: bool = False
    promised: int = 0  # highest prepare answered (stable storage)
    accepted: tuple[int, str] | None = None  # (n, v) (stable storage)


class PaxosEngine(Engine):
    slug = "paxos"
    topic_slug = "consensus-algorithms"
    title = "Paxos: choosing one value"
    waiting_hint = "Nothing is proposed and nothing is in flight: ask a proposer to propose a value (Propose, below)."
    description = (
        "Single-decree Paxos from \"Paxos Made Simple\": proposers run prepare/promise and accept/accepted rounds "
        "with numbered proposals; a value is chosen once a majority of acceptors accept it, and every later "
        "proposal carries that value."
    )
    Params = PaxosParams
    Action = PaxosAction
    time_unit = "ms"
    wall_seconds_per_time_unit = 0.01  # at 1x, a second of wall time per 100 ms of virtual time
    max_steps = 600
    entity_kinds = {"proposer": ProposerState, "acceptor": AcceptorState, "message": PaxosMessageState,
                    "network": PaxosNetworkState}
    metrics = {
        "time_ms": "Virtual time in milliseconds.",
        "chosen": "The value a majority of acceptors has accepted in one proposal, or none.",
        "highest_number": "The highest proposal number any proposer has used.",
        "safety": "Only a single value is ever chosen (§2.1): ok or violated.",
        "p2c": "Each accept request carries the value P2c requires (§2.2): ok or violated.",
    }
    presets = ()

    # -- set-up -------------------------------------------------------------

    def reset(self) -> Frame:
        p: PaxosParams = self.params  # type: ignore[assignment]
        self.proposer_ids = [f"p{i}" for i in range(1, p.proposers + 1)]
        self.acceptor_ids = [f"a{i}" for i in range(1, p.acceptors + 1)]
        self.majority = p.acceptors // 2 + 1
        self.sched = Scheduler()
        self.net = Network(self.proposer_ids + self.acceptor_ids,
                           latency=(float(p.latency_min_ms), float(p.latency_max_ms)), loss=p.loss)
        self.proposers = {pid: Proposer(pid, i + 1) for i, pid in enumerate(self.proposer_ids)}
        self.acceptors = {aid: Acceptor(aid) for aid in self.acceptor_ids}
        self.index = 0
        self.chosen: dict[int, str] = {}  # proposal number -> value, once a majority accepted it
        self.violations: dict[str, str] = {}
        self._pending: list[str] = []
        return self._frame(
            f"{p.proposers} proposer{'s' if p.proposers > 1 else ''} and {p.acceptors} acceptors; nothing is "
            f"proposed yet. A value is chosen once {self.majority} acceptors accept the same proposal.", [])

    @property
    def done(self) -> bool:
        return not self._pending and self.sched.peek_time() is None and bool(self.chosen)

    @property
    def awaiting_input(self) -> bool:
        return not self._pending and self.sched.peek_time() is None and not self.chosen

    # -- stepping -------------------------------------------------------------

    def step(self) -> Frame:
        events: list[Event] = []
        if self._pending:
            text = " ".join(self._pending)
            self._pending = []
            return self._finish(text, events)
        occ = self.sched.pop()
        if occ is None:
            text = (f"The value {self._chosen_value()} is chosen and nothing is in flight." if self.chosen
                    else "Nothing is in flight: ask a proposer to propose a value.")
            return self._finish(text, events)
        if occ.kind == "timer":
            return self._finish(self._retry(self.proposers[occ.timer.owner], events), events)  # type: ignore[union-attr]
        msg, outcome = self.net.receive(occ.ref)  # type: ignore[arg-type]
        if outcome != "delivered":
            why = {LOST: "was lost", DOWN: f"arrived while {msg.dst} was down"}.get(outcome, "could not cross the partition")
            text = f"The {msg.type} from {msg.src} to {msg.dst} {why}."
            events.append(Event("lost", text, actor=msg.src, severity="warn"))
            return self._finish(text, events)
        handler = getattr(self, "_on_" + msg.type)
        return self._finish(handler(msg.dst, msg.src, msg.payload, events), events)

    def _finish(self, narration: str, events: list[Event]) -> Frame:
        self.index += 1
        return self._frame(narration, events)

    def _send(self, src: str, dst: str, type: str, payload: dict[str, Any]) -> None:
        self.net.send(self.sched, self.rng, src, dst, type, payload)

    # -- phase 1 --------------------------------------------------------------

    def _start_round(self, prop: Proposer, events: list[Event]) -> None:
        k = len(self.proposer_ids)
        rounds = (prop.number - prop.index) // k + 1 if prop.number else 0
        prop.number = prop.index + rounds * k
        prop.phase = "preparing"
        prop.proposing = None
        prop.promises = {}
        prop.accepted_by = []
        for aid in self.acceptor_ids:
            self._send(prop.id, aid, "prepare", {"n": prop.number})
        self.sched.set_timer("retry:" + prop.id, self._retry_delay(), owner=prop.id, kind="retry", priority=1)
        events.append(Event("prepare", f"{prop.id} sends prepare({prop.number}).", actor=prop.id))

    def _retry_delay(self) -> float:
        base = float(self.params.retry_ms)
        return round(base * (1 + self.rng.random()), 1) if self.params.backoff else base

    def _retry(self, prop: Proposer, events: list[Event]) -> str:
        old = prop.number
        self._start_round(prop, events)
        return (f"{prop.id}'s round {old} has not succeeded within its retry time, so it starts round "
                f"{prop.number}: prepare({prop.number}) to every acceptor.")

    def _on_prepare(self, aid: str, pid: str, m: dict[str, Any], events: list[Event]) -> str:
        acc = self.acceptors[aid]
        n = m["n"]
        if n > acc.promised:
            acc.promised = n
            prior = acc.accepted
            self._send(aid, pid, "promise", {"n": n, "accepted_n": prior[0] if prior else None,
                                              "value": prior[1] if prior else None})
            events.append(Event("promise", f"{aid} promises {n} to {pid}.", actor=aid))
            if prior:
                return (f"{aid} promises {pid} never to accept a proposal numbered below {n}, and reports that it "
                        f"already accepted ({prior[0]}, {prior[1]}).")
            return f"{aid} promises {pid} never to accept a proposal numbered below {n}; it has accepted nothing yet."
        self._send(aid, pid, "nack", {"n": n, "accepted_n": acc.promised, "value": None})
        return f"{aid} ignores prepare({n}) from {pid}: it already promised {acc.promised}, and says so."

    def _on_promise(self, pid: str, aid: str, m: dict[str, Any], events: list[Event]) -> str:
        prop = self.proposers[pid]
        if prop.crashed or prop.phase != "preparing" or m["n"] != prop.number:
            return f"{pid} no longer waits for promises to {m['n']}, so {aid}'s promise changes nothing."
        prop.promises[aid] = (m["accepted_n"], m["value"]) if m["accepted_n"] is not None else None
        if len(prop.promises) < self.majority:
            return f"{pid} has {len(prop.promises)} of the {self.majority} promises it needs for {prop.number}."
        # Phase 2 (a): the value of the highest-numbered proposal among the promises, else its own.
        reported = [x for x in prop.promises.values() if x is not None]
        if reported:
            best = max(reported)
            value, why = best[1], f"the highest-numbered proposal its quorum reported is ({best[0]}, {best[1]})"
        else:
            value, why = prop.value, "no acceptor in its quorum has accepted anything, so it may use its own value"
        self._check_p2c(prop, value)
        prop.proposing = value
        prop.phase = "accepting"
        quorum = sorted(prop.promises)
        for acceptor in quorum:
            self._send(pid, acceptor, "accept", {"n": prop.number, "value": value, "accepted_n": None})
        events.append(Event("accept", f"{pid} sends accept({prop.number}, {value}).", actor=pid))
        return (f"{pid} has promises from a majority ({', '.join(quorum)}), so it sends accept({prop.number}, "
                f"{value}) to them: {why}.")

    def _on_nack(self, pid: str, aid: str, m: dict[str, Any], events: list[Event]) -> str:
        return (f"{aid} told {pid} it has promised {m['accepted_n']}, above {m['n']}; {pid} will retry with a "
                "higher number when its retry timer fires.")

    # -- phase 2 --------------------------------------------------------------

    def _on_accept(self, aid: str, pid: str, m: dict[str, Any], events: list[Event]) -> str:
        acc = self.acceptors[aid]
        n, value = m["n"], m["value"]
        if n < acc.promised:
            self._send(aid, pid, "nack", {"n": n, "accepted_n": acc.promised, "value": None})
            return f"{aid} refuses accept({n}, {value}) from {pid}: it has promised {acc.promised} since."
        acc.promised = n
        acc.accepted = (n, value)
        self._send(aid, pid, "accepted", {"n": n, "value": value, "accepted_n": None})
        events.append(Event("accepted", f"{aid} accepts ({n}, {value}).", actor=aid))
        text = f"{aid} accepts proposal ({n}, {value})."
        holders = [a for a in self.acceptor_ids if self.acceptors[a].accepted == (n, value)]
        if len(holders) >= self.majority and n not in self.chosen:
            self.chosen[n] = value
            others = {v for v in self.chosen.values()}
            if len(others) > 1:
                self.violations.setdefault("safety", f"two values were chosen: {sorted(others)}")
            events.append(Event("chosen", f"{value} is chosen.", severity="success"))
            text += f" That is a majority ({', '.join(holders)}) accepting ({n}, {value}): {value} is chosen."
        return text

    def _on_accepted(self, pid: str, aid: str, m: dict[str, Any], events: list[Event]) -> str:
        prop = self.proposers[pid]
        if prop.crashed or prop.phase != "accepting" or m["n"] != prop.number:
            return f"{aid} accepted ({m['n']}, {m['value']}); {pid} is no longer waiting on that round."
        if aid not in prop.accepted_by:
            prop.accepted_by.append(aid)
        if len(prop.accepted_by) >= self.majority:
            prop.phase = "chosen"
            self.sched.cancel_timer("retry:" + pid)
            return f"{pid} hears from a majority that they accepted ({m['n']}, {m['value']}): it learns {m['value']} is chosen."
        return f"{pid} has {len(prop.accepted_by)} of {self.majority} acceptances for ({m['n']}, {m['value']})."

    # -- monitors -----------------------------------------------------------

    def _check_p2c(self, prop: Proposer, value: str | None) -> None:
        reported = [x for x in prop.promises.values() if x is not None]
        if reported and value != max(reported)[1]:
            self.violations.setdefault(
                "p2c", f"{prop.id} proposed {value} though its quorum had accepted {max(reported)}")

    def _chosen_value(self) -> str:
        return next(iter(self.chosen.values())) if self.chosen else "none"

    # -- actions ----------------------------------------------------------------

    def _node_exists(self, node: str) -> None:
        if node not in self.proposers and node not in self.acceptors:
            raise ValueError(f"There is no {node} in this run.")

    def apply(self, action: Any) -> Event | None:
        events: list[Event] = []
        if isinstance(action, Propose):
            self._node_exists(action.proposer)
            prop = self.proposers[action.proposer]
            if prop.crashed:
                raise ValueError(f"{prop.id} is down; restart it first.")
            prop.value = action.value
            self._start_round(prop, events)
            self._pending.append(f"A client asks {prop.id} to propose {action.value}: it starts round {prop.number} "
                                 f"and sends prepare({prop.number}) to every acceptor.")
            return Event("propose", f"You asked {prop.id} to propose {action.value}.", actor=prop.id)
        if isinstance(action, (Crash, Restart)):
            self._node_exists(action.node)
            node = self.proposers.get(action.node) or self.acceptors[action.node]
            down = isinstance(action, Crash)
            if node.crashed == down:
                raise ValueError(f"{node.id} is already {'down' if down else 'running'}.")
            node.crashed = down
            if down:
                self.net.crash(node.id)
                self.sched.cancel_timers_of(node.id)
                if isinstance(node, Proposer):
                    node.phase, node.promises, node.accepted_by, node.proposing = "idle", {}, [], None
                keeps = "its promise and accepted proposal" if isinstance(node, Acceptor) else "the highest number it used"
                self._pending.append(f"{node.id} crashes; {keeps} are on stable storage and survive.")
            else:
                self.net.restart(node.id)
                self._pending.append(f"{node.id} restarts.")
            return Event(action.type, f"You {'crashed' if down else 'restarted'} {node.id}.", actor=node.id)
        if isinstance(action, (DropNext, DelayNext)):
            self._node_exists(action.src)
            self._node_exists(action.dst)
            if action.src == action.dst:
                raise ValueError("A link joins two different nodes.")
            if isinstance(action, DropNext):
                self.net.drop_next(action.src, action.dst)
                self._pending.append(f"The next message from {action.src} to {action.dst} will be lost.")
            else:
                self.net.delay_next(self.sched, action.src, action.dst, float(action.ms))
                self._pending.append(f"The next message from {action.src} to {action.dst} is held {action.ms} ms longer.")
            return Event(action.type, f"You {'dropped' if action.type == 'drop' else 'delayed'} the next message "
                                      f"{action.src} -> {action.dst}.")
        if isinstance(action, Partition):
            for group in action.groups:
                for node in group:
                    self._node_exists(node)
            if len(self.net.plan_partition([list(g) for g in action.groups])) < 2:
                raise ValueError("A partition needs at least two groups.")
            groups = self.net.partition([list(g) for g in action.groups])
            words = groups_words(groups)
            self._pending.append(f"The network splits into {words}.")
            return Event("partition", f"Partition: {words}.", severity="error")
        if isinstance(action, Heal):
            if not self.net.partitioned:
                raise ValueError("The network is not partitioned.")
            self.net.heal()
            self._pending.append("The partition heals.")
            return Event("heal", "The partition healed.", severity="success")
        raise ValueError(f"Unknown action {action!r}")

    # -- frames ---------------------------------------------------------------------

    def _frame(self, narration: str, events: list[Event]) -> Frame:
        entities: list[Entity] = []
        for pid in self.proposer_ids:
            prop = self.proposers[pid]
            timer = self.sched.timer("retry:" + pid)
            entities.append(Entity(pid, "proposer", {
                "crashed": prop.crashed, "value": prop.value, "number": prop.number, "phase": prop.phase,
                "proposing": prop.proposing, "promises": sorted(prop.promises), "accepted_by": list(prop.accepted_by),
                "timer": {"start": timer.start, "deadline": timer.deadline} if timer else None,
            }))
        for aid in self.acceptor_ids:
            acc = self.acceptors[aid]
            entities.append(Entity(aid, "acceptor", {
                "crashed": acc.crashed, "promised": acc.promised,
                "accepted_n": acc.accepted[0] if acc.accepted else None,
                "accepted_v": acc.accepted[1] if acc.accepted else None,
            }))
        for msg in self.net.in_flight.values():
            m = msg.payload
            entities.append(Entity(f"m{msg.id}", "message", {
                "type": msg.type, "src": msg.src, "dst": msg.dst, "n": m["n"], "value": m.get("value"),
                "accepted_n": m.get("accepted_n"), "sent_at": msg.sent_at, "deliver_at": msg.deliver_at,
                "fate": "in_flight" if self.net.outcome(msg) == "delivered" else "will_drop",
            }))
        entities.append(Entity("network", "network", {"groups": self.net.groups(), "cut": self.net.cut_links()}))
        return Frame(
            index=self.index,
            time=self.sched.now,
            entities=tuple(entities),
            metrics={
                "time_ms": self.sched.now,
                "chosen": self._chosen_value(),
                "highest_number": max((p.number for p in self.proposers.values()), default=0),
                "safety": "violated" if "safety" in self.violations else "ok",
                "p2c": "violated" if "p2c" in self.violations else "ok",
            },
            events=tuple(events),
            narration=narration,
        )


#: Scripted runs: (step, action).
PaxosEngine.presets = (
    Preset(
        "paxos-basic", "One proposer, one value",
        "p1 is asked to propose x: prepare(1) to the three acceptors, a promise from each, accept(1, x) to the "
        "quorum, and x is chosen as soon as two acceptors have accepted (1, x).",
        {"proposers": 1}, 1, ((0, {"type": "propose", "proposer": "p1", "value": "x"}),),
    ),
    Preset(
        "paxos-later-proposer-adopts", "A later proposer must adopt the accepted value",
        "p1 proposes x; its quorum is a1 and a3, and its accept request to a3 is lost, so (1, x) is accepted by a1 "
        "alone and not chosen. Then p2 proposes y with prepare(2); a1 is in its quorum and reports (1, x), so by "
        "P2c p2 must propose x, not y: accept(2, x), and x is chosen.",
        {"proposers": 2}, 1,
        (
            (0, {"type": "propose", "proposer": "p1", "value": "x"}),
            (6, {"type": "drop", "src": "p1", "dst": "a3"}),  # p1's quorum is a1, a3: its accept reaches a1 only
            (11, {"type": "propose", "proposer": "p2", "value": "y"}),
            (11, {"type": "drop", "src": "p2", "dst": "a2"}),  # so p2's prepare quorum is a1, a3
        ),
    ),
    Preset(
        "paxos-duel", "Duelling proposers",
        "p1 and p2 propose x and y at the same moment. p2's prepare(2) reaches a2 and a3 before p1's prepare(1), so "
        "they refuse p1 and y is chosen with proposal 2. When p1's retry timer fires it starts round 3, learns "
        "(2, y) from its quorum and, as P2c requires, proposes y itself: one value, whoever finishes.",
        {"proposers": 2, "backoff": True}, 3,
        ((0, {"type": "propose", "proposer": "p1", "value": "x"}), (0, {"type": "propose", "proposer": "p2", "value": "y"})),
    ),
)
