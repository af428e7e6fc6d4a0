"""A learner loses a TCP segment in a real browser: while the transfer plays, the panel's
Drop button loses the client's next segment on the wire, and the stage draws it lost and
then sent again (issue 10: "drops a packet while playing and sees the retransmission
drawn")."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/tcp-ip-model/"
P = "#sim-tcp"
WAIT = 30_000


def metric(page, name: str) -> str | None:
    return panel_metric(page, P, name)


def step_counter(page) -> int:
    text = page.locator(P + "-counter").text_content() or ""
    return int(re.search(r"\d+", text.replace(",", "")).group(0))


def wait_for_segment(page, cls: str) -> dict:
    """Wait (checking every animation frame, as segments come and go) until a segment with
    class `cls` is drawn on the stage; its pill text and its title."""
    handle = page.wait_for_function(
        """([sel, cls]) => {
            const m = document.querySelector(sel + ' .topo-msg.' + cls);
            if (!m) return null;
            const t = m.querySelector('title');
            return {pill: m.querySelector('text') ? m.querySelector('text').textContent : '',
                    title: t ? t.textContent : ''};
        }""",
        arg=[P + "-stage", cls],
        polling="raf",
        timeout=WAIT,
    )
    return handle.json_value()


def test_dropping_a_segment_while_playing_draws_its_retransmission(page, live_daphne):
    page.goto(live_daphne.url + TOPIC + "?preset=reordering")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    assert metric(page, "Retransmissions") == "0"
    page.locator(P + "-speed").select_option("2")
    page.locator(P + "-play-button").click()
    stage = page.locator(P + "-stage")
    # Once the client is ESTABLISHED, its next segment carries data.
    expect(stage.locator(".tcp-ep", has_text="client:49152").locator(".ep-state")).to_have_text(
        "ESTABLISHED", timeout=WAIT)
    drop = page.get_by_role("button", name="Drop", exact=True)
    form = page.locator("form.sim-action", has=drop)
    assert form.locator("[name='a.segment']").input_value() == "0"  # 0: the next one the client sends
    assert form.locator("[name='a.side']").input_value() == "client"
    drop.click()
    expect(page.locator(P + "-log")).to_contain_text("Next segment from client:49152: drop.", timeout=WAIT)
    lost = wait_for_segment(page, "dropping")
    assert lost["title"].endswith(" lost") and "\u2715" in lost["pill"], lost
    lost_seq = re.search(r"seq (\d+)", lost["title"]).group(1)
    resent = wait_for_segment(page, "rexmit")
    assert "resent" in resent["title"] and f"seq {lost_seq} " in resent["title"], (lost, resent)
    assert resent["pill"] == lost_seq  # the same bytes, drawn on the wire again
    assert page.locator(P + "-play-button").text_content().strip() == "Pause", "it kept playing"
    assert metric(page, "Lost") == "1" and int(metric(page, "Retransmissions")) >= 1
    # It plays on to the end: every byte delivered once and in order, both ends CLOSED.
    expect(stage.locator(".tcp-ep .ep-state", has_text="CLOSED")).to_have_count(2, timeout=WAIT)
    assert metric(page, "In order exactly once") == "ok"
    assert metric(page, "Delivered bytes") == "12,000"
    assert step_counter(page) > 30
    assert page.console_errors == []
