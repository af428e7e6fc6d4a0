"""Instructors may delete the rows they manage; every content change is recorded and revertible."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from simulations.models import SimulationPreset
from tests.topics.test_admin import change_form_data
from topics.models import Category, KeyFeature, RelatedItem, Topic, TopicRelatedItem, UseCase

pytestmark = pytest.mark.django_db


def test_instructors_may_delete_rows_and_presets_but_not_topics_categories_or_people():
    codenames = set(Group.objects.get(name="Instructors").permissions.values_list("codename", flat=True))
    for model in ("keyfeature", "usecase", "relateditem", "topicrelateditem", "simulationpreset"):
        assert f"delete_{model}" in codenames
    for model in ("topic", "category", "user", "group", "permission"):
        assert f"delete_{model}" not in codenames


def test_every_seed_row_starts_with_one_history_entry():
    for model in (Category, Topic, KeyFeature, UseCase, RelatedItem, TopicRelatedItem, SimulationPreset):
        rows = model.objects.count()
        assert rows and model.history.filter(history_type="+").count() == rows, model.__name__


def test_instructor_deletes_a_feature_inline_and_the_history_says_who(instructor_client, instructor):
    topic = Topic.objects.get(slug="cap-theorem")
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    response = instructor_client.get(url)
    assert "key_features-0-DELETE" in response.content.decode()
    data = change_form_data(response)
    feature = topic.key_features.get(text="Strong consistency guarantees")
    form = next(f for f in response.context["inline_admin_formsets"][0].formset.forms if f.instance.pk == feature.pk)
    data[form.add_prefix("DELETE")] = "on"
    response = instructor_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert not KeyFeature.objects.filter(pk=feature.pk).exists()
    record = KeyFeature.history.filter(id=feature.pk).latest("history_date")
    assert record.history_type == "-" and record.history_user == instructor

    # The topic's history page lists the deletion, with a way back.
    page = instructor_client.get(reverse("admin:topics_topic_history", args=[topic.pk])).content.decode()
    assert "Key feature: Strong consistency guarantees" in page and "Restore this row" in page
    restore = reverse("admin:topics_keyfeature_simple_history", args=[feature.pk, record.history_id])
    assert restore in page
    form_page = instructor_client.get(restore)
    assert form_page.status_code == 200
    response = instructor_client.post(restore, {
        "topic": topic.pk, "text": record.text, "detail": record.detail, "order": record.order, "_save": "Revert",
    })
    assert response.status_code == 302
    assert response["Location"] == url
    restored = KeyFeature.objects.get(pk=feature.pk)
    assert (restored.text, restored.order) == ("Strong consistency guarantees", record.order)


def test_instructor_deletes_a_preset(instructor_client):
    preset = SimulationPreset.objects.first()
    url = reverse("admin:simulations_simulationpreset_delete", args=[preset.pk])
    assert instructor_client.get(url).status_code == 200
    assert instructor_client.post(url, {"post": "yes"}).status_code == 302
    assert not SimulationPreset.objects.filter(pk=preset.pk).exists()
    assert SimulationPreset.history.filter(id=preset.pk, history_type="-").exists()


def test_instructor_cannot_delete_a_topic_or_a_category(instructor_client):
    topic = Topic.objects.get(slug="dns")
    category = topic.category
    assert instructor_client.post(reverse("admin:topics_topic_delete", args=[topic.pk]), {"post": "yes"}).status_code == 403
    assert instructor_client.post(
        reverse("admin:topics_category_delete", args=[category.pk]), {"post": "yes"}
    ).status_code == 403
    page = instructor_client.get(reverse("admin:topics_topic_change", args=[topic.pk])).content.decode()
    assert "deletelink" not in page
    assert Topic.objects.filter(pk=topic.pk).exists()


def test_a_topic_change_is_recorded_and_reverted_from_its_history_page(instructor_client, instructor):
    topic = Topic.objects.get(slug="dns")
    original = topic.summary
    url = reverse("admin:topics_topic_change", args=[topic.pk])
    data = change_form_data(instructor_client.get(url))
    data["summary"] = "A wrong summary."
    assert instructor_client.post(url, data).status_code == 302
    latest = topic.history.latest("history_date")
    assert latest.summary == "A wrong summary." and latest.history_user == instructor

    history = instructor_client.get(reverse("admin:topics_topic_history", args=[topic.pk])).content.decode()
    first = topic.history.earliest("history_date")
    version_url = reverse("admin:topics_topic_simple_history", args=[topic.pk, first.history_id])
    assert version_url in history
    form = instructor_client.get(version_url)
    assert form.status_code == 200
    assert form.context["adminform"].form["summary"].value() == original
    revert = {name: form.context["adminform"].form[name].value() for name in
              ("category", "title", "slug", "summary", "body", "status", "order")}
    revert["_save"] = "Revert"
    assert instructor_client.post(version_url, revert).status_code == 302
    topic.refresh_from_db()
    assert topic.summary == original
    assert topic.history.count() == 3  # created, edited, reverted
