"""A learner breaks a Raft cluster in a real browser: crash the leader while the run plays,
and a new leader is elected and drawn (issue 9)."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/consensus-algorithms/"
P = "#sim-raft"
WAIT = 30_000


def leader_metric(page) -> str:
    return panel_metric(page, P, "Leader") or ""


def wait_for_leader(page, other_than: str = "none") -> str:
    page.wait_for_function(
        """([sel, other]) => {
            for (const row of document.querySelectorAll(sel + ' .sim-metric')) {
                if (row.querySelector('dt').textContent.trim() !== 'Leader') continue;
                const v = row.querySelector('dd').textContent.trim();
                return /^n\\d$/.test(v) && v !== other;
            }
            return false;
        }""",
        arg=[P + "-metrics", other_than],
        timeout=WAIT,
    )
    return leader_metric(page)


def test_crashing_the_leader_while_playing_draws_a_new_leader(page, live_daphne):
    page.goto(live_daphne.url + TOPIC + "?preset=first-election")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    page.locator(P + "-speed").select_option("8")
    page.locator(P + "-play-button").click()
    old = wait_for_leader(page)
    stage = page.locator(P + "-stage")
    expect(stage).to_contain_text("leader")
    page.get_by_role("button", name=f"Crash {old}", exact=True).click()
    expect(stage).to_contain_text("crashed", timeout=WAIT)
    new = wait_for_leader(page, other_than=old)
    assert new != old
    # The stage draws the new leader: its node's label says so, and the old one is crashed.
    expect(stage.locator("tspan.node-role", has_text=re.compile(r"^leader$"))).to_have_count(1, timeout=WAIT)
    expect(stage.locator("tspan.node-role", has_text=re.compile(r"^crashed$"))).to_have_count(1)
    assert page.locator(P + "-play-button").text_content().strip() == "Pause", "it kept playing"
    assert page.console_errors == []
