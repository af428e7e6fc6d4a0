"""Fixtures for the content app. The migrated test database already holds the seed content."""

import pytest
from django.contrib.auth.models import Group


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
