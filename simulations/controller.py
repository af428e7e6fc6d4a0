"""What the socket does with each command, sans IO (h11-style): given a viewer and a
command, change the viewer's session and view, and say what to send and what to start
or stop. The consumer awaits and sends; everything else is here, testable without a socket.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from simulations import limits, protocol, registry
from simulations.engines.base import Engine
from simulations.process import ProcessState
from simulations.protocol import Command, ProtocolError
from simulations.render.panel import PanelRenderer, ViewState
from simulations.render.schema_controls import decode_action_form, decode_params_form
from simulations.runs import (
    MAX_SEED,
    FieldError,
    RunError,
    RunSession,
    RunSpec,
    decode_run,
    default_run,
    parse_action,
    parse_params,
    parse_whole,
)

#: One frame every BASE_INTERVAL / speed seconds while playing (engines without virtual time).
BASE_INTERVAL = 0.6
#: Timed engines: the wall time between frames follows their virtual time, but at 1x no
#: gap is shorter than MIN_GAP (a burst of events stays watchable) or longer than MAX_GAP
#: (a long idle stretch is shortened, so nothing waits with nothing moving).
MIN_GAP = 0.15
MAX_GAP = 1.5


@dataclass
class Viewer:
    """One socket's run and view."""

    panel: PanelRenderer
    proc: ProcessState
    session: RunSession = field(init=False)
    view: ViewState = field(default_factory=ViewState)
    #: Set by the consumer while an analysis of this viewer's computes.
    analysing: bool = False

    @property
    def engine_cls(self) -> type[Engine]:
        return self.panel.engine_cls

    def open(self, spec: RunSpec) -> RunSession:
        """Show `spec`. Viewers of the same run share its frames and, per panel prefix (the
        HTML names its DOM ids after it), its rendered HTML: one engine step and one render
        per frame, however many viewers."""
        self.session = RunSession(self.engine_cls, spec, render=self.panel.frame_html,
                                  store=self.proc.store, render_key=self.panel.prefix)
        return self.session

    def load(self, token: str | None, step: Any) -> None:
        """Open a permalink token at a step (both optional). Raises RunError, changing nothing."""
        if token:
            engine_cls, spec = decode_run(token, registry.get)
            if engine_cls is not self.engine_cls:
                raise RunError([FieldError(("run",), f"this link is for the {engine_cls.title} simulation")])
        else:
            spec = default_run(self.engine_cls)
        index = parse_whole(step, ("step",), 0, self.engine_cls.max_steps) if step not in (None, "") else 0
        self.open(spec).seek(index)

    @property
    def interval(self) -> float:
        """Seconds from the frame shown to the next while playing."""
        scale = self.engine_cls.wall_seconds_per_time_unit
        if scale is None:
            return BASE_INTERVAL / self.view.speed
        nxt = self.session.peek()
        gap = BASE_INTERVAL if nxt is None else (nxt.time - self.session.frame.time) * scale
        return min(max(gap, MIN_GAP), MAX_GAP) / self.view.speed


@dataclass(frozen=True)
class Reply:
    """What to do after a command: send `text` (if any), stop playing, start playing after
    `play_after` seconds (restarting if it plays), or compute an analysis."""

    text: str = ""
    stop: bool = False
    play_after: float | None = None
    analyse: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Tick:
    """One step of play: the message to send, and the seconds to the next (None: stop)."""

    text: str
    next_in: float | None


# --------------------------------------------------------------------------- connecting


def connect(engine_cls: type[Engine], request: protocol.Connect, proc: ProcessState) -> tuple[Viewer, Reply]:
    viewer = Viewer(PanelRenderer(engine_cls, request.prefix), proc)
    notice, errors = "", []
    try:
        viewer.load(request.run, request.step)
    except RunError as exc:
        viewer.open(default_run(engine_cls))
        notice, errors = "That run link could not be opened, so the default run is shown.", exc.errors
    if request.speed is not None:
        viewer.view.speed = request.speed
    play = request.playing and not viewer.session.at_end
    viewer.view.playing = play  # the state already reads "Pause" when it resumes playing
    text = viewer.panel.state_message(viewer.session, viewer.view, notice, errors)
    return viewer, Reply(text, play_after=viewer.interval if play else None)


# --------------------------------------------------------------------------- costs


def cost(viewer: Viewer, command: Command) -> int:
    """What a command will cost in engine steps, judged when it arrives (limits.Budgets)."""
    if isinstance(command, protocol.Seek):
        return max(0, command.index - viewer.session.last)
    if isinstance(command, (protocol.Reset, protocol.SetParams)):
        return limits.NEW_RUN_COST
    if isinstance(command, protocol.Resume):
        return limits.NEW_RUN_COST + command.step
    if isinstance(command, protocol.Analyse):
        return limits.ANALYSIS_COST
    return 0


def connect_cost(request: protocol.Connect) -> int:
    step = request.step or ""
    return limits.NEW_RUN_COST + (int(step) if step.isascii() and step.isdigit() and len(step) < 6 else 0)


# --------------------------------------------------------------------------- commands


def handle(viewer: Viewer, command: Command) -> Reply:
    """Carry out one command. Raises ProtocolError or RunError (nothing changed) for one
    that cannot be carried out."""
    panel, view = viewer.panel, viewer.view
    session = viewer.session
    messages = viewer.proc.messages

    def stop() -> None:
        view.playing = False

    if isinstance(command, protocol.Play):
        if command.unpaced_steps is not None:
            view.playing = True
            return Reply(stop=True)  # the consumer runs `unpaced_messages`
        if view.playing:
            return Reply(controls(viewer))
        view.playing = True
        if session.at_end:  # Replay: back to the start, then play
            session.seek(0)
            return Reply(messages.jump(panel, session, view), play_after=viewer.interval)
        return Reply(play_after=0.0)
    if isinstance(command, protocol.Pause):
        stop()
        return Reply(controls(viewer), stop=True)
    if isinstance(command, protocol.Step):
        stop()
        if session.awaiting_input:  # a step would only wait: say what to do instead
            return Reply(controls(viewer, notice=f"It is your move: {viewer.engine_cls.waiting_hint}"), stop=True)
        if session.forward() is None:
            return Reply(controls(viewer, notice="This run has ended: press Replay, step back, or reset."), stop=True)
        return Reply(messages.step(panel, session, view) + panel.error(), stop=True)
    if isinstance(command, protocol.Back):
        stop()
        if session.back() is None:
            return Reply(controls(viewer, notice="Already at the first step."), stop=True)
        return Reply(messages.jump(panel, session, view), stop=True)
    if isinstance(command, protocol.Seek):
        before = session.position
        session.seek(command.index)
        if session.position == before + 1:
            return Reply(messages.step(panel, session, view) + panel.error())
        return Reply(messages.jump(panel, session, view))
    if isinstance(command, protocol.Speed):
        view.speed = command.speed
        text = panel.speed(view) + panel.permalink(session, view) + panel.error()
        # The new pace applies from now, not after the old (maybe 2.4 s) interval.
        return Reply(text, play_after=viewer.interval if view.playing else None)
    if isinstance(command, protocol.Reset):
        if command.new:
            seed = secrets.randbelow(MAX_SEED + 1)
        else:
            seed = session.spec.seed if command.seed is None else command.seed
        stop()
        viewer.open(replace(session.spec, seed=seed, actions=()))
        return Reply(panel.state_message(viewer.session, view), stop=True)
    if isinstance(command, protocol.SetParams):
        merged = {**session.spec.params.model_dump(), **decode_params_form(viewer.engine_cls, command.values)}
        try:
            params = parse_params(viewer.engine_cls, merged)
        except RunError as exc:
            text = (panel.error("Those parameters were not accepted; the run is unchanged.", exc.errors)
                    + panel.params_fieldset(session.spec.params, dict(command.values), exc.errors))
            return Reply(text)
        stop()
        viewer.open(replace(session.spec, params=params, actions=()))
        return Reply(panel.state_message(viewer.session, view) + panel.analysis_empty(), stop=True)
    if isinstance(command, protocol.ApplyAction):
        action = parse_action(viewer.engine_cls, decode_action_form(viewer.engine_cls, command.values))
        try:
            event = session.apply(action)
        except ValueError as exc:
            raise ProtocolError(f"Not possible now: {exc}") from None
        if viewer.engine_cls.action_advances(action):
            # "Run T1": the action and the step it chooses, as one command and one frame.
            at = session.position
            stop()
            if session.forward() is not None:
                return Reply(panel.action_step_message(session, view, event, at), stop=True)
        return Reply(panel.action_message(viewer.session, view, event))
    if isinstance(command, protocol.Analyse):
        if viewer.analysing:
            raise ProtocolError("An analysis is already running; wait for it to finish.")
        label = str(dict(viewer.engine_cls.analyses)[command.name])
        return Reply(panel.analysis_busy(label) + panel.error(), analyse=(command.name, session.spec.params))
    if isinstance(command, protocol.Resume):
        old = viewer.session
        stop()
        try:
            viewer.load(command.run, command.step)
        except RunError:
            viewer.session = old
            raise
        if command.speed is not None:
            view.speed = command.speed
        play = command.playing and not viewer.session.at_end
        view.playing = play
        return Reply(panel.state_message(viewer.session, view), stop=True,
                     play_after=viewer.interval if play else None)
    if isinstance(command, protocol.SendState):
        return Reply(panel.state_message(session, view))
    raise TypeError(f"not a command: {command!r}")


def controls(viewer: Viewer, clear_error: bool = True, notice: str = "") -> str:
    html = viewer.panel.controls(viewer.session, viewer.view)
    if clear_error or notice:
        html += viewer.panel.error(notice)
    return html


# --------------------------------------------------------------------------- playing


def tick(viewer: Viewer) -> Tick:
    """The next frame of play, and when the one after it is due."""
    session, view, panel = viewer.session, viewer.view, viewer.panel
    if session.awaiting_input:
        view.playing = False
        return Tick(panel.controls(session, view) + panel.waiting(), None)
    frame = session.forward()
    if frame is None or session.at_end:
        view.playing = False
    if frame is None:
        return Tick(controls(viewer, clear_error=False), None)
    text = viewer.proc.messages.step(panel, session, view)
    return Tick(text, viewer.interval if view.playing else None)


#: Players wake on a shared grid of this many seconds: every player due within one slot is
#: woken by the same turn of the event loop, which then polls its sockets once for all of
#: them instead of once per frame. 500 viewers at 10 frames a second each woke the loop
#: about 5,000 times a second, and its polls were about a fifth of the server's time
#: (`make bench`, capacity row). A frame is at most one slot later than due.
WAKE_GRID = 0.005


class Pacer:
    """Play's schedule: frames due every `interval` from the first, not `interval` after
    each send returned; a player that fell behind (a slow client or loop) starts a new
    schedule from now instead of bursting to catch up. It wakes on WAKE_GRID's slots."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.next_at = clock()

    def delay(self, interval: float) -> float:
        """Seconds to wait before the next frame: to the first grid slot at or after it."""
        self.next_at += interval
        now = self.clock()
        if self.next_at < now:
            self.next_at = now
            return 0.0
        return max(0.0, math.ceil(self.next_at / WAKE_GRID) * WAKE_GRID - now)


def unpaced_messages(viewer: Viewer, steps: int) -> Iterator[str]:
    """The messages of unpaced play (`make bench`): `steps` frames, then the controls with a
    bench-done marker. A finished run restarts with the next seed, so the count is always
    reached. The bench's bare baseline sends exactly these messages, pre-rendered."""
    panel, view, messages = viewer.panel, viewer.view, viewer.proc.messages
    sent = 0
    while sent < steps:
        if viewer.session.forward() is None:
            spec = viewer.session.spec
            viewer.open(replace(spec, seed=(spec.seed + 1) % (MAX_SEED + 1), actions=()))
            yield messages.jump(panel, viewer.session, view)
        else:
            yield messages.step(panel, viewer.session, view)
        sent += 1
    view.playing = False
    yield panel.controls(viewer.session, view) + f'<div id="{panel.prefix}-bench-done" hidden data-frames="{sent}"></div>'


def analysis_result(viewer: Viewer, name: str, data: Any) -> str:
    return viewer.panel.analysis(name, data)


def analysis_failed(viewer: Viewer) -> str:
    return viewer.panel.analysis_empty() + viewer.panel.error(
        "That analysis failed on the server; the simulation is unaffected."
    )
