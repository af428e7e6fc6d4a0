"""A viewer's session of a run: a position and a horizon on a shared `RunTrack`.

Seeking back reads cached frames; seeking forward steps on (or takes the frames
another session of the run computed already). **Branching:** applying an action
while standing at step k < the last computed frame rewrites history from k on:
every computed frame after k and every action scheduled after k is dropped, the
new action is applied at k, and the run continues from there. Scheduled actions at k
itself are kept, the new one goes after them. Any action changes the run, so the
session moves to the track of its new run (copy-on-write: frames 0..k are shared
with the old track, and no other session's run changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulations.engines.base import Engine, Event, Frame
from simulations.runs.spec import MAX_ACTIONS, RunSpec, ScheduledAction
from simulations.runs.tracks import HTML_KEPT, FramesView, RunStore, RunTrack, engine_at, html_size


@dataclass
class LogEntry:
    step: int
    event: Event


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
        """At the live edge of an engine that waits for the viewer (`Engine.awaiting_input`,
        e.g. race-conditions' manual scheduler): playing stops here."""
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
            cache = self._html
            cache[i] = html
            if self._shared_html:
                self._track.grew(html_size(html))
            if len(cache) > HTML_KEPT:  # the first rendered of those kept goes
                dropped = cache.pop(next(iter(cache)))
                if self._shared_html:
                    self._track.grew(-html_size(dropped))
        return html

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

    def compute_ahead(self, index: int, steps: int) -> bool:
        """Compute at most `steps` more frames toward `index`, without moving; True once
        frame `index` (or the run's end) is computed. Lets a caller compute a long seek in
        slices and serve others between them."""
        index = max(0, min(int(index), self.max_steps))
        self._last = max(self._last, min(index, self._track.last))
        for _ in range(steps):
            if self._last >= index or self.advance() is None:
                return True
        return self._last >= index or self.finished

    def forward(self) -> Frame | None:
        """One step on; None (and no move) at the end."""
        if self.position < self._last or self.advance() is not None:
            self.position += 1
            return self._track.frames[self.position]
        return None

    def peek(self) -> Frame | None:
        """The frame after the position, without moving (computed if it must be); None at the end."""
        if self.position == self._last and self.advance() is None:
            return None
        return self._track.frames[self.position + 1]

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
        (the old track rebuilds one if it must grow again), else one rebuilt at k from the
        old track's snapshots."""
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
                engine = engine_at(old, k)
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
