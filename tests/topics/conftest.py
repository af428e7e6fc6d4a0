"""Fixtures for the content app. The migrated test database already holds the seed content."""

import pytest
from django.contrib.auth.models import Group

from topics.models import KeyFeature, Topic, TopicRelatedItem, UseCase


@pytest.fixture
def instructor(django_user_model):
    """A staff user whose only permissions come from the "Instructors" group."""
    user = django_user_model.objects.create_user(username="instructor", password="unused", is_staff=True)
    user.groups.add(Group.objects.get(name="Instructors"))
    return user


@pytest.fixture
def instructor_client(client, instructor):
    client.force_login(instructor)
    return client


def make_topic(category, slug, title, *, order=0, status=Topic.Status.PUBLISHED, summary="", body="",
               features=(), uses=(), related=()):
    """A topic with its ordered features, use cases and related items, for tests' own fixtures."""
    topic = Topic.objects.create(
        category=category, slug=slug, title=title, order=order, status=status,
        summary=summary or f"All about {title}.", body=body,
    )
    for i, text in enumerate(features):
        KeyFeature.objects.create(topic=topic, text=text, order=i)
    for i, text in enumerate(uses):
        UseCase.objects.create(topic=topic, text=text, order=i)
    for i, item in enumerate(related):
        TopicRelatedItem.objects.create(topic=topic, item=item, order=i)
    return topic
