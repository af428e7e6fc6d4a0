"""Instructors author content through the real admin, and only content."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from topics.models import Topic

pytestmark = pytest.mark.django_db

CONTENT_MODELS = {"category", "topic", "keyfeature", "usecase", "relateditem", "topicrelateditem"}


def change_form_data(response) -> dict:
    """The POST a browser would send for an unchanged admin change form, inlines included."""
    data: dict = {}

    def add_form(form) -> None:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue  # an empty or unticked field is not sent
            data[form.add_prefix(name)] = value

    add_form(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add_form(inline.formset.management_form)
        for form in inline.formset.forms:
            add_form(form)
    return data


def topic_change_url(topic: Topic) -> str:
    return reverse("admin:topics_topic_change", args=[topic.pk])


def test_admin_is_branded(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert "Systems &amp; Networking admin" in response.content.decode()


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:topics_category_changelist",
        "admin:topics_category_add",
        "admin:topics_topic_changelist",
        "admin:topics_topic_add",
        "admin:topics_relateditem_changelist",
        "admin:topics_relateditem_add",
    ],
)
def test_instructor_can_open_every_content_admin_page(instructor_client, url_name):
    assert instructor_client.get(reverse(url_name)).status_code == 200


def test_category_changelist_counts_topics(instructor_client):
    response = instructor_client.get(reverse("admin:topics_category_changelist"))
    counts = {category.name: category.topic_total for category in response.context["cl"].result_list}
    assert counts["Load Balancing & Scaling"] == 3
    assert counts["Network Protocols"] == 4


def test_instructors_group_may_add_change_and_view_content_only():
    permissions = Group.objects.get(name="Instructors").permissions.select_related("content_type")
    topic_permissions = {p.codename for p in permissions if p.content_type.app_label == "topics"}
    expected = {f"{action}_{model}" for action in ("add", "change", "view") for model in CONTENT_MODELS}
    # Delete on the rows they manage (migration 0006), never on topics or categories.
    expected |= {f"delete_{model}" for model in ("keyfeature", "usecase", "relateditem", "topicrelateditem")}
    assert topic_permissions == expected
    framework_apps = {"auth", "contenttypes", "sessions", "admin"}
    assert not [p.codename for p in permissions if p.content_type.app_label in framework_apps]


def test_instructor_edits_a_topic_through_the_change_form(instructor_client):
    topic = Topic.objects.get(slug="consensus-algorithms")
    url = topic_change_url(topic)
    response = instructor_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Raw HTML is not allowed" in page
    assert reverse("admin:view_on_site", args=[response.context["content_type_id"], topic.pk]) in page

    data = change_form_data(response)
    data["summary"] = "Edited by an instructor."
    extra_feature = response.context["inline_admin_formsets"][0].formset.forms[-1]  # the blank extra row
    data[extra_feature.add_prefix("text")] = "Leader leases"  # its order is left as offered
    response = instructor_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert response["Location"] == reverse("admin:topics_topic_changelist")
    topic.refresh_from_db()
    assert topic.summary == "Edited by an instructor."
    assert list(topic.key_features.values_list("text", flat=True)) == [
        "Fault tolerance guarantees",
        "Replicated state machines",
        "Ordering guarantees",
        "Split-brain prevention",
        "Leader leases",
    ]
    # The untouched inlines came through the round trip unchanged.
    related_names = [item.name for item in topic.ordered_related()]
    assert related_names == ["Raft", "Paxos", "ZAB", "Viewstamped Replication"]
    assert topic.use_cases.count() == 4


def test_view_on_site_leads_to_the_topic_page(instructor_client):
    topic = Topic.objects.get(slug="dns")
    response = instructor_client.get(topic_change_url(topic))
    view_on_site = reverse("admin:view_on_site", args=[response.context["content_type_id"], topic.pk])
    response = instructor_client.get(view_on_site)
    assert response.status_code == 302
    assert response["Location"].endswith("/topics/dns/")


def test_change_form_rejects_a_duplicate_related_item_and_changes_nothing(instructor_client):
    topic = Topic.objects.get(slug="consensus-algorithms")
    url = topic_change_url(topic)
    response = instructor_client.get(url)
    data = change_form_data(response)
    data["summary"] = "Should not be saved."
    related_formset = response.context["inline_admin_formsets"][2].formset
    data[related_formset.forms[-1].add_prefix("item")] = topic.ordered_related()[0].pk  # Raft again

    response = instructor_client.post(url, data)

    assert response.status_code == 200  # the form comes back with its errors
    assert response.context["errors"]
    topic.refresh_from_db()
    assert topic.summary != "Should not be saved."


def test_related_item_autocomplete_finds_items_for_an_instructor(instructor_client):
    response = instructor_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "topics", "model_name": "topicrelateditem", "field_name": "item", "term": "ra"},
    )
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["Raft", "Traefik"]


@pytest.mark.parametrize(
    "url_name", ["admin:auth_user_changelist", "admin:auth_group_changelist", "admin:auth_user_add"]
)
def test_instructor_cannot_open_user_or_group_admin(instructor_client, url_name):
    assert instructor_client.get(reverse(url_name)).status_code == 403


def test_instructor_cannot_delete_topics(instructor_client):
    topic = Topic.objects.get(slug="dns")
    assert instructor_client.get(reverse("admin:topics_topic_delete", args=[topic.pk])).status_code == 403


def test_publish_and_draft_actions_change_status_and_say_how_many(instructor_client):
    changelist = reverse("admin:topics_topic_changelist")
    targets = list(Topic.objects.filter(slug__in=["dns", "websockets", "cdn"]))
    Topic.objects.filter(slug="cdn").update(status=Topic.Status.DRAFT)
    selected = [topic.pk for topic in targets]
    dns_updated_before = Topic.objects.get(slug="dns").updated

    def run_action(action: str) -> list[str]:
        response = instructor_client.post(changelist, {"action": action, "_selected_action": selected}, follow=True)
        return [str(message) for message in get_messages(response.wsgi_request)]

    def statuses() -> set[str]:
        return set(Topic.objects.filter(pk__in=selected).values_list("status", flat=True))

    assert "2 topics marked as draft." in run_action("mark_draft")  # cdn was a draft already
    assert statuses() == {Topic.Status.DRAFT}
    assert Topic.objects.get(slug="dns").updated > dns_updated_before

    assert "3 topics marked as published." in run_action("publish")
    assert statuses() == {Topic.Status.PUBLISHED}
    assert Topic.objects.exclude(pk__in=selected).filter(status=Topic.Status.DRAFT).count() == 0


@pytest.mark.parametrize(
    "query, expected_titles",
    [
        # Whole seed phrases, so a body that happens to mention a word does not match too.
        ("Raft, Paxos, and leader election", ["Consensus Algorithms"]),  # summary
        ("etcd for Kubernetes", ["Consensus Algorithms"]),  # use case
        ("Spinlocks for short waits", ["Locks & Synchronization"]),  # key feature
        ("Viewstamped Replication", ["Consensus Algorithms"]),  # related item
        ("Zebra routing", ["Zebra routing"]),  # title, set below
        ("quokka", ["DNS"]),  # body, set below
    ],
)
def test_changelist_search_finds_topics_by_their_text(instructor_client, query, expected_titles):
    Topic.objects.filter(slug="tcp-ip-model").update(title="Zebra routing")
    Topic.objects.filter(slug="dns").update(body="A resolver named quokka caches answers.")
    response = instructor_client.get(reverse("admin:topics_topic_changelist"), {"q": query})
    assert response.status_code == 200
    assert [topic.title for topic in response.context["cl"].result_list] == expected_titles


def test_changelist_filters_by_status(instructor_client):
    Topic.objects.filter(slug="dns").update(status=Topic.Status.DRAFT)
    response = instructor_client.get(reverse("admin:topics_topic_changelist"), {"status__exact": "draft"})
    assert [topic.slug for topic in response.context["cl"].result_list] == ["dns"]


def test_changelist_shows_the_agreed_columns(instructor_client):
    response = instructor_client.get(reverse("admin:topics_topic_changelist"))
    headers = [str(header["text"]).lower() for header in response.context["result_headers"]]
    assert headers[1:] == ["title", "category", "status", "order", "updated"]  # [0] is the action checkbox
