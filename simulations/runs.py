"""The run model: what a run is, how it replays, and how it travels in a link.

Framework-free (no Django imports): the page, the WebSocket consumer and the JSON
API all use this one module, so they cannot disagree about what a run means.

A run is (engine slug, params, seed, scheduled actions). An action scheduled at
step k is applied when the run stands at frame k, before frame k + 1 is
computed; several actions at one step apply in their listed order. Because
engines are deterministic, replaying a run gives the same frames in any
process, which is what makes seeking, reconnect-and-resume and permalinks work.

A `RunSession` is one viewer's run: its position, its horizon (the last frame it
has computed), a cache of each frame's rendered HTML (rendered once, reused when the
viewer seeks back) and the run spec as it stands. The frames themselves, at most
`Engine.max_steps + 1`, live on a `RunTrack`, which owns the engine that computes
them. Sessions given a `RunStore` (the consumer's, `shared_store()`) share the track
of their run with every other session of the same run, so N viewers of one run cost
one engine step per frame and, per panel prefix, one render per frame, not N.

Seeking back reads cached frames; seeking forward steps on (or takes the frames
another session of the run computed already). **Branching:** applying an action
while standing at step k < the last computed frame rewrites history from k on:
every computed frame after k and every action scheduled after k is dropped, the
new action is applied at k, and the run continues from there. Scheduled actions at k
itself are kept, the new one goes after them. Any action changes the run, so the
session moves to the track of its new run (copy-on-write: frames 0..k are shared
with the old track, and no other session's run changes).

Engines are never copied (a SimPy environment holds generators, which cannot
be), so a new track's engine at k is either the old track's (an action at the live
edge of a track that stands there: no cost) or rebuilt by replaying from frame 0:
O(k) engine steps, paid on a branch, or at the live edge when another session of the
run has moved its engine on already.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import random
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
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
#: One object's validation errors listed at most (the rest are counted in one more line).
MAX_FIELD_ERRORS = 20

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
    found = exc.errors(include_url=False)
    for err in found[:MAX_FIELD_ERRORS]:
        loc = tuple(err.get("loc", ()))
        if tag is not None and loc and loc[0] == tag:
            loc = loc[1:]
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            msg = "Unknown field"
        elif err.get("type") == "value_error":
            msg = msg.removeprefix("Value error, ")  # pydantic's wrapping of a validator's message
        errors.append(FieldError(prefix + loc, msg, str(err.get("type", "value_error"))))
    if len(found) > MAX_FIELD_ERRORS:
        # An object with thousands of unknown keys would otherwise answer with an error
        # apiece: a response ten times the size of the request.
        more = len(found) - MAX_FIELD_ERRORS
        errors.append(FieldError(prefix, f"and {more} more error{'s' if more > 1 else ''} like these", "too_many_errors"))
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


def parse_whole(value: Any, loc: Loc, lower: int, upper: int) -> int:
    """An int in lower..upper. Strings of digits are fine (form fields arrive as strings),
    and so are integral floats (JSON clients); bools are not."""
    if isinstance(value, str):
        text = value.strip()
        # Bounded before int(): a million digits would cost real time to convert.
        if text.isdigit() and len(text) <= len(str(upper)) + 1:
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


def parse_step(value: Any, loc: Loc, upper: int) -> int:
    return parse_whole(value, loc, 0, upper)


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
        # A few hundred bytes of deflated "[[[[..." nest deeper than json allows: JSONTooDeep.
        payload = loads_strict(raw.decode("utf-8"))
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


class JSONTooDeep(ValueError):
    """Valid JSON nested deeper than the parser goes ("[[[[...")."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def loads_strict(text: str | bytes) -> Any:
    """json.loads without NaN/Infinity (no bounded field may hold them), and with nesting
    too deep to parse as a ValueError, not a RecursionError: for untrusted input."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise JSONTooDeep("nested too deeply") from None


# --------------------------------------------------------------------------- shared runs
#
# A run is deterministic, so every session showing the same run (same engine, params,
# seed and scheduled actions) would compute, and render, the same frames. A `RunTrack`
# holds one run's frames once; sessions are views on a track, each with its own
# position and its own horizon (how far *it* has played: `last`). A classroom that
# opens the same topic page plays one engine and renders each frame once per panel
# prefix, however many viewers there are.
#
# Tracks are immutable in what they have computed: they only grow at the end, and a
# session that changes its run (an action, anywhere) moves to the track of its new run
# (copy-on-write), so it never changes what another session sees.
#
# Concurrency: tracks and stores are not locked. A store is used from one thread only
# (`shared_store()` gives each thread its own), and on that thread from one event loop
# whose callbacks never await inside a track operation, so no two operations on a track
# interleave. In Daphne every consumer runs on the one event-loop thread, so its store
# is the process's. Code that runs sessions in worker threads (the JSON API's `replay`,
# the page's template tags) uses private sessions (no store), as before.

#: The shared store keeps at most this many runs ...
SHARED_MAX_RUNS = 256
#: ... and at most this many cached items, counting each computed frame and each frame's
#: rendered HTML (per panel prefix) as one. A Race Conditions frame is about 5 KB of Python
#: objects and its HTML about 8 KB (measured), so this caps the store near 130 MB; the
#: default Race Conditions run has 13 frames, the longest any engine allows 2,001.
SHARED_MAX_ITEMS = 20_000
#: HTML is cached for at most this many panel prefixes per run (a prefix comes from the
#: page, so a client could otherwise fill one run's cache with prefixes nobody else uses).
MAX_RENDER_KEYS = 4


def new_engine(engine_cls: type[Engine], spec: RunSpec) -> Engine:
    return engine_cls(spec.params, random.Random(spec.seed))


@dataclass
class LogEntry:
    step: int
    event: Event


def _schedule_of(spec: RunSpec) -> dict[int, list[Any]]:
    schedule: dict[int, list[Any]] = {}
    for scheduled in spec.actions:
        schedule.setdefault(scheduled.step, []).append(scheduled.action)
    return schedule


def _apply_scheduled(engine: Engine, action: Any) -> Event | None:
    """Scheduled actions (permalinks, presets) the engine rejects become an error line, the
    same way on every replay, instead of breaking the run."""
    return _apply_outcome(engine, action)[0]


def _apply_outcome(engine: Engine, action: Any) -> tuple[Event | None, str | None]:
    """(the action's log line, None) or (the error line, the engine's reason) when refused."""
    try:
        return engine.apply(action), None
    except ValueError as exc:
        return Event(kind="rejected", text=f"Action not applied: {exc}", severity="error"), str(exc)


def _engine_at(engine_cls: type[Engine], spec: RunSpec, schedule: Mapping[int, Sequence[Any]], k: int) -> Engine:
    """A fresh engine standing at frame k with every action scheduled at steps <= k applied
    (O(k) engine steps: engines cannot be copied, a SimPy environment holds generators)."""
    engine = new_engine(engine_cls, spec)
    engine.reset()
    for action in schedule.get(0, ()):
        _apply_scheduled(engine, action)
    for i in range(1, k + 1):
        engine.step()
        for action in schedule.get(i, ()):
            _apply_scheduled(engine, action)
    return engine


class RunTrack:
    """Every frame of one run computed so far, with what sessions ask of the engine at each
    frame (done, awaiting input), the log lines of the actions applied there, and the
    frames' HTML per panel prefix. Shared by every session of that run in a store.

    The track owns the engine that extends it: exactly one engine computes each frame of a
    run, however many sessions show it. The engine stands at the last frame with that
    frame's scheduled actions applied, or is None after a session took it over for its
    new run (see `RunSession.apply`); it is rebuilt by replay if the track must grow again.
    """

    __slots__ = (
        "engine_cls", "spec", "max_steps", "schedule", "frames", "done", "waiting",
        "action_events", "outcomes", "html", "engine", "store", "key", "_token",
    )

    def __init__(self, engine_cls: type[Engine], spec: RunSpec) -> None:
        self.engine_cls = engine_cls
        self.spec = spec
        self.max_steps = engine_cls.max_steps
        self.schedule = _schedule_of(spec)
        self.frames: list[Frame] = []
        #: Per frame i: engine.done / engine.awaiting_input once frame i and its actions are in.
        self.done: list[bool] = []
        self.waiting: list[bool] = []
        #: Step -> log lines of the actions applied there, and per scheduled action there
        #: (event, None) or (error line, the engine's reason) when it was refused.
        self.action_events: dict[int, list[Event]] = {}
        self.outcomes: dict[int, list[tuple[Event | None, str | None]]] = {}
        #: Render key (a panel prefix) -> frame index -> HTML.
        self.html: dict[Any, dict[int, str]] = {}
        self.engine: Engine | None = None
        self.store: RunStore | None = None
        self.key: tuple[Any, ...] | None = None
        self._token: str | None = None

    @classmethod
    def start(cls, engine_cls: type[Engine], spec: RunSpec) -> RunTrack:
        track = cls(engine_cls, spec)
        track.engine = new_engine(engine_cls, spec)
        track._arrive(track.engine.reset())
        return track

    @classmethod
    def fork(cls, parent: RunTrack, k: int, spec: RunSpec, engine: Engine, event: Event | None,
             render_key: Any = None) -> RunTrack:
        """The track of `spec`: `parent`'s run with one more action at step k (and, on a
        branch, none after k). Frames 0..k are the parent's (the same objects); `engine`
        stands at k with every action at k applied, the new one last."""
        track = cls(parent.engine_cls, spec)
        track.frames = parent.frames[: k + 1]
        track.done = parent.done[:k]
        track.waiting = parent.waiting[:k]
        for step, outcomes in parent.outcomes.items():
            if step <= k:
                track.outcomes[step] = list(outcomes)
        track.outcomes.setdefault(k, []).append((event, None))
        for step, outcomes in track.outcomes.items():
            events = [e for e, _ in outcomes if e is not None]
            if events:
                track.action_events[step] = events
        track._record(engine)
        track.engine = engine
        if render_key is not None and render_key in parent.html:
            track.html[render_key] = {i: h for i, h in parent.html[render_key].items() if i <= k}
        return track

    # -- reading

    @property
    def last(self) -> int:
        return len(self.frames) - 1

    @property
    def token(self) -> str:
        """The run's permalink token (computed once per run, not per viewer)."""
        if self._token is None:
            self._token = encode_run(self.engine_cls, self.spec)
        return self._token

    def html_for(self, render_key: Any) -> dict[int, str]:
        cache = self.html.get(render_key)
        if cache is None:
            if len(self.html) >= MAX_RENDER_KEYS:  # the oldest prefix goes (its sessions keep it)
                dropped = self.html.pop(next(iter(self.html)))
                if self.store is not None:
                    self.store.grew(self, -len(dropped))
            cache = self.html[render_key] = {}
        return cache

    # -- growing

    def extend(self) -> Frame | None:
        """Compute the next frame with the track's engine; None when the run is finished."""
        last = len(self.frames) - 1
        if self.done[last] or last >= self.max_steps:
            return None
        engine = self.engine
        if engine is None:
            engine = self.engine = _engine_at(self.engine_cls, self.spec, self.schedule, last)
        try:
            frame = engine.step()
            self._arrive(frame)
        except BaseException:
            # An engine bug: its state is unknown now, so the next try replays to a clean one.
            self.engine = None
            raise
        return frame

    def reach(self, index: int) -> None:
        """Grow to frame `index` (or the run's end, if that comes first)."""
        while len(self.frames) <= index and self.extend() is not None:
            pass

    def _arrive(self, frame: Frame) -> None:
        index = len(self.frames)
        if frame.index != index:
            raise RuntimeError(
                f"engine {self.engine_cls.slug!r} returned frame {frame.index}, expected {index}"
            )
        self.frames.append(frame)
        engine = self.engine
        actions = self.schedule.get(index)
        if actions:
            outcomes = self.outcomes[index] = [_apply_outcome(engine, action) for action in actions]
            events = [e for e, _ in outcomes if e is not None]
            if events:
                self.action_events[index] = events
        self._record(engine)
        if self.store is not None:
            self.store.grew(self, 1)

    def _record(self, engine: Engine) -> None:
        self.done.append(bool(engine.done))
        self.waiting.append(bool(getattr(engine, "awaiting_input", False)))


class RunStore:
    """Tracks by run, bounded: least recently used runs go first once there are more than
    `max_runs` of them or more than `max_items` cached frames and HTML fragments. An evicted
    track stays alive for the sessions still showing it; new sessions of that run start a
    new track. Not thread-safe: see `shared_store()`."""

    def __init__(self, max_runs: int = SHARED_MAX_RUNS, max_items: int = SHARED_MAX_ITEMS) -> None:
        if max_runs < 1 or max_items < 1:
            raise ValueError("a store holds at least one run and one item")
        self.max_runs = max_runs
        self.max_items = max_items
        self._tracks: OrderedDict[tuple[Any, ...], RunTrack] = OrderedDict()
        self._sizes: dict[tuple[Any, ...], int] = {}
        self.items = 0
        self.hits = self.misses = self.evictions = 0

    @staticmethod
    def key(engine_cls: type[Engine], spec: RunSpec) -> tuple[Any, ...]:
        """A run's identity: the engine class and its canonical encoding, the permalink token."""
        return (engine_cls, encode_run(engine_cls, spec))

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, key: object) -> bool:
        return key in self._tracks

    def get(self, engine_cls: type[Engine], spec: RunSpec, key: tuple[Any, ...] | None = None) -> RunTrack | None:
        track = self._tracks.get(key or self.key(engine_cls, spec))
        if track is not None:
            self._tracks.move_to_end(track.key)
            self.hits += 1
        return track

    def track(self, engine_cls: type[Engine], spec: RunSpec) -> RunTrack:
        """The run's track, started (frame 0 computed) if the store has none."""
        key = self.key(engine_cls, spec)
        track = self.get(engine_cls, spec, key)
        if track is None:
            self.misses += 1
            track = RunTrack.start(engine_cls, spec)
            self.add(track, key)
        return track

    def add(self, track: RunTrack, key: tuple[Any, ...] | None = None) -> None:
        track.key = key or self.key(track.engine_cls, track.spec)
        track._token = track.key[1]
        old = self._tracks.pop(track.key, None)
        if old is not None:
            self._forget(old)
        track.store = self
        self._tracks[track.key] = track
        size = len(track.frames) + sum(len(h) for h in track.html.values())
        self._sizes[track.key] = size
        self.items += size
        self._evict()

    def grew(self, track: RunTrack, n: int) -> None:
        """`track` now holds n more items (frames or HTML fragments); it counts as used."""
        key = track.key
        if track.store is not self or key not in self._sizes:
            return
        self._sizes[key] += n
        self.items += n
        self._tracks.move_to_end(key)
        if self.items > self.max_items:
            self._evict()

    def clear(self) -> None:
        for track in list(self._tracks.values()):
            self._forget(track)
        self._tracks.clear()

    def _forget(self, track: RunTrack) -> None:
        self.items -= self._sizes.pop(track.key, 0)
        track.store = None

    def _evict(self) -> None:
        # The most recently used run stays even when it alone is over the item bound.
        while len(self._tracks) > 1 and (len(self._tracks) > self.max_runs or self.items > self.max_items):
            _, track = self._tracks.popitem(last=False)
            self._forget(track)
            self.evictions += 1


_local = threading.local()


def shared_store() -> RunStore:
    """This thread's store of shared runs. The consumers all run on Daphne's one event-loop
    thread, so for them this is the process-wide store; another thread (a test's
    `async_to_sync`, say) gets its own, so no track is ever touched by two threads."""
    store = getattr(_local, "store", None)
    if store is None:
        store = _local.store = RunStore()
    return store


class FramesView(Sequence[Frame]):
    """A session's frames: the first `len` frames of its track, without copying them."""

    __slots__ = ("_frames", "_len")

    def __init__(self, frames: list[Frame], length: int) -> None:
        self._frames = frames
        self._len = length

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            frames = self._frames
            return [frames[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("frame index out of range")
        return self._frames[index]

    def __iter__(self) -> Iterator[Frame]:
        frames = self._frames
        return (frames[i] for i in range(self._len))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (FramesView, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FramesView({self._len} frames)"


# --------------------------------------------------------------------------- sessions


@dataclass
class RunSession:
    """One viewer's run: a position and a horizon on a `RunTrack`. Not thread-safe; the
    consumer drives it from one event loop.

    With `store` (the consumer passes `shared_store()`), sessions of the same run share one
    track: frames computed and rendered once. Without it (the API, the page's first frame,
    tests) the session has a private track, exactly as a session without sharing. HTML is
    shared only under a `render_key` (the panel prefix: the HTML depends on the DOM ids),
    which must identify what `render` returns; without one the session keeps its own.
    """

    engine_cls: type[Engine]
    spec: RunSpec
    #: Frame -> HTML, called at most once per computed frame (None: no rendering).
    render: Callable[[Frame], str] | None = None
    store: RunStore | None = field(default=None, kw_only=True)
    render_key: Any = field(default=None, kw_only=True)
    position: int = field(init=False, default=0)
    _track: RunTrack = field(init=False, repr=False)
    #: This session's horizon: the last frame it has computed (or taken from the track).
    _last: int = field(init=False, default=0)
    _html: dict[int, str] = field(init=False, repr=False)
    _shared_html: bool = field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        if self.spec.slug != self.engine_cls.slug:
            raise ValueError(f"run is for {self.spec.slug!r}, engine is {self.engine_cls.slug!r}")
        if self.store is not None:
            track = self.store.track(self.engine_cls, self.spec)
        else:
            track = RunTrack.start(self.engine_cls, self.spec)
        self._attach(track, 0, {})

    def _attach(self, track: RunTrack, last: int, private_html: dict[int, str]) -> None:
        self._track = track
        self._last = last
        self._shared_html = self.render_key is not None and self.render is not None
        self._html = track.html_for(self.render_key) if self._shared_html else private_html

    # -- reading

    @property
    def track(self) -> RunTrack:
        return self._track

    @property
    def frames(self) -> FramesView:
        """Frames 0..last (a view on the track's list, not a copy)."""
        return FramesView(self._track.frames, self._last + 1)

    @property
    def max_steps(self) -> int:
        return self.engine_cls.max_steps

    @property
    def last(self) -> int:
        """Index of the last computed frame."""
        return self._last

    @property
    def finished(self) -> bool:
        """Nothing more can be computed: the engine is done or the step bound is reached."""
        return self._track.done[self._last] or self._last >= self.engine_cls.max_steps

    @property
    def at_end(self) -> bool:
        return self.position == self._last and self.finished

    @property
    def awaiting_input(self) -> bool:
        """At the live edge of an engine that waits for the viewer (an optional engine
        property, e.g. race-conditions' manual scheduler): playing stops here."""
        return self.position == self._last and not self.finished and self._track.waiting[self._last]

    @property
    def frame(self) -> Frame:
        return self._track.frames[self.position]

    def rendered(self, index: int | None = None) -> str:
        """The frame's HTML, rendered on first use and cached (seeking back reuses it; with a
        render key, every session of the run with that key reuses it)."""
        i = self.position if index is None else index
        if i < 0:
            i += self._last + 1
        if not 0 <= i <= self._last:
            raise IndexError("frame index out of range")
        html = self._html.get(i)
        if html is None:
            if self.render is None:
                raise RuntimeError("this session has no renderer")
            html = self.render(self._track.frames[i])
            self._html[i] = html
            if self._shared_html and self._track.store is not None:
                self._track.store.grew(self._track, 1)
        return html

    def current_spec(self) -> RunSpec:
        """The run as it stands: params, seed and every scheduled action."""
        return self.spec

    def token(self) -> str:
        """The permalink token of the run as it stands (computed once per run)."""
        return self._track.token

    def events_at(self, index: int) -> list[Event]:
        """Log lines of one step: the frame's events, then those of actions applied at it."""
        if index > self._last:
            raise IndexError("frame index out of range")
        track = self._track
        extra = track.action_events.get(index)
        events = track.frames[index if index >= 0 else index + self._last + 1].events
        return [*events, *extra] if extra else list(events)

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
        """The next frame at the live edge (not moving the position); None when finished.
        Taken from the track when another session of the run computed it already."""
        if self.finished:
            return None
        nxt = self._last + 1
        track = self._track
        frame = track.frames[nxt] if nxt < len(track.frames) else track.extend()
        if frame is None:  # cannot happen: the track finishes where this session does
            return None
        self._last = nxt
        return frame

    def seek(self, index: int) -> Frame:
        """Stand at `index` (clamped to 0..max_steps): cached when behind, computed when ahead.
        Stops early at the run's end."""
        index = max(0, min(int(index), self.max_steps))
        if self._last < index:
            # Frames the track has are all before its end: take them at once.
            self._last = max(self._last, min(index, self._track.last))
            while self._last < index and self.advance() is not None:
                pass
        self.position = min(index, self._last)
        return self.frame

    def forward(self) -> Frame | None:
        """One step on; None (and no move) at the end."""
        if self.position < self._last or self.advance() is not None:
            self.position += 1
            return self._track.frames[self.position]
        return None

    def back(self) -> Frame | None:
        if self.position == 0:
            return None
        self.position -= 1
        return self.frame

    def apply(self, action: Any) -> Event | None:
        """Apply a validated action at the position. Behind the live edge this branches
        (see the module docstring). An engine's ValueError rejects the action and
        changes nothing.

        The session's run changes, so it moves to that run's track (another session may
        have made the same move already: then nothing is computed); frames 0..k are the
        old track's. The engine for the new track is the old track's when that stands at k
        (the old track replays if it must grow again), else a replay to k."""
        k = self.position
        branch = k < self._last
        old = self._track
        schedule = {step: list(actions) for step, actions in old.schedule.items() if step <= k or not branch}
        if sum(len(actions) for actions in schedule.values()) >= MAX_ACTIONS:
            # A run's link carries at most MAX_ACTIONS (decode_run refuses more), and each
            # action costs the run's whole schedule again (its key is its encoding).
            raise ValueError(
                f"this run already holds {MAX_ACTIONS} actions, the most one run (and its link) can carry. "
                "Reset to start a new run."
            )
        schedule.setdefault(k, []).append(action)
        spec = RunSpec(
            self.spec.slug, self.spec.params, self.spec.seed,
            tuple(ScheduledAction(step, a) for step in sorted(schedule) for a in schedule[step]),
        )
        store = self.store
        key = store.key(self.engine_cls, spec) if store is not None else None
        track = store.get(self.engine_cls, spec, key) if store is not None else None
        if track is not None:
            # Someone made this move already: the track knows how the action went.
            track.reach(k)
            event, refused = track.outcomes[k][-1]
            if refused is not None:
                raise ValueError(refused)
        else:
            if old.engine is not None and old.last == k and not branch:
                engine = old.engine
                event = engine.apply(action)  # may raise ValueError: nothing changed
                old.engine = None  # handed over to the new run's track
            else:
                engine = _engine_at(self.engine_cls, self.spec, old.schedule, k)
                event = engine.apply(action)  # may raise ValueError: nothing committed yet
            track = RunTrack.fork(old, k, spec, engine, event, self.render_key if self._shared_html else None)
            if store is not None:
                store.add(track, key)
        private = {} if self._shared_html else {i: h for i, h in self._html.items() if i <= k}
        self.spec = spec
        self._attach(track, k, private)
        return event

    def frames_upto(self, index: int) -> list[Frame]:
        self.seek(index)
        return self._track.frames[: self.position + 1]


def replay(engine_cls: type[Engine], spec: RunSpec, steps: int) -> list[Frame]:
    """Frames 0..steps of a run (fewer if it ends first): the API and tests use this."""
    return RunSession(engine_cls, spec).frames_upto(steps)


# --------------------------------------------------------------------------- analyses

#: Distinct (engine, analysis, params) results kept, per process.
ANALYSIS_CACHE_SIZE = 64


@functools.lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def analysis(engine_cls: type[Engine], name: str, params: Any) -> Mapping[str, Any]:
    """`engine_cls.analyse(name, params)`, computed once per process for each (engine, name,
    params) among the last ANALYSIS_CACHE_SIZE asked for (Params are frozen, so hashable):
    an analysis walks a whole run space (tenths of a second), and a class asks for the
    same few again and again. The API and the socket share this cache; results are
    read-only."""
    return MappingProxyType(dict(engine_cls.analyse(name, params)))
