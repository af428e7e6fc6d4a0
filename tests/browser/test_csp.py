"""Every page type works in Chromium under the Content-Security-Policy, and none
violates it: the browser reports no `securitypolicyviolation` event and logs no
refusal, on the public pages (the topic page with its simulation socket connected
and playing), the admin as a staff user, and the API docs. Other console errors are
the other browser tests' business.

tests/hostile/test_csp_headers.py checks the header itself and the nonce per response.
"""

from __future__ import annotations

import re
import secrets

import pytest
from tests.browser.panel import expect

pytestmark = pytest.mark.browser

WAIT = 30_000  # ms: shared 2-core machines
PANEL = "#sim-race-conditions"

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCspViolation({
    page: location.pathname, directive: e.effectiveDirective, blocked: e.blockedURI,
    sample: e.sample, source: e.sourceFile + ":" + e.lineNumber,
  });
});
"""
# Chromium's refusals, and htmx's own when a feature the policy forbids is used (eval, script tags).
REFUSAL = re.compile(r"Content Security Policy|Refused to|evalDisallowed|securitypolicy", re.I)


@pytest.fixture
def watched(browser):
    """A page whose CSP violations (events) and console messages are all recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    violations: list[dict] = []
    console: list[tuple[str, str, str]] = []
    context.expose_function("reportCspViolation", lambda violation: violations.append(violation))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.on("console", lambda m: console.append((page.url, m.type, m.text)))
    page.on("pageerror", lambda e: console.append((page.url, "pageerror", str(e))))
    page.violations, page.console = violations, console
    yield page
    context.close()


def visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def test_no_page_type_violates_the_policy(live_daphne, watched):
    page, base = watched, live_daphne.url
    username, password = f"csp-staff-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    live_daphne.create_superusers({username: password})

    visit(page, base + "/")
    expect(page.get_by_role("heading", name="Distributed Systems")).to_be_visible()
    visit(page, base + "/categories/distributed-systems/")
    visit(page, base + "/related/raft/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Raft")

    # Live search: htmx (allowEval off) swaps the results in.
    visit(page, base + "/search/")
    page.locator("#search-q").press_sequentially("raft", delay=30)
    expect(page.locator("#search-results")).to_contain_text("Consensus Algorithms", timeout=WAIT)
    expect(page).to_have_url(re.compile(r"q=raft"))

    # The simulation: the ws extension connects (connect-src 'self' covers ws:) and frames play.
    visit(page, base + "/topics/race-conditions/")
    expect(page.locator(PANEL + "-status")).to_have_attribute("data-state", "open", timeout=WAIT)
    page.locator(PANEL + "-play-button").click()
    page.wait_for_function(
        """(sel) => Number((/^Step (\\d+)/.exec(document.querySelector(sel)?.textContent || "") || [0, 0])[1]) >= 3""",
        arg=PANEL + "-counter", timeout=WAIT,
    )

    visit(page, base + "/no-such-page/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()

    # The admin: sign in through the form, then a changelist and a change form.
    visit(page, base + "/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(base + "/admin/", timeout=WAIT)
    visit(page, base + "/admin/topics/topic/")
    page.locator("#result_list tbody tr th a").first.click()
    expect(page).to_have_url(re.compile(r"/admin/topics/topic/\d+/change/$"), timeout=WAIT)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#topic_form")).to_be_visible()

    # The API docs: Swagger UI renders the operations from its own static files.
    visit(page, base + "/api/docs")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible(timeout=WAIT)
    page.locator("#swagger-ui .opblock-summary").first.click()
    expect(page.locator("#swagger-ui .opblock-body").first).to_be_visible(timeout=WAIT)

    assert page.violations == []
    assert [m for m in page.console if REFUSAL.search(m[2])] == []
