"""Staff-only views behind the preset form (wired through SimulationPresetAdmin.get_urls, so
`admin_site.admin_view` gives them the login, staff check and CSRF protection):

- `editor_view` (GET): the run editor for an engine: its parameters as a form generated from
  its JSON schema and its scripted actions as rows of a table, holding the values of the
  form's `params` and `actions` JSON, with the errors parsing them gives, field by field;
- `choices_view` (GET): the key features and use cases of the chosen topic, as options;
- `preview_view` (POST): the run as the form stands, validated by `parse_run`, played for
  its first PREVIEW_FRAMES steps: one frame's stage, metrics and narration at a time, drawn
  by the panel's own `PanelRenderer.frame_html`.

The JSON fields stay the source of truth: the page's script (static/js/preset_admin.js)
writes what the instructor sets in the generated controls into them, and saving validates
them in the model's `clean()`, as before. The one reading of the schema is
`render.schema_controls` (`params_fields`, `action_variants`); fields are drawn by the
panel's field renderer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from simulations import registry
from simulations.engines.base import Engine
from simulations.render.panel import PanelRenderer
from simulations.render.schema_controls import ActionVariant, Choice, FieldSpec, action_variants, params_fields
from simulations.runs import (
    FieldError,
    RunError,
    RunSession,
    dump_action,
    format_loc,
    loads_strict,
    parse_actions,
    parse_params,
    parse_run,
    parse_whole,
)
from topics.models import Topic

#: The preview plays at most this many steps after frame 0.
PREVIEW_FRAMES = 60
#: A JSON field longer than this is refused before parsing (a preset's run is far smaller).
MAX_JSON_CHARS = 100_000
EDITOR_PREFIX = "preset"
PREVIEW_PREFIX = "preset-preview"
TEMPLATES = "admin/simulations/simulationpreset/"


# --------------------------------------------------------------------------- parsing


def load_json(text: str | None, field: str) -> tuple[Any, list[FieldError]]:
    """A JSON field's text -> (value, errors). Blank is None (the model's defaults)."""
    if text is None or not text.strip():
        return None, []
    if len(text) > MAX_JSON_CHARS:
        return None, [FieldError((field,), f"is too long: at most {MAX_JSON_CHARS} characters")]
    try:
        return loads_strict(text), []
    except json.JSONDecodeError as exc:
        return None, [FieldError((field,), f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
    except ValueError as exc:  # NaN/Infinity, or nested too deeply
        return None, [FieldError((field,), f"is not valid JSON: {exc}")]


def _errors_by_key(errors: Sequence[FieldError], depth: int) -> dict[tuple, list[str]]:
    """Errors keyed by the first `depth` parts of their location after the field name."""
    out: dict[tuple, list[str]] = {}
    for err in errors:
        out.setdefault(tuple(err.loc[1:1 + depth]), []).append(err.msg)
    return out


# --------------------------------------------------------------------------- the run editor


@dataclass(frozen=True)
class Control:
    """One generated control: the panel's field HTML, and how its value goes into the JSON."""

    name: str
    kind: str
    html: SafeString


@dataclass(frozen=True)
class ActionRow:
    index: int
    step: Any
    type: str
    variants: tuple[tuple[str, str, str, bool], ...]  # (value, label, starter JSON, selected)
    controls: tuple[Control, ...]
    step_errors: tuple[str, ...]
    errors: tuple[str, ...]


def _with_value(spec: FieldSpec, value: Any) -> FieldSpec:
    """A choice field whose current value is not among its choices shows it anyway (marked),
    so the control never claims a value the JSON does not hold."""
    if spec.kind == "choice" and value is not None and str(value) not in {c.value for c in spec.choices}:
        return replace(spec, choices=(*spec.choices, Choice(str(value), f"{value} (not valid here)")))
    return spec


def _control(renderer: PanelRenderer, spec: FieldSpec, value: Any, errors: Sequence[str], group: str) -> Control:
    # The panel's field renderer: the same label, bounds, help and error markup as the page.
    html = renderer._field(_with_value(spec, value), value, errors, group=group)  # noqa: SLF001
    return Control(spec.name, spec.kind, mark_safe(html))  # noqa: S308 - the renderer escapes


def starter_value(spec: FieldSpec) -> Any:
    """A value a new action row starts with: the default, else the first allowed value."""
    if spec.default is not None:
        return spec.default
    if spec.kind == "choice":
        return spec.choices[0].value if spec.choices else ""
    if spec.kind in ("int", "float"):
        return spec.minimum if spec.minimum is not None else 0
    if spec.kind == "bool":
        return False
    return ""


def starter_action(variant: ActionVariant) -> dict[str, Any]:
    action = {variant.tag: variant.type} if variant.tag else {}
    action.update((spec.name, starter_value(spec)) for spec in variant.fields)
    return action


def _rows(actions: Any) -> list[tuple[Any, Any]] | None:
    """[(step, action dict)] when the JSON has the shape the table shows, else None."""
    if actions is None:
        return []
    if not isinstance(actions, list):
        return None
    rows = []
    for item in actions:
        if isinstance(item, Mapping) and set(item) <= {"step", "action"} and isinstance(item.get("action"), Mapping):
            rows.append((item.get("step"), item["action"]))
        elif isinstance(item, list) and len(item) == 2 and isinstance(item[1], Mapping):
            rows.append((item[0], item[1]))
        else:
            return None
    return rows


def editor_context(engine_cls: type[Engine] | None, params_text: str | None, actions_text: str | None) -> dict:
    if engine_cls is None:
        return {"engine": None}
    renderer = PanelRenderer(engine_cls, EDITOR_PREFIX)
    params, params_errors = load_json(params_text, "params")
    parsed_params = None
    if not params_errors:
        try:
            parsed_params = parse_params(engine_cls, params)
        except RunError as exc:
            params_errors = exc.errors
    values = params if isinstance(params, Mapping) else {}
    by_name = _errors_by_key(params_errors, 1)
    specs = params_fields(engine_cls)
    param_controls = [
        _control(renderer, spec, values.get(spec.name, spec.default), by_name.get((spec.name,), ()), "p")
        for spec in specs
    ]
    known = {(s.name,) for s in specs}
    params_other = [str(e) for e in params_errors if tuple(e.loc[1:2]) not in known]

    actions, actions_errors = load_json(actions_text, "actions")
    if not actions_errors:
        try:
            parse_actions(engine_cls, actions)
        except RunError as exc:
            actions_errors = exc.errors
    variants = action_variants(engine_cls, parsed_params)
    rows = _rows(actions) if not any(e.loc == ("actions",) for e in actions_errors) else None
    action_rows: list[ActionRow] = []
    # Errors a row shows beside its own controls; the rest are listed above the table.
    actions_other = [str(e) for e in actions_errors if rows is None or len(e.loc) < 2]
    if rows is not None:
        for i, (step, action) in enumerate(rows):
            action_rows.append(_action_row(renderer, variants, i, step, action, actions_errors))
    return {
        # Not the class itself: a template would call it.
        "engine": {"slug": engine_cls.slug, "title": engine_cls.title},
        "topic_id": Topic.objects.filter(slug=engine_cls.topic_slug).values_list("pk", flat=True).first(),
        "param_controls": param_controls,
        "params_errors": params_other,
        "rows": action_rows,
        "table_ok": rows is not None,
        "actions_errors": actions_other,
        "tag": variants[0].tag if variants else "type",
        "first_starter": json.dumps(starter_action(variants[0])) if variants else "",
        "max_step": engine_cls.max_steps - 1,
    }


def _action_row(renderer, variants, i, step, action, errors) -> ActionRow:
    tag = variants[0].tag if variants else ""
    kind = str(action.get(tag, "")) if tag else ""
    variant = next((v for v in variants if v.type == kind), None) if tag else (variants[0] if variants else None)
    options = [(v.type, v.title, json.dumps(starter_action(v)), v is variant) for v in variants]
    if variant is None and tag:
        options.append((kind, f"{kind} (not an action of this simulation)", "", True))
    row_errors = [e for e in errors if len(e.loc) > 1 and e.loc[1] == i]
    field_errors: dict[str, list[str]] = {}
    step_errors, other = [], []
    for err in row_errors:
        rest = err.loc[2:]
        if rest[:1] == ("step",) or rest[:1] == (0,):
            step_errors.append(err.msg)
        elif len(rest) >= 2 and rest[0] in ("action", 1) and variant is not None and rest[1] in {
            s.name for s in variant.fields
        }:
            field_errors.setdefault(str(rest[1]), []).append(err.msg)
        else:
            other.append(f"{format_loc(rest)}: {err.msg}" if rest else err.msg)
    controls = ()
    if variant is not None:
        controls = tuple(
            _control(renderer, spec, action.get(spec.name, spec.default), field_errors.get(spec.name, ()), f"a{i}")
            for spec in variant.fields
        )
    return ActionRow(i, "" if step is None else step, kind, tuple(options), controls, tuple(step_errors), tuple(other))


# --------------------------------------------------------------------------- the preview


def preview_context(engine_slug: str, params_text: str | None, seed_text: str | None,
                    actions_text: str | None, step_text: str | None) -> dict:
    errors: list[FieldError] = []
    engine_cls = registry.get(engine_slug or "")
    if engine_cls is None:
        errors.append(FieldError(("engine",), "choose a simulation first"))
    params, more = load_json(params_text, "params")
    errors += more
    actions, more = load_json(actions_text, "actions")
    errors += more
    if not errors:
        try:
            spec = parse_run(engine_cls, params, "" if seed_text is None else seed_text.strip(), actions)
        except RunError as exc:
            errors += exc.errors
    if errors:
        return {"errors": [str(e) for e in errors]}
    try:  # the step buttons' own value: past the end means the last frame
        step = min(parse_whole(step_text or "0", ("preview_step",), 0, 2**31), PREVIEW_FRAMES)
    except RunError:
        step = 0
    renderer = PanelRenderer(engine_cls, PREVIEW_PREFIX)
    session = RunSession(engine_cls, spec, renderer.frame_html)
    session.seek(PREVIEW_FRAMES)
    last = session.last
    session.seek(step)
    refused = [
        f"Step {at}: {_action_text(engine_cls, spec, at, n)} was not applied: {reason}"
        for at, outcomes in sorted(session.track.outcomes.items())
        for n, (_, reason) in enumerate(outcomes)
        if reason is not None
    ]
    events = [e.text for e in session.events_at(session.position)]
    return {
        "errors": [],
        "frame_html": mark_safe(session.rendered()),  # noqa: S308 - the panel's renderer escapes
        "position": session.position,
        "last": last,
        "ended": session.finished and last < PREVIEW_FRAMES,
        "limit": PREVIEW_FRAMES,
        "events": events,
        "refused": refused,
        "steps": {"first": 0, "back": max(0, session.position - 1),
                  "next": min(last, session.position + 1), "last": last},
    }


def _action_text(engine_cls: type[Engine], spec, at: int, n: int) -> str:
    actions = [a.action for a in spec.actions if a.step == at]
    if n >= len(actions):
        return "an action"
    data = dump_action(engine_cls, actions[n])
    return json.dumps(data)


# --------------------------------------------------------------------------- views


def _may_edit(request: HttpRequest, model_admin: ModelAdmin) -> None:
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        raise PermissionDenied


@require_GET
def editor_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    _may_edit(request, model_admin)
    engine_cls = registry.get(request.GET.get("engine", ""))
    context = editor_context(engine_cls, request.GET.get("params"), request.GET.get("actions"))
    return TemplateResponse(request, TEMPLATES + "editor.html", context)


@require_GET
def choices_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    from simulations.admin import topic_rows  # the form's own filtering

    _may_edit(request, model_admin)
    context = topic_rows(request.GET.get("topic"), request.GET.get("key_feature"), request.GET.get("use_case"))
    return TemplateResponse(request, TEMPLATES + "choices.html", context)


@require_POST
def preview_view(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    _may_edit(request, model_admin)
    data = request.POST
    context = preview_context(
        data.get("engine", ""), data.get("params"), data.get("seed"), data.get("actions"), data.get("preview_step")
    )
    return TemplateResponse(request, TEMPLATES + "preview.html", context)


def preview_area(url: str) -> SafeString:
    """The form's preview: a button, and where the frames appear."""
    return format_html(
        '<div class="preset-preview sim-panel" data-preset-preview>'
        '<p class="preset-note">Plays the first {} steps of the run as the form stands now. Nothing is saved.</p>'
        '<button type="button" class="button" id="preset-preview-button" hx-post="{}" hx-target="#preset-preview-frame" '
        'hx-swap="innerHTML" hx-vals=\'{{"preview_step": 0}}\' hx-sync="closest .preset-preview:replace">Preview</button>'
        '<div id="preset-preview-error" class="preset-preview__error" role="alert"></div>'
        '<div id="preset-preview-steps" class="preset-preview__steps"></div>'
        '<figure id="preset-preview-frame" class="sim-stage-wrap preset-preview__frame">'
        '<p class="preset-preview__empty">Press Preview to see the preset play here.</p></figure>'
        '<h3 class="sim-subtitle">What just happened</h3>'
        '<p id="{}-narration" class="sim-narration" aria-live="polite"></p>'
        "</div>",
        PREVIEW_FRAMES, url, PREVIEW_PREFIX,
    )
