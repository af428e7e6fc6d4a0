"""Key feature details, related item descriptions and official sites: seeded, shown, never clobbered."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from topics.content import details, seed
from topics.models import KeyFeature, RelatedItem, Topic
from topics.services import fill_empty_details, load_content

pytestmark = pytest.mark.django_db

SEED_FEATURES = [(t["slug"], text) for c in seed.CATEGORIES for t in c["topics"] for text in t["key_features"]]
SEED_RELATED = {name: kind for c in seed.CATEGORIES for t in c["topics"] for name, kind in t["related"]}


def test_every_seed_feature_and_related_item_has_its_text_and_nothing_else():
    assert len(SEED_FEATURES) == 52
    assert set(details.FEATURE_DETAILS) == set(SEED_FEATURES)
    assert set(details.RELATED_ITEMS) == set(SEED_RELATED)
    for key, text in details.FEATURE_DETAILS.items():
        sentences = text.count(". ") + 1
        assert 40 <= len(text) <= 420 and sentences <= 3, key
    for name, data in details.RELATED_ITEMS.items():
        assert data["description"], name
        if SEED_RELATED[name] == seed.TECHNOLOGY:
            assert data["url"].startswith("https://"), name
        else:
            assert data["url"] == "" or data["url"].startswith("https://"), name


def test_migrated_database_has_every_detail_description_and_official_site():
    assert KeyFeature.objects.count() == 52
    assert not KeyFeature.objects.filter(detail="").exists()
    for feature in KeyFeature.objects.select_related("topic"):
        assert feature.detail == details.feature_detail(feature.topic.slug, feature.text)
    assert not RelatedItem.objects.filter(description="").exists()
    assert RelatedItem.objects.get(name="Nginx").url == "https://nginx.org/"
    assert RelatedItem.objects.get(name="HAProxy").url == "https://www.haproxy.org/"
    assert not RelatedItem.objects.filter(kind=RelatedItem.Kind.TECHNOLOGY, url="").exists()


def test_filling_keeps_an_instructors_text_and_fills_only_empty_fields():
    edited = KeyFeature.objects.get(topic__slug="dns", text="CNAME for aliasing")
    edited.detail = "Written by an instructor."
    edited.save()
    emptied = KeyFeature.objects.get(topic__slug="dns", text="MX records for email routing")
    emptied.detail = ""
    emptied.save()
    renamed = KeyFeature.objects.get(topic__slug="dns", text="TTL-based caching strategy")
    renamed.text, renamed.detail = "TTLs", ""
    renamed.save()
    RelatedItem.objects.filter(name="Nginx").update(url="https://example.org/our-nginx-notes")
    RelatedItem.objects.filter(name="HAProxy").update(description="")

    summary = fill_empty_details()

    assert (summary.details, summary.descriptions, summary.urls) == (1, 1, 0)
    edited.refresh_from_db()
    emptied.refresh_from_db()
    renamed.refresh_from_db()
    assert edited.detail == "Written by an instructor."
    assert emptied.detail.startswith("MX records name the mail servers")
    assert renamed.detail == ""  # its text is no longer the seed's: nothing to match
    assert RelatedItem.objects.get(name="Nginx").url == "https://example.org/our-nginx-notes"
    assert RelatedItem.objects.get(name="HAProxy").description.startswith("An open-source load balancer")
    assert fill_empty_details() == type(summary)()  # a second run finds nothing to do


def test_load_content_gives_recreated_rows_their_details_and_stays_idempotent():
    Topic.objects.get(slug="reverse-proxy").delete()
    RelatedItem.objects.get(name="Envoy").delete()
    summary = load_content()
    assert (summary.topics, summary.key_features, summary.related_items) == (1, 4, 1)
    topic = Topic.objects.get(slug="reverse-proxy")
    assert all(f.detail == details.feature_detail("reverse-proxy", f.text) for f in topic.key_features.all())
    envoy = RelatedItem.objects.get(name="Envoy")
    assert envoy.url == "https://www.envoyproxy.io/" and envoy.description
    # New rows have their first history entry, so a first edit can be reverted.
    assert topic.history.count() == 1
    assert all(f.history.count() == 1 for f in topic.key_features.all())
    assert not load_content().created_anything


def test_tcp_body_explains_error_checking_and_correction_truthfully():
    body = Topic.objects.get(slug="tcp-ip-model").body
    assert "## Error checking and correction" in body
    for claim in ("checksum", "discarded", "never acknowledged", "send the data again", "RFC 9293, section 3.1",
                  "RFC 9293, section 3.10", "forward error correction"):
        assert claim in body, claim
    assert "does **not** use forward error correction" not in body  # the old wording that contradicted the seed


def test_topic_page_features_open_to_their_detail_without_javascript(client):
    topic = Topic.objects.get(slug="tcp-ip-model")
    page = client.get(topic.get_absolute_url()).content.decode()
    section = page.split('id="key-features"', 1)[1].split("</section>", 1)[0]
    assert section.count("<details") == 4 and section.count("<summary") == 4
    assert '<span class="feature-list__text">Error checking and correction</span></summary>' in section
    assert "The receiver discards a segment that fails it" in section
    assert "<script" not in section and " onclick" not in section


def test_a_feature_without_detail_is_plain_text(client):
    KeyFeature.objects.filter(topic__slug="dns", text="CNAME for aliasing").update(detail="")
    page = client.get(reverse("topics:topic", args=["dns"])).content.decode()
    section = page.split('id="key-features"', 1)[1].split("</section>", 1)[0]
    assert section.count("<details") == 3
    assert '<li class="feature-list__item"><span class="feature-list__text">CNAME for aliasing</span>' in section


def test_related_page_says_what_it_is_and_links_its_official_site(client):
    page = client.get(reverse("topics:related", args=["haproxy"])).content.decode()
    assert "An open-source load balancer and proxy for TCP and HTTP" in page
    assert '<a href="https://www.haproxy.org/" rel="noopener noreferrer external">Official site' in page
    concept = client.get(reverse("topics:related", args=["paxos"])).content.decode()
    assert "Leslie Lamport" in concept
    assert "Official site" not in concept


def test_category_page_shows_each_topics_key_features(client, django_assert_max_num_queries):
    url = reverse("topics:category", args=["network-protocols"])
    with django_assert_max_num_queries(6):
        page = client.get(url).content.decode()
    assert "Error checking and correction" in page and "Heartbeat for connection health" in page


def test_staff_who_may_edit_get_an_edit_link_on_the_topic_page_and_its_draft_banner(instructor_client):
    topic = Topic.objects.get(slug="dns")
    edit_url = reverse("admin:topics_topic_change", args=[topic.pk])
    assert edit_url not in Client().get(topic.get_absolute_url()).content.decode()
    page = instructor_client.get(topic.get_absolute_url()).content.decode()
    assert f'href="{edit_url}">Edit this topic</a>' in page
    Topic.objects.filter(pk=topic.pk).update(status=Topic.Status.DRAFT)
    page = instructor_client.get(topic.get_absolute_url()).content.decode()
    banner = page.split('class="draft-banner"', 1)[1].split("</p>", 1)[0]
    assert f'<a href="{edit_url}">Edit this topic</a>' in banner


def test_staff_without_change_permission_get_no_edit_link(client, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_topic"))
    client.force_login(viewer)
    page = client.get(reverse("topics:topic", args=["dns"])).content.decode()
    assert "Edit this topic" not in page


def test_migration_0007_updates_only_bodies_nobody_edited(monkeypatch):
    import hashlib
    import importlib

    from django.apps import apps as global_apps

    migration = importlib.import_module("topics.migrations.0007_update_unedited_seed_bodies")
    for slug, hashes in migration.EARLIER_SEED_BODIES.items():
        current = hashlib.sha256(seed.topic_body(slug).encode()).hexdigest()
        assert current not in hashes, slug  # the current file is not an "earlier" version
    old = "The body as an earlier seed shipped it."
    monkeypatch.setattr(migration, "EARLIER_SEED_BODIES", {
        "tcp-ip-model": {hashlib.sha256(old.encode()).hexdigest()},
        "locks-synchronization": {hashlib.sha256(old.encode()).hexdigest()},
    })
    Topic.objects.filter(slug="tcp-ip-model").update(body=old)
    Topic.objects.filter(slug="locks-synchronization").update(body=old + " Edited by an instructor.")
    migration.update_unedited_bodies(global_apps, None)
    assert Topic.objects.get(slug="tcp-ip-model").body == seed.topic_body("tcp-ip-model")
    assert Topic.objects.get(slug="locks-synchronization").body == old + " Edited by an instructor."
