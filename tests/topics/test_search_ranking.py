"""Search reaches the "How it works" bodies and feature details, ranked title first.

Runs on SQLite (substring fallback) and, through tests/test_services.py, on PostgreSQL
(full-text search with English stemming, SearchRank within each tier).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from topics.models import Category, KeyFeature, Topic, UseCase

pytestmark = pytest.mark.django_db
URL = reverse("topics:search")


def titles(queryset) -> list[str]:
    return [topic.title for topic in queryset]


@pytest.fixture
def ranked(db):
    cat = Category.objects.create(name="Ranking", slug="ranking", icon="lan", order=0)

    def topic(slug, title, order, **fields):
        return Topic.objects.create(category=cat, slug=slug, title=title, order=order,
                                    summary=fields.pop("summary", "Nothing to see."),
                                    status=Topic.Status.PUBLISHED, **fields)

    # Listed (roughly) in the opposite order of how well they match, so ordering by position
    # would fail; a feature and a use case share a tier and keep their position order.
    in_body = topic("in-body", "Body Match", 0, body="Here the *frobnicator* appears, once.")
    in_detail = topic("in-detail", "Detail Match", 1)
    KeyFeature.objects.create(topic=in_detail, text="Plain", detail="A frobnicator, in detail.", order=0)
    in_use = topic("in-use", "Use Case Match", 3)
    UseCase.objects.create(topic=in_use, text="Frobnicator farms", order=0)
    in_feature = topic("in-feature", "Feature Match", 2)
    KeyFeature.objects.create(topic=in_feature, text="Frobnicator pools", order=0)
    in_title = topic("in-title", "Frobnicator Basics", 4, body="frobnicator " * 20)
    return [in_title, in_feature, in_use, in_detail, in_body]


def test_ranking_is_title_then_features_and_use_cases_then_details_then_body(ranked):
    found = list(Topic.objects.published().search("frobnicator"))
    assert titles(found) == ["Frobnicator Basics", "Feature Match", "Use Case Match", "Detail Match", "Body Match"]
    assert [t.search_tier for t in found] == [4, 3, 3, 2, 1]


def test_the_page_lists_results_in_rank_order_and_shows_the_body_excerpt(client, ranked):
    page = client.get(URL, {"q": "frobnicator"}).content.decode()
    order = [page.index(f'href="{t.get_absolute_url()}"') for t in ranked]
    assert order == sorted(order)
    assert "5 topics matching" in page
    body_hit = page.split(f'href="{ranked[-1].get_absolute_url()}"', 1)[1].split("</li>\n    </ul>", 1)[0]
    assert "How it works:</span> Here the <mark>frobnicator</mark> appears, once." in body_hit
    assert "*frobnicator*" not in body_hit  # the rendered text, not the Markdown source
    detail_hit = page.split(f'href="{ranked[3].get_absolute_url()}"', 1)[1]
    assert "Key feature “Plain”:</span> A <mark>frobnicator</mark>, in detail." in detail_hit


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("handshake", {"TCP/IP Model", "WebSockets", "HTTP/HTTPS", "Reverse Proxy"}),
        ("vector clock", {"Race Conditions", "Consistency Models"}),
        ("ssthresh", {"TCP/IP Model"}),
        ("checksum", {"TCP/IP Model"}),
    ],
)
def test_words_a_learner_searches_for_find_the_bodies_that_explain_them(client, query, expected):
    found = set(titles(Topic.objects.published().search(query)))
    assert expected <= found, found
    page = client.get(URL, {"q": query}).content.decode()
    for title in expected:
        assert title.replace("/", "/") in page


def test_api_search_reaches_bodies_in_rank_order(client):
    response = client.get("/api/topics", {"q": "congestion"})
    assert response.status_code == 200
    found = [t["slug"] for t in response.json()]
    # TCP/IP names congestion in a key feature; other topics only in their bodies.
    assert found[0] == "tcp-ip-model"


def test_stemming_on_postgresql_and_substring_fallback_elsewhere():
    """"handshakes" is not a substring of any body; PostgreSQL's English stemmer still finds
    "handshake". SQLite has no full-text search here: its fallback matches substrings only."""
    found = set(titles(Topic.objects.published().search("handshakes")))
    if connection.vendor == "postgresql":
        assert {"TCP/IP Model", "WebSockets"} <= found
        ranked = list(Topic.objects.published().search("retransmission"))
        assert all(hasattr(t, "search_rank") for t in ranked)
    else:
        assert "TCP/IP Model" not in found
    # Both: a query with no words for the full-text parser still matches as a substring.
    assert titles(Topic.objects.published().search("(RTO)")) == ["TCP/IP Model"]


def test_within_a_tier_the_body_that_says_it_most_comes_first(db):
    cat = Category.objects.create(name="Ranking", slug="ranking", icon="lan", order=0)
    once = Topic.objects.create(category=cat, slug="once", title="Once", order=0, summary="x",
                                status=Topic.Status.PUBLISHED, body="A quuxwidget here. " + "Filler words. " * 30)
    Topic.objects.create(category=cat, slug="often", title="Often", order=1, summary="x",
                         status=Topic.Status.PUBLISHED, body="The quuxwidget, a quuxwidget, quuxwidget again.")
    assert titles(Topic.objects.published().search("quuxwidget")) == ["Often", "Once"]
    assert once.pk


def test_a_body_excerpt_ends_its_heading_like_a_sentence(client):
    page = client.get(URL, {"q": "three-way handshake"}).content.decode()
    assert "Opening a connection. TCP starts with a <mark>three-way handshake</mark>" in page
