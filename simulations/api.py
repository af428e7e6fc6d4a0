"""Headless API for the simulations (mounted at /api/simulations).

The same run code as the page and the socket (simulations.runs): a run posted here
gives exactly the frames the panel shows for that run.

What one client may cost: every operation is throttled per client address (django-ninja's
throttling: a burst and a sustained rate; past either, 429 with Retry-After). Runs and
analyses are async views that compute in a small pool of worker processes
(`simulations.jobs`), so neither Django's one thread for sync views (every page) nor the
event loop (every viewer's frames) waits behind them; past API_WAITING jobs waiting in
this process, 429 too. A run is at most MAX_API_STEPS steps.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.throttling import SimpleRateThrottle

from simulations import jobs, presets, registry
from simulations.process import worker_pool
from simulations.engines.base import Engine
from simulations.runs import (
    MAX_ACTIONS,
    MAX_SEED,
    FieldError,
    RunError,
    RunSpec,
    compute_in,
    parse_params,
    parse_run,
    parse_whole,
)

MAX_API_STEPS = 2000

# --------------------------------------------------------------------------- what a client may cost

#: Requests per client address to these operations: at most BURST_RATE in any short
#: window, SUSTAINED_RATE over a long one (django-ninja's rate strings).
BURST_RATE = "10/10s"
SUSTAINED_RATE = "120/10m"
#: Worker processes computing the API's runs and analyses, and the most jobs that may
#: wait for them (or compute) in one server process before the API answers 429.
API_PROCESSES = 1
API_WAITING = 16
BUSY_RETRY_AFTER = 2


def throttling() -> bool:
    """On, except in the in-process test suite, whose test client makes every request
    from 127.0.0.1 (tests/hostile/test_api_burst.py proves it on the real server)."""
    return bool(getattr(settings, "SIMULATIONS_API_THROTTLE", not getattr(settings, "TESTING", False)))


class ClientThrottle(SimpleRateThrottle):
    """`rate` requests per client address: the address Daphne saw (behind a proxy, started
    with --proxy-headers: see the README), never a header the client chose."""

    def __init__(self, scope: str, rate: str) -> None:
        self.scope = scope
        super().__init__(rate)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        if not throttling():
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.META.get("REMOTE_ADDR") or "unknown"}


def throttles() -> list[ClientThrottle]:
    # One set per operation: a throttle keeps the request it judged on itself, and the sync
    # listing runs on another thread than the async operations. Same scopes, same counts.
    return [ClientThrottle("simulations-burst", BURST_RATE), ClientThrottle("simulations", SUSTAINED_RATE)]


class Workers:
    """The pool the API computes in (made on first use, remade if a worker died), fed one
    job per worker at a time: the others wait here, where a request whose client left is
    cancelled before it costs anything, and a server that stops waits for at most one job
    per worker. Past `waiting` requests waiting or computing, Busy."""

    def __init__(self, processes: int = API_PROCESSES, waiting: int = API_WAITING) -> None:
        self.processes, self.limit = processes, waiting
        self.waiting = 0
        self._executor: Executor | None = None
        self._lock = threading.Lock()
        # One gate per event loop (Daphne has one; the test client makes one per request).
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    def executor(self) -> Executor:
        with self._lock:
            if self._executor is None:
                self._executor = worker_pool(self.processes)
            return self._executor

    def _discard(self, executor: Executor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._gates.get(loop)
            if gate is None:
                gate = self._gates[loop] = asyncio.Semaphore(self.processes)
            return gate

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Executor]:
        """An executor for one job, once a worker is free; raises Busy when too many wait."""
        with self._lock:
            if self.waiting >= self.limit:
                raise Busy()
            self.waiting += 1
        try:
            gate = self._gate()
            await gate.acquire()
            held = _Held(self.executor(), gate)
            try:
                yield held
            except BrokenProcessPool:
                self._discard(held.executor)  # a worker died: the next job starts a new pool
                raise
            finally:
                held.finished()
        finally:
            with self._lock:
                self.waiting -= 1

    async def run(self, job: Callable[..., Any], *args: Any) -> Any:
        """`job(*args)` in a worker process."""
        async with self.slot() as executor:
            return await asyncio.get_running_loop().run_in_executor(executor, job, *args)


class _Held(Executor):
    """The pool, for one job: the worker is free again when that job has finished in it
    (not when its request stopped waiting for it), or at once if nothing was submitted."""

    def __init__(self, executor: Executor, gate: asyncio.Semaphore) -> None:
        self.executor, self.gate = executor, gate
        self.loop = asyncio.get_running_loop()
        self.submitted = self.released = False

    def submit(self, fn, /, *args, **kwargs):
        future = self.executor.submit(fn, *args, **kwargs)
        self.submitted = True
        future.add_done_callback(self._release_soon)
        return future

    def _release(self) -> None:
        if not self.released:
            self.released = True
            self.gate.release()

    def _release_soon(self, _future) -> None:  # in the pool's thread
        try:
            self.loop.call_soon_threadsafe(self._release)
        except RuntimeError:  # that event loop has closed (its request is long answered)
            pass

    def finished(self) -> None:
        if not self.submitted:
            self._release()


class Busy(Exception):
    pass


workers = Workers()


def busy() -> HttpResponse:
    return JsonResponse({"detail": "The server is busy with other runs: try again in a moment."}, status=429,
                        headers={"Retry-After": str(BUSY_RETRY_AFTER)})


router = Router(tags=["simulations"])


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


THROTTLED = {429: ErrorOut}


@router.get("", response={200: list[EngineOut], **THROTTLED}, throttle=throttles(),
            summary="Every simulation: schemas, presets and analyses")
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


def _run_request(engine_cls: type[Engine], payload: RunIn) -> tuple[RunSpec, int]:
    """The run and its step count from the body; a 422 naming every field at fault."""
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
    return spec, steps


@router.post(
    "/{slug}/runs",
    response={200: RunOut, 404: ErrorOut, 422: ValidationErrorOut, **THROTTLED},
    throttle=throttles(),
    summary="Run a simulation headless and get every frame as JSON",
)
async def run_engine(request: HttpRequest, slug: str, payload: RunIn):
    engine_cls = _engine(slug)
    spec, steps = _run_request(engine_cls, payload)
    try:
        body = await workers.run(jobs.run_json, engine_cls, spec, steps)
    except Busy:
        return busy()
    # Already the JSON ninja would render for RunOut (simulations.jobs): sent as it is.
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def _analysis_request(engine_cls: type[Engine], name: str, raw_params: Any, where: str) -> tuple[str, Any]:
    labels = {str(k): str(v) for k, v in dict(engine_cls.analyses).items()}
    if name not in labels:
        known = ", ".join(labels) or "none"
        raise HttpError(404, f"{engine_cls.title} has no analysis {name[:60]!r}. Analyses: {known}.")
    try:
        params = parse_params(engine_cls, raw_params)
    except RunError as exc:
        raise _errors(exc, where) from None
    return labels[name], params


async def _analyse(engine_cls: type[Engine], name: str, raw_params: Any, where: str):
    label, params = _analysis_request(engine_cls, name, raw_params, where)
    try:
        async with workers.slot() as executor:
            result = await compute_in(executor, engine_cls, name, params)
    except Busy:
        return busy()
    return {
        "slug": engine_cls.slug,
        "name": name,
        "label": label,
        "params": params.model_dump(mode="json"),
        "result": dict(result),
    }


@router.get(
    "/{slug}/analyses/{name}",
    response={200: AnalysisOut, 404: ErrorOut, 422: ValidationErrorOut, **THROTTLED},
    throttle=throttles(),
    summary="A whole-run analysis; params as query parameters (partial)",
)
async def analyse_get(request: HttpRequest, slug: str, name: str):
    engine_cls = _engine(slug)
    # Query values are strings; pydantic's lax mode turns "3" into 3 where the field is numeric.
    raw = {k: v for k, v in request.GET.items()}
    return await _analyse(engine_cls, name, raw, "query")


@router.post(
    "/{slug}/analyses/{name}",
    response={200: AnalysisOut, 404: ErrorOut, 422: ValidationErrorOut, **THROTTLED},
    throttle=throttles(),
    summary="A whole-run analysis; params in the body (partial)",
)
async def analyse_post(request: HttpRequest, slug: str, name: str, payload: AnalysisIn):
    return await _analyse(_engine(slug), name, payload.params, "body")
