"""Every topic with a simulation links each of its seed key features and use cases to a
preset that shows it ("See it"), and its body's "Try it" section links to presets that
exist: the guide's rule for every topic, checked on the page a student reads."""

from __future__ import annotations

import pytest

from simulations import registry
from tests.simulations.html import parse
from topics.content.seed import CATEGORIES

pytestmark = pytest.mark.django_db

SEED_TOPICS = {t["slug"]: t for c in CATEGORIES for t in c["topics"]}
TOPICS = sorted({e.topic_slug for e in registry.all_engines() if e.topic_slug in SEED_TOPICS})


def section(html: str, heading_id: str):
    """The <section> a heading with this id starts (its node in the page's DOM)."""
    heading = parse(html).find(heading_id)
    assert heading is not None, f"no #{heading_id}"
    return heading.parent


def links_in(node) -> list[str]:
    return [a.attrs["href"] for a in node.find_all("a") if "sim-see-it" in (a.attrs.get("class") or "")]


@pytest.mark.parametrize("slug", TOPICS)
def test_every_key_feature_and_use_case_has_a_see_it_link_to_a_preset_that_opens(client, slug):
    html = client.get(f"/topics/{slug}/").content.decode()
    for heading, items in (("key-features", SEED_TOPICS[slug]["key_features"]),
                           ("use-cases", SEED_TOPICS[slug]["use_cases"])):
        listing = section(html, heading)
        for text in items:
            item = next((li for li in listing.find_all("li") if text in li.text), None)
            assert item is not None, f"{text!r} is not listed"
            links = links_in(item)
            assert links, f"{slug}: {text!r} has no See it link"
            opened = client.get(links[0]).content.decode()
            assert 'class="sim-preset"' in opened and "no preset called" not in opened, links[0]


@pytest.mark.parametrize("slug", TOPICS)
def test_the_try_it_section_links_to_presets_that_exist(client, slug):
    html = client.get(f"/topics/{slug}/").content.decode()
    prose = [div for div in section(html, "how-it-works").find_all("div") if "prose" in (div.attrs.get("class") or "")]
    text = "".join(str(a.attrs.get("href")) + " " for div in prose for a in div.find_all("a"))
    heading = next(h for div in prose for h in div.find_all("h2") if "Try it" in h.text)
    siblings = heading.parent.children[heading.parent.children.index(heading):]
    links = [a.attrs["href"].split("#", 1)[0] for node in siblings if not isinstance(node, str)
             for a in node.find_all("a") if a.attrs.get("href", "").startswith("?preset=")]
    assert text
    assert len(links) >= 3, "each suggestion links to its preset"
    for href in links:
        opened = client.get(f"/topics/{slug}/{href}").content.decode()
        assert 'class="sim-preset"' in opened and "no preset called" not in opened, href
