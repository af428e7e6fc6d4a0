"""Admin for simulation presets: instructors pick an engine, params, seed and scripted actions;
everything is validated against the engine's own schemas, with errors naming the field."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from simulations import registry
from simulations.models import SimulationPreset
from simulations.render.schema_controls import action_controls, params_fields
from simulations.runs import loads_strict


class StrictJSONField(forms.JSONField):
    """Django's JSON form field, parsing with `runs.loads_strict`: NaN and Infinity (which
    no bounded field holds, and PostgreSQL's jsonb refuses) and nesting too deep to parse
    (a RecursionError, so a 500, in Django's own) are field errors like any bad JSON."""

    def to_python(self, value):
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        try:
            converted = loads_strict(value)
        except json.JSONDecodeError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        except ValueError as exc:  # NaN/Infinity, or nested too deeply
            raise ValidationError(f"Enter a valid JSON: {exc}.", code="invalid") from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return loads_strict(data)
        except ValueError:  # redisplay what was typed, as Django does for bad JSON
            return InvalidJSONInput(data)


class SimulationPresetForm(forms.ModelForm):
    class Meta:
        model = SimulationPreset
        fields = [
            "topic", "key_feature", "use_case", "engine", "name", "slug", "description",
            "params", "seed", "actions", "order",
        ]
        field_classes = {"params": StrictJSONField, "actions": StrictJSONField}
        widgets = {
            "params": forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
            "actions": forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "key_feature" in self.fields:
            self.fields["key_feature"].queryset = self.fields["key_feature"].queryset.select_related("topic")
            self.fields["key_feature"].label_from_instance = lambda kf: f"{kf.topic.title} — {kf.text}"
        if "use_case" in self.fields:
            self.fields["use_case"].queryset = self.fields["use_case"].queryset.select_related("topic")
            self.fields["use_case"].label_from_instance = lambda uc: f"{uc.topic.title} — {uc.text}"
        # An empty JSON box means "all defaults" / "no actions", not a required-field error.
        for name in ("params", "actions"):
            if name in self.fields:
                self.fields[name].required = False

    def clean_params(self):
        value = self.cleaned_data.get("params")
        return {} if value in (None, "") else value

    def clean_actions(self):
        value = self.cleaned_data.get("actions")
        return [] if value in (None, "") else value


@admin.register(SimulationPreset)
class SimulationPresetAdmin(SimpleHistoryAdmin):
    form = SimulationPresetForm
    list_display = ["name", "topic", "engine", "key_feature", "use_case", "seed", "order"]
    list_filter = ["topic", "engine"]
    search_fields = ["name", "slug", "description", "topic__title", "key_feature__text", "use_case__text"]
    list_select_related = ["topic", "key_feature", "use_case"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields: list[str] = []
    ordering = ["topic", "order", "name"]
    readonly_fields = ["engine_reference"]
    fieldsets = [
        (None, {"fields": ["topic", "key_feature", "use_case", "engine", "name", "slug", "description", "order"]}),
        ("Run", {
            "fields": ["params", "seed", "actions", "engine_reference"],
            "description": "The run this preset opens: parameter values, a seed, and scripted actions. "
            "Everything is checked against the simulation's schema when you save.",
        }),
    ]

    @admin.display(description="What the engine accepts")
    def engine_reference(self, obj: SimulationPreset | None):
        engine_cls = registry.get(obj.engine) if obj is not None and obj.engine else None
        if engine_cls is None:
            return "Save with an engine chosen to see its parameters and actions here."
        rows = []
        for spec in params_fields(engine_cls):
            bounds = ""
            if spec.minimum is not None and spec.maximum is not None:
                bounds = f"{spec.minimum:g} to {spec.maximum:g}"
            elif spec.choices:
                bounds = " | ".join(c.value for c in spec.choices)
            rows.append((spec.name, spec.title, bounds, spec.default))
        params_html = format_html_join(
            "", "<li><code>{}</code> ({}): {}; default {}</li>", rows
        )
        # The engine's own buttons for its default params give real action values (ints,
        # not form strings), shown as the JSON the Actions field takes.
        controls = action_controls(engine_cls, engine_cls.parse_params({}))[:12]
        actions_html = format_html_join(
            "", "<li>{}: <code>{}</code></li>",
            ((c.label, json.dumps(c.action if c.action is not None else dict(c.fixed))) for c in controls),
        )
        return format_html(
            "<p><strong>Parameters</strong></p><ul>{}</ul><p><strong>Actions</strong>, e.g.</p><ul>{}</ul>",
            params_html, actions_html,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        engine_cls = registry.get(obj.engine)
        if engine_cls is not None and engine_cls.topic_slug != obj.topic.slug:
            messages.warning(
                request,
                f"Note: “{engine_cls.title}” is the simulation of the topic “{engine_cls.topic_slug}”, "
                f"not of “{obj.topic.slug}”. It will show as an extra panel on {obj.topic.title}’s page.",
            )
