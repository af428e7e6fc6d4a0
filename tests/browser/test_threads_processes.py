"""Threads & Processes in a real browser (issue 11): a learner plays OSTEP's round-robin case
and reads its averages on the page; adds a job while it plays and watches it drawn on the
Gantt chart and in the thread rows; crashes a thread of a multi-threaded process and sees
only that process die."""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect, metric as panel_metric

pytestmark = pytest.mark.browser

TOPIC = "/topics/threads-processes/"
P = "#sim-threads-processes"
WAIT = 30_000


def metric(page, name: str) -> str | None:
    return panel_metric(page, P, name)


def thread_rows(page) -> dict[str, list[str]]:
    """The stage's thread rows as drawn: id -> [what it is doing, "arrival / first run / done"]."""
    return page.evaluate(
        """(sel) => Object.fromEntries([...document.querySelectorAll(sel + ' g.tp-thread')].map((g) => {
            const t = [...g.querySelectorAll('text')].map((x) => x.textContent);
            return [t[0], [t[1], t[2]]];
        }))""",
        P + "-stage",
    )


def gantt_bars(page) -> list[tuple[str, int, int]]:
    """The Gantt chart's run bars as drawn: (thread, start, end), by their tooltips."""
    titles = page.evaluate(
        "(sel) => [...document.querySelectorAll(sel + ' g.tl-run > title')].map((t) => t.textContent)",
        P + "-stage",
    )
    return [(m[1], int(m[2]), int(m[3])) for m in (re.fullmatch(r"(\w+) ran (\d+)-(\d+)", t) for t in titles) if m]


def open_preset(page, live_daphne, slug: str, speed: str) -> None:
    page.goto(live_daphne.url + TOPIC + f"?preset={slug}#sim-threads-processes")
    expect(page.locator(P + "-status")).to_have_text("Live", timeout=WAIT)
    page.locator(P + "-speed").select_option(speed)


def play_to_the_end(page) -> None:
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-play-button")).to_have_text("Replay", timeout=WAIT)


def test_round_robin_plays_to_ostep_averages_drawn_on_the_gantt_chart(page, live_daphne):
    """OSTEP chapter 7 (cpu-sched), §7.6, Figure 7.7: three jobs of 5, time slice 1, average
    response 1 and average turnaround 14."""
    open_preset(page, live_daphne, "round-robin", "8")
    play_to_the_end(page)
    assert metric(page, "Avg response") == "1"
    assert metric(page, "Avg turnaround") == "14"
    rows = thread_rows(page)
    assert rows == {
        "A": ["\u2713 done: resp 0, turn 13", "0 / 0 / 13"],
        "B": ["\u2713 done: resp 1, turn 14", "0 / 1 / 14"],
        "C": ["\u2713 done: resp 2, turn 15", "0 / 2 / 15"],
    }
    # A, B, C take turns a tick at a time: the chart shows the round robin itself.
    assert gantt_bars(page) == [(t, i, i + 1) for i, t in zip(range(15), "ABC" * 5)]
    expect(page.locator(P + "-stage")).to_have_attribute("aria-label", "tick 15: no thread running; 0 ready, 0 blocked")
    assert page.console_errors == []


def test_a_job_added_while_playing_is_drawn_and_counted(page, live_daphne):
    open_preset(page, live_daphne, "round-robin", "0.5")
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-play-button")).to_have_text("Pause", timeout=WAIT)
    page.get_by_role("button", name="Add a job of 10", exact=True).click()
    stage = page.locator(P + "-stage")
    expect(stage.locator("g.tp-thread", has_text=re.compile(r"^D"))).to_have_count(1, timeout=WAIT)
    assert page.locator(P + "-play-button").text_content().strip() == "Pause", "it kept playing"
    expect(page.locator(P + "-play-button")).to_have_text("Replay", timeout=WAIT)
    rows = thread_rows(page)
    assert set(rows) == {"A", "B", "C", "D"}
    # Each finished row shows its times, and its response and turnaround agree with them.
    turnarounds = []
    for tid, (doing, times) in rows.items():
        arrival, first, done = map(int, times.split(" / "))
        assert doing == f"\u2713 done: resp {first - arrival}, turn {done - arrival}", (tid, doing, times)
        turnarounds.append(done - arrival)
    d_arrival, _, d_done = map(int, rows["D"][1].split(" / "))
    assert d_arrival >= 0 and d_done == int(metric(page, "Time")), "D, the longest, finishes last"
    assert float(metric(page, "Avg turnaround")) == pytest.approx(sum(turnarounds) / 4, abs=0.01)
    bars = gantt_bars(page)
    assert bars[-1][0] == "D" and bars[-1][2] == d_done, "D's last run is the chart's last bar"
    assert page.console_errors == []


def test_crashing_a_thread_ends_its_process_and_only_its_process(page, live_daphne):
    """Two processes of three threads on four cores: a thread that faults (SIGSEGV) takes its
    process's other threads with it; the other process runs on to the end."""
    open_preset(page, live_daphne, "multicore", "0.5")
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-play-button")).to_have_text("Pause", timeout=WAIT)
    page.get_by_role("button", name="Crash A", exact=True).click()
    stage = page.locator(P + "-stage")
    expect(stage).to_contain_text("killed by SIGSEGV", timeout=WAIT)
    expect(page.get_by_role("button", name="Crash A (done)", exact=True)).to_have_attribute("aria-disabled", "true")
    expect(page.locator(P + "-play-button")).to_have_text("Replay", timeout=WAIT)
    rows = thread_rows(page)
    assert all(rows[t][0] == "\u2713 done: killed" for t in "ABC"), rows
    assert all(rows[t][0].startswith("\u2713 done: resp ") for t in "DEF"), rows
    procs = page.evaluate(
        "(sel) => [...document.querySelectorAll(sel + ' g.tp-proc > text')].map((t) => t.textContent)", P + "-stage")
    assert any("killed by SIGSEGV" in p for p in procs) and any("exited 0" in p for p in procs), procs
    assert page.console_errors == []
