"""Shared runs: every frame of a run computed once, for every viewer of that run.

A run is deterministic, so every session showing the same run (same engine, params,
seed and scheduled actions) would compute, and render, the same frames. A `RunTrack`
holds one run's frames once; sessions are views on a track, each with its own
position and its own horizon (how far *it* has played: `last`). A classroom that
opens the same topic page plays one engine and renders each frame once per panel
prefix, however many viewers there are.

Tracks are immutable in what they have computed: they only grow at the end, and a
session that changes its run (an action, anywhere) moves to the track of its new run
(copy-on-write), so it never changes what another session sees.

A track keeps a snapshot of its engine (`Engine.snapshot()`) every SNAPSHOT_EVERY frames,
so an engine standing at frame k (a branch behind the live edge, or a track whose engine
another run took over) is a copy of the snapshot at or before k stepped on a few frames,
not a replay from frame 0.

Concurrency: tracks and stores are not locked. The shared store is used from the one
event-loop thread that runs every consumer, whose callbacks never await inside a track
operation, so no two operations on a track interleave. Code that runs sessions in worker
threads (the JSON API, the page's first frame) uses private sessions (no store).
"""

from __future__ import annotations

import dataclasses
import random
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Iterator

from simulations.engines.base import Engine, Event, Frame
from simulations.runs.permalinks import encode_run
from simulations.runs.spec import RunSpec

#: The shared store keeps at most this many runs ...
SHARED_MAX_RUNS = 256
#: ... and at most this many bytes of frames, engine snapshots and rendered HTML. Strings
#: are counted exactly (sys.getsizeof); a track measures a frame's Python objects every
#: MEASURE_EVERY frames and each snapshot (`approx_size`), and counts the frames between
#: at the last measure. (Counting items instead let the store reach 475 MB where 130 MB
#: was meant: an item's size varies tenfold between engines and frames.)
SHARED_MAX_BYTES = 96 * 1024 * 1024
MEASURE_EVERY = 64
#: A track keeps a snapshot of its engine at every frame that is a multiple of this. A
#: snapshot (a deep copy, 150 to 660 µs) and its measure (250 to 600 µs) every 32 frames
#: cost 15 to 41 µs a frame, as much as an engine step; every 64, half that, and a seek
#: back replays at most 63 steps (a few ms).
SNAPSHOT_EVERY = 64
#: HTML is cached for at most this many panel prefixes per run (a prefix comes from the
#: page, so a client could otherwise fill one run's cache with prefixes nobody else uses).
MAX_RENDER_KEYS = 4
#: A run keeps the HTML of at most this many of its frames per render key, the last rendered
#: (a frame is drawn again, the same, when a viewer goes back further): a frame of Race
#: Conditions with 4 threads is 15 KB, and keeping every one held 600 KB a viewer after 40
#: steps, 30 MB at the 2,000-step bound.
HTML_KEPT = 16


_ATOMS = (str, bytes, int, float, bool, type(None), type)


def approx_size(obj: Any, limit: int = 200_000) -> int:
    """Bytes held by `obj` and what it refers to (each object once), for the store's bound.
    Plain data only: containers, dataclasses, objects' __dict__ or __slots__; stops after
    `limit` objects."""
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item, 64)
        if isinstance(item, _ATOMS):
            continue
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        else:
            if hasattr(item, "__dict__"):
                stack.append(vars(item))
            for name in getattr(type(item), "__slots__", ()):
                if hasattr(item, name):
                    stack.append(getattr(item, name))
            if dataclasses.is_dataclass(item) and not hasattr(item, "__dict__"):
                stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return total


def html_size(html: str) -> int:
    return sys.getsizeof(html)


def new_engine(engine_cls: type[Engine], spec: RunSpec) -> Engine:
    """The run's engine before frame 0 (call `reset()` once to get it)."""
    return engine_cls(spec.params, random.Random(spec.seed))


def _schedule_of(spec: RunSpec) -> dict[int, list[Any]]:
    schedule: dict[int, list[Any]] = {}
    for scheduled in spec.actions:
        schedule.setdefault(scheduled.step, []).append(scheduled.action)
    return schedule


def _apply_outcome(engine: Engine, action: Any) -> tuple[Event | None, str | None]:
    """(the action's log line, None) or (the error line, the engine's reason) when refused.
    Scheduled actions (permalinks, presets) the engine refuses become an error line, the
    same way on every replay, instead of breaking the run."""
    try:
        return engine.apply(action), None
    except ValueError as exc:
        return Event(kind="rejected", text=f"Action not applied: {exc}", severity="error"), str(exc)


def engine_at(track: RunTrack, k: int) -> Engine:
    """A fresh engine standing at frame k of `track`'s run with every action scheduled at
    steps <= k applied: a copy of the track's latest snapshot at or before k, stepped on
    from there (at most SNAPSHOT_EVERY - 1 engine steps when the track has its snapshots)."""
    base = max((i for i in track.snapshots if i <= k), default=None)
    schedule = track.schedule
    if base is None:
        engine = new_engine(track.engine_cls, track.spec)
        engine.reset()
        for action in schedule.get(0, ()):
            _apply_outcome(engine, action)
        base = 0
    else:
        engine = track.snapshots[base].snapshot()
    for i in range(base + 1, k + 1):
        engine.step()
        for action in schedule.get(i, ()):
            _apply_outcome(engine, action)
    return engine


class RunTrack:
    """Every frame of one run computed so far, with what sessions ask of the engine at each
    frame (done, awaiting input), the log lines of the actions applied there, and the
    frames' HTML per panel prefix. Shared by every session of that run in a store.

    The track owns the engine that extends it: exactly one engine computes each frame of a
    run, however many sessions show it. The engine stands at the last frame with that
    frame's scheduled actions applied, or is None after a session took it over for its
    new run (see `RunSession.apply`); it is rebuilt from the latest snapshot at or before
    the last frame if the track must grow again.
    """

    __slots__ = (
        "engine_cls", "spec", "max_steps", "schedule", "frames", "done", "waiting",
        "action_events", "outcomes", "html", "snapshots", "engine", "store", "key", "_token",
        "bytes", "_frame_bytes",
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
        #: Frame index -> a copy of the engine standing there, its actions applied. Never
        #: stepped itself (`engine_at` steps a copy), so forks share them.
        self.snapshots: dict[int, Engine] = {}
        self.engine: Engine | None = None
        self.store: RunStore | None = None
        self.key: tuple[Any, ...] | None = None
        self._token: str | None = None
        #: What this track holds, in bytes (see SHARED_MAX_BYTES), and a frame's last measure.
        self.bytes = 0
        self._frame_bytes = 0

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
        # Snapshots before k hold the same state in both runs; at k the new action differs.
        track.snapshots = {i: snap for i, snap in parent.snapshots.items() if i < k}
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
        track._frame_bytes = parent._frame_bytes
        track.bytes = (len(track.frames) * parent._frame_bytes
                       + sum(approx_size(snap) for snap in track.snapshots.values())
                       + sum(html_size(h) for cache in track.html.values() for h in cache.values()))
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
                self.grew(-sum(html_size(h) for h in dropped.values()))
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
            engine = self.engine = engine_at(self, last)
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
        if index % MEASURE_EVERY == 0:
            self._frame_bytes = approx_size(frame)
        grown = self._frame_bytes
        if index and index % SNAPSHOT_EVERY == 0:
            snapshot = self.snapshots[index] = engine.snapshot()
            grown += approx_size(snapshot)
        self.grew(grown)

    def grew(self, n: int) -> None:
        """This track holds `n` more bytes (fewer, when negative); its store counts them."""
        self.bytes += n
        if self.store is not None:
            self.store.grew(self, n)

    def _record(self, engine: Engine) -> None:
        self.done.append(bool(engine.done))
        self.waiting.append(bool(engine.awaiting_input))


class RunStore:
    """Tracks by run, bounded: least recently used runs go first once there are more than
    `max_runs` of them or they hold more than `max_bytes`. An evicted track stays alive for
    the sessions still showing it; new sessions of that run start a new track. Used from
    one thread (see the module docstring)."""

    def __init__(self, max_runs: int = SHARED_MAX_RUNS, max_bytes: int = SHARED_MAX_BYTES) -> None:
        if max_runs < 1 or max_bytes < 1:
            raise ValueError("a store holds at least one run and one byte")
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self._tracks: OrderedDict[tuple[Any, ...], RunTrack] = OrderedDict()
        self.bytes = 0
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
        self.bytes += track.bytes
        self._evict()

    def grew(self, track: RunTrack, n: int) -> None:
        """`track` holds n more bytes; it counts as used."""
        if track.store is not self or track.key not in self._tracks:
            return
        self.bytes += n
        self._tracks.move_to_end(track.key)
        if self.bytes > self.max_bytes:
            self._evict()

    def clear(self) -> None:
        for track in list(self._tracks.values()):
            self._forget(track)
        self._tracks.clear()

    def _forget(self, track: RunTrack) -> None:
        self.bytes -= track.bytes
        track.store = None

    def _evict(self) -> None:
        # The most recently used run stays even when it alone is over the bound.
        while len(self._tracks) > 1 and (len(self._tracks) > self.max_runs or self.bytes > self.max_bytes):
            _, track = self._tracks.popitem(last=False)
            self._forget(track)
            self.evictions += 1


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

