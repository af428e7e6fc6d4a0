"""The contract every simulation engine keeps. Pure Python: no Django imports.

An engine is deterministic: the same params, seed and actions (each applied
before a given step) give the same frames, in any process. Time is virtual.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

Scalar = int | float | str | bool | None
Severity = Literal["info", "warn", "error", "success"]


class Params(BaseModel):
    """Base for an engine's parameters: every number bounded, every choice an enum/Literal."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Action(BaseModel):
    """Base for an engine's user actions and faults. Subclasses set `type: Literal[...]`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing on the stage (thread, node, packet, server...) and its state, as plain data."""

    id: str
    kind: str
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the event log."""

    kind: str
    text: str
    actor: str | None = None
    severity: Severity = "info"


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    time: float
    entities: tuple[Entity, ...]
    metrics: Mapping[str, Scalar]
    events: tuple[Event, ...]
    narration: str
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["entities"] = [
            {"id": e.id, "kind": e.kind, **dict(e.state)} for e in self.entities
        ]
        data["metrics"] = dict(self.metrics)
        return data


@dataclass(frozen=True, slots=True)
class Preset:
    """A named starting point shipped with the engine (instructors add more in the admin)."""

    slug: str
    name: str
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 1
    actions: tuple[tuple[int, Mapping[str, Any]], ...] = ()

    def run_data(self) -> dict[str, Any]:
        """The run as plain data, in the shape runs.parse_run and the API take."""
        return {
            "params": dict(self.params),
            "seed": self.seed,
            "actions": [{"step": step, "action": dict(action)} for step, action in self.actions],
        }


class Engine(ABC):
    """One simulation. Subclasses define Params, Action (a pydantic model or an
    Annotated discriminated union), and step(); apply() takes validated actions.

    Frame 0 is the initial state (`reset` returns it); each step() returns the
    next frame with index + 1. `apply(action)` changes what the next step does.
    """

    slug: ClassVar[str]
    topic_slug: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[Params]]
    Action: ClassVar[Any]
    presets: ClassVar[tuple[Preset, ...]] = ()
    #: A run never goes past this many steps (the consumer and API also bound it).
    max_steps: ClassVar[int] = 2000
    #: Whole-run analyses beyond the animation (e.g. "explore": every interleaving),
    #: name -> label. Computed by `analyse(name, params)` as plain data.
    analyses: ClassVar[Mapping[str, str]] = {}

    def __init__(self, params: Params, rng: random.Random) -> None:
        self.params = params
        self.rng = rng

    @classmethod
    def action_adapter(cls) -> TypeAdapter:
        """The Action type's adapter, built once per engine class (building one costs about
        0.4 ms, and permalinks, replays and every socket action parse or dump each action)."""
        adapter = cls.__dict__.get("_action_adapter")  # this class's own, never a parent's
        if adapter is None:
            adapter = TypeAdapter(cls.Action)
            cls._action_adapter = adapter
        return adapter

    @classmethod
    def parse_params(cls, data: Mapping[str, Any] | None) -> Params:
        """Partial params are fine: missing fields take their defaults."""
        return cls.Params.model_validate(dict(data or {}))

    @classmethod
    def parse_action(cls, data: Any) -> Any:
        return cls.action_adapter().validate_python(data)

    @classmethod
    def analyse(cls, name: str, params: Params) -> Mapping[str, Any]:
        raise KeyError(name)

    @classmethod
    def action_buttons(cls, params: Params) -> list[tuple[str, dict[str, Any]]] | None:
        """The action buttons a panel shows for a run with these params, as (label, action
        dict) pairs, when the sensible choices depend on the params (e.g. one "Run T1" per
        thread that exists). Each dict must validate with `parse_action`.

        The default, None, keeps the buttons derived from the Action schema: one button per
        value of a small bounded field (a variant's `x-label` names them), and a small form
        for a field that takes free input, which a (label, dict) pair cannot express.
        """
        return None

    @classmethod
    def action_unavailable(cls, frame: Frame, action: Mapping[str, Any]) -> str | None:
        """Why one of `action_buttons`' actions would be refused right after `frame`, in a
        word or two ("blocked", "done"), or None when it can be applied. The panel marks that
        button on that frame (it stays focusable; pressing it shows apply()'s explanation).
        Called per frame sent, so keep it cheap. Default: always available.
        """
        return None

    @abstractmethod
    def reset(self) -> Frame:
        """Frame 0: the starting state."""

    @abstractmethod
    def step(self) -> Frame:
        """Advance one visible step and return its frame."""

    @abstractmethod
    def apply(self, action: Any) -> Event | None:
        """Apply a validated action before the next step; returns its log line, if any."""

    @property
    @abstractmethod
    def done(self) -> bool:
        """True when nothing more can happen (the consumer stops playing)."""
