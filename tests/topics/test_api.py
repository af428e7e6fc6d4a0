"""The JSON API at /api/: what a client sees. Own fixtures; the seed content is cleared first."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.topics.conftest import make_topic
from topics.models import (
    Category,
    KeyFeature,
    RelatedItem,
    Topic,
    TopicRelatedItem,
    UseCase,
)

pytestmark = pytest.mark.django_db

PUBLISHED = Topic.Status.PUBLISHED
DRAFT = Topic.Status.DRAFT


@pytest.fixture
def content(db):
    """Two categories (created out of display order), topics out of order, one draft."""
    TopicRelatedItem.objects.all().delete()
    Topic.objects.all().delete()
    Category.objects.all().delete()
    RelatedItem.objects.all().delete()

    net = Category.objects.create(name="Networking", slug="networking", icon="lan", blurb="Wires.", order=2)
    dist = Category.objects.create(
        name="Distributed Systems", slug="distributed", icon="sync", blurb="Many machines.", order=1
    )
    raft = RelatedItem.objects.create(name="Raft", slug="raft", kind="concept")
    etcd = RelatedItem.objects.create(name="etcd", slug="etcd", kind="technology")
    nginx = RelatedItem.objects.create(name="NGINX", slug="nginx", kind="technology")
    secret = RelatedItem.objects.create(name="Quantum Key Distribution", slug="qkd", kind="technology")

    make_topic(
        dist, "consensus", "Consensus", order=2,
        summary="Agreeing on one value despite failures.",
        body="Nodes **vote** on a leader.",
        features=["Leader election", "Log replication", "Majority quorum"],
        uses=["Configuration stores", "Lock services"],
        related=[raft, etcd],
    )
    make_topic(dist, "clocks", "Logical Clocks", order=1, features=["Happens-before"], related=[raft])
    make_topic(net, "load-balancing", "Load Balancing", order=1,
               features=["Round robin", "Health checks"], related=[nginx])
    make_topic(net, "tcp", "TCP", order=0, uses=["Reliable streams"])
    make_topic(net, "quantum-net", "Quantum Networking", order=0, status=DRAFT,
               summary="Secret draft about entanglement.", features=["Entanglement swapping"],
               related=[secret, raft])
    return {"net": net, "dist": dist}


# /api/categories ----------------------------------------------------------------


def test_categories_in_order_with_published_topics_in_order(client, content):
    response = client.get("/api/categories")
    assert response.status_code == 200
    body = response.json()
    assert [c["slug"] for c in body] == ["distributed", "networking"]
    dist, net = body
    assert dist == {
        "name": "Distributed Systems",
        "slug": "distributed",
        "icon": "sync",
        "blurb": "Many machines.",
        "topics": [
            {"slug": "clocks", "title": "Logical Clocks"},
            {"slug": "consensus", "title": "Consensus"},
        ],
    }
    # The draft (order 0 in Networking) is not listed.
    assert net["topics"] == [
        {"slug": "tcp", "title": "TCP"},
        {"slug": "load-balancing", "title": "Load Balancing"},
    ]


def test_category_with_only_drafts_is_listed_with_no_topics(client, content):
    Topic.objects.filter(category=content["net"]).update(status=DRAFT)
    body = client.get("/api/categories").json()
    assert [(c["slug"], c["topics"]) for c in body][1] == ("networking", [])


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_categories_query_count_does_not_grow_with_content(client, content):
    before = count_queries(client, "/api/categories")
    extra = Category.objects.create(name="Operating Systems", slug="os", icon="memory", order=3)
    for i in range(5):
        make_topic(extra, f"os-{i}", f"OS {i}", order=i, features=["f"], related=[])
    assert count_queries(client, "/api/categories") == before


# /api/topics ---------------------------------------------------------------------


def test_topics_lists_published_in_category_then_topic_order(client, content):
    response = client.get("/api/topics")
    assert response.status_code == 200
    body = response.json()
    assert [t["slug"] for t in body] == ["clocks", "consensus", "tcp", "load-balancing"]
    assert body[1] == {
        "slug": "consensus",
        "title": "Consensus",
        "category": "distributed",
        "summary": "Agreeing on one value despite failures.",
    }


def test_topics_filtered_by_category(client, content):
    body = client.get("/api/topics", {"category": "networking"}).json()
    assert [t["slug"] for t in body] == ["tcp", "load-balancing"]
    assert {t["category"] for t in body} == {"networking"}


def test_unknown_category_is_422_naming_the_field(client, content):
    response = client.get("/api/topics", {"category": "cooking"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "category"]
    assert "cooking" in error["msg"]
    assert "networking" in error["msg"]  # tells the client what would have worked


@pytest.mark.parametrize(
    "query, expected",
    [
        ("tcp", ["tcp"]),  # title, case-insensitive
        ("despite failures", ["consensus"]),  # summary
        ("health checks", ["load-balancing"]),  # key feature
        ("lock services", ["consensus"]),  # use case
        ("raft", ["clocks", "consensus"]),  # related item, each topic once
        ("nothing-matches-this", []),
    ],
)
def test_search_with_q(client, content, query, expected):
    response = client.get("/api/topics", {"q": query})
    assert response.status_code == 200
    assert [t["slug"] for t in response.json()] == expected


def test_search_never_finds_drafts(client, content):
    assert client.get("/api/topics", {"q": "entanglement"}).json() == []
    assert client.get("/api/topics", {"q": "Quantum"}).json() == []


def test_search_and_category_combine(client, content):
    body = client.get("/api/topics", {"q": "raft", "category": "networking"}).json()
    assert body == []
    body = client.get("/api/topics", {"q": "round", "category": "networking"}).json()
    assert [t["slug"] for t in body] == ["load-balancing"]


def test_blank_q_lists_everything(client, content):
    body = client.get("/api/topics", {"q": "   "}).json()
    assert [t["slug"] for t in body] == ["clocks", "consensus", "tcp", "load-balancing"]


def test_overlong_q_is_422_naming_the_field(client, content):
    assert client.get("/api/topics", {"q": "x" * 200}).status_code == 200
    response = client.get("/api/topics", {"q": "x" * 201})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "q"]
    assert "200" in error["msg"]


@pytest.mark.parametrize("name", ["q", "category"])
def test_nul_in_a_query_parameter_is_422_naming_it(client, content, name):
    # PostgreSQL refuses NUL in a query (a DataError, so a 500); SQLite let it through.
    response = client.get("/api/topics", {name: "tc\x00p"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", name] and "NUL" in error["msg"]


@pytest.mark.parametrize("path", ["/api/topics/tc%00p", "/api/related/ra%00ft"])
def test_nul_in_a_slug_is_a_json_404(client, content, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_topics_query_count_does_not_grow_with_content(client, content):
    before = count_queries(client, "/api/topics?q=a")
    for i in range(5):
        make_topic(content["net"], f"extra-{i}", f"Extra a {i}", order=10 + i, features=["a"])
    assert count_queries(client, "/api/topics?q=a") == before


# /api/topics/{slug} --------------------------------------------------------------


def test_topic_detail(client, content):
    response = client.get("/api/topics/consensus")
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "consensus"
    assert body["title"] == "Consensus"
    assert body["category"] == {"slug": "distributed", "name": "Distributed Systems"}
    assert body["summary"] == "Agreeing on one value despite failures."
    assert "<strong>vote</strong>" in body["body_html"]
    assert body["key_features"] == [
        {"text": "Leader election", "order": 0, "detail": ""},
        {"text": "Log replication", "order": 1, "detail": ""},
        {"text": "Majority quorum", "order": 2, "detail": ""},
    ]
    assert body["use_cases"] == [
        {"text": "Configuration stores", "order": 0},
        {"text": "Lock services", "order": 1},
    ]
    assert body["related"] == [
        {"name": "Raft", "slug": "raft", "kind": "concept"},
        {"name": "etcd", "slug": "etcd", "kind": "technology"},
    ]


def test_topic_detail_follows_instructor_reordering(client, content):
    topic = Topic.objects.get(slug="consensus")
    KeyFeature.objects.filter(topic=topic, text="Majority quorum").update(order=0)
    KeyFeature.objects.filter(topic=topic, text="Leader election").update(order=5)
    TopicRelatedItem.objects.filter(topic=topic, item__slug="raft").update(order=9)
    body = client.get("/api/topics/consensus").json()
    assert [f["text"] for f in body["key_features"]] == [
        "Majority quorum",
        "Log replication",
        "Leader election",
    ]
    assert [r["slug"] for r in body["related"]] == ["etcd", "raft"]


def test_topic_detail_query_count_does_not_grow_with_content(client, content):
    before = count_queries(client, "/api/topics/consensus")
    topic = Topic.objects.get(slug="consensus")
    for i in range(5):
        KeyFeature.objects.create(topic=topic, text=f"more {i}", order=10 + i)
        UseCase.objects.create(topic=topic, text=f"more {i}", order=10 + i)
        item = RelatedItem.objects.create(name=f"Item {i}", slug=f"item-{i}", kind="concept")
        TopicRelatedItem.objects.create(topic=topic, item=item, order=10 + i)
    assert count_queries(client, "/api/topics/consensus") == before


@pytest.mark.parametrize("slug", ["no-such-topic", "quantum-net"])
def test_unknown_or_draft_topic_is_json_404(client, content, slug):
    response = client.get(f"/api/topics/{slug}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["detail"]
    assert slug in body["detail"]
    assert "entanglement" not in response.content.decode().lower()


def test_staff_do_not_get_drafts_from_the_public_api(admin_client, content):
    assert admin_client.get("/api/topics/quantum-net").status_code == 404
    assert "quantum-net" not in {t["slug"] for t in admin_client.get("/api/topics").json()}


# /api/related/{slug} -------------------------------------------------------------


def test_related_item_lists_published_topics_that_mention_it(client, content):
    response = client.get("/api/related/raft")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Raft",
        "slug": "raft",
        "kind": "concept",
        "description": "",
        "url": "",
        "topics": [
            {"slug": "clocks", "title": "Logical Clocks"},
            {"slug": "consensus", "title": "Consensus"},
        ],  # not the draft that also mentions Raft
    }
    assert client.get("/api/related/nginx").json()["kind"] == "technology"


@pytest.mark.parametrize("slug", ["no-such-item", "qkd"])
def test_unknown_or_draft_only_related_item_is_json_404(client, content, slug):
    # "qkd" is mentioned only by a draft: showing it would leak the draft.
    response = client.get(f"/api/related/{slug}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert slug in response.json()["detail"]


# OpenAPI and docs ----------------------------------------------------------------


def _resolve(schema: dict, ref: str):
    node = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_schema_lists_the_endpoints(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ["/api/categories", "/api/topics", "/api/topics/{slug}", "/api/related/{slug}"]:
        assert "get" in paths[path], path
    assert {p["name"] for p in paths["/api/topics"]["get"]["parameters"]} == {"category", "q"}
    assert "404" in paths["/api/topics/{slug}"]["get"]["responses"]
    assert "422" in paths["/api/topics"]["get"]["responses"]
    for ref in _refs(schema):  # every reference resolves
        assert _resolve(schema, ref) is not None, ref


def test_docs_page_renders(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    assert "/api/openapi.json" in html


def test_docs_page_loads_nothing_from_a_cdn(client):
    import re

    html = client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert assets, html
    assert all(a.startswith("/") for a in assets), assets


def test_seed_topic_detail_and_related_item_carry_details_descriptions_and_sites(client):
    body = client.get("/api/topics/tcp-ip-model").json()
    feature = next(f for f in body["key_features"] if f["text"] == "Error checking and correction")
    assert feature["detail"].startswith("Every segment carries a checksum")
    nginx = client.get("/api/related/nginx").json()
    assert nginx["url"] == "https://nginx.org/" and nginx["description"].startswith("An open-source web server")
