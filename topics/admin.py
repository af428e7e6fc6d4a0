"""The instructors' admin: categories, topics with their features, use cases and related items."""

from __future__ import annotations

from itertools import chain

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Max, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from simulations.admin import SimulationPresetInline  # the topic's presets, edited inline
from topics.markdown import render_markdown
from topics.models import Category, KeyFeature, RelatedItem, Topic, TopicRelatedItem, UseCase

admin.site.site_header = "Systems & Networking admin"
admin.site.site_title = "Systems & Networking admin"
admin.site.index_title = "Content"

BODY_HELP_TEXT = (
    "Markdown: ## headings, **bold**, _italic_, `code`, ``` fenced code blocks ```, "
    "- lists, 1. numbered lists, > quotes, [links](https://example.com) and tables. "
    "Raw HTML is not allowed: any tag you type is shown as text, and links must be "
    "http, https, mailto or relative."
)


PREVIEW_MAX_CHARS = 100_000


class LFTextarea(forms.Textarea):
    """A textarea whose text keeps the \n line breaks it was loaded with.

    Browsers submit a textarea's line breaks as \r\n: without this, saving a form
    rewrites every line break of an untouched body, and its history shows a change.
    """

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value


class MarkdownPreviewTextarea(LFTextarea):
    """The body textarea with a live preview beside it.

    The preview pane posts the textarea (and the form's CSRF token, nothing else) to
    the staff-only preview view through htmx, and shows the HTML it returns: the
    public page's renderer and sanitiser. No inline script: htmx is a static file.
    """

    template_name = "topics/widgets/markdown_preview.html"  # in the app: the form renderer reads app templates only

    def __init__(self, preview_url: str, attrs=None):
        super().__init__(attrs)
        self.preview_url = preview_url

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["preview_url"] = self.preview_url
        return context

    @property
    def media(self):
        return forms.Media(
            css={"all": ["topics_admin/topic-admin.css"]},
            js=["django_htmx/htmx-2.min.js"],
        )


@admin.register(Category)
class CategoryAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "icon", "topic_count", "order"]
    list_editable = ["order"]
    ordering = ["order", "name"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "blurb"]
    formfield_overrides = {models.TextField: {"widget": LFTextarea}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(topic_total=Count("topics"))

    @admin.display(description="topics", ordering="topic_total")
    def topic_count(self, category: Category) -> int:
        return category.topic_total


class OrderedRowsFormSet(BaseInlineFormSet):
    """Two rows may not share an order number: which comes first would be left to chance."""

    def clean(self) -> None:
        super().clean()
        by_order: dict[int, list[tuple[int, str]]] = {}
        for number, form in enumerate(self.forms, start=1):
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or (not form.has_changed() and form.instance.pk is None):
                continue
            order = data.get("order")
            if order is None:
                continue
            by_order.setdefault(order, []).append((number, str(data.get("text") or data.get("item") or "")))
        clashes = [(order, rows) for order, rows in sorted(by_order.items()) if len(rows) > 1]
        if clashes:
            raise ValidationError(
                [
                    "Rows "
                    + ", ".join(f"{number} (“{label}”)" for number, label in rows)
                    + f" all have order {order}. Give each row its own position, "
                    "for example with the ↑ and ↓ buttons."
                    for order, rows in clashes
                ],
                code="duplicate_order",
            )


class OrderedRowsInline(admin.TabularInline):
    """Rows shown in `order`; the blank row offered for a new one starts after the last.

    static/topics_admin/ordered-rows.js gives each row ↑/↓ buttons that move it and
    renumber the order fields; without JavaScript the numbers stay editable.
    """

    extra = 1
    formset = OrderedRowsFormSet
    classes = ["ordered-rows"]

    @property
    def media(self):
        return super().media + forms.Media(
            css={"all": ["topics_admin/topic-admin.css"]}, js=["topics_admin/ordered-rows.js"]
        )


class KeyFeatureInline(OrderedRowsInline):
    model = KeyFeature
    fields = ["text", "detail", "order"]
    formfield_overrides = {models.TextField: {"widget": LFTextarea(attrs={"rows": 2, "cols": 60})}}


class UseCaseInline(OrderedRowsInline):
    model = UseCase


class TopicRelatedItemInline(OrderedRowsInline):
    model = TopicRelatedItem
    autocomplete_fields = ["item"]
    verbose_name = "related technology or concept"
    verbose_name_plural = "related technologies and concepts"


@admin.register(Topic)
class TopicAdmin(SimpleHistoryAdmin):
    list_display = ["title", "category", "status", "order", "updated"]
    list_display_links = ["title"]
    list_editable = ["order"]
    list_filter = ["category", "status"]
    formfield_overrides = {models.TextField: {"widget": LFTextarea}}
    list_select_related = ["category"]
    search_fields = [
        "title", "summary", "body", "key_features__text", "use_cases__text", "related_items__name",
    ]  # fmt: skip
    ordering = ["category__order", "order", "title"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [KeyFeatureInline, UseCaseInline, TopicRelatedItemInline, SimulationPresetInline]
    object_history_template = "admin/topics/topic/object_history.html"
    actions = ["publish", "mark_draft"]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, OrderedRowsInline) and obj is not None and obj.pk:
            # Without this a new feature defaults to order 0 and lands among the first rows.
            last = inline.model.objects.filter(topic=obj).aggregate(last=Max("order"))["last"]
            first_new = 0 if last is None else last + 1
            kwargs["initial"] = [{"order": first_new + i} for i in range(inline.extra)]
        return kwargs

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "body":
            formfield.help_text = BODY_HELP_TEXT
            formfield.strip = False  # keep the file's final newline: an untouched body stays unchanged
            formfield.widget = MarkdownPreviewTextarea(
                reverse("admin:topics_topic_preview"),
                attrs={"rows": 24, "cols": 80, "class": "vLargeTextField"},
            )
        return formfield

    def get_urls(self):
        preview = path(
            "preview/", self.admin_site.admin_view(self.preview_view), name="topics_topic_preview"
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The body as the public page would show it: POST only, for staff who may edit topics."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_change_permission(request) or self.has_add_permission(request)):
            raise PermissionDenied
        body = request.POST.get("body", "")
        too_long = len(body) > PREVIEW_MAX_CHARS
        return TemplateResponse(
            request,
            "admin/topics/topic/preview.html",
            {
                "html": "" if too_long else render_markdown(body),
                "too_long": too_long,
                "max_chars": PREVIEW_MAX_CHARS,
            },
        )

    def history_view(self, request, object_id, extra_context=None):
        """The topic's own history, then the recent changes to its features, use cases and links."""
        extra_context = {**(extra_context or {}), "row_changes": self._row_changes(object_id)}
        return super().history_view(request, object_id, extra_context=extra_context)

    @staticmethod
    def _row_changes(object_id, limit: int = 50) -> list[dict]:
        try:
            topic_id = int(object_id)
        except (TypeError, ValueError):
            return []
        sources = [
            (KeyFeature, "Key feature"),
            (UseCase, "Use case"),
            (TopicRelatedItem, "Related item"),
        ]
        records = chain.from_iterable(
            (
                (record, model, label)
                for record in model.history.filter(topic_id=topic_id)
                .select_related("history_user")
                .order_by("-history_date", "-history_id")[:limit]
            )
            for model, label in sources
        )
        changes = []
        for record, model, label in sorted(records, key=lambda r: r[0].history_date, reverse=True)[:limit]:
            info = model._meta.app_label, model._meta.model_name
            changes.append(
                {
                    "record": record,
                    "label": label,
                    "text": _row_text(record, model),
                    "version_url": reverse(f"admin:{info[0]}_{info[1]}_simple_history", args=[record.id, record.history_id]),
                    "history_url": reverse(f"admin:{info[0]}_{info[1]}_history", args=[record.id]),
                }
            )
        return changes

    @admin.action(description="Publish selected topics", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._set_status(request, queryset, Topic.Status.PUBLISHED)

    @admin.action(description="Mark selected topics as draft", permissions=["change"])
    def mark_draft(self, request: HttpRequest, queryset: QuerySet[Topic]) -> None:
        self._set_status(request, queryset, Topic.Status.DRAFT)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Topic], status: Topic.Status) -> None:
        # Topics already in that state are not counted, so the message says what actually changed.
        # update() skips auto_now, hence the explicit `updated`.
        changed = queryset.exclude(status=status).update(status=status, updated=timezone.now())
        label = Topic.Status(status).label.lower()
        self.message_user(
            request,
            ngettext("%(count)d topic marked as %(label)s.", "%(count)d topics marked as %(label)s.", changed)
            % {"count": changed, "label": label},
            messages.SUCCESS if changed else messages.INFO,
        )


@admin.register(RelatedItem)
class RelatedItemAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "slug", "url"]
    fields = ["name", "slug", "kind", "url", "description"]
    list_filter = ["kind"]
    search_fields = ["name"]  # also what the topic form's autocomplete searches
    # A URL typed without a scheme means https (Django 6's default; silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}, models.TextField: {"widget": LFTextarea}}
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}


def _row_text(record, model) -> str:
    if model is TopicRelatedItem:
        item = RelatedItem.objects.filter(pk=record.item_id).first()
        return item.name if item else f"related item #{record.item_id} (deleted)"
    return record.text


class TopicRowAdmin(SimpleHistoryAdmin):
    """A topic's row (feature, use case, related link) on its own: its history and revert pages.

    Not on the admin index (rows are edited inline on their topic); the topic's
    history page links here, including to rows that have since been deleted.
    """

    list_display = ["__str__", "topic", "order"]
    list_filter = ["topic"]
    list_select_related = ["topic"]
    ordering = ["topic", "order", "id"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def response_change(self, request, obj):
        # Saved (or reverted, or restored) on its own: go back to its topic, where rows live.
        response = super().response_change(request, obj)
        if "_continue" in request.POST or "_addanother" in request.POST:
            return response
        return HttpResponseRedirect(reverse("admin:topics_topic_change", args=[obj.topic_id]))


@admin.register(KeyFeature)
class KeyFeatureAdmin(TopicRowAdmin):
    fields = ["topic", "text", "detail", "order"]
    search_fields = ["text", "detail"]


@admin.register(UseCase)
class UseCaseAdmin(TopicRowAdmin):
    fields = ["topic", "text", "order"]
    search_fields = ["text"]


@admin.register(TopicRelatedItem)
class TopicRelatedItemAdmin(TopicRowAdmin):
    fields = ["topic", "item", "order"]
    autocomplete_fields = ["item"]
