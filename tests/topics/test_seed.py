"""The seed content is in the database word for word, in order, and loading never clobbers edits.

The seed text is parsed here, independently of topics/content/seed.py, so a
transcription slip in seed.py shows up as a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from topics.content import seed
from topics.models import Category, KeyFeature, RelatedItem, Topic, TopicRelatedItem, UseCase
from topics.services import load_content

COMMITTED_SEED = Path(settings.BASE_DIR) / "topics" / "content" / "systems-networking-topics.txt"
SHARED_SEED = Path(settings.BASE_DIR).parent / "shared" / "seed" / "systems-networking-topics.txt"
CONTENT_MODELS = [Category, Topic, KeyFeature, UseCase, RelatedItem, TopicRelatedItem]
ICON_LINE = re.compile(r"[a-z_]+")  # icon names are the only all-lowercase lines
RELATED_HEADINGS = {"Related Technologies": "technology", "Related Concepts": "concept"}


@dataclass
class SeedTopic:
    title: str
    summary: str
    key_features: list[str] = field(default_factory=list)
    use_cases: list[str] = field(default_factory=list)
    related_kind: str | None = None
    related_run: str = ""  # the seed's names run together, e.g. "NginxHAProxyAWS ELBTraefik"


@dataclass
class SeedCategory:
    icon: str
    name: str
    topics: list[SeedTopic] = field(default_factory=list)


def parse_seed(text: str) -> list[SeedCategory]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "Systems & Networking"
    categories: list[SeedCategory] = []
    i = 1

    def bullets() -> list[str]:
        nonlocal i
        items = []
        while i < len(lines) and lines[i].startswith("•"):
            items.append(lines[i].removeprefix("•").strip())
            i += 1
        return items

    while i < len(lines):
        if ICON_LINE.fullmatch(lines[i]):
            categories.append(SeedCategory(icon=lines[i], name=lines[i + 1]))
            i += 2
            continue
        topic = SeedTopic(title=lines[i], summary=lines[i + 1])
        assert lines[i + 2] == "Key Features", lines[i : i + 3]
        i += 3
        topic.key_features = bullets()
        assert lines[i] == "Use Cases", lines[i]
        i += 1
        topic.use_cases = bullets()
        if i < len(lines) and lines[i] in RELATED_HEADINGS:
            topic.related_kind = RELATED_HEADINGS[lines[i]]
            topic.related_run = lines[i + 1]
            i += 2
        categories[-1].topics.append(topic)
    return categories


@pytest.fixture(scope="module")
def seed_categories() -> list[SeedCategory]:
    return parse_seed(COMMITTED_SEED.read_text(encoding="utf-8"))


def content_snapshot() -> dict[str, list[dict]]:
    """Every row of every content model, including timestamps, to compare before and after."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in CONTENT_MODELS}


def test_committed_seed_matches_the_shared_seed():
    if not SHARED_SEED.exists():
        pytest.skip(f"{SHARED_SEED} is not on this machine; the committed copy is the reference")
    assert COMMITTED_SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_parser_reads_the_whole_seed(seed_categories):
    # Guards the parser itself: a parser that silently read nothing would pass everything below.
    assert [c.icon for c in seed_categories] == ["balance", "sync", "scatter_plot", "lan"]
    assert sum(len(c.topics) for c in seed_categories) == 13
    assert all(t.key_features and t.use_cases for c in seed_categories for t in c.topics)


@pytest.mark.django_db
def test_fresh_database_has_every_category_in_seed_order(seed_categories):
    categories = list(Category.objects.order_by("order"))
    assert [(c.name, c.icon) for c in categories] == [(c.name, c.icon) for c in seed_categories]
    assert all(c.blurb for c in categories)


@pytest.mark.django_db
def test_fresh_database_has_every_topic_word_for_word_in_seed_order(seed_categories):
    for seed_category in seed_categories:
        category = Category.objects.get(name=seed_category.name)
        topics = list(category.topics.order_by("order"))
        assert [(t.title, t.summary) for t in topics] == [(t.title, t.summary) for t in seed_category.topics]
        for topic, seed_topic in zip(topics, seed_category.topics):
            assert topic.status == Topic.Status.PUBLISHED
            assert list(topic.key_features.values_list("text", flat=True)) == seed_topic.key_features
            assert list(topic.use_cases.values_list("text", flat=True)) == seed_topic.use_cases

            related = topic.ordered_related()
            # The seed runs names together; the database holds them as separate items.
            assert "".join(item.name for item in related) == seed_topic.related_run, topic.title
            assert all(item.kind == seed_topic.related_kind for item in related), topic.title


@pytest.mark.django_db
@pytest.mark.parametrize(
    "topic_slug, names",
    [
        ("load-balancing", ["Nginx", "HAProxy", "AWS ELB", "Traefik"]),
        ("consensus-algorithms", ["Raft", "Paxos", "ZAB", "Viewstamped Replication"]),
        ("consistency-models", ["Strong", "Eventual", "Causal", "Sequential"]),
    ],
)
def test_run_together_related_names_are_separate_items(topic_slug, names):
    topic = Topic.objects.get(slug=topic_slug)
    assert [item.name for item in topic.ordered_related()] == names


@pytest.mark.django_db
def test_related_items_shared_between_topics_exist_once():
    for name in ["Nginx", "HAProxy", "Traefik"]:
        item = RelatedItem.objects.get(name=name)
        assert item.kind == RelatedItem.Kind.TECHNOLOGY
        assert sorted(item.topics.values_list("slug", flat=True)) == ["load-balancing", "reverse-proxy"]
    assert RelatedItem.objects.get(name="AWS ELB").slug == "aws-elb"
    assert RelatedItem.objects.get(name="Viewstamped Replication").slug == "viewstamped-replication"


@pytest.mark.django_db
def test_every_topic_has_a_how_it_works_body_of_at_least_250_words():
    short = {t.slug: len(t.body.split()) for t in Topic.objects.all() if len(t.body.split()) < 250}
    assert short == {}, "topics whose body is missing or under 250 words"


def test_seed_module_slugs_are_the_agreed_ones():
    assert [c["slug"] for c in seed.CATEGORIES] == [
        "load-balancing-scaling",
        "concurrency-fundamentals",
        "distributed-systems",
        "network-protocols",
    ]
    assert [t["slug"] for c in seed.CATEGORIES for t in c["topics"]] == [
        "load-balancing", "reverse-proxy", "cdn",
        "threads-processes", "locks-synchronization", "race-conditions",
        "cap-theorem", "consensus-algorithms", "consistency-models",
        "tcp-ip-model", "http-https", "dns", "websockets",
    ]  # fmt: skip


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    before = content_snapshot()
    summary = load_content()
    assert not summary.created_anything
    assert content_snapshot() == before


@pytest.mark.django_db
def test_load_content_command_fills_an_empty_database_and_then_reports_nothing_to_do(capsys):
    for model in [TopicRelatedItem, KeyFeature, UseCase, Topic, RelatedItem, Category]:
        model.objects.all().delete()

    call_command("load_content")
    first_run = capsys.readouterr().out
    assert (
        "Created 4 categories, 13 topics, 52 key features, 52 use cases, 17 related items, 20 related links."
        in first_run
    )
    assert "new topic: Consensus Algorithms" in first_run
    assert Topic.objects.published().count() == 13
    assert RelatedItem.objects.count() == 17  # Nginx, HAProxy and Traefik once each

    call_command("load_content")
    assert "nothing to create" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_instructors_edits_survive_a_second_load():
    topic = Topic.objects.get(slug="load-balancing")
    topic.summary = "Rewritten by an instructor."
    topic.status = Topic.Status.DRAFT
    topic.save()
    topic.key_features.get(text="IP hash for session affinity").delete()
    topic.key_features.create(text="Weighted round-robin", order=9)
    topic.related_links.filter(item__name="AWS ELB").delete()
    category = Category.objects.get(slug="network-protocols")
    category.name = "Networking"
    category.save()

    load_content()

    topic.refresh_from_db()
    assert topic.summary == "Rewritten by an instructor."
    assert topic.status == Topic.Status.DRAFT
    assert list(topic.key_features.values_list("text", flat=True)) == [
        "Round-robin distribution",
        "Least connections algorithm",
        "Health checks with failover",
        "Weighted round-robin",
    ]
    assert [item.name for item in topic.ordered_related()] == ["Nginx", "HAProxy", "Traefik"]
    assert Category.objects.filter(slug="network-protocols").get().name == "Networking"
    assert Category.objects.count() == 4


@pytest.mark.django_db
def test_a_topic_whose_slug_an_instructor_changed_is_not_added_again():
    Topic.objects.filter(slug="tcp-ip-model").update(slug="tcp-ip")
    assert load_content().topics == 0
    assert Topic.objects.filter(title="TCP/IP Model").count() == 1


@pytest.mark.django_db
def test_a_missing_topic_is_recreated_reusing_shared_related_items(monkeypatch, tmp_path):
    Topic.objects.get(slug="reverse-proxy").delete()
    nginx_pk = RelatedItem.objects.get(name="Nginx").pk
    monkeypatch.setattr(seed, "BODIES_DIR", tmp_path)  # its body file is not there: empty body

    summary = load_content()

    assert (summary.topics, summary.key_features, summary.related_items) == (1, 4, 0)
    topic = Topic.objects.get(slug="reverse-proxy")
    assert topic.body == ""
    assert [item.name for item in topic.ordered_related()] == ["Nginx", "HAProxy", "Traefik", "Envoy"]
    assert RelatedItem.objects.get(name="Nginx").pk == nginx_pk
