"""Building a topic page's simulation panels: parse the query, resolve presets, notices.

The topic view calls `build_panels(topic, request.GET)`; the `{% simulation_panels %}` tag
only renders what this returns. The query string can open a panel in a given state,
validated, never a 500:

- `?preset=<slug>`: one of the topic's presets (the one preset rule: `presets`);
- `?run=<token>&step=<n>`: a permalink (the token names its engine);
- `?step=<n>` alone: the default run of the first panel, at step n.

A bad value shows the default run and a visible notice saying what was wrong. The first
frame is rendered on the server, so the page shows the stage even before (or without)
the WebSocket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from simulations import registry
from simulations.engines.base import Engine
from simulations.models import SimulationPreset
from simulations.presets import PresetChoice, engines_for_topic, presets_for, see_it_links
from simulations.render.panel import PanelRenderer, ViewState, default_prefix
from simulations.render.schema_controls import params_fields
from simulations.runs import FieldError, RunError, RunSession, RunSpec, decode_run, default_run, parse_whole
from simulations.wire import wire_json


@dataclass
class Panel:
    engine: type[Engine]
    renderer: PanelRenderer
    session: RunSession
    view: ViewState = field(default_factory=ViewState)
    preset: PresetChoice | None = None
    #: Presets to offer as links (the one preset rule, this topic's).
    menu: list[PresetChoice] = field(default_factory=list)
    notice: str = ""
    notice_errors: list[FieldError] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.engine.title

    @property
    def description(self) -> str:
        return self.engine.description

    @property
    def lead(self) -> str:
        """The one sentence above Play: the preset's own description when one is chosen,
        else the engine's lead."""
        return self.preset.description if self.preset else self.engine.lead

    @property
    def internals_label(self) -> str:
        return self.engine.internals_label

    @property
    def answer(self) -> tuple[str, str] | None:
        """(label, query) of the preset that answers this one ("Show a losing schedule"),
        when the chosen preset asks the learner to do something."""
        if self.preset is None:
            return None
        found = dict(self.engine.preset_answers).get(self.preset.slug)
        if found is None or not any(p.slug == found[1] for p in self.menu):
            return None
        return found[0], urlencode({"preset": found[1]})

    @property
    def prefix(self) -> str:
        return self.renderer.prefix

    @property
    def ids(self) -> dict[str, str]:
        return self.renderer.ids

    @property
    def ws_url(self) -> str:
        query = urlencode({"panel": self.prefix, "run": self.session.token(), "step": self.session.position})
        return f"/ws/simulations/{self.engine.slug}/?{query}"

    @property
    def wire(self) -> str:
        return wire_json()

    @property
    def analyses(self) -> list[tuple[str, str]]:
        return self.renderer.analyses

    @property
    def has_params(self) -> bool:
        return bool(params_fields(self.engine))

    def html(self) -> dict[str, str]:
        r, s, v = self.renderer, self.session, self.view
        frame = s.frame
        return {
            "stage": r.stage(frame),
            "metrics": r.metrics(frame),
            "log": r.log_items(s.log(limit=200)),
            "controls_counter": r.counter(s),
            "timeline": r.timeline(s),
            "play": r.play(s, v),
            "permalink": r.permalink(s, v),
            "seed": r.seed(s),
            "speed": r.speed(v),
            "params": r.params_fieldset(s.spec.params),
            "actions": r.actions_fieldset(s.spec.params, frame),
            "analysis": r.analysis_empty(),
            "notice": r.error_html(self.notice, self.notice_errors),
        }


@dataclass
class TopicSimulations:
    """What a topic page shows of the simulations: its panels, and the "See it" link of
    each key feature and use case that has a preset (its text -> URL)."""

    panels: list[Panel]
    feature_links: dict[str, str] = field(default_factory=dict)
    use_case_links: dict[str, str] = field(default_factory=dict)


def build_panels(topic, query: Mapping[str, str]) -> TopicSimulations:
    """The topic's panels, opened as the query string asks (validated; see module docstring)."""
    instructors = list(SimulationPreset.objects.filter(topic_id=topic.pk).select_related("key_feature", "use_case")
                       .order_by("order", "name"))
    for preset in instructors:
        preset.topic = topic  # the page's topic, already loaded: no query for it
    engines = engines_for_topic(topic.slug, instructors)
    if not engines:
        return TopicSimulations([])
    menus = {e: presets_for(e, instructors) for e in engines}
    feature_links, use_case_links = see_it_links(topic.slug, engines, menus)
    target: type[Engine] | None = None
    spec: RunSpec | None = None
    step = 0
    chosen_preset: PresetChoice | None = None
    notice, notice_errors = "", []

    preset_slug = (query.get("preset") or "").strip()[:120]
    token = (query.get("run") or "").strip()
    raw_step = (query.get("step") or "").strip()[:12]

    if token:
        try:
            target, spec = decode_run(token, registry.get)
            if target not in engines:
                raise RunError([FieldError(("run",), f"that link is for the {target.title} simulation, "
                                                     "which this page does not show")])
        except RunError as exc:
            target, spec = None, None
            notice, notice_errors = "That run link could not be opened, so the default run is shown.", exc.errors
        if target is not None and preset_slug:
            # The address bar of a run started from a preset (simulations.js keeps ?preset=):
            # the panel still names the preset it came from.
            chosen_preset = next((p for p in menus[target] if p.slug == preset_slug), None)
    elif preset_slug:
        found = next((p for e in engines for p in menus[e] if p.slug == preset_slug), None)
        if found is None:
            notice = f"There is no preset called {preset_slug!r} here, so the default run is shown."
        else:
            try:
                target, spec, chosen_preset = found.engine_cls, found.run_spec(), found
            except RunError as exc:
                notice, notice_errors = "That preset no longer fits its simulation, so the default run is shown.", exc.errors

    if raw_step:
        if target is None and not notice:
            target = engines[0]
        bound = (target or engines[0]).max_steps
        try:
            step = parse_whole(raw_step, ("step",), 0, bound)
        except RunError as exc:
            step = 0
            if not notice:
                notice = "That step is not valid, so the run starts at step 0."
            notice_errors = [*notice_errors, *exc.errors]

    panels = []
    for engine_cls in engines:
        renderer = PanelRenderer(engine_cls, default_prefix(engine_cls.slug))
        chosen = engine_cls is target or (target is None and engine_cls is engines[0])
        run = spec if (engine_cls is target and spec is not None) else default_run(engine_cls)
        session = RunSession(engine_cls, run, render=renderer.frame_html)
        if chosen:
            session.seek(step)
        panel = Panel(engine_cls, renderer, session, menu=menus[engine_cls])
        if chosen:
            panel.preset = chosen_preset if engine_cls is target else None
            panel.notice, panel.notice_errors = notice, notice_errors
        panels.append(panel)
    return TopicSimulations(panels, feature_links, use_case_links)
