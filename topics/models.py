"""Content model: Category -> Topic -> ordered key features, use cases and related items."""

from __future__ import annotations

from django.db import connections, models
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.db.models.functions import Length, Lower, Replace
from django.urls import reverse
from django.utils.functional import cached_property
from simple_history.models import HistoricalRecords


class Category(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    icon = models.CharField(
        max_length=60, help_text="Material Symbols icon name, e.g. balance, sync, scatter_plot, lan."
    )
    blurb = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("topics:category", args=[self.slug])


SEARCH_CONFIG = "english"  # PostgreSQL text search configuration: English stemming and stop words


class TopicQuerySet(models.QuerySet):
    def published(self) -> TopicQuerySet:
        return self.filter(status=Topic.Status.PUBLISHED)

    def visible_to(self, user) -> TopicQuerySet:
        """Staff see drafts too; everyone else sees published topics only."""
        if getattr(user, "is_staff", False):
            return self.all()
        return self.published()

    def search(self, query: str) -> TopicQuerySet:
        """Topics matching `query`, best first: title, then summary, features, use cases and
        related items, then feature details, then the "How it works" body.

        Everywhere a case-insensitive substring matches. On PostgreSQL its full-text search
        (English stemming) matches too, so "handshakes" finds "handshake", and within each
        tier topics are ranked by SearchRank over title (A), summary (B) and body (D);
        elsewhere by how often the body contains the query. Annotates `search_tier`
        (4 title ... 1 body) and `search_rank`.
        """
        q = query.strip()
        if not q:
            return self.none()
        postgres = connections[self.db].vendor == "postgresql"
        if postgres:
            from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

            ts_query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)

            def vector(*fields, weight=None):
                return SearchVector(*fields, config=SEARCH_CONFIG, weight=weight)

            def matches(queryset, field_name):
                """(queryset annotated for the match, the Q that matches `field_name`)."""
                alias = f"_fts_{field_name}"
                queryset = queryset.alias(**{alias: vector(field_name)})  # used in WHERE/CASE, never selected
                return queryset, Q(**{f"{field_name}__icontains": q}) | Q(**{alias: ts_query})
        else:

            def matches(queryset, field_name):
                return queryset, Q(**{f"{field_name}__icontains": q})

        def rows(model, field_name, link="topic"):
            queryset, condition = matches(model.objects.all(), field_name)
            return Exists(queryset.filter(condition, **{link: OuterRef("pk")}))

        topics = self
        topics, title = matches(topics, "title")
        topics, summary = matches(topics, "summary")
        topics, body = matches(topics, "body")
        tiers = [
            (4, title),
            (
                3,
                summary
                | Q(rows(KeyFeature, "text"))
                | Q(rows(UseCase, "text"))
                | Q(rows(RelatedItem, "name", link="topics")),
            ),
            (2, Q(rows(KeyFeature, "detail"))),
            (1, body),
        ]
        any_match = tiers[0][1]
        for _, cond in tiers[1:]:
            any_match |= cond
        topics = topics.filter(any_match).annotate(
            search_tier=Case(*(When(cond, then=Value(tier)) for tier, cond in tiers), default=Value(0))
        )
        ordering = ["-search_tier", "category__order", "order", "title"]
        if postgres:
            weighted = vector("title", weight="A") + vector("summary", weight="B") + vector("body", weight="D")
            topics = topics.annotate(search_rank=SearchRank(weighted, ts_query))
        else:
            # Within a tier, the body that says it most often first: its occurrences in the body.
            lowered = Lower("body")
            topics = topics.annotate(
                search_rank=(Length("body") - Length(Replace(lowered, Value(q.lower()), Value(""))))
                / Value(len(q))
            )
        ordering.insert(1, "-search_rank")
        return topics.order_by(*ordering)


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
    history = HistoricalRecords()

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
    detail = models.TextField(
        blank=True,
        help_text="A sentence or two on what this feature means; shown when a reader opens the feature.",
    )

    history = HistoricalRecords()

    class Meta(TopicListItem.Meta):
        pass


class UseCase(TopicListItem):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="use_cases")

    history = HistoricalRecords()

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
    url = models.URLField(blank=True, help_text="The official site, for a technology; concepts may have none.")
    description = models.TextField(
        blank=True, help_text="A sentence or two on what this technology or concept is; shown on its page."
    )

    history = HistoricalRecords()

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

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["topic", "item"], name="unique_topic_related_item")]
        verbose_name = "related item"

    def __str__(self) -> str:
        return f"{self.topic} → {self.item}"
