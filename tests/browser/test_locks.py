"""Locks & Synchronization in a real browser (issue 11): a learner opens the deadlock preset
(two locks taken in opposite orders), plays it, and sees the wait-for graph's cycle drawn
and named, "deadlock" in the measurements and the narration, and the core timeline; then,
on a condition-variable run, presses "Spurious wake-up" while it plays and sees the waiting
consumer woken without a signal."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/locks-synchronization/"
P = "#sim-locks"
WAIT = 30_000


def metric(page, name: str) -> str | None:
    return panel_metric(page, P, name)


def open_live(page, url: str) -> None:
    page.goto(url)
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)


def test_the_deadlock_preset_draws_the_cycle_and_says_deadlock(page, live_daphne):
    open_live(page, live_daphne.url + TOPIC + "?preset=deadlock")
    stage = page.locator(P + "-stage")
    expect(stage.locator(".wf-cycle")).to_have_count(0)  # nobody waits yet
    assert metric(page, "Deadlocked") == "no"
    page.locator(P + "-speed").select_option("8")
    page.locator(P + "-play-button").click()
    # The cycle forms: its arrows are drawn thick and dashed, and spelled out above the graph.
    expect(stage.locator(".wf-cycle")).to_have_count(1, timeout=WAIT)
    expect(stage).to_contain_text("Deadlock: T1 \u2192 T2 \u2192 T1")
    expect(stage.locator(".wf-deadlock")).to_have_count(1)
    expect(page.locator(P + "-narration")).to_contain_text(re.compile("deadlock", re.I))
    expect(page.locator(P + "-metrics")).to_contain_text("Deadlocked", timeout=WAIT)
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel + ' .sim-metric')].some((row) =>
            row.querySelector('dt').textContent.trim() === 'Deadlocked' && row.querySelector('dd').textContent.trim() === 'yes')""",
        arg=P + "-metrics",
        timeout=WAIT,
    )
    # Both threads are drawn blocked, each holding one lock, and all four of Coffman's conditions hold.
    text = stage.text_content()
    assert "T1blocked" in text.replace(" ", "") and "holds A" in text and "holds B" in text
    for condition in ("mutual exclusion", "hold and wait", "no preemption", "circular wait"):
        assert f"{condition}: \u2713 holds" in text
    # The core timeline (the shared timeline part) shows both cores, each with what its thread ran
    # before it blocked, and the red line of now.
    timeline = stage.locator("g.timeline")
    expect(timeline).to_contain_text("core 1")
    expect(timeline).to_contain_text("core 2")
    expect(timeline.locator("g.tl-lanebars")).to_have_count(2)
    expect(timeline.locator(".tl-now")).to_have_count(1)
    assert page.console_errors == []


def test_a_spurious_wakeup_pressed_while_playing_wakes_the_waiting_consumer(page, live_daphne):
    from simulations.engines.locks import LocksEngine
    from simulations.runs import encode_run, parse_run

    # A condition variable with a while loop and no scheduled spurious wake-up: only the button makes one.
    run = encode_run(LocksEngine, parse_run(LocksEngine, {"scenario": "condvar", "threads": 3, "cores": 3,
                                                          "iterations": 2, "loop_check": "while"}, 1))
    open_live(page, live_daphne.url + TOPIC + "?run=" + run)
    button = page.get_by_role("button", name=re.compile(r"^Spurious wake-up"))
    expect(button).to_have_attribute("aria-disabled", "true")  # nobody waits at tick 0
    page.locator(P + "-speed").select_option("0.5")
    page.locator(P + "-play-button").click()
    # Once a consumer waits on the condition variable, the button is available: press it.
    expect(button).not_to_have_attribute("aria-disabled", "true", timeout=WAIT)
    button.click()
    log = page.locator(P + "-log")
    expect(log).to_contain_text(re.compile(r"T\d will wake up without a signal\."), timeout=WAIT)
    expect(log).to_contain_text(re.compile(r"T\d wakes up without a signal \(a spurious wake-up\)"), timeout=WAIT)
    assert page.locator(P + "-error").text_content().strip() == ""
    assert page.locator(P + "-play-button").text_content().strip() in ("Pause", "Replay"), "it kept playing"
    assert page.console_errors == []
