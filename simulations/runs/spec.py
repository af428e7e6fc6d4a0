"""A run spec: (engine slug, params, seed, scheduled actions), parsed from untrusted input.

An action scheduled at step k is applied when the run stands at frame k, before frame
k + 1 is computed; several actions at one step apply in their listed order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simulations.engines.base import Engine
from simulations.runs.errors import FieldError, Loc, RunError, pydantic_errors

#: Seeds are unsigned 32-bit integers: small in a URL, exact in JavaScript.
MAX_SEED = 2**32 - 1
#: At most this many scheduled actions in one run (API body, permalink, preset).
MAX_ACTIONS = 500


@dataclass(frozen=True)
class ScheduledAction:
    step: int
    action: Any  # a validated instance of the engine's Action

    def to_dict(self, engine_cls: type[Engine]) -> dict[str, Any]:
        return {"step": self.step, "action": dump_action(engine_cls, self.action)}


@dataclass(frozen=True)
class RunSpec:
    """A validated run: build it with `parse_run`, never by hand from user input."""

    slug: str
    params: Any  # an instance of engine_cls.Params
    seed: int
    actions: tuple[ScheduledAction, ...] = ()

    def to_dict(self, engine_cls: type[Engine]) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "params": self.params.model_dump(mode="json"),
            "seed": self.seed,
            "actions": [a.to_dict(engine_cls) for a in self.actions],
        }


def dump_action(engine_cls: type[Engine], action: Any) -> dict[str, Any]:
    return engine_cls.action_adapter().dump_python(action, mode="json")


def parse_whole(value: Any, loc: Loc, lower: int, upper: int) -> int:
    """An int in lower..upper. Strings of digits are fine (form fields arrive as strings),
    and so are integral floats (JSON clients); bools are not."""
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١٢"
        # (which it reads as 12). Bounded before int(): a million digits cost real time.
        if text.isascii() and text.isdigit() and len(text) <= len(str(upper)) + 1:
            value = int(text)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RunError([FieldError(loc, "must be a whole number")])
    if not lower <= value <= upper:
        raise RunError([FieldError(loc, f"must be from {lower} to {upper}")])
    return value


def parse_seed(value: Any, loc: Loc = ("seed",)) -> int:
    return parse_whole(value, loc, 0, MAX_SEED)


def parse_params(engine_cls: type[Engine], data: Any, loc: Loc = ("params",)) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RunError([FieldError(loc, "must be an object of parameter values")])
    try:
        return engine_cls.parse_params(data)
    except ValidationError as exc:
        raise RunError(pydantic_errors(exc, loc)) from None


def parse_action(engine_cls: type[Engine], data: Any, loc: Loc = ("action",)) -> Any:
    if not isinstance(data, Mapping):
        raise RunError([FieldError(loc, "must be an object describing the action")])
    try:
        return engine_cls.parse_action(dict(data))
    except ValidationError as exc:
        tag = data.get("type") if isinstance(data.get("type"), str) else None
        raise RunError(pydantic_errors(exc, loc, tag=tag)) from None


def parse_actions(engine_cls: type[Engine], data: Any, loc: Loc = ("actions",)) -> tuple[ScheduledAction, ...]:
    """[{step, action}, ...] or [[step, action], ...] -> ScheduledActions, stable-sorted by step."""
    if data is None:
        return ()
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise RunError([FieldError(loc, "must be a list of {step, action}")])
    if len(data) > MAX_ACTIONS:
        raise RunError([FieldError(loc, f"at most {MAX_ACTIONS} actions in one run")])
    errors: list[FieldError] = []
    out: list[ScheduledAction] = []
    for i, item in enumerate(data):
        if isinstance(item, Mapping):
            unknown = set(item) - {"step", "action"}
            if unknown:
                errors.append(FieldError(loc + (i, sorted(unknown)[0]), "Unknown field"))
                continue
            step, action = item.get("step"), item.get("action")
            step_loc, action_loc = loc + (i, "step"), loc + (i, "action")
        elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and len(item) == 2:
            step, action = item
            step_loc, action_loc = loc + (i, 0), loc + (i, 1)
        else:
            errors.append(FieldError(loc + (i,), "must be {step, action}"))
            continue
        try:
            parsed_step = parse_whole(step, step_loc, 0, engine_cls.max_steps - 1)
            out.append(ScheduledAction(parsed_step, parse_action(engine_cls, action, action_loc)))
        except RunError as exc:
            errors.extend(exc.errors)
    if errors:
        raise RunError(errors)
    out.sort(key=lambda a: a.step)  # stable: same-step actions keep their order
    return tuple(out)


def parse_run(
    engine_cls: type[Engine],
    params: Any = None,
    seed: Any = 1,
    actions: Any = None,
    loc: Loc = (),
) -> RunSpec:
    """Validate every part, collecting all field errors into one RunError."""
    errors: list[FieldError] = []
    parsed_params = parsed_seed = None
    parsed_actions: tuple[ScheduledAction, ...] = ()
    try:
        parsed_params = parse_params(engine_cls, params, loc + ("params",))
    except RunError as exc:
        errors.extend(exc.errors)
    try:
        parsed_seed = parse_seed(seed, loc + ("seed",))
    except RunError as exc:
        errors.extend(exc.errors)
    try:
        parsed_actions = parse_actions(engine_cls, actions, loc + ("actions",))
    except RunError as exc:
        errors.extend(exc.errors)
    if errors:
        raise RunError(errors)
    return RunSpec(engine_cls.slug, parsed_params, parsed_seed, parsed_actions)


def default_run(engine_cls: type[Engine], seed: int = 1) -> RunSpec:
    return RunSpec(engine_cls.slug, engine_cls.parse_params({}), seed, ())
