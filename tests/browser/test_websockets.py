"""A learner breaks a WebSocket's path in a real browser (issue 10).

Two kinds of loss, as the engine models them. A lost TCP segment: the panel's "Drop client"
loses the segment carrying the client's next frame; the stage draws it lost, then TCP's
retransmission of the same frame one RTO later, and the frames sent behind it waiting in
the server's TCP (head-of-line blocking) until it arrives. A link cut silently, loss TCP
cannot repair: the panel's Cut loses every frame after it, the server's heartbeat Ping goes
unanswered, and the server declares the peer dead (close 1006) while the client still
thinks it is OPEN (RFC 6455 §5.5.2, §7.1.5, §7.1.7)."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/websockets/"
P = "#sim-websockets"
WAIT = 30_000


def metric(page, name: str) -> str | None:
    return panel_metric(page, P, name)


def node(page, peer: str):
    """A peer on the stage: its name in the circle, its readyState under it, then its last event."""
    return page.locator(P + "-stage .topo-node", has=page.locator("text.node-id", has_text=re.compile(f"^{peer}$")))


def wait_for_frame(page, cls: str, title_has: str) -> str:
    """Wait (every animation frame: frames come and go) for a frame drawn with class `cls`
    whose title contains `title_has`; its title."""
    return page.wait_for_function(
        """([sel, cls, has]) => {
            for (const m of document.querySelectorAll(sel + ' .topo-msg' + cls)) {
                const t = m.querySelector('title');
                if (t && t.textContent.includes(has)) return t.textContent;
            }
            return null;
        }""",
        arg=[P + "-stage", cls, title_has], polling="raf", timeout=WAIT,
    ).json_value()


def test_dropping_a_frame_while_playing_draws_tcp_s_retransmission(page, live_daphne):
    page.goto(live_daphne.url + TOPIC + "?preset=bidirectional")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    page.locator(P + "-speed").select_option("2")
    page.locator(P + "-play-button").click()
    expect(node(page, "client").locator("tspan.node-role")).to_have_text("OPEN", timeout=WAIT)
    page.get_by_role("button", name="Drop client", exact=True).click()
    expect(page.locator(P + "-log")).to_contain_text("next segment from the client: lost", timeout=WAIT)
    lost = wait_for_frame(page, ".dropping", "its TCP segment lost")
    assert lost.endswith("; lost") and "client message 1" in lost, lost
    resent = wait_for_frame(page, "", "resent by TCP")
    assert "client message 1" in resent and "; lost" not in resent, resent
    assert lost.split(":")[0] == resent.split(":")[0]  # the same bytes: "N bytes, masked"
    expect(page.locator(P + "-log")).to_contain_text("client's TCP resends the lost segment", timeout=WAIT)
    assert page.locator(P + "-play-button").text_content().strip() == "Pause", "it kept playing"
    # The frames behind it were held, then delivered in order: the server reads "Hi!" first.
    expect(page.locator(P + "-log")).to_contain_text("server onmessage: Anyone here?", timeout=WAIT)
    log = page.locator(P + "-log").text_content()
    assert log.index("server onmessage: Hi!") < log.index("server onmessage: Anyone here?")
    assert page.console_errors == []


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
