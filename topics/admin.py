"""The instructors' admin: categories, topics with their features, use cases and related items."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

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


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "icon", "topic_count", "order"]
    list_editable = ["order"]
    ordering = ["order", "name"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "blurb"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(topic_total=Count("topics"))

    @admin.display(description="topics", ordering="topic_total")
    def topic_count(self, category: Category) -> int:
        return category.topic_total


class OrderedRowsInline(admin.TabularInline):
    """Rows shown in `order`; the blank row offered for a new one starts after the last."""

    extra = 1


class KeyFeatureInline(OrderedRowsInline):
    model = KeyFeature


class UseCaseInline(OrderedRowsInline):
    model = UseCase


class TopicRelatedItemInline(OrderedRowsInline):
    model = TopicRelatedItem
    autocomplete_fields = ["item"]
    verbose_name = "related technology or concept"
    verbose_name_plural = "related technologies and concepts"


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "status", "order", "updated"]
    list_display_links = ["title"]
    list_editable = ["order"]
    list_filter = ["category", "status"]
    list_select_related = ["category"]
    search_fields = [
        "title", "summary", "body", "key_features__text", "use_cases__text", "related_items__name",
    ]  # fmt: skip
    ordering = ["category__order", "order", "title"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [KeyFeatureInline, UseCaseInline, TopicRelatedItemInline]
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
            formfield.widget = forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"})
        return formfield

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
class RelatedItemAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "slug", "url"]
    list_filter = ["kind"]
    search_fields = ["name"]  # also what the topic form's autocomplete searches
    # A URL typed without a scheme means https (Django 6's default; silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
