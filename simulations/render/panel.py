"""The simulation panel's HTML fragments: the same markup for the first page load and
for every WebSocket message, so what the page shows never depends on how it arrived.

Hot path (one call per frame sent): plain f-strings and `html.escape`, no template
engine. Every top-level element of a socket message carries an id (or an
`hx-swap-oob="<style>:#id"`) so that htmx's ws extension swaps it out of band:

- outerHTML (the default): `{p}-stage` (svg), `{p}-metrics`, `{p}-counter`,
  `{p}-timeline`, `{p}-play`, `{p}-permalink`, `{p}-speed`, `{p}-seed`,
  `{p}-params`, `{p}-actions`, `{p}-analysis`;
- innerHTML into elements that stay put, because a live region only announces
  changes to an element that was already on the page: `{p}-narration`
  (aria-live="polite"), `{p}-error` (role="alert"), and `{p}-log` on a jump;
- beforeend: `{p}-log` while stepping forward one frame at a time (new lines only).

`{p}-actions` comes with the full state; for an engine that judges its buttons frame by
frame (`Engine.action_unavailable`) also with every jump, and with a step only when a
button's availability changed, so a playing run rarely sends it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from simulations.engines.base import Engine, Event, Frame
from simulations.render import format_value, stage_for
from simulations.render.schema_controls import ActionControl, FieldSpec, action_controls, humanize, params_fields
from simulations.render.svg import ascii_markup, escape
from simulations.runs import FieldError, LogEntry, RunSession
from simulations.wire import part_ids

#: Playback speeds offered in the select (the consumer accepts any value in between).
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MIN_SPEED, MAX_SPEED = SPEEDS[0], SPEEDS[-1]
#: The log shows at most this many lines after a jump (the page's script trims it while playing).
LOG_LIMIT = 200
PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,79}$")


def default_prefix(slug: str) -> str:
    return f"sim-{slug}"


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


@lru_cache(maxsize=1024)
def _label(key: str) -> str:
    return escape(humanize(str(key)))


def format_speed(speed: float) -> str:
    return f"{speed:g}×"


def icon_span(name: str) -> str:
    """An icon drawn by CSS (a mask of static/icons/<name>.svg in the text colour): a few
    bytes per frame message instead of an inline SVG path."""
    return f'<span class="sim-icon sim-icon--{name}" aria-hidden="true"></span>'


# --------------------------------------------------------------------------- the panel


@dataclass
class ViewState:
    """What the viewer's controls show besides the run: play state and speed."""

    playing: bool = False
    speed: float = 1.0


def _metric_row(key: str, value: Any) -> str:
    """One measurement as a definition-list row. Most values repeat from frame to frame,
    so a hashable one's row is built once (the rows cost about 10 µs a TCP frame)."""
    try:
        return _metric_row_cached(key, value)
    except TypeError:  # a list or dict value: built each time
        return _build_metric_row(key, value)


def _build_metric_row(key: str, value: Any) -> str:
    return f'<div class="sim-metric"><dt>{_label(key)}</dt><dd>{escape(format_value(value))}</dd></div>'


_metric_row_cached = lru_cache(maxsize=8192, typed=True)(_build_metric_row)  # typed: 1, 1.0 and True differ


@dataclass
class PanelRenderer:
    """Renders one panel's fragments. One per (engine, panel id prefix); cheap to build."""

    engine_cls: type[Engine]
    prefix: str
    ids: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = part_ids(self.prefix)
        stage = stage_for(self.engine_cls)
        self._render_stage = stage.stage
        self._render_analysis = stage.analysis
        self._narration_oob = f'<div hx-swap-oob="innerHTML:#{self.ids["narration"]}">'
        self._log_append = f'<ol hx-swap-oob="beforeend:#{self.ids["log"]}">'
        self._log_replace = f'<ol hx-swap-oob="innerHTML:#{self.ids["log"]}">'
        self._error_oob = f'<div hx-swap-oob="innerHTML:#{self.ids["error"]}">'
        self._time_unit = self.engine_cls.time_unit
        # An engine that judges its buttons frame by frame gets the actions fieldset with
        # every jump, and with a step when a button's availability changed (rarely: a thread
        # blocks, unblocks or finishes). Others get it only with the full state.
        self._per_frame_actions = self.engine_cls.actions_vary_per_frame
        self._controls_cache: tuple[Any, list[ActionControl]] | None = None
        self._marks_memo: tuple[Frame, Any, tuple[str | None, ...]] | None = None

    # -- per frame (cached by the session: rendered once per computed frame)

    def stage(self, frame: Frame) -> str:
        return self._render_stage(frame, self.ids["stage"])

    def metrics(self, frame: Frame) -> str:
        rows = "".join(_metric_row(k, v) for k, v in frame.metrics.items())
        return f'<dl id="{self.ids["metrics"]}" class="sim-metrics">{rows}</dl>'

    def frame_html(self, frame: Frame) -> str:
        """The frame-only part of a message: stage, metrics and narration (cached per frame)."""
        # One f-string: the parts are copied once into the result (a chain of + copies the
        # growing stage at every step).
        return f"{self.stage(frame)}{self.metrics(frame)}{self._narration_oob}{escape(frame.narration)}</div>"

    # -- small pieces

    def log_items(self, entries: Iterable[LogEntry]) -> str:
        return "".join(self.log_item(e.step, e.event) for e in entries)

    @staticmethod
    def log_item(step: int, event: Event) -> str:
        # The actor in bold, unless the line already starts with it ("T1: counter = tmp;").
        actor = ""
        if event.actor and not event.text.startswith(event.actor):
            actor = f'<span class="sim-log__actor">{escape(event.actor)}</span> '

        return (
            f'<li class="sim-log__item sim-log__item--{_attr(event.severity)}">'
            f'<span class="sim-log__step" title="Step {step}">{step}</span> {actor}{escape(event.text)}</li>'
        )

    @staticmethod
    def _of(session: RunSession) -> str:
        """The run's length when it is known (computed to its end), else the step bound."""
        return f"of {session.last}" if session.finished else f"of at most {session.max_steps}"

    def counter(self, session: RunSession) -> str:
        text = f"Step {session.position} {self._of(session)}"
        if session.at_end:
            text += " · end"
        if self._time_unit:
            text += f" · {format_value(session.frame.time)} {self._time_unit}"
        return f'<output id="{self.ids["counter"]}" class="sim-counter">{escape(text)}</output>'

    def timeline(self, session: RunSession) -> str:
        # The whole run's length once known, else its bound: the thumb shows how far along
        # the run is (dragging past the computed frames computes them).
        pos = session.position
        end = session.last if session.finished else session.max_steps
        return (
            f'<input id="{self.ids["timeline"]}" class="sim-timeline" type="range" name="index" '
            f'min="0" max="{end}" step="1" value="{pos}" ws-send '
            f'aria-label="Timeline" aria-valuetext="Step {pos} {self._of(session)}">'
        )

    def play(self, session: RunSession, view: ViewState) -> str:
        if view.playing:
            cmd, label, icon = "pause", "Pause", "pause"
        elif session.at_end:
            cmd, label, icon = "play", "Replay", "restart_alt"
        else:
            cmd, label, icon = "play", "Play", "play_arrow"
        return (
            f'<form id="{self.ids["play"]}" class="sim-play" ws-send>'
            f'<input type="hidden" name="cmd" value="{cmd}">'
            f'<button id="{self.prefix}-play-button" type="submit" class="sim-btn sim-btn--primary" data-sim-key="play" '
            f'aria-keyshortcuts="Space">{icon_span(icon)}<span>{label}</span></button></form>'
        )

    def permalink(self, session: RunSession, view: ViewState) -> str:
        token = session.token()
        pos = session.position
        return (
            f'<a id="{self.ids["permalink"]}" class="sim-permalink" '
            f'href="?run={token}&amp;step={pos}#{self.prefix}" data-step="{pos}" '
            f'data-playing="{int(view.playing)}" data-speed="{view.speed:g}">'
            f"{icon_span('link')}<span>Link to step {pos}</span></a>"
        )

    def controls(self, session: RunSession, view: ViewState) -> str:
        return f"{self.counter(session)}{self.timeline(session)}{self.play(session, view)}{self.permalink(session, view)}"

    def seed(self, session: RunSession) -> str:
        return f'<span id="{self.ids["seed"]}" class="sim-seed">Seed {session.spec.seed}</span>'

    def speed(self, view: ViewState) -> str:
        options = "".join(
            f'<option value="{s:g}"{" selected" if math.isclose(s, view.speed) else ""}>{format_speed(s)}</option>'
            for s in SPEEDS
        )
        if not any(math.isclose(s, view.speed) for s in SPEEDS):
            options += f'<option value="{view.speed:g}" selected>{format_speed(view.speed)}</option>'
        return (
            f'<select id="{self.ids["speed"]}" name="speed" class="sim-select" ws-send '
            f'aria-label="Speed">{options}</select>'
        )

    def error_html(self, message: str = "", errors: Sequence[FieldError] = ()) -> str:
        """The error area's content (empty clears it)."""
        if not message and not errors:
            return ""
        items = "".join(f"<li>{escape(str(e))}</li>" for e in errors)
        listing = f"<ul>{items}</ul>" if items else ""
        return f'<div class="sim-error__box"><p>{escape(message)}</p>{listing}</div>'

    def error(self, message: str = "", errors: Sequence[FieldError] = ()) -> str:
        return self._error_oob + self.error_html(message, errors) + "</div>"

    def waiting(self) -> str:
        """Narration when playing stops because the engine waits for the viewer's action."""
        return (
            self._narration_oob
            + escape(f"Paused: the simulation waits for you. {self.engine_cls.waiting_hint}")
            + "</div>"
        )

    # -- messages

    def step_message(self, session: RunSession, view: ViewState) -> str:
        """One frame forward: the frame, its new log lines appended, the controls (and the
        actions, when a button's availability differs from the frame before)."""
        pos = session.position
        events = session.events_at(pos)
        log = ""
        if events:
            log = self._log_append + "".join(self.log_item(pos, e) for e in events) + "</ol>"
        out = f"{session.rendered()}{log}{self.controls(session, view)}"
        if self._per_frame_actions and pos > 0:
            params = session.spec.params
            before = self.action_marks(params, session.frames[pos - 1])  # usually memoised
            marks = self.action_marks(params, session.frame)
            if marks != before:
                out += self._actions_html(params, marks)
        # ASCII, as every message is (svg.ascii_markup): the stages' text already is, so this is
        # mostly a check, kept for whatever a part writes unescaped.
        return ascii_markup(out)

    def jump_message(self, session: RunSession, view: ViewState, clear_error: bool = True) -> str:
        """Any other move (seek, back, connect): the frame, the whole log up to it, the controls."""
        return ascii_markup(
            session.rendered()
            + self._log_replace
            + self.log_items(session.log(limit=LOG_LIMIT))
            + "</ol>"
            + self.controls(session, view)
            + (self.actions_fieldset(session.spec.params, session.frame) if self._per_frame_actions else "")
            + (self.error() if clear_error else "")
        )

    def state_message(self, session: RunSession, view: ViewState, notice: str = "",
                      notice_errors: Sequence[FieldError] = ()) -> str:
        """Everything (a new run, a reconnect): jump + seed, speed, params and actions."""
        return (
            self.jump_message(session, view, clear_error=False)
            + self.error(notice, notice_errors)
            + self.seed(session)
            + self.speed(view)
            + self.params_fieldset(session.spec.params)
            + ("" if self._per_frame_actions else self.actions_fieldset(session.spec.params))
        )

    def action_step_message(self, session: RunSession, view: ViewState, event: Event | None, at: int) -> str:
        """An action applied at step `at` and the step it chose ("Run T1"): the action's log
        line, then the step's message (frame, its log lines, controls)."""
        log = ""
        if event is not None:
            log = self._log_append + self.log_item(at, event) + "</ol>"
        return log + self.step_message(session, view) + self.error()

    def action_message(self, session: RunSession, view: ViewState, event: Event | None) -> str:
        """An action was applied at the position: its log line, narration, and the controls
        (the permalink now includes it; a branch may have shortened the timeline)."""
        out = ""
        if event is not None:
            out = (
                self._log_append + self.log_item(session.position, event) + "</ol>"
                + self._narration_oob + escape(event.text) + "</div>"
            )
        return out + self.controls(session, view) + self.error()

    # -- forms (page load and full state)

    def params_fieldset(self, params: Any, raw: Mapping[str, Any] | None = None,
                        errors: Sequence[FieldError] = ()) -> str:
        values = params.model_dump() if params is not None else {}
        if raw:
            values = {**values, **raw}
        by_field: dict[str, list[str]] = {}
        for err in errors:
            name = next((str(p) for p in err.loc[1:2]), "") if err.loc and err.loc[0] == "params" else ""
            by_field.setdefault(name, []).append(err.msg)
        parts = [self._field(spec, values.get(spec.name, spec.default), by_field.get(spec.name, ()))
                 for spec in params_fields(self.engine_cls)]
        return (
            f'<fieldset id="{self.ids["params"]}" class="sim-params__fields">'
            f"<legend>Parameters</legend>{''.join(parts)}</fieldset>"
        )

    def _field(self, spec: FieldSpec, value: Any, errors: Sequence[str], group: str = "p") -> str:
        fid = f"{self.prefix}-{group}-{spec.name}"
        describedby = []
        help_html = err_html = ""
        if spec.description:
            help_html = f'<span class="sim-field__help" id="{fid}-help">{escape(spec.description)}</span>'
            describedby.append(f"{fid}-help")
        if errors:
            err_html = f'<span class="sim-field__error" id="{fid}-error">{escape("; ".join(errors))}</span>'
            describedby.append(f"{fid}-error")
        aria = ""
        if describedby:
            aria += f' aria-describedby="{" ".join(describedby)}"'
        if errors:
            aria += ' aria-invalid="true"'
        name = f"{group[0]}.{spec.name}"
        if spec.kind == "choice":
            options = "".join(
                f'<option value="{_attr(c.value)}"{" selected" if str(value) == c.value else ""}>{escape(c.label)}</option>'
                for c in spec.choices
            )
            control = f'<select id="{fid}" name="{_attr(name)}" class="sim-select"{aria}>{options}</select>'
        elif spec.kind == "bool":
            sel = bool(value) if not isinstance(value, str) else value.lower() in ("true", "1", "on", "yes")
            control = (
                f'<select id="{fid}" name="{_attr(name)}" class="sim-select"{aria}>'
                f'<option value="true"{" selected" if sel else ""}>Yes</option>'
                f'<option value="false"{"" if sel else " selected"}>No</option></select>'
            )
        elif spec.kind in ("int", "float"):
            bounds = ""
            if spec.minimum is not None:
                bounds += f' min="{spec.minimum:g}"'
            if spec.maximum is not None:
                bounds += f' max="{spec.maximum:g}"'
            shown = "" if value is None else (format(value, "g") if isinstance(value, float) else value)
            control = (
                f'<input id="{fid}" name="{_attr(name)}" type="number" inputmode="decimal" step="{_attr(spec.step)}"'
                f'{bounds} value="{_attr(shown)}" required{aria}>'
            )
        else:
            if spec.kind == "json" and not isinstance(value, str):
                value = json.dumps(value) if value is not None else ""
            control = f'<input id="{fid}" name="{_attr(name)}" type="text" value="{_attr(value or "")}"{aria}>'
        bounds_text = ""
        if spec.kind in ("int", "float") and spec.minimum is not None and spec.maximum is not None:
            bounds_text = f' <span class="sim-field__range">({spec.minimum:g}–{spec.maximum:g})</span>'
        return (
            f'<div class="sim-field{" sim-field--invalid" if errors else ""}">'
            f'<label for="{fid}">{escape(spec.title)}{bounds_text}</label>{control}{help_html}{err_html}</div>'
        )

    def action_controls(self, params: Any) -> list[ActionControl]:
        """`action_controls` for these params, kept for the last params asked (one run's)."""
        cached = self._controls_cache
        if cached is None or (cached[0] is not params and cached[0] != params):
            cached = self._controls_cache = (params, action_controls(self.engine_cls, params))
        return cached[1]

    def action_marks(self, params: Any, frame: Frame | None) -> tuple[str | None, ...]:
        """Per button, why its action is unavailable after `frame` (None: available); empty
        when the engine does not judge its buttons frame by frame."""
        if not self._per_frame_actions or frame is None:
            return ()
        memo = self._marks_memo  # the last frame asked: a step asks again for it as "before"
        if memo is not None and memo[0] is frame and memo[1] is params:
            return memo[2]
        judge = self.engine_cls.action_unavailable
        marks = tuple(
            judge(frame, c.action) if c.action is not None else None for c in self.action_controls(params)
        )
        self._marks_memo = (frame, params, marks)
        return marks

    def actions_fieldset(self, params: Any, frame: Frame | None = None) -> str:
        """The action buttons; with `frame`, those the engine says are unavailable after it
        are marked (aria-disabled, with the reason in the label)."""
        return self._actions_html(params, self.action_marks(params, frame))

    def _actions_html(self, params: Any, marks: Sequence[str | None]) -> str:
        controls = self.action_controls(params)
        if not controls:
            return f'<fieldset id="{self.ids["actions"]}" class="sim-actions" hidden></fieldset>'
        forms = []
        for n, control in enumerate(controls):
            hidden = "".join(
                f'<input type="hidden" name="a.{_attr(k)}" value="{_attr(v)}">' for k, v in control.fixed
            )
            inputs = "".join(self._field(spec, spec.default, (), group=f"a{n}") for spec in control.inputs)
            title = f' title="{_attr(control.description)}"' if control.description else ""
            mark = marks[n] if n < len(marks) else None
            # An id, so that focus survives the fieldset being swapped (simulations.js);
            # aria-disabled rather than disabled, so a focused button keeps its focus and a
            # press still gets the engine's explanation instead of nothing.
            state, note = "", ""
            if mark:
                state = ' aria-disabled="true"'
                note = f' <span class="sim-action__note">({escape(mark)})</span>'
            forms.append(
                f'<form class="sim-action" ws-send><input type="hidden" name="cmd" value="action">{hidden}'
                f'{inputs}<button id="{self.prefix}-action-{n}" type="submit" class="sim-btn"{title}{state}>'
                f"{escape(control.label)}{note}</button></form>"
            )
        return (
            f'<fieldset id="{self.ids["actions"]}" class="sim-actions">'
            f"<legend>Actions</legend>{''.join(forms)}</fieldset>"
        )

    def analysis(self, name: str, data: Mapping[str, Any]) -> str:
        return self._render_analysis(name, data, self.ids["analysis"])

    def analysis_busy(self, label: str) -> str:
        return (
            f'<section id="{self.ids["analysis"]}" class="sim-analysis" aria-busy="true">'
            f"<p>{escape(label)}: working…</p></section>"
        )

    def analysis_empty(self) -> str:
        return f'<section id="{self.ids["analysis"]}" class="sim-analysis" hidden></section>'

    @cached_property
    def analyses(self) -> list[tuple[str, str]]:
        return [(str(k), str(v)) for k, v in dict(self.engine_cls.analyses).items()]
