"""Live search at /search/: the page, its htmx partial, highlighting and limits.

Own fixtures, with made-up words ("Zorblax", "Quuxify"...) that the seed content
the test database already holds cannot match.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from topics.models import Category, KeyFeature, RelatedItem, Topic, TopicRelatedItem, UseCase
from topics.templatetags.topic_tags import highlight_html

URL = reverse("topics:search")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def topics(db):
    cat = Category.objects.create(name="Zorblax Systems", slug="zorblax-systems", icon="lan", order=99)
    other = Category.objects.create(name="Other Things", slug="other-things", icon="sync", order=98)
    tech = RelatedItem.objects.create(name="Quuxify Server", slug="quuxify-server", kind=RelatedItem.Kind.TECHNOLOGY)
    concept = RelatedItem.objects.create(name="Flurble Ordering", slug="flurble-ordering",
                                         kind=RelatedItem.Kind.CONCEPT)
    alpha = Topic.objects.create(category=cat, slug="zorblax-alpha", title="Zorblax Alpha", order=1,
                                 summary="Moves snargles between hosts.", status=Topic.Status.PUBLISHED)
    KeyFeature.objects.create(topic=alpha, text="Wibbleton retransmission", order=0)
    KeyFeature.objects.create(topic=alpha, text="Plain feature", order=1)
    UseCase.objects.create(topic=alpha, text="Gronking large files", order=0)
    TopicRelatedItem.objects.create(topic=alpha, item=tech, order=0)
    beta = Topic.objects.create(category=other, slug="beta-topic", title="Beta Topic", order=1,
                                summary="Has R&D <b>markup</b> in its summary, and zorblax too.",
                                status=Topic.Status.PUBLISHED)
    TopicRelatedItem.objects.create(topic=beta, item=concept, order=0)
    draft = Topic.objects.create(category=cat, slug="zorblax-draft", title="Zorblax Draft", order=2,
                                 summary="Not ready.", status=Topic.Status.DRAFT)
    KeyFeature.objects.create(topic=draft, text="Wibbleton in draft", order=0)
    return {"alpha": alpha, "beta": beta, "draft": draft, "cat": cat, "other": other}


def get(client, q, **extra):
    return client.get(URL, {"q": q}, **extra).content.decode()


def results_section(page: str) -> str:
    return page.split('<div id="search-results"', 1)[1] if '<div id="search-results"' in page else page


# --- the page ---------------------------------------------------------------------


def test_empty_query_shows_a_prompt_and_no_results(client, topics):
    for url in (URL, URL + "?q=", URL + "?q=%20%20"):
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "Type a word or phrase" in page
        assert 'class="result"' not in page


def test_search_form_works_without_js_and_is_enhanced_with_htmx(client, topics):
    page = get(client, "zorblax")
    form = page.split('<form class="search-form"', 1)[1].split("</form>", 1)[0]
    assert f'action="{URL}" method="get"' in form
    assert '<label for="search-q">' in form
    assert 'name="q"' in form and 'value="zorblax"' in form
    assert f'hx-get="{URL}"' in form
    assert 'hx-trigger="input changed delay:300ms, search"' in form
    assert 'hx-target="#search-results"' in form
    assert 'hx-push-url="true"' in form
    assert 'maxlength="200"' in form
    assert '<button type="submit"' in form


def test_search_by_title(client, topics):
    page = results_section(get(client, "Alpha"))
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "Zorblax <mark>Alpha</mark>" in page
    assert "Zorblax Systems" in page  # its category
    assert "Beta Topic" not in page


def test_search_shows_query_and_count(client, topics):
    page = get(client, "zorblax")
    assert "2 topics matching “<strong>zorblax</strong>”" in page
    one = get(client, "Alpha")
    assert "1 topic matching “<strong>Alpha</strong>”" in one


def test_search_by_summary_is_case_insensitive(client, topics):
    page = results_section(get(client, "SNARGLES"))
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "Moves <mark>snargles</mark> between hosts." in page


def test_search_by_key_feature_says_why_it_matched(client, topics):
    page = results_section(get(client, "wibbleton"))
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "Key feature:</span> <mark>Wibbleton</mark> retransmission" in page
    assert "Plain feature" not in page  # only the features that matched


def test_search_by_use_case(client, topics):
    page = results_section(get(client, "gronking"))
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "Use case:</span> <mark>Gronking</mark> large files" in page


def test_search_by_related_technology_and_concept(client, topics):
    page = results_section(get(client, "quuxify"))
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "Related technology:</span> <mark>Quuxify</mark> Server" in page
    page = results_section(get(client, "flurble"))
    assert f'href="{topics["beta"].get_absolute_url()}"' in page
    assert "Related concept:</span> <mark>Flurble</mark> Ordering" in page


def test_no_match_says_so(client, topics):
    page = get(client, "xyzzy-nothing-matches-this")
    assert "0 topics matching" in page
    assert "Nothing matched" in page
    assert 'class="result"' not in page


def test_search_uses_few_queries(client, topics):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, {"q": "zorblax"}).status_code == 200
    # nav + topics + features + use cases + related items (+ session/auth at most)
    assert len(queries) <= 7, [q["sql"] for q in queries]


# --- htmx -------------------------------------------------------------------------


def test_htmx_request_gets_only_the_results_partial(client, topics):
    response = client.get(URL, {"q": "wibbleton"}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page and "<body" not in page and "<header" not in page
    assert "<form" not in page
    assert f'href="{topics["alpha"].get_absolute_url()}"' in page
    assert "<mark>Wibbleton</mark>" in page
    assert page.lstrip().startswith("<title>")  # htmx updates the document title from it
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(client, topics):
    response = client.get(URL, {"q": "wibbleton"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in response.content.decode()


def test_htmx_empty_query_gets_the_prompt(client, topics):
    page = get(client, "", **HTMX)
    assert "<html" not in page
    assert "Type a word or phrase" in page


# --- limits and safety ------------------------------------------------------------


def test_query_too_long_gets_a_clear_message_and_no_search(client, topics):
    q = "zorblax" + "x" * 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"q": q})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Your search is too long: 207 characters" in page
    assert "at most 200 characters" in page
    assert 'class="result"' not in page
    assert not any("topics_topic" in query["sql"] for query in queries)
    partial = get(client, q, **HTMX)
    assert "too long" in partial and "<html" not in partial


def test_exactly_200_characters_is_allowed(client, topics):
    page = get(client, "z" * 200)
    assert "too long" not in page
    assert "0 topics matching" in page


def test_query_is_html_escaped(client, topics):
    q = '<script>alert("x")</script>'
    for page in (get(client, q), get(client, q, **HTMX)):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_highlight_escapes_text_and_query_before_marking(client, topics):
    page = results_section(get(client, "<b>"))
    assert f'href="{topics["beta"].get_absolute_url()}"' in page
    assert "R&amp;D <mark>&lt;b&gt;</mark>markup&lt;/b&gt; in its summary" in page
    assert "<b>markup" not in page
    # a query that spells part of an entity does not break it
    page = results_section(get(client, "R&D"))
    assert "<mark>R&amp;D</mark>" in page


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("Round robin", "robin", "Round <mark>robin</mark>"),
        ("ABC abc", "b", "A<mark>B</mark>C a<mark>b</mark>c"),
        ("R&D", "amp", "R&amp;D"),
        ("a<b>c", "<b>", "a<mark>&lt;b&gt;</mark>c"),
        ("x.y", ".", "x<mark>.</mark>y"),
        ("nothing", "", "nothing"),
        ('say "hi"', '"', "say <mark>&quot;</mark>hi<mark>&quot;</mark>"),
    ],
)
def test_highlight_html(text, query, expected):
    assert highlight_html(text, query) == expected


def test_nul_byte_in_query_is_harmless(client, topics):
    response = client.get(URL, {"q": "zor\x00blax"})
    assert response.status_code == 200


def test_post_is_not_allowed(client, topics):
    assert client.post(URL, {"q": "x"}).status_code == 405


# --- drafts -----------------------------------------------------------------------


def test_drafts_are_not_found_by_the_public(client, topics):
    page = get(client, "wibbleton")
    assert "Zorblax Draft" not in page
    assert "1 topic matching" in page


def test_staff_find_drafts_marked_as_draft(client, topics, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="ed", password="x", is_staff=True))
    page = results_section(get(client, "wibbleton"))
    assert f'href="{topics["draft"].get_absolute_url()}"' in page
    assert "badge--draft" in page
