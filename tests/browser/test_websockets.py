"""A learner breaks a WebSocket's path in a real browser (issue 10).

The WebSockets engine models one TCP connection underneath its frames but not TCP's own
segments, so it has no single packet to drop and retransmit (the TCP/IP topic's test does
that). What it models is loss that TCP cannot repair: a link cut silently, as when a NAT
or proxy on the way forgets the connection. While the chat plays, the panel's Cut button
cuts it; the stage draws the frames after it lost, the server's heartbeat Ping goes
unanswered, and the server declares the peer dead (close 1006) while the client still
thinks it is OPEN (RFC 6455 §5.5.2, §7.1.5, §7.1.7)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

TOPIC = "/topics/websockets/"
P = "#sim-websockets"
WAIT = 30_000


def expect(*args, **kwargs):
    from playwright.sync_api import expect as _expect

    return _expect(*args, **kwargs)


def metric(page, name: str) -> str:
    return page.evaluate(
        """([sel, name]) => {
            for (const row of document.querySelectorAll(sel + ' .sim-metric')) {
                if (row.querySelector('dt').textContent.trim() === name) return row.querySelector('dd').textContent.trim();
            }
            return '';
        }""",
        [P + "-metrics", name],
    )


def node(page, peer: str):
    """A peer on the stage: its name in the circle, its readyState under it, then its last event."""
    return page.locator(P + "-stage .topo-node", has=page.locator("text.node-id", has_text=re.compile(f"^{peer}$")))


def test_cutting_the_link_while_playing_lets_the_heartbeat_find_the_dead_peer(page, live_daphne):
    page.goto(live_daphne.url + TOPIC + "?preset=chat")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    assert metric(page, "Heartbeat") == "ok"
    page.locator(P + "-speed").select_option("4")
    page.locator(P + "-play-button").click()
    expect(node(page, "client").locator("tspan.node-role")).to_have_text("OPEN", timeout=WAIT)
    page.get_by_role("button", name="Cut", exact=True).click()
    expect(page.locator(P + "-log")).to_contain_text("link cut", timeout=WAIT)
    stage = page.locator(P + "-stage")
    expect(stage).to_contain_text("Link cut silently: nothing gets through", timeout=WAIT)
    # A frame sent after the cut is drawn lost (checked every animation frame: it comes and goes).
    lost = page.wait_for_function(
        """(sel) => {
            for (const m of document.querySelectorAll(sel + ' .topo-msg.dropping')) {
                const t = m.querySelector('title');
                if (t && t.textContent.endsWith('; lost')) return t.textContent;
            }
            return null;
        }""",
        arg=P + "-stage", polling="raf", timeout=WAIT,
    ).json_value()
    assert lost.endswith("; lost")
    # The next Ping is lost, no Pong comes: the server gives the client up.
    page.wait_for_function(
        """([sel, name]) => {
            for (const row of document.querySelectorAll(sel + ' .sim-metric')) {
                if (row.querySelector('dt').textContent.trim() === name) return row.querySelector('dd').textContent.trim() === 'dead';
            }
            return false;
        }""",
        arg=[P + "-metrics", "Heartbeat"], timeout=WAIT,
    )
    assert page.locator(P + "-play-button").text_content().strip() == "Pause", "it kept playing"
    expect(node(page, "server").locator("tspan.node-role")).to_have_text("CLOSED", timeout=WAIT)
    expect(node(page, "server")).to_contain_text("close 1006")
    assert node(page, "client").locator("tspan.node-role").text_content() == "OPEN", "the client has noticed nothing"
    assert metric(page, "Server state") == "CLOSED" and metric(page, "Client state") == "OPEN"
    expect(page.locator(P + "-log")).to_contain_text(re.compile(r"no Pong for \d+ ms: the server drops the connection"))
    assert page.console_errors == []
