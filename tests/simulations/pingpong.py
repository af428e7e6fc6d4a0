"""A tiny but real timed engine for the core's tests: two nodes bounce a ball.

Virtual clock, discrete events in a heap (like SimPy, without it): the ball
arrives after `latency_ms` (plus jitter from the seeded rng); a sender that sees
no reply within `timeout_ms` retransmits. The "drop" action loses the ball in
flight, so the timeout fires. Lives in tests/ on purpose: not an app engine. Tests serve it through
`registry.installed(PingPong)` (tests/simulations/conftest.py), never at import.
"""

from __future__ import annotations

import heapq
from typing import Annotated, Literal, TypedDict

from pydantic import Field

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset


class PingPongParams(Params):
    latency_ms: int = Field(100, ge=10, le=1000, title="Latency (ms)", description="One-way delay.")
    timeout_ms: int = Field(300, ge=50, le=5000, title="Timeout (ms)")
    rounds: int = Field(4, ge=1, le=50, title="Rounds", description="Round trips before the game ends.")
    jitter: float = Field(0.2, ge=0.0, le=1.0, title="Jitter", description="Random share of the latency.")
    mode: Literal["ping", "echo"] = Field("ping", title="Mode")


class Drop(Action):
    """Lose the ball in flight."""

    type: Literal["drop"] = "drop"


class Delay(Action):
    """Hold the ball in flight a little longer."""

    type: Literal["delay"] = "delay"
    ms: int = Field(100, ge=0, le=500, title="Extra delay (ms)")


class Pause(Action):
    type: Literal["pause"] = "pause"
    node: Literal["A", "B"] = Field(title="Node")


PingPongAction = Annotated[Drop | Delay | Pause, Field(discriminator="type")]


class NodeState(TypedDict):
    paused: bool
    x: int


class BallState(TypedDict):
    src: str
    dst: str
    lost: bool


class PingPong(Engine):
    slug = "ping-pong"
    topic_slug = "test-only-no-such-topic"  # shows on no page; tests attach it via a preset
    title = "Ping pong"
    description = "Two nodes bounce a ball; a lost ball is resent after a timeout."
    Params = PingPongParams
    Action = PingPongAction
    max_steps = 60
    analyses = {"summary": "Summary", "boom": "Always fails"}
    entity_kinds = {"node": NodeState, "packet": BallState}
    metrics = {
        "rounds": "Round trips completed",
        "sent": "Balls sent, first serves and resends",
        "lost": "Balls lost in flight",
        "clock_ms": "Virtual time in milliseconds",
    }
    presets = (
        Preset(slug="lossy", name="Lossy link", description="The first ball is dropped.",
               params={"latency_ms": 200}, seed=7, actions=((1, {"type": "drop"}),)),
    )

    def reset(self) -> Frame:
        self.now = 0.0
        self.index = 0
        self.seq = 0
        self.queue: list[tuple[float, int, str, dict]] = []
        self.completed = 0
        self.sent = 0
        self.lost = 0
        self.flight: dict | None = None
        self.paused: set[str] = set()
        self._send("A", "B")
        return self._frame((Event("send", "A serves the ball to B.", actor="A"),),
                           "A serves: the ball is on its way to B.")

    def _latency(self) -> float:
        p = self.params
        return p.latency_ms * (1 + p.jitter * self.rng.random())

    def _push(self, at: float, kind: str, data: dict) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, data))

    def _send(self, src: str, dst: str) -> None:
        self.sent += 1
        self.flight = {"src": src, "dst": dst, "sent": self.now, "id": self.sent, "lost": False}
        self._push(self.now + self._latency(), "arrive", {"id": self.sent})
        self._push(self.now + self.params.timeout_ms, "timeout", {"id": self.sent, "src": src, "dst": dst})

    def step(self) -> Frame:
        while True:
            at, _, kind, data = heapq.heappop(self.queue)
            current = self.flight is not None and self.flight["id"] == data["id"]
            if current:
                break
        self.now = at
        self.index += 1
        flight = self.flight
        if kind == "arrive" and not flight["lost"] and flight["dst"] not in self.paused:
            self.completed += flight["dst"] == "A"
            src, dst = flight["dst"], flight["src"]
            if self.done_now():
                self.flight = None
                return self._frame((Event("arrive", f"{src} catches the ball.", actor=src, severity="success"),),
                                   f"{src} caught the last ball at {self.now:.0f} ms: the game is over.")
            self._send(src, dst)
            return self._frame((Event("arrive", f"{src} returns the ball to {dst}.", actor=src),),
                               f"The ball reached {src} after {self.now - flight['sent']:.0f} ms, so {src} hits it back.")
        if kind == "arrive":
            # Lost or the receiver is paused: nothing arrives; wait for the timeout.
            return self._frame((Event("silence", "Nothing arrives.", severity="warn"),),
                               f"The ball never reached {flight['dst']}; {flight['src']} is still waiting.")
        src, dst = data["src"], data["dst"]
        self._send(src, dst)
        return self._frame((Event("timeout", f"{src} times out and serves again.", actor=src, severity="warn"),),
                           f"{src} heard nothing for {self.params.timeout_ms} ms, so it sends a new ball.")

    def done_now(self) -> bool:
        return self.completed >= self.params.rounds

    @property
    def done(self) -> bool:
        return self.done_now()

    def apply(self, action) -> Event | None:
        if isinstance(action, Drop):
            if self.flight is None or self.flight["lost"]:
                raise ValueError("there is no ball in flight to drop")
            self.flight["lost"] = True
            self.lost += 1
            return Event("drop", "You dropped the ball in flight.", severity="error")
        if isinstance(action, Delay):
            if self.flight is None:
                raise ValueError("there is no ball in flight")
            # Re-key the arrival later: push a new arrival, orphan the old one.
            old = self.flight["id"]
            self.queue = [e for e in self.queue if not (e[2] == "arrive" and e[3]["id"] == old)]
            heapq.heapify(self.queue)
            self._push(self.now + self._latency() + action.ms, "arrive", {"id": old})
            return Event("delay", f"You held the ball for {action.ms} ms more.")
        if isinstance(action, Pause):
            self.paused ^= {action.node}
            state = "paused" if action.node in self.paused else "resumed"
            return Event("pause", f"Node {action.node} {state}.")
        raise ValueError("unknown action")

    def _frame(self, events, narration) -> Frame:
        entities = [
            Entity("A", "node", {"paused": "A" in self.paused, "x": 40}),
            Entity("B", "node", {"paused": "B" in self.paused, "x": 260}),
        ]
        if self.flight is not None:
            entities.append(Entity("ball", "packet", {"src": self.flight["src"], "dst": self.flight["dst"],
                                                      "lost": self.flight["lost"]}))
        return Frame(
            index=self.index,
            time=round(self.now / 1000, 6),
            entities=tuple(entities),
            metrics={"rounds": self.completed, "sent": self.sent, "lost": self.lost,
                     "clock_ms": round(self.now, 3)},
            events=tuple(events),
            narration=narration,
            done=self.done_now(),
        )

    @classmethod
    def analyse(cls, name, params):
        if name == "summary":
            return {"rounds": params.rounds, "best_case_ms": 2 * params.latency_ms * params.rounds}
        if name == "boom":
            raise RuntimeError("analysis crashed on purpose")
        raise KeyError(name)
