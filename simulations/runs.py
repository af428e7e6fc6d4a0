"""The run model: what a run is, how it replays, and how it travels in a link.

Framework-free (no Django imports): the page, the WebSocket consumer and the JSON
API all use this one module, so they cannot disagree about what a run means.

A run is (engine slug, params, seed, scheduled actions). An action scheduled at
step k is applied when the run stands at frame k, before frame k + 1 is
computed; several actions at one step apply in their listed order. Because
engines are deterministic, replaying a run gives the same frames in any
process, which is what makes seeking, reconnect-and-resume and permalinks work.

A `RunSession` holds one live run: the engine, every frame computed so far
(never more than `Engine.max_steps + 1`), a cache of each frame's rendered HTML
(rendered once, reused when the viewer seeks back), the action schedule and the
current position.

Seeking back reads cached frames; seeking forward steps on. **Branching:**
applying an action while standing at step k < the last computed frame rewrites
history from k on: every computed frame after k and every action scheduled after
k is dropped, the engine is rebuilt at k by replaying the run, the new action is
applied, and the run continues from there. Scheduled actions at k itself are
kept, the new one goes after them.

Engines are never copied (a SimPy environment holds generators, which cannot
be), so rebuilding replays from frame 0: O(k) engine steps, paid only on a branch.
"""

from __future__ import annotations

import base64
import json
import math
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from simulations.engines.base import Engine, Event, Frame

#: Seeds are unsigned 32-bit integers: small in a URL, exact in JavaScript.
MAX_SEED = 2**32 - 1
#: At most this many scheduled actions in one run (API body, permalink, preset).
MAX_ACTIONS = 500
#: Longest accepted permalink token (characters), and the most JSON it may inflate to.
MAX_TOKEN_CHARS = 8000
MAX_TOKEN_JSON_BYTES = 64 * 1024
TOKEN_VERSION = "1"

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class FieldError:
    loc: Loc
    msg: str
    type: str = "value_error"

    @property
    def field(self) -> str:
        return format_loc(self.loc)

    def __str__(self) -> str:
        return f"{self.field}: {self.msg}" if self.loc else self.msg


class RunError(ValueError):
    """A run spec (or one of its parts) is invalid. `errors` name each bad field."""

    def __init__(self, errors: Sequence[FieldError] | str) -> None:
        if isinstance(errors, str):
            errors = [FieldError((), errors)]
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class PermalinkError(RunError):
    """A permalink token could not be decoded into a valid run."""


def format_loc(loc: Iterable[str | int]) -> str:
    """('actions', 0, 'action', 'thread') -> 'actions[0].action.thread'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def pydantic_errors(exc: ValidationError, prefix: Loc = (), tag: str | None = None) -> list[FieldError]:
    """Pydantic errors as FieldErrors under `prefix`.

    For a discriminated union pydantic puts the tag value first in `loc`
    (('run', 'thread')); `tag` drops it so the path names the submitted field.
    """
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        if tag is not None and loc and loc[0] == tag:
            loc = loc[1:]
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            msg = "Unknown field"
        errors.append(FieldError(prefix + loc, msg, str(err.get("type", "value_error"))))
    return errors


# --------------------------------------------------------------------------- run spec


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


def parse_seed(value: Any, loc: Loc = ("seed",)) -> int:
    """An int in 0..MAX_SEED. Strings of digits are fine (form fields arrive as strings)."""
    if isinstance(value, bool):
        raise RunError([FieldError(loc, "must be a whole number")])
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or len(text) > 12:
            raise RunError([FieldError(loc, f"must be a whole number from 0 to {MAX_SEED}")])
        value = int(text)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise RunError([FieldError(loc, "must be a whole number")])
        value = int(value)
    if not isinstance(value, int):
        raise RunError([FieldError(loc, "must be a whole number")])
    if not 0 <= value <= MAX_SEED:
        raise RunError([FieldError(loc, f"must be from 0 to {MAX_SEED}")])
    return value


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


def parse_step(value: Any, loc: Loc, upper: int) -> int:
    if isinstance(value, bool):
        raise RunError([FieldError(loc, "must be a whole number")])
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise RunError([FieldError(loc, "must be a whole number")])
    if not 0 <= value <= upper:
        raise RunError([FieldError(loc, f"must be from 0 to {upper}")])
    return value


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
            parsed_step = parse_step(step, step_loc, engine_cls.max_steps - 1)
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


# --------------------------------------------------------------------------- permalinks


def encode_run(engine_cls: type[Engine], spec: RunSpec) -> str:
    """Compact, URL-safe token: "1" + base64url(raw deflate(JSON {e, p, s, a}))."""
    payload: dict[str, Any] = {
        "e": spec.slug,
        "p": spec.params.model_dump(mode="json"),
        "s": spec.seed,
    }
    if spec.actions:
        payload["a"] = [[a.step, dump_action(engine_cls, a.action)] for a in spec.actions]
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush()
    return TOKEN_VERSION + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_token(token: Any) -> dict[str, Any]:
    """The token's JSON payload, checked for shape only (not against an engine)."""
    if not isinstance(token, str) or not token:
        raise PermalinkError("The run link is empty.")
    if len(token) > MAX_TOKEN_CHARS:
        raise PermalinkError(f"The run link is too long (over {MAX_TOKEN_CHARS} characters).")
    if token[0] != TOKEN_VERSION:
        raise PermalinkError("The run link has an unknown format.")
    body = token[1:]
    if not body or any(c not in _B64URL for c in body):
        raise PermalinkError("The run link is damaged (not URL-safe base64).")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(packed, MAX_TOKEN_JSON_BYTES)
        if unpacker.unconsumed_tail:
            raise PermalinkError("The run link holds too much data.")
        raw += unpacker.flush()
        if not unpacker.eof:
            raise PermalinkError("The run link is damaged (truncated).")
        payload = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except PermalinkError:
        raise
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise PermalinkError("The run link is damaged (it does not decode).") from None
    if not isinstance(payload, dict):
        raise PermalinkError("The run link is damaged (not a run).")
    unknown = set(payload) - {"e", "p", "s", "a"}
    if unknown or not isinstance(payload.get("e"), str):
        raise PermalinkError("The run link is damaged (not a run).")
    return payload


def decode_run(token: Any, engines: Callable[[str], type[Engine] | None]) -> tuple[type[Engine], RunSpec]:
    """Token -> (engine class, validated RunSpec). `engines` looks a slug up (the registry)."""
    payload = decode_token(token)
    engine_cls = engines(payload["e"])
    if engine_cls is None:
        raise PermalinkError(f"The run link is for an unknown simulation {payload['e'][:60]!r}.")
    try:
        spec = parse_run(engine_cls, payload.get("p"), payload.get("s"), payload.get("a"))
    except RunError as exc:
        raise PermalinkError(exc.errors) from None
    return engine_cls, spec


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


# --------------------------------------------------------------------------- sessions


def new_engine(engine_cls: type[Engine], spec: RunSpec) -> Engine:
    return engine_cls(spec.params, random.Random(spec.seed))


@dataclass
class LogEntry:
    step: int
    event: Event


@dataclass
class RunSession:
    """One live run. Not thread-safe; the consumer drives it from one event loop."""

    engine_cls: type[Engine]
    spec: RunSpec
    #: Frame -> HTML, called at most once per computed frame (None: no rendering).
    render: Callable[[Frame], str] | None = None
    frames: list[Frame] = field(init=False, default_factory=list)
    position: int = field(init=False, default=0)
    engine: Engine = field(init=False)
    _schedule: dict[int, list[Any]] = field(init=False, default_factory=dict)
    _action_events: dict[int, list[Event]] = field(init=False, default_factory=dict)
    _rendered: list[str | None] = field(init=False, default_factory=list)
    _spec_dirty: bool = field(init=False, default=False)
    _token: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.spec.slug != self.engine_cls.slug:
            raise ValueError(f"run is for {self.spec.slug!r}, engine is {self.engine_cls.slug!r}")
        for scheduled in self.spec.actions:
            self._schedule.setdefault(scheduled.step, []).append(scheduled.action)
        self.engine = new_engine(self.engine_cls, self.spec)
        self._arrive(self.engine.reset())

    # -- reading

    @property
    def max_steps(self) -> int:
        return self.engine_cls.max_steps

    @property
    def last(self) -> int:
        """Index of the last computed frame."""
        return len(self.frames) - 1

    @property
    def finished(self) -> bool:
        """Nothing more can be computed: the engine is done or the step bound is reached."""
        return self.engine.done or self.last >= self.max_steps

    @property
    def at_end(self) -> bool:
        return self.position == self.last and self.finished

    @property
    def awaiting_input(self) -> bool:
        """At the live edge of an engine that waits for the viewer (an optional engine
        property, e.g. race-conditions' manual scheduler): playing stops here."""
        return self.position == self.last and not self.finished and bool(getattr(self.engine, "awaiting_input", False))

    @property
    def frame(self) -> Frame:
        return self.frames[self.position]

    def rendered(self, index: int | None = None) -> str:
        """The frame's HTML, rendered on first use and cached (seeking back reuses it)."""
        i = self.position if index is None else index
        html = self._rendered[i]
        if html is None:
            if self.render is None:
                raise RuntimeError("this session has no renderer")
            html = self.render(self.frames[i])
            self._rendered[i] = html
        return html

    def current_spec(self) -> RunSpec:
        """The run as it stands: params, seed and every scheduled action."""
        if self._spec_dirty:
            actions = tuple(
                ScheduledAction(step, action)
                for step in sorted(self._schedule)
                for action in self._schedule[step]
            )
            self.spec = RunSpec(self.spec.slug, self.spec.params, self.spec.seed, actions)
            self._spec_dirty = False
        return self.spec

    def token(self) -> str:
        """The permalink token of the run as it stands (cached until the next action)."""
        if self._token is None or self._spec_dirty:
            self._token = encode_run(self.engine_cls, self.current_spec())
        return self._token

    def events_at(self, index: int) -> list[Event]:
        """Log lines of one step: the frame's events, then those of actions applied at it."""
        return [*self.frames[index].events, *self._action_events.get(index, ())]

    def log(self, upto: int | None = None, limit: int | None = None) -> list[LogEntry]:
        """Log lines from frame 0 up to `upto` (default: the position), the last `limit` of them."""
        end = self.position if upto is None else upto
        entries: list[LogEntry] = []
        for i in range(end, -1, -1):
            for event in reversed(self.events_at(i)):
                entries.append(LogEntry(i, event))
                if limit is not None and len(entries) >= limit:
                    return entries[::-1]
        return entries[::-1]

    # -- moving

    def advance(self) -> Frame | None:
        """Compute the next frame at the live edge (not moving the position); None when finished."""
        if self.finished:
            return None
        frame = self.engine.step()
        expected = len(self.frames)
        if frame.index != expected:
            raise RuntimeError(
                f"engine {self.engine_cls.slug!r} returned frame {frame.index}, expected {expected}"
            )
        self._arrive(frame)
        return frame

    def seek(self, index: int) -> Frame:
        """Stand at `index` (clamped to 0..max_steps): cached when behind, computed when ahead.
        Stops early at the run's end."""
        index = max(0, min(int(index), self.max_steps))
        while self.last < index and self.advance() is not None:
            pass
        self.position = min(index, self.last)
        return self.frame

    def forward(self) -> Frame | None:
        """One step on; None (and no move) at the end."""
        if self.position < self.last or self.advance() is not None:
            self.position += 1
            return self.frame
        return None

    def back(self) -> Frame | None:
        if self.position == 0:
            return None
        self.position -= 1
        return self.frame

    def apply(self, action: Any) -> Event | None:
        """Apply a validated action at the position. Behind the live edge this branches
        (see the module docstring). An engine's ValueError rejects the action and
        changes nothing."""
        k = self.position
        if k < self.last:
            engine = self._replay_engine(k)
            event = engine.apply(action)  # may raise ValueError: nothing committed yet
            self.engine = engine
            del self.frames[k + 1 :]
            del self._rendered[k + 1 :]
            for step in [s for s in self._schedule if s > k]:
                del self._schedule[step]
            for step in [s for s in self._action_events if s > k]:
                del self._action_events[step]
        else:
            event = self.engine.apply(action)
        self._schedule.setdefault(k, []).append(action)
        if event is not None:
            self._action_events.setdefault(k, []).append(event)
        self._spec_dirty = True
        return event

    def frames_upto(self, index: int) -> list[Frame]:
        self.seek(index)
        return self.frames[: self.position + 1]

    # -- internals

    def _arrive(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._rendered.append(None)
        for action in self._schedule.get(frame.index, ()):
            event = _apply_scheduled(self.engine, action)
            if event is not None:
                self._action_events.setdefault(frame.index, []).append(event)

    def _replay_engine(self, k: int) -> Engine:
        """A fresh engine standing at frame k with every action scheduled at steps <= k applied."""
        engine = new_engine(self.engine_cls, self.spec)
        engine.reset()
        for action in self._schedule.get(0, ()):
            _apply_scheduled(engine, action)
        for i in range(1, k + 1):
            engine.step()
            for action in self._schedule.get(i, ()):
                _apply_scheduled(engine, action)
        return engine


def _apply_scheduled(engine: Engine, action: Any) -> Event | None:
    """Scheduled actions (permalinks, presets) the engine rejects become an error line, the
    same way on every replay, instead of breaking the run."""
    try:
        return engine.apply(action)
    except ValueError as exc:
        return Event(kind="rejected", text=f"Action not applied: {exc}", severity="error")


def replay(engine_cls: type[Engine], spec: RunSpec, steps: int) -> list[Frame]:
    """Frames 0..steps of a run (fewer if it ends first): the API and tests use this."""
    return RunSession(engine_cls, spec).frames_upto(steps)


def iter_frames(engine_cls: type[Engine], spec: RunSpec) -> Iterator[Frame]:
    session = RunSession(engine_cls, spec)
    yield session.frame
    while (frame := session.forward()) is not None:
        yield frame
