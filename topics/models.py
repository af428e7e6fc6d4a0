"""Content model: Category -> Topic -> ordered key features, use cases and related items."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property


class Category(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    icon = models.CharField(
        max_length=60, help_text="Material Symbols icon name, e.g. balance, sync, scatter_plot, lan."
    )
    blurb = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("topics:category", args=[self.slug])


class TopicQuerySet(models.QuerySet):
    def published(self) -> TopicQuerySet:
        return self.filter(status=Topic.Status.PUBLISHED)

    def visible_to(self, user) -> TopicQuerySet:
        """Staff see drafts too; everyone else sees published topics only."""
        if getattr(user, "is_staff", False):
            return self.all()
        return self.published()

    def search(self, query: str) -> TopicQuerySet:
        q = query.strip()
        if not q:
            return self.none()
        return self.filter(
            Q(title__icontains=q)
            | Q(summary__icontains=q)
            | Q(key_features__text__icontains=q)
            | Q(use_cases__text__icontains=q)
            | Q(related_items__name__icontains=q)
        ).distinct()


class Topic(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="topics")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.TextField(help_text="One or two sentences; shown on cards and at the top of the page.")
    body = models.TextField(blank=True, help_text="Markdown. Raw HTML is not allowed and is shown as text.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    order = models.PositiveIntegerField(default=0)
    related_items = models.ManyToManyField(
        "RelatedItem", through="TopicRelatedItem", related_name="topics", blank=True
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["category__order", "order", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("topics:topic", args=[self.slug])

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @cached_property
    def body_html(self) -> str:
        from topics.markdown import render_markdown

        return render_markdown(self.body)

    def ordered_related(self) -> list[RelatedItem]:
        return [link.item for link in self.related_links.select_related("item").order_by("order", "id")]


class TopicListItem(models.Model):
    """One line of a topic's ordered list (key features, use cases)."""

    text = models.CharField(max_length=300)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text


class KeyFeature(TopicListItem):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="key_features")

    class Meta(TopicListItem.Meta):
        pass


class UseCase(TopicListItem):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="use_cases")

    class Meta(TopicListItem.Meta):
        pass


class RelatedItem(models.Model):
    """A technology or concept; shared, so one page lists every topic that mentions it."""

    class Kind(models.TextChoices):
        TECHNOLOGY = "technology", "Technology"
        CONCEPT = "concept", "Concept"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    url = models.URLField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("topics:related", args=[self.slug])


class TopicRelatedItem(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="related_links")
    item = models.ForeignKey(RelatedItem, on_delete=models.CASCADE, related_name="topic_links")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["topic", "item"], name="unique_topic_related_item")]
        verbose_name = "related item"

    def __str__(self) -> str:
        return f"{self.topic} → {self.item}"
