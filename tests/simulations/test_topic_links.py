"""Every topic with a simulation links each of its seed key features and use cases to a
preset that shows it ("See it"), and its body's "Try it" section links to presets that
exist: the guide's rule for every topic, checked on the page a student reads."""

from __future__ import annotations

import re

import pytest

from simulations import registry
from topics.content.seed import CATEGORIES

pytestmark = pytest.mark.django_db

SEED_TOPICS = {t["slug"]: t for c in CATEGORIES for t in c["topics"]}
TOPICS = sorted({e.topic_slug for e in registry.all_engines() if e.topic_slug in SEED_TOPICS})


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("slug", TOPICS)
def test_every_key_feature_and_use_case_has_a_see_it_link_to_a_preset_that_opens(client, slug):
    html = client.get(f"/topics/{slug}/").content.decode()
    for heading, items in (("key-features", SEED_TOPICS[slug]["key_features"]),
                           ("use-cases", SEED_TOPICS[slug]["use_cases"])):
        listing = section(html, heading)
        for text in items:
            item = next((li for li in re.findall(r"<li\b.*?</li>", listing, flags=re.S) if text in li), None)
            assert item is not None, f"{text!r} is not listed"
            link = re.search(r'class="sim-see-it" href="([^"]+)"', item)
            assert link, f"{slug}: {text!r} has no See it link"
            opened = client.get(link.group(1).replace("&amp;", "&")).content.decode()
            assert 'class="sim-preset"' in opened and "no preset called" not in opened, link.group(1)


@pytest.mark.parametrize("slug", TOPICS)
def test_the_try_it_section_links_to_presets_that_exist(client, slug):
    html = client.get(f"/topics/{slug}/").content.decode()
    body = section(html, "how-it-works")
    try_it = body.split("Try it in the simulation", 1)[1]
    links = re.findall(r'href="(\?preset=[^"#]+)#', try_it)
    assert len(links) >= 3, "each suggestion links to its preset"
    for href in links:
        opened = client.get(f"/topics/{slug}/{href}").content.decode()
        assert 'class="sim-preset"' in opened and "no preset called" not in opened, href
