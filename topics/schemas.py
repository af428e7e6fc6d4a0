"""Response schemas of the topics API (django-ninja / pydantic)."""

from __future__ import annotations

from typing import Literal

from ninja import Schema


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    field: str  # loc after its first part, as a path: "q", "actions[0].step"
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class TopicRef(Schema):
    slug: str
    title: str


class CategoryOut(Schema):
    name: str
    slug: str
    icon: str
    blurb: str
    topics: list[TopicRef]

    @staticmethod
    def resolve_topics(obj) -> list:
        # Filled by a Prefetch(..., to_attr="published_topics"): published only, in order.
        return obj.published_topics


class CategoryRef(Schema):
    slug: str
    name: str


class TopicListItem(Schema):
    slug: str
    title: str
    category: str
    summary: str

    @staticmethod
    def resolve_category(obj) -> str:
        return obj.category.slug


class OrderedText(Schema):
    text: str
    order: int


class KeyFeatureOut(OrderedText):
    detail: str  # a sentence or two on what the feature means ("" when none is written)


class RelatedRef(Schema):
    name: str
    slug: str
    kind: Literal["technology", "concept"]


class TopicDetail(Schema):
    slug: str
    title: str
    category: CategoryRef
    summary: str
    body_html: str
    key_features: list[KeyFeatureOut]
    use_cases: list[OrderedText]
    related: list[RelatedRef]

    @staticmethod
    def resolve_related(obj) -> list:
        # related_links is prefetched with its items, in the topic's order.
        return [link.item for link in obj.related_links.all()]


class RelatedDetail(Schema):
    name: str
    slug: str
    kind: Literal["technology", "concept"]
    description: str  # what the technology or concept is ("" when none is written)
    url: str  # its official site, or ""
    topics: list[TopicRef]

    @staticmethod
    def resolve_topics(obj) -> list:
        return obj.published_topics
