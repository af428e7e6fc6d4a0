"""The public pages: home, category, topic, related item, 404/500, drafts, icons.

Own fixtures, with names that cannot collide with the seed content the migrated
test database already holds; nothing here depends on that seed.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.template import engines
from django.test import RequestFactory, override_settings
from django.urls import include, path, reverse
from django.utils.html import escape

from tests.topics.conftest import make_topic
from topics import views
from topics.models import (
    Category,
    RelatedItem,
    Topic,
)
from topics.templatetags.icons import icon

PUBLISHED = Topic.Status.PUBLISHED
DRAFT = Topic.Status.DRAFT


@pytest.fixture
def site(db):
    """Two categories, three published topics, one draft; related items shared between them."""
    dist = Category.objects.create(
        name="Zeta Distributed", slug="zeta-distributed", icon="sync",
        blurb="Many machines agreeing with each other.", order=90,
    )
    net = Category.objects.create(
        name="Omega Networking", slug="omega-networking", icon="no_such_icon",
        blurb="Packets on wires.", order=91,
    )
    quorumdb = RelatedItem.objects.create(
        name="Quorumdb", slug="quorumdb", kind=RelatedItem.Kind.TECHNOLOGY, url="https://quorumdb.example/"
    )
    majority = RelatedItem.objects.create(name="Majority Voting", slug="majority-voting",
                                          kind=RelatedItem.Kind.CONCEPT)
    hidden = RelatedItem.objects.create(name="Hiddentech", slug="hiddentech", kind=RelatedItem.Kind.TECHNOLOGY,
                                        url="javascript:alert(1)")
    consensus = make_topic(
        dist, "zeta-consensus", "Zeta Consensus", order=2,
        summary="Agreeing on one value even when machines fail.",
        body="Nodes **vote** for a leader.\n\nA <script>alert(1)</script> stays text.",
        features=["Leader election", "Log replication", "Majority quorum"],
        uses=["Configuration stores", "Lock services"],
        related=[quorumdb, majority],
    )
    clocks = make_topic(dist, "zeta-clocks", "Zeta Clocks", order=1, features=["Happens-before"],
                        related=[majority])
    packets = make_topic(net, "omega-packets", "Omega Packets", uses=["Reliable streams"])
    draft = make_topic(
        dist, "zeta-draft", "Zeta Secret Draft", order=3, status=DRAFT,
        summary="Unfinished text about gossip.", features=["Rumour spreading"],
        related=[majority, hidden],
    )
    return {
        "dist": dist, "net": net, "consensus": consensus, "clocks": clocks, "packets": packets,
        "draft": draft, "quorumdb": quorumdb, "majority": majority, "hidden": hidden,
    }


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="editor", password="unused", is_staff=True)
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


# --- layout shared by every page -------------------------------------------------


def test_base_layout_landmarks_and_assets(client, site):
    response = client.get("/")
    assert response.status_code == 200
    page = html(response)
    assert '<html lang="en">' in page
    assert '<meta name="viewport"' in page
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page
    for landmark in ("<header", "<nav", "<footer"):
        assert landmark in page
    # htmx 2 and its ws extension, served locally (no CDN)
    assert "django_htmx/htmx-2.min.js" in page
    assert "django_htmx/ext/hx-ws-2.min.js" in page
    for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', page):
        assert src.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL)
    assert "css/site.css" in page
    # CSRF header for htmx requests
    assert 'hx-headers=\'{"x-csrftoken": "' in page
    # site name links home; search form works without JS
    assert re.search(r'<a class="site-name" href="/">Systems &amp; Networking</a>', page)
    assert f'action="{reverse("topics:search")}" method="get"' in page
    # Material Symbols attribution (Apache-2.0)
    assert "Material Symbols" in page and "Apache License 2.0" in page


def test_nav_lists_every_category_and_marks_the_current_one(client, site):
    page = html(client.get(site["dist"].get_absolute_url()))
    nav = page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    for category in Category.objects.all():
        assert f'href="{category.get_absolute_url()}"' in nav
        assert escape(category.name) in nav
    assert f'href="{site["dist"].get_absolute_url()}" aria-current="page"' in nav
    assert f'href="{site["net"].get_absolute_url()}" aria-current' not in nav


# --- home -------------------------------------------------------------------------


def test_home_shows_every_category_with_its_published_topics(client, site):
    page = html(client.get("/"))
    for category in (site["dist"], site["net"]):
        assert category.name in page
        assert f'href="{category.get_absolute_url()}"' in page
    for topic in (site["consensus"], site["clocks"], site["packets"]):
        assert f'href="{topic.get_absolute_url()}"' in page
        assert topic.title in page
        assert topic.summary in page
    # topics in their order inside the category: Clocks (1) before Consensus (2)
    dist_section = page.split('id="category-zeta-distributed"', 1)[1].split("</section>", 1)[0]
    assert dist_section.index("Zeta Clocks") < dist_section.index("Zeta Consensus")
    assert site["dist"].blurb in dist_section


def test_home_draws_category_icons_inline(client, site):
    page = html(client.get("/"))
    dist_section = page.split('id="category-zeta-distributed"', 1)[1].split("</section>", 1)[0]
    assert '<svg' in dist_section and 'aria-hidden="true"' in dist_section and 'class="icon' in dist_section
    # an icon name with no file draws nothing, and breaks nothing
    net_heading = page.split('id="category-omega-networking"', 1)[1].split("</h2>", 1)[0]
    assert "<svg" not in net_heading


def test_home_uses_few_queries(client, site, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert client.get("/").status_code == 200


def test_pages_only_answer_get(client, site):
    assert client.post("/").status_code == 405
    assert client.post(site["consensus"].get_absolute_url()).status_code == 405


# --- category -----------------------------------------------------------------------


def test_category_page(client, site):
    response = client.get(reverse("topics:category", args=["zeta-distributed"]))
    assert response.status_code == 200
    page = html(response)
    assert "<h1" in page and "Zeta Distributed" in page
    assert "Many machines agreeing with each other." in page
    assert '<nav class="breadcrumb"' in page and 'href="/"' in page
    assert page.index("Zeta Clocks") < page.index("Zeta Consensus")
    assert f'href="{site["consensus"].get_absolute_url()}"' in page
    # another category's topics are not listed in the main column
    main = page.split('<main', 1)[1]
    assert "Omega Packets" not in main


def test_unknown_category_is_404_with_custom_page(client, site):
    response = client.get("/categories/no-such-thing/")
    assert response.status_code == 404
    assert "Page not found" in html(response)


# --- topic --------------------------------------------------------------------------


def test_topic_page_shows_every_section(client, site):
    response = client.get(site["consensus"].get_absolute_url())
    assert response.status_code == 200
    page = html(response)
    assert "<title>Zeta Consensus · Systems &amp; Networking</title>" in page
    assert '<h1 id="topic-title">Zeta Consensus</h1>' in page
    # breadcrumb to the category
    crumb = page.split('<nav class="breadcrumb"', 1)[1].split("</nav>", 1)[0]
    assert f'href="{site["dist"].get_absolute_url()}"' in crumb and "Zeta Distributed" in crumb
    assert "Agreeing on one value even when machines fail." in page
    # the Markdown body, rendered and sanitised, under "How it works"
    assert ">How it works</h2>" in page
    assert "<strong>vote</strong>" in page
    assert "<script>alert(1)</script>" not in page
    # key features and use cases, in order
    features = page.split('id="key-features"', 1)[1].split("</section>", 1)[0]
    assert features.index("Leader election") < features.index("Log replication") < features.index("Majority quorum")
    uses = page.split('id="use-cases"', 1)[1].split("</section>", 1)[0]
    assert uses.index("Configuration stores") < uses.index("Lock services")
    # related items link to their pages, labelled with their kind
    related = page.split('id="related"', 1)[1].split("</section>", 1)[0]
    assert f'href="{site["quorumdb"].get_absolute_url()}"' in related
    assert f'href="{site["majority"].get_absolute_url()}"' in related
    assert re.search(r"Quorumdb</span>\s*<span class=\"tag tag--technology\">Technology</span>", related)
    assert re.search(r"Majority Voting</span>\s*<span class=\"tag tag--concept\">Concept</span>", related)
    assert related.index("Quorumdb") < related.index("Majority Voting")
    # the page has the wide main column for simulation panels
    assert 'class="page page--wide"' in page


def test_topic_page_query_count_is_bounded(client, site, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert client.get(site["consensus"].get_absolute_url()).status_code == 200


def test_unknown_topic_is_404_with_custom_page(client, site):
    response = client.get("/topics/no-such-topic/")
    assert response.status_code == 404
    page = html(response)
    assert "Page not found" in page
    assert "<title>Page not found" in page
    assert 'name="q"' in page  # a way forward: search
    assert 'href="/"' in page


# --- related items ------------------------------------------------------------------


def test_related_page_lists_every_visible_topic_that_mentions_it(client, site):
    response = client.get(site["majority"].get_absolute_url())
    assert response.status_code == 200
    page = html(response)
    assert "<h1>Majority Voting" in page
    assert "Concept" in page
    main = page.split("<main", 1)[1]
    for topic in (site["consensus"], site["clocks"]):
        assert f'href="{topic.get_absolute_url()}"' in main
        assert f'href="{topic.category.get_absolute_url()}"' in main
    assert "Omega Packets" not in main
    assert "Zeta Secret Draft" not in main


def test_related_page_shows_only_http_links(client, site):
    page = html(client.get(site["quorumdb"].get_absolute_url()))
    assert 'href="https://quorumdb.example/"' in page
    assert "Technology" in page
    assert 'rel="noopener noreferrer external"' in page


def test_related_item_with_unsafe_url_renders_no_link(staff_client, site):
    """Hiddentech's URL is javascript:; staff can open its page (its only topic is a draft)."""
    response = staff_client.get(site["hidden"].get_absolute_url())
    assert response.status_code == 200
    assert "javascript:" not in html(response)


def test_unknown_related_item_is_404(client, site):
    assert client.get("/related/no-such-item/").status_code == 404


# --- drafts -------------------------------------------------------------------------


def test_draft_is_invisible_to_the_public(client, site):
    draft = site["draft"]
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 404
    assert "Zeta Secret Draft" not in html(response)
    for url in ("/", site["dist"].get_absolute_url(), site["majority"].get_absolute_url(),
                reverse("topics:search") + "?q=Zeta"):
        page = html(client.get(url))
        assert "Zeta Secret Draft" not in page, url
        assert draft.get_absolute_url() not in page, url
    # a related item mentioned only by a draft has no public page
    assert client.get(site["hidden"].get_absolute_url()).status_code == 404


def test_draft_is_visible_to_staff_with_a_banner(staff_client, site):
    response = staff_client.get(site["draft"].get_absolute_url())
    assert response.status_code == 200
    page = html(response)
    assert "Draft — not visible to students" in page
    assert "Zeta Secret Draft" in page
    # listed for staff, marked as a draft
    home = html(staff_client.get("/"))
    assert site["draft"].get_absolute_url() in home
    assert 'class="card card--draft"' in home
    assert site["draft"].get_absolute_url() in html(staff_client.get(site["dist"].get_absolute_url()))
    assert site["draft"].get_absolute_url() in html(staff_client.get(site["majority"].get_absolute_url()))


def test_published_topic_has_no_draft_banner(staff_client, site):
    page = html(staff_client.get(site["consensus"].get_absolute_url()))
    assert "Draft — not visible to students" not in page


def test_non_staff_user_cannot_see_drafts(client, site, django_user_model):
    user = django_user_model.objects.create_user(username="student", password="unused")
    client.force_login(user)
    assert client.get(site["draft"].get_absolute_url()).status_code == 404


# --- 500 ----------------------------------------------------------------------------


def boom(request):
    raise RuntimeError("kaboom")


urlpatterns = [
    path("boom/", boom),
    path("", include("topics.urls")),
]
handler404 = "topics.views.page_not_found"
handler500 = "topics.views.server_error"


@override_settings(ROOT_URLCONF=__name__)
def test_unhandled_error_renders_the_custom_500_page(client, db):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    page = html(response)
    assert "Something went wrong" in page
    assert '<html lang="en">' in page
    assert "kaboom" not in page


def test_500_page_renders_without_database_or_context_processors():
    """No `db` fixture: any database access in the handler would raise here."""
    request = RequestFactory().get("/anything/")
    response = views.server_error(request)
    assert response.status_code == 500
    page = html(response)
    assert "Something went wrong" in page
    assert 'href="/"' in page


# --- icons --------------------------------------------------------------------------


def test_icon_tag_inlines_existing_svg_only():
    svg = icon("balance")
    assert svg.startswith("<svg")
    assert 'aria-hidden="true"' in svg and 'focusable="false"' in svg
    assert 'class="icon"' in svg and 'fill="currentColor"' in svg
    assert "<path" in svg
    assert svg.count("<svg") == 1
    assert 'class="icon icon--lg"' in icon("lan", "icon--lg")
    for bad in ("no_such_icon", "", "../settings", "icons/balance", "BALANCE", "balance.svg", None, 3):
        assert icon(bad) == "", bad
    assert icon("balance", '"><script>') == ""


def test_icon_tag_in_a_template():
    template = engines["django"].from_string('{% load icons %}<p>{% icon name %}</p>')
    assert "<svg" in template.render({"name": "sync"})
    assert template.render({"name": "missing"}) == "<p></p>"
