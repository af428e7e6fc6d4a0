"""JSON API for the content: categories, topics and related items. Published content only."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError, ValidationError

from topics.models import Category, RelatedItem, Topic, TopicRelatedItem
from topics.schemas import (
    CategoryOut,
    ErrorOut,
    RelatedDetail,
    TopicDetail,
    TopicListItem,
    ValidationErrorOut,
)

router = Router(tags=["topics"])

Q_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 120  # Category.slug max_length


def _published_topic_refs() -> Prefetch:
    # Lists never show the Markdown body: leave it in the database.
    return Prefetch("topics", queryset=Topic.objects.published().defer("body"), to_attr="published_topics")


@router.get(
    "/categories",
    response=list[CategoryOut],
    summary="Categories with their published topics, in order",
)
def list_categories(request: HttpRequest):
    return Category.objects.prefetch_related(_published_topic_refs())


@router.get(
    "/topics",
    response={200: list[TopicListItem], 422: ValidationErrorOut},
    summary="Published topics, optionally filtered by category and searched",
)
def list_topics(
    request: HttpRequest,
    category: str | None = Query(
        None, max_length=SLUG_MAX_LENGTH, description="A category slug, e.g. from /api/categories."
    ),
    q: str | None = Query(
        None,
        max_length=Q_MAX_LENGTH,
        description="Search titles, summaries, key features, use cases and related items.",
    ),
):
    # PostgreSQL text cannot hold NUL: passed to a query it is a DataError (a 500), not a miss.
    nul = [name for name, value in (("category", category), ("q", q)) if value and "\x00" in value]
    if nul:
        raise ValidationError(
            [{"loc": ["query", name], "msg": "must not contain NUL characters", "type": "value_error"} for name in nul]
        )
    topics = Topic.objects.published().select_related("category").defer("body")
    if category:
        if not Category.objects.filter(slug=category).exists():
            known = ", ".join(Category.objects.values_list("slug", flat=True))
            raise ValidationError(
                [
                    {
                        "loc": ["query", "category"],
                        "msg": f"Unknown category {category!r}. Known categories: {known}.",
                        "type": "value_error",
                    }
                ]
            )
        topics = topics.filter(category__slug=category)
    if q and q.strip():
        topics = topics.search(q)
    return topics


@router.get(
    "/topics/{slug}",
    response={200: TopicDetail, 404: ErrorOut},
    summary="One published topic with its features, use cases and related items",
)
def get_topic(request: HttpRequest, slug: str):
    if "\x00" in slug:  # no slug holds NUL, and PostgreSQL refuses it in a query
        raise HttpError(404, f"No published topic with slug {slug!r}.")
    topic = (
        Topic.objects.published()
        .select_related("category")
        .prefetch_related(
            "key_features",
            "use_cases",
            Prefetch(
                "related_links",
                queryset=TopicRelatedItem.objects.select_related("item").order_by("order", "id"),
            ),
        )
        .filter(slug=slug)
        .first()
    )
    if topic is None:
        raise HttpError(404, f"No published topic with slug {slug!r}.")
    return topic


@router.get(
    "/related/{slug}",
    response={200: RelatedDetail, 404: ErrorOut},
    summary="A related technology or concept and every published topic that mentions it",
)
def get_related(request: HttpRequest, slug: str):
    if "\x00" in slug:  # as in get_topic
        raise HttpError(404, f"No related item with slug {slug!r}.")
    item = (
        RelatedItem.objects.prefetch_related(_published_topic_refs())
        .filter(slug=slug)
        .first()
    )
    # An item mentioned only by drafts stays hidden: its name would leak the draft.
    if item is None or not item.published_topics:
        raise HttpError(404, f"No related item with slug {slug!r}.")
    return item
