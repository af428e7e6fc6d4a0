"""Admin for simulation presets: instructors pick an engine, params, seed and scripted actions;
everything is validated against the engine's own schemas, with errors naming the field.

The form leads with the simulation; its parameters appear as a form generated from the
engine's schema and its actions as rows of a table (simulations.admin_views, loaded by
htmx; static/js/preset_admin.js writes them into the params/actions JSON, which saving
validates as before); Preview plays the run before saving; the key features and use cases
offered are the chosen topic's. Presets are also edited inline on their topic
(`SimulationPresetInline`, listed by topics.admin.TopicAdmin)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Model, Q, QuerySet
from django.forms.fields import InvalidJSONInput, JSONString
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from simulations import admin_views, registry
from simulations.models import SimulationPreset
from simulations.runs import loads_strict
from topics.models import KeyFeature, Topic, UseCase


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


def _pk(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def rows_of_topic(model: type[Model], topic_id: int | None, selected: int | None) -> QuerySet:
    """The topic's key features (or use cases), and the selected one even when it belongs to
    another topic: the model's clean() then says so, instead of "not one of the choices"."""
    wanted = Q(topic_id=topic_id) if topic_id else Q(pk__in=[])
    if selected:
        wanted |= Q(pk=selected)
    return model.objects.filter(wanted).select_related("topic").order_by("topic_id", "order", "pk")


def row_label(row, topic_id: int | None) -> str:
    return row.text if row.topic_id == topic_id else f"{row.topic.title} — {row.text}"


@dataclass(frozen=True)
class RowChoice:
    pk: int
    label: str


def topic_rows(topic, key_feature, use_case) -> dict:
    """The choices of the key-feature and use-case fields for a topic (admin_views.choices_view)."""
    topic_id = _pk(topic)
    topic_obj = Topic.objects.filter(pk=topic_id).first() if topic_id else None
    topic_id = topic_obj.pk if topic_obj else None
    out = {"topic": topic_obj, "key_feature": _pk(key_feature), "use_case": _pk(use_case)}
    for key, model, selected in (("key_features", KeyFeature, out["key_feature"]),
                                 ("use_cases", UseCase, out["use_case"])):
        # A feature of the previous topic is not kept: the new topic's list is offered.
        out[key] = [RowChoice(r.pk, row_label(r, topic_id)) for r in rows_of_topic(model, topic_id, None)]
        if selected not in {c.pk for c in out[key]}:
            out[key.removesuffix("s")] = None
    return out


class RunEditorWidget(forms.Textarea):
    """The params (or actions) JSON below the controls generated from the engine's schema."""

    def __init__(self, template_name: str, editor_url: str = "", attrs=None):
        super().__init__(attrs)
        self.template_name = template_name  # in the app: the form renderer reads app templates only
        self.editor_url = editor_url

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["editor_url"] = self.editor_url
        return context

    @property
    def media(self):
        # On the form only: the changelist has no htmx-config meta, and htmx without it would
        # add an inline <style> (refused by CSP).
        return forms.Media(
            css={"all": ["css/simulations.css", "css/preset_admin.css"]},
            js=["django_htmx/htmx-2.min.js", "js/preset_admin.js"],
        )


class SimulationPresetForm(forms.ModelForm):
    class Meta:
        model = SimulationPreset
        fields = [
            "engine", "topic", "key_feature", "use_case", "name", "slug", "description",
            "params", "seed", "actions", "order",
        ]
        field_classes = {"params": StrictJSONField, "actions": StrictJSONField}
        labels = {"engine": "Simulation", "params": "Parameters"}
        widgets = {
            "params": forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
            "actions": forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The topic whose key features and use cases are offered: the one submitted, else the
        # preset's. The queryset keeps a selected row of another topic (see rows_of_topic).
        if self.is_bound:
            topic_id = _pk(self.data.get(self.add_prefix("topic")))
        else:
            topic_id = _pk(self.initial.get("topic")) or self.instance.topic_id
        for name, model in (("key_feature", KeyFeature), ("use_case", UseCase)):
            if name not in self.fields:
                continue
            if self.is_bound:
                selected = _pk(self.data.get(self.add_prefix(name)))
            else:
                selected = _pk(self.initial.get(name)) or getattr(self.instance, f"{name}_id")
            field = self.fields[name]
            field.queryset = rows_of_topic(model, topic_id, selected)
            field.label_from_instance = partial(row_label, topic_id=topic_id)
            if not topic_id:
                field.empty_label = "Choose the topic first"
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
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["engine", "topic", "key_feature", "use_case", "name", "slug", "description", "order"]}),
        ("Run", {
            "fields": ["params", "seed", "actions", "preview"],
            "description": "The run this preset opens: parameter values, a seed, and scripted actions. "
            "Everything is checked against the simulation's schema when you save or preview.",
        }),
    ]

    def get_urls(self):
        def view(func, name):
            return path(f"{name}/", self.admin_site.admin_view(partial(func, model_admin=self)),
                        name=f"simulations_simulationpreset_{name}")

        return [
            view(admin_views.editor_view, "editor"),
            view(admin_views.choices_view, "choices"),
            view(admin_views.preview_view, "preview"),
            *super().get_urls(),
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        attrs = {"rows": 4, "cols": 60, "class": "vLargeTextField"}
        if db_field.name == "params":
            formfield.widget = RunEditorWidget(
                "simulations/widgets/preset_params.html", reverse("admin:simulations_simulationpreset_editor"), attrs
            )
        elif db_field.name == "actions":
            formfield.widget = RunEditorWidget("simulations/widgets/preset_actions.html", attrs=attrs)
        elif db_field.name == "topic":
            # Choosing the topic narrows the key features and use cases offered (htmx).
            formfield.widget.widget.attrs.update({
                "hx-get": reverse("admin:simulations_simulationpreset_choices"),
                "hx-trigger": "change",
                "hx-target": "#id_key_feature",
                "hx-swap": "innerHTML",
                "hx-include": "#id_topic, #id_key_feature, #id_use_case",
            })
        return formfield

    @admin.display(description="Preview")
    def preview(self, obj: SimulationPreset | None):
        return admin_views.preview_area(reverse("admin:simulations_simulationpreset_preview"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        engine_cls = registry.get(obj.engine)
        if engine_cls is not None and engine_cls.topic_slug != obj.topic.slug:
            messages.warning(
                request,
                f"Note: “{engine_cls.title}” is the simulation of the topic “{engine_cls.topic_slug}”, "
                f"not of “{obj.topic.slug}”. It will show as an extra panel on {obj.topic.title}’s page.",
            )


class PresetInlineForm(forms.ModelForm):
    """A preset's row on its topic's page. Its run (params, seed, actions) is edited on the
    preset's own page; when a saved run no longer fits its engine, the model's errors about
    those fields are shown on the row instead of failing on fields the row does not have."""

    def add_error(self, field, error):
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            moved = {}
            for name, errors in error.error_dict.items():
                key = name if name == NON_FIELD_ERRORS or name in self.fields else NON_FIELD_ERRORS
                if key != name:
                    errors = [ValidationError(f"{name}: {m}") for e in errors for m in e.messages]
                moved.setdefault(key, []).extend(errors)
            error = ValidationError(moved)
        super().add_error(field, error)


class SimulationPresetInline(admin.TabularInline):
    """The topic's presets, on the topic's page (topics.admin.TopicAdmin.inlines): name, link,
    simulation, the key feature or use case it shows, and order. "Change" opens the preset's
    own page, with the generated parameter form, the actions table and the preview."""

    model = SimulationPreset
    form = PresetInlineForm
    fields = ["name", "slug", "engine", "key_feature", "use_case", "order"]
    prepopulated_fields = {"slug": ["name"]}
    show_change_link = True
    extra = 0
    classes = ["preset-inline"]

    class Media:
        css = {"all": ["css/preset_admin.css"]}  # keeps the long simulation names from widening the table
    verbose_name = "simulation preset"
    verbose_name_plural = "simulation presets (open one to set its parameters, actions and preview)"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(getattr(formfield, "widget", None), RelatedFieldWidgetWrapper):
            # The topic's features and use cases are edited on this same page: no add, change,
            # delete or view icons beside each preset's choice of them.
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = False
            widget.can_delete_related = widget.can_view_related = False
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("key_feature", "use_case"):
            # Only the rows of the topic being edited (a new topic has none yet).
            match = request.resolver_match
            topic_id = _pk(match.kwargs.get("object_id")) if match else None
            kwargs["queryset"] = db_field.related_model.objects.filter(topic_id=topic_id).order_by("order", "pk")
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("key_feature", "use_case"):
            formfield.label_from_instance = lambda row: row.text
        return formfield
