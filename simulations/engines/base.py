"""The contract every simulation engine keeps. Pure Python: no Django imports.

An engine is deterministic: the same params, seed and actions (each applied
before a given step) give the same frames, in any process. Time is virtual.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, get_type_hints, is_typeddict

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
        # id and kind go last: a state field can never stand in for them (and a declared
        # kind may not have such a field at all: see `kind_fields`).
        data["entities"] = [{**dict(e.state), "id": e.id, "kind": e.kind} for e in self.entities]
        data["metrics"] = dict(self.metrics)
        return data


#: Entity fields of their own; an entity kind's state may not use these names.
RESERVED_STATE_FIELDS = frozenset({"id", "kind"})


def kind_fields(state_type: type) -> dict[str, Any]:
    """The declared state fields of an entity kind (a TypedDict or a dataclass), name -> type.
    Raises TypeError for anything else, or for a field that would shadow the entity's own."""
    if is_typeddict(state_type):
        hints = get_type_hints(state_type)
    elif dataclasses.is_dataclass(state_type):
        hints = {f.name: f.type for f in dataclasses.fields(state_type)}
    else:
        raise TypeError(f"{state_type!r} is not a TypedDict or a dataclass")
    clash = RESERVED_STATE_FIELDS & set(hints)
    if clash:
        raise TypeError(f"{state_type.__name__} declares {', '.join(sorted(clash))}: the entity's own fields")
    return hints


def type_label(tp: Any) -> str:
    """A declared field's type as documentation reads it: "int | None", "tuple[str, ...]"."""
    if isinstance(tp, type) and not getattr(tp, "__args__", None):
        return tp.__name__
    return str(tp).replace("typing.", "").replace("NoneType", "None")


@dataclass(frozen=True, slots=True)
class Preset:
    """A named starting point shipped with the engine (instructors add more in the admin)."""

    slug: str
    name: str
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 1
    actions: tuple[tuple[int, Mapping[str, Any]], ...] = ()
    #: The topic's key feature or use case this preset demonstrates, word for word as the
    #: seed content names it: the topic page gives that item a "See it" link here.
    feature: str = ""
    use_case: str = ""

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

    Everything the rest of the app reads from an engine is declared here, with a default.
    Frame 0 is the initial state: the app calls `reset()` exactly once, right after
    construction, and the constructor does not build a frame itself. Each step() returns
    the next frame with index + 1. `apply(action)` changes what the next step does.
    """

    slug: ClassVar[str]
    topic_slug: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    #: One short sentence above the panel's Play button: what a first-time learner should try.
    lead: ClassVar[str] = "Press Play and watch what happens, one step at a time."
    Params: ClassVar[type[Params]]
    Action: ClassVar[Any]
    presets: ClassVar[tuple[Preset, ...]] = ()
    #: A run never goes past this many steps (the consumer and API also bound it).
    max_steps: ClassVar[int] = 2000
    #: Whole-run analyses beyond the animation (e.g. "explore": every interleaving),
    #: name -> label. Computed by `analyse(name, params)` as plain data.
    analyses: ClassVar[Mapping[str, str]] = {}
    #: Entity kind -> the TypedDict (or dataclass) declaring its state fields. Every entity
    #: of a frame has a declared kind and exactly its fields (the contract suite checks);
    #: renderers read those fields and `GET /api/simulations` documents them.
    entity_kinds: ClassVar[Mapping[str, type]] = {}
    #: Metric name -> what it measures. A frame's metrics are a subset of these, in order.
    metrics: ClassVar[Mapping[str, str]] = {}
    #: The unit of `Frame.time`, shown beside the step counter ("ms"); "" when time is just
    #: the step number.
    time_unit: ClassVar[str] = ""
    #: For a timed engine, the wall seconds one unit of `Frame.time` takes at 1x (Raft's
    #: 0.01: a second per 100 ms of virtual time): play then paces frames by the virtual
    #: time between them. None: one frame per fixed interval.
    wall_seconds_per_time_unit: ClassVar[float | None] = None
    #: True when `action_unavailable` judges the buttons frame by frame: the panel then
    #: sends the action buttons with every jump, and with a step when one changed.
    actions_vary_per_frame: ClassVar[bool] = False
    #: Label of a checkbox (in the panel's "More" section) that shows the stage's internals,
    #: its elements with class `sim-internal` (hidden at first contact); "" when none.
    internals_label: ClassVar[str] = ""
    #: Preset slug -> (label, slug of another preset): a preset that asks the learner to do
    #: something (e.g. schedule threads by hand) links its answer instead of playing it.
    preset_answers: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for state_type in cls.__dict__.get("entity_kinds", {}).values():
            kind_fields(state_type)  # refuses a kind that would shadow `id` or `kind`

    def __init__(self, params: Params, rng: random.Random) -> None:
        self.params = params
        self.rng = rng

    @classmethod
    def describe_entities(cls) -> dict[str, dict[str, str]]:
        """Each declared entity kind's state fields and their types, for the API's docs."""
        return {kind: {name: type_label(tp) for name, tp in kind_fields(state_type).items()}
                for kind, state_type in cls.entity_kinds.items()}

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
    def action_advances(cls, action: Any) -> bool:
        """True when pressing this action's button should also take the next step at once
        (one command, one frame): "Run T1" runs T1's next instruction. The run records only
        the action at this step, so a permalink replays the same frames."""
        return False

    @classmethod
    def analysis_inputs(cls, name: str, params: Params) -> Params:
        """The params with every field analysis `name` ignores set to its default, so that
        runs differing only there share one computed result. Default: all of them count."""
        return params

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
    def action_choices(cls, params: Params) -> Mapping[str, tuple[Any, ...]]:
        """For the schema-derived action controls: field name -> the values that make sense
        in a run with these params (e.g. only the servers that exist), narrowing that
        field's choices. Default: every value the schema allows."""
        return {}

    @classmethod
    def action_unavailable(cls, frame: Frame, action: Mapping[str, Any]) -> str | None:
        """Why one of `action_buttons`' actions would be refused right after `frame`, in a
        word or two ("blocked", "done"), or None when it can be applied. The panel marks that
        button on that frame (it stays focusable; pressing it shows apply()'s explanation).
        Called per frame sent, so keep it cheap. Default: always available.
        """
        return None

    #: What the learner can do when the engine waits for them (`awaiting_input`), as one
    #: sentence the panel shows.
    waiting_hint: ClassVar[str] = "Choose one of the actions below."

    @property
    def awaiting_input(self) -> bool:
        """True when the engine waits for the viewer before it can step (a manual
        scheduler with nothing picked): playing stops here. Default: never."""
        return False

    def snapshot(self) -> Engine:
        """An independent copy standing where this one stands, which goes on exactly as this
        one would: seeking back and branching start from a snapshot instead of replaying
        from frame 0. Keep engine state plain data so that the default deep copy is cheap."""
        return copy.deepcopy(self)

    @abstractmethod
    def reset(self) -> Frame:
        """Frame 0: the starting state. Called once, right after construction."""

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
