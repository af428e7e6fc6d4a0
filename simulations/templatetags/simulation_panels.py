"""Template tags the topic page uses to embed simulations.

`{% simulation_panels topic %}` renders one live panel per engine of the topic
(engines whose `topic_slug` is the topic's, plus any engine an instructor's
preset for this topic uses). The page's query string can open a panel in a given
state, validated, never a 500:

- `?preset=<slug>`: an instructor's preset of this topic, or an engine's built-in one;
- `?run=<token>&step=<n>`: a permalink (the token names its engine);
- `?step=<n>` alone: the default run of the first panel, at step n.

A bad value shows the default run and a visible notice saying what was wrong.
The first frame is rendered on the server, so the page shows the stage even
before (or without) the WebSocket.

`{% feature_preset_link feature %}` renders a "See it" link for a key feature
that has a preset (one query per page, not per feature).
`{% simulation_assets %}` emits the panel's CSS and JS; the panels tag emits them
itself when the page has not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from simulations import registry
from simulations.engines.base import Engine, Preset
from simulations.models import SimulationPreset
from simulations.render.panel import PanelRenderer, ViewState, default_prefix, params_fields
from simulations.runs import FieldError, RunError, RunSession, RunSpec, decode_run, default_run, parse_run, parse_step

register = template.Library()

_ASSETS_KEY = "simulations_assets_emitted"


@dataclass
class PanelPreset:
    slug: str
    name: str
    description: str


@dataclass
class Panel:
    engine: type[Engine]
    renderer: PanelRenderer
    session: RunSession
    view: ViewState = field(default_factory=ViewState)
    preset: PanelPreset | None = None
    #: Presets to offer as links: the instructors' (this topic, this engine), else the engine's.
    menu: list[PanelPreset] = field(default_factory=list)
    notice: str = ""
    notice_errors: list[FieldError] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.engine.title

    @property
    def description(self) -> str:
        return self.engine.description

    @property
    def slug(self) -> str:
        return self.engine.slug

    @property
    def prefix(self) -> str:
        return self.renderer.prefix

    @property
    def ws_url(self) -> str:
        query = urlencode({"panel": self.prefix, "run": self.session.token(), "step": self.session.position})
        return f"/ws/simulations/{self.engine.slug}/?{query}"

    def html(self) -> dict[str, SafeString]:
        r, s, v = self.renderer, self.session, self.view
        frame = s.frame
        return {
            name: mark_safe(value)
            for name, value in {
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
            }.items()
        }


def topic_presets(context, topic_id: int) -> list[SimulationPreset]:
    """The topic's presets, one query per page render, shared by both tags."""
    key = f"simulations_topic_presets_{topic_id}"
    cached = context.render_context.get(key) if context is not None else None
    if cached is None:
        cached = list(SimulationPreset.objects.filter(topic_id=topic_id).order_by("order", "name"))
        if context is not None:
            context.render_context[key] = cached
    return cached


def _engines_for(topic, context=None) -> tuple[list[type[Engine]], dict[str, SimulationPreset]]:
    engines = list(registry.for_topic(topic.slug))
    presets = {p.slug: p for p in topic_presets(context, topic.pk)}
    for preset in presets.values():
        engine_cls = registry.get(preset.engine)
        if engine_cls is not None and engine_cls not in engines:
            engines.append(engine_cls)
    return engines, presets


def _builtin_preset(engines: list[type[Engine]], slug: str) -> tuple[type[Engine], Preset] | None:
    for engine_cls in engines:
        for preset in engine_cls.presets:
            if preset.slug == slug:
                return engine_cls, preset
    return None


def build_panels(topic, query, context=None) -> list[Panel]:
    """The topic's panels, opened as the query string asks (validated; see module docstring)."""
    engines, db_presets = _engines_for(topic, context)
    if not engines:
        return []
    target: type[Engine] | None = None
    spec: RunSpec | None = None
    step = 0
    preset_info: PanelPreset | None = None
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
    elif preset_slug:
        found = db_presets.get(preset_slug)
        try:
            if found is not None:
                target = registry.get(found.engine)
                spec = found.run_spec()
                preset_info = PanelPreset(found.slug, found.name, found.description)
            elif (builtin := _builtin_preset(engines, preset_slug)) is not None:
                target, preset = builtin
                spec = parse_run(target, **preset.run_data())
                preset_info = PanelPreset(preset.slug, preset.name, preset.description)
            else:
                notice = f"There is no preset called {preset_slug!r} here, so the default run is shown."
        except RunError as exc:
            target, spec, preset_info = None, None, None
            notice, notice_errors = "That preset no longer fits its simulation, so the default run is shown.", exc.errors

    if raw_step:
        if target is None and not notice:
            target = engines[0]
        bound = (target or engines[0]).max_steps
        try:
            step = parse_step(raw_step, ("step",), bound)
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
        panel = Panel(engine_cls, renderer, session)
        panel.menu = [
            PanelPreset(p.slug, p.name, p.description) for p in db_presets.values() if p.engine == engine_cls.slug
        ] or [PanelPreset(p.slug, p.name, p.description) for p in engine_cls.presets]
        if chosen:
            panel.preset = preset_info if engine_cls is target else None
            panel.notice, panel.notice_errors = notice, notice_errors
        panels.append(panel)
    return panels


def _assets(context) -> str:
    if context.render_context.get(_ASSETS_KEY):
        return ""
    # render_context is per template; remember on the request too (one per page).
    request = context.get("request")
    if request is not None:
        if getattr(request, "_simulation_assets", False):
            return ""
        request._simulation_assets = True
    context.render_context[_ASSETS_KEY] = True
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("css/simulations.css"),
        static("js/simulations.js"),
    )


@register.simple_tag(takes_context=True)
def simulation_assets(context) -> SafeString:
    """The panels' stylesheet and script (put it in the page's <head>; emitted once)."""
    return mark_safe(_assets(context))


@register.simple_tag(takes_context=True)
def simulation_panels(context, topic) -> SafeString:
    if topic is None:
        return mark_safe("")
    request = context.get("request")
    query = request.GET if request is not None else {}
    panels = build_panels(topic, query, context)
    if not panels:
        return mark_safe("")
    html = render_to_string(
        "simulations/panels.html",
        {
            "panels": [
                {
                    "panel": p,
                    "html": p.html(),
                    "analyses": p.renderer.analyses,
                    "has_params": bool(params_fields(p.engine)),
                }
                for p in panels
            ],
            "assets": mark_safe(_assets(context)),
        },
        request=request,
    )
    return mark_safe(html)


def _feature_presets(context, topic_id: int) -> dict[int, SimulationPreset]:
    by_feature: dict[int, SimulationPreset] = {}
    for preset in topic_presets(context, topic_id):
        if preset.key_feature_id is not None:
            by_feature.setdefault(preset.key_feature_id, preset)
    return by_feature


@register.simple_tag(takes_context=True)
def feature_preset_link(context, feature) -> SafeString:
    if feature is None or not getattr(feature, "pk", None):
        return mark_safe("")
    preset = _feature_presets(context, feature.topic_id).get(feature.pk)
    if preset is None or registry.get(preset.engine) is None:
        return mark_safe("")
    preset.topic = feature.topic  # the page's topic, already loaded: no query for it
    return format_html(
        '<a class="sim-see-it" href="{}">See it<span class="visually-hidden"> in the simulation: {}</span></a>',
        preset.get_absolute_url(),
        feature.text,
    )
