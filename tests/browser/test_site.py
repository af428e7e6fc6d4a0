"""A student's path through the site in a real browser: home, search, topic."""

import re

import pytest

pytestmark = pytest.mark.browser


def test_home_search_and_reach_a_topic(live_daphne, page):
    from playwright.sync_api import expect

    page.goto(live_daphne.url + "/")
    for category in ("Load Balancing & Scaling", "Concurrency Fundamentals",
                     "Distributed Systems", "Network Protocols"):
        expect(page.get_by_role("heading", name=category)).to_be_visible()
    # The category icons are inline SVG that really draw.
    icon_sizes = page.eval_on_selector_all(
        "main svg.icon", "els => els.map(e => e.getBoundingClientRect().width)")
    assert len(icon_sizes) >= 4 and all(w > 0 for w in icon_sizes)

    # The header form is a plain GET: it works without JavaScript.
    page.fill("#header-q", "Raft")
    page.press("#header-q", "Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=Raft"))
    expect(page.locator("#search-results")).to_contain_text("Consensus Algorithms")

    # Live search: typing updates the results in place (htmx), and the URL follows.
    page.fill("#search-q", "")
    page.locator("#search-q").press_sequentially("TTL", delay=30)
    expect(page.locator("#search-results")).to_contain_text("DNS")
    expect(page.locator("#search-results")).not_to_contain_text("Consensus Algorithms")
    expect(page).to_have_url(re.compile(r"q=TTL"))

    page.locator("#search-results").get_by_role("link", name="DNS").first.click()
    expect(page).to_have_url(re.compile(r"/topics/dns/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("DNS")
    expect(page.get_by_text("TTL-based caching strategy")).to_be_visible()
    assert page.console_errors == []
