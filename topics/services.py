"""Writes that touch several content models. Each is one function, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps as global_apps
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from topics.content import details, seed


@dataclass
class LoadSummary:
    """What one load created; all zero when the database already held the whole seed."""

    categories: int = 0
    topics: int = 0
    key_features: int = 0
    use_cases: int = 0
    related_items: int = 0
    related_links: int = 0
    created_topic_titles: list[str] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        counts = (self.categories, self.topics, self.key_features, self.use_cases)
        return any(counts) or bool(self.related_items or self.related_links)

    def __str__(self) -> str:
        """E.g. "1 topic, 4 key features, 4 use cases"; counts of zero are left out."""
        counts = [
            (self.categories, "category", "categories"),
            (self.topics, "topic", "topics"),
            (self.key_features, "key feature", "key features"),
            (self.use_cases, "use case", "use cases"),
            (self.related_items, "related item", "related items"),
            (self.related_links, "related link", "related links"),
        ]
        parts = [f"{count} {singular if count == 1 else plural}" for count, singular, plural in counts if count]
        return ", ".join(parts) or "nothing"


def load_content(apps=global_apps) -> LoadSummary:
    """Create whatever part of the seed content is missing; never touch what exists.

    Idempotent, and safe to run over an instructor's edits:
    - a category that exists (same slug or name) is reused as it is;
    - a topic that exists (same slug or title) is left exactly as it is, with its
      features, use cases and related links: nothing is updated or re-added, so a
      deleted feature stays deleted and an edited summary stays edited;
    - a related item that exists (same slug or name) is reused, so topics share it.
    New topics are published, with the Markdown body from seed/bodies/<slug>.md
    ("" when that file does not exist yet). Rows it creates get their key
    feature details and related item descriptions and URLs from content/details.py
    when the registry's models have those fields (added by migration 0004; the
    historical registry of 0002 does not, and 0005 fills them in afterwards).

    `apps` is the model registry to use. The data migration 0002 passes its
    historical registry, so it runs against the schema as of that migration and
    never imports topics.models (whose future fields would not exist yet in the
    tables). For that to keep working, this function uses only plain managers
    and the fields created by 0001_initial. If it ever needs a field added by a
    later migration, first copy the current version into 0002 as its own frozen
    code path.
    """
    Category = apps.get_model("topics", "Category")
    Topic = apps.get_model("topics", "Topic")
    KeyFeature = apps.get_model("topics", "KeyFeature")
    UseCase = apps.get_model("topics", "UseCase")
    RelatedItem = apps.get_model("topics", "RelatedItem")
    TopicRelatedItem = apps.get_model("topics", "TopicRelatedItem")

    has_detail = _has_field(KeyFeature, "detail")
    has_description = _has_field(RelatedItem, "description")

    summary = LoadSummary()
    with transaction.atomic():
        for category_order, category_data in enumerate(seed.CATEGORIES):
            category = Category.objects.filter(
                Q(slug=category_data["slug"]) | Q(name=category_data["name"])
            ).first()
            if category is None:
                category = Category.objects.create(
                    name=category_data["name"],
                    slug=category_data["slug"],
                    icon=category_data["icon"],
                    blurb=category_data["blurb"],
                    order=category_order,
                )
                summary.categories += 1

            for topic_order, topic_data in enumerate(category_data["topics"]):
                # A renamed slug or title still counts as present: re-adding would duplicate it.
                if Topic.objects.filter(Q(slug=topic_data["slug"]) | Q(title=topic_data["title"])).exists():
                    continue
                topic = Topic.objects.create(
                    category=category,
                    title=topic_data["title"],
                    slug=topic_data["slug"],
                    summary=topic_data["summary"],
                    body=seed.topic_body(topic_data["slug"]),
                    status="published",
                    order=topic_order,
                )
                summary.topics += 1
                summary.created_topic_titles.append(topic.title)

                # One create() per row, not bulk_create: with the current models each
                # save records the row's first history entry, the version to revert to.
                for order, text in enumerate(topic_data["key_features"]):
                    extra = {"detail": details.feature_detail(topic.slug, text)} if has_detail else {}
                    KeyFeature.objects.create(topic=topic, text=text, order=order, **extra)
                summary.key_features += len(topic_data["key_features"])
                for order, text in enumerate(topic_data["use_cases"]):
                    UseCase.objects.create(topic=topic, text=text, order=order)
                summary.use_cases += len(topic_data["use_cases"])

                for link_order, (name, kind) in enumerate(topic_data["related"]):
                    slug = slugify(name)
                    item = RelatedItem.objects.filter(Q(slug=slug) | Q(name=name)).first()
                    if item is None:
                        extra = details.related_item(name) if has_description else {}
                        item = RelatedItem.objects.create(name=name, slug=slug, kind=kind, **extra)
                        summary.related_items += 1
                    TopicRelatedItem.objects.create(topic=topic, item=item, order=link_order)
                    summary.related_links += 1
    return summary


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


@dataclass
class FillSummary:
    details: int = 0
    descriptions: int = 0
    urls: int = 0


def fill_empty_details(apps=global_apps) -> FillSummary:
    """Copy content/details.py into seed rows whose field is still empty; never overwrite.

    A key feature is matched by its topic's slug and its exact text, a related item by
    its name, so a feature an instructor renamed (or a field they wrote) is left alone.
    Run once by migration 0005 against its historical registry (it uses only fields
    that exist as of 0004); running it again changes nothing.
    """
    KeyFeature = apps.get_model("topics", "KeyFeature")
    RelatedItem = apps.get_model("topics", "RelatedItem")
    summary = FillSummary()
    with transaction.atomic():
        for feature in KeyFeature.objects.filter(detail="").select_related("topic"):
            detail = details.feature_detail(feature.topic.slug, feature.text)
            if detail:
                feature.detail = detail
                feature.save(update_fields=["detail"])
                summary.details += 1
        for item in RelatedItem.objects.filter(Q(description="") | Q(url="")):
            data = details.RELATED_ITEMS.get(item.name)
            if data is None:
                continue
            changed = []
            if not item.description and data["description"]:
                item.description = data["description"]
                changed.append("description")
                summary.descriptions += 1
            if not item.url and data["url"]:
                item.url = data["url"]
                changed.append("url")
                summary.urls += 1
            if changed:
                item.save(update_fields=changed)
    return summary


def record_first_history(apps, app_label: str, model_names: list[str], reason: str) -> int:
    """Give every row that has no history yet one "created" entry holding its current values.

    Rows made by data migrations (the seed) are saved through historical models, which
    django-simple-history does not see; without this entry an instructor's first edit of
    a seed row would have no earlier version to revert to. For migrations, with their
    historical registry (the Historical* models must exist in it). Returns the count.
    """
    from django.utils import timezone

    created = 0
    now = timezone.now()
    for model_name in model_names:
        model = apps.get_model(app_label, model_name)
        history = apps.get_model(app_label, f"Historical{model.__name__}")
        has_history = set(history.objects.values_list("id", flat=True).distinct())
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = [
            history(
                **{name: getattr(obj, name) for name in fields},
                history_date=now,
                history_type="+",
                history_change_reason=reason,
            )
            for obj in model.objects.exclude(pk__in=has_history)
        ]
        history.objects.bulk_create(rows)
        created += len(rows)
    return created
