"""Paxos in a real browser: play the basic preset and see its value chosen, drawn on the
stage and in the measurements (issue 9: the monitors, presets and actions work in a
browser too)."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/consensus-algorithms/"
P = "#sim-paxos"
WAIT = 30_000


def metric(page, name: str) -> str | None:
    return panel_metric(page, P, name)


def test_the_basic_preset_chooses_its_value_and_the_stage_says_so(page, live_daphne):
    page.goto(live_daphne.url + TOPIC + "?preset=paxos-basic#sim-paxos")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    page.locator(P + "-speed").select_option("8")
    page.locator(P + "-play-button").click()
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel + ' .sim-metric')].some(
            (row) => row.querySelector('dt').textContent.trim() === 'Chosen'
                && row.querySelector('dd').textContent.trim() === 'x')""",
        arg=P + "-metrics",
        timeout=WAIT,
    )
    assert metric(page, "Safety") == "ok"
    expect(page.locator(P + "-stage")).to_have_attribute("aria-label", re.compile("x is chosen"), timeout=WAIT)
    assert page.console_errors == []
