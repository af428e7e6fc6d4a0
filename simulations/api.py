"""Headless API for the simulations (mounted at /api/simulations).

The same run code as the page and the socket (simulations.runs): a run posted here
gives exactly the frames the panel shows for that run.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError, ValidationError

from simulations import presets, registry
from simulations.engines.base import Engine
from simulations.runs import (
    MAX_ACTIONS,
    MAX_SEED,
    FieldError,
    RunError,
    analysis,
    encode_run,
    parse_params,
    parse_run,
    parse_whole,
    replay,
)

router = Router(tags=["simulations"])

MAX_API_STEPS = 2000


class PresetOut(Schema):
    slug: str
    name: str
    description: str
    params: dict[str, Any]
    seed: int
    actions: list[dict[str, Any]]
    source: str = Field(description='"engine" (built in) or "instructor" (from the admin)')
    topic: str | None = None
    key_feature: str | None = None


class EngineOut(Schema):
    slug: str
    topic: str
    title: str
    description: str
    max_steps: int
    params_schema: dict[str, Any]
    actions_schema: dict[str, Any]
    presets: list[PresetOut]
    analyses: dict[str, str]
    time_unit: str = Field(description='The unit of each frame\'s "time" ("" when it is the step number).')
    entity_kinds: dict[str, dict[str, str]] = Field(
        description="Each kind of entity a frame holds: its state fields and their types."
    )
    metrics: dict[str, str] = Field(description="Each metric a frame may hold, and what it measures.")


class RunActionIn(Schema):
    step: Any = Field(description="Apply the action when the run stands at this frame (before the next step).")
    action: Any = Field(description="One of the engine's actions, e.g. {\"type\": \"...\", ...}.")


class RunIn(Schema):
    params: Any = Field(default_factory=dict, description="Partial params: missing fields take their defaults.")
    seed: Any = Field(1, description=f"0 to {MAX_SEED}.")
    steps: Any = Field(
        None,
        description=f"How many steps to run, 1 to {MAX_API_STEPS} or the engine's max_steps if lower "
        "(fewer frames if the run ends first). Default: 100, or max_steps if lower.",
    )
    actions: Any = Field(default_factory=list, description=f"At most {MAX_ACTIONS} of {{step, action}}.")


class RunOut(Schema):
    run: dict[str, Any]
    frames: list[dict[str, Any]]
    done: bool


class AnalysisIn(Schema):
    params: Any = Field(default_factory=dict)


class AnalysisOut(Schema):
    slug: str
    name: str
    label: str
    params: dict[str, Any]
    result: dict[str, Any]


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    field: str
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


def _engine(slug: str) -> type[Engine]:
    engine_cls = registry.get(slug) if len(slug) <= 64 else None
    if engine_cls is None:
        known = ", ".join(e.slug for e in registry.all_engines())
        raise HttpError(404, f"No simulation called {slug[:64]!r}. Known simulations: {known}.")
    return engine_cls


def _errors(exc: RunError, where: str = "body") -> ValidationError:
    return ValidationError(
        [{"loc": [where, *e.loc], "field": e.field, "msg": e.msg, "type": e.type} for e in exc.errors]
    )


@router.get("", response=list[EngineOut], summary="Every simulation: schemas, presets and analyses")
def list_engines(request: HttpRequest):
    by_engine = presets.all_presets()
    return [
        {
            "slug": e.slug,
            "topic": e.topic_slug,
            "title": e.title,
            "description": e.description,
            "max_steps": e.max_steps,
            "params_schema": e.Params.model_json_schema(),
            "actions_schema": e.action_adapter().json_schema(),
            "presets": [p.as_api() for p in by_engine[e.slug]],
            "analyses": {str(k): str(v) for k, v in dict(e.analyses).items()},
            "time_unit": e.time_unit,
            "entity_kinds": e.describe_entities(),
            "metrics": dict(e.metrics),
        }
        for e in registry.all_engines()
    ]


@router.post(
    "/{slug}/runs",
    response={200: RunOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="Run a simulation headless and get every frame as JSON",
)
def run_engine(request: HttpRequest, slug: str, payload: RunIn):
    engine_cls = _engine(slug)
    errors = []
    upper = min(MAX_API_STEPS, engine_cls.max_steps)
    steps = min(100, upper)
    if payload.steps is not None:
        try:
            if isinstance(payload.steps, (str, float)):  # steps is a JSON integer, nothing else
                raise RunError([FieldError(("steps",), "must be a whole number")])
            steps = parse_whole(payload.steps, ("steps",), 1, upper)
        except RunError as exc:
            errors.append(exc)
    try:
        spec = parse_run(engine_cls, payload.params, payload.seed, payload.actions)
    except RunError as exc:
        errors.append(exc)
    if errors:
        raise _errors(RunError([e for exc in errors for e in exc.errors]))
    frames = replay(engine_cls, spec, steps)
    last = frames[-1]
    return {
        "run": {**spec.to_dict(engine_cls), "steps": last.index, "permalink": encode_run(engine_cls, spec)},
        "frames": [f.to_dict() for f in frames],
        "done": bool(last.done or len(frames) < steps + 1),
    }


def _analyse(engine_cls: type[Engine], name: str, raw_params: Any, where: str):
    labels = {str(k): str(v) for k, v in dict(engine_cls.analyses).items()}
    if name not in labels:
        known = ", ".join(labels) or "none"
        raise HttpError(404, f"{engine_cls.title} has no analysis {name[:60]!r}. Analyses: {known}.")
    try:
        params = parse_params(engine_cls, raw_params)
    except RunError as exc:
        raise _errors(exc, where) from None
    result = analysis(engine_cls, name, params)
    return {
        "slug": engine_cls.slug,
        "name": name,
        "label": labels[name],
        "params": params.model_dump(mode="json"),
        "result": dict(result),
    }


@router.get(
    "/{slug}/analyses/{name}",
    response={200: AnalysisOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="A whole-run analysis; params as query parameters (partial)",
)
def analyse_get(request: HttpRequest, slug: str, name: str):
    engine_cls = _engine(slug)
    # Query values are strings; pydantic's lax mode turns "3" into 3 where the field is numeric.
    raw = {k: v for k, v in request.GET.items()}
    return _analyse(engine_cls, name, raw, "query")


@router.post(
    "/{slug}/analyses/{name}",
    response={200: AnalysisOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="A whole-run analysis; params in the body (partial)",
)
def analyse_post(request: HttpRequest, slug: str, name: str, payload: AnalysisIn):
    return _analyse(_engine(slug), name, payload.params, "body")
