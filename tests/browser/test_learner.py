"""A first-time learner's experience of the panel (issue 8), in a real browser: a phone
shows the stage legibly with the controls in reach, "Run T1" runs T1, the hand-scheduling
preset waits for the learner, the advanced parts are one click away and remembered, Reset
keeps the seed, the counter tells the run's length, a reload keeps the step, a value
travels on a load or store, and without JavaScript the panel says it needs it."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import CHROMIUM  # noqa: F401  (the browser fixtures live there)
from tests.browser.panel import expect, watched_page

pytestmark = pytest.mark.browser

RACE = "/topics/race-conditions/"
RAFT = "/topics/consensus-algorithms/"
P = "#sim-race-conditions"
R = "#sim-raft"
WAIT = 20_000
CONNECT = 30_000


def open_panel(page, url: str, prefix: str = P) -> None:
    page.goto(url)
    expect(page.locator(prefix + "-status")).to_have_attribute("data-state", "open", timeout=CONNECT)


def step_of(page, prefix: str = P) -> int:
    text = page.locator(prefix + "-counter").text_content() or ""
    match = re.match(r"Step (\d+)", text)
    assert match, text
    return int(match.group(1))


def expect_step(page, n: int, prefix: str = P) -> None:
    expect(page.locator(prefix + "-counter")).to_have_text(re.compile(rf"^Step {n}\D"), timeout=WAIT)
    expect(page.locator(prefix + "-permalink")).to_have_attribute("data-step", str(n))


def open_more(page, prefix: str = P) -> None:
    more = page.locator(prefix + " details.sim-advanced")
    if more.get_attribute("open") is None:
        more.locator("summary").first.click()
    expect(more).to_have_attribute("open", "")


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, has_touch=True)
    yield watched_page(context)
    context.close()


NO_SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"

# The smallest rendered size of any visible text of a stage, in CSS px: an SVG text's font
# size times its svg's scale (its box width over its viewBox width).
SMALLEST_TEXT = """sel => {
    const stage = document.querySelector(sel);
    const svgs = stage.matches("svg") ? [stage] : Array.from(stage.querySelectorAll("svg"));
    let smallest = Infinity, where = "";
    for (const svg of svgs) {
        const vb = svg.viewBox.baseVal;
        const scale = vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1;
        for (const t of svg.querySelectorAll("text, tspan")) {
            const r = t.getBoundingClientRect();
            if (!(r.width > 0 && r.height > 0)) continue;  // not shown (display: none)
            const px = parseFloat(getComputedStyle(t).fontSize) * scale;
            if (px < smallest) { smallest = px; where = t.textContent.slice(0, 40); }
        }
    }
    return [smallest, where];
}"""


# --------------------------------------------------------------------------- 1. phone


def test_phone_race_stage_is_legible_without_sideways_scroll_and_play_is_in_reach(live_daphne, phone):
    page = phone
    for preset in ("", "?preset=double-checked-locking"):  # two threads; three
        open_panel(page, live_daphne.url + RACE + preset)
        widths = page.evaluate(NO_SIDEWAYS)
        assert widths[0] <= widths[1], widths
        smallest, where = page.evaluate(SMALLEST_TEXT, P + "-stage")
        assert smallest >= 11.95, (preset, smallest, where)
        # Every thread's column is on the screen's width: none is hidden sideways.
        for box in page.locator(P + "-stage .race-col").evaluate_all(
                "cols => cols.map(c => { const r = c.getBoundingClientRect(); return [r.left, r.right]; })"):
            assert box[0] >= -0.5 and box[1] <= 390.5, box
        # Looking at the last thread's column, Play is on the screen too (the controls stick).
        page.locator(P + "-stage .race-col--thread").last.scroll_into_view_if_needed()
        play = page.locator(P + "-play-button").bounding_box()
        assert play and 0 <= play["y"] and play["y"] + play["height"] <= 844, play
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-play-button")).to_have_text("Pause", timeout=WAIT)
    assert page.console_errors == []


def test_phone_raft_stage_is_legible_without_sideways_scroll(live_daphne, phone):
    page = phone
    open_panel(page, live_daphne.url + RAFT, R)
    widths = page.evaluate(NO_SIDEWAYS)
    assert widths[0] <= widths[1], widths
    smallest, where = page.evaluate(SMALLEST_TEXT, R + "-stage")
    assert smallest >= 11.95, (smallest, where)
    page.locator(R + "-stage").scroll_into_view_if_needed()
    play = page.locator(R + "-play-button").bounding_box()
    assert play and 0 <= play["y"] and play["y"] + play["height"] <= 844, play
    assert page.console_errors == []


@pytest.mark.parametrize("url, prefix", [(RAFT, R), ("/topics/threads-processes/", "#sim-threads-processes")])
def test_on_a_wide_screen_the_narration_sits_beside_a_432_unit_stage(live_daphne, page, url, prefix):
    """At 1280 px the Raft stage, drawn for a phone, took the panel's whole width (its text
    over 30 px) and pushed the narration below the fold: the rule meant to put it beside
    the stage no longer matched the panel's markup (and left out Threads & Processes)."""
    open_panel(page, live_daphne.url + url, prefix)
    stage = page.locator(prefix + "-stage").bounding_box()
    narration = page.locator(prefix + "-narration").bounding_box()
    assert stage and narration
    assert narration["x"] >= stage["x"] + stage["width"], (stage, narration)
    assert narration["y"] < stage["y"] + stage["height"], "beside the stage, not under it"
    assert page.console_errors == []


# --------------------------------------------------------------------------- 2. scheduling by hand


def test_run_t1_runs_one_step_of_t1(live_daphne, page):
    open_panel(page, live_daphne.url + RACE + "?preset=manual-interleave")
    expect_step(page, 0)
    page.get_by_role("button", name=re.compile(r"^Run T1")).click()
    expect_step(page, 1)
    expect(page.locator(P + "-narration")).to_contain_text("T1")
    expect(page.locator(P + "-stage .thread.running .thread-name")).to_have_text("T1")
    expect(page.locator(P + "-stage .line-executed")).to_have_count(1)
    page.get_by_role("button", name=re.compile(r"^Run T2")).click()
    expect_step(page, 2)
    expect(page.locator(P + "-stage .thread.running .thread-name")).to_have_text("T2")
    # Step without a pick waits for one instead of adding an empty "your move" step.
    page.locator(P + "-step button").click()
    expect(page.locator(P + "-error")).to_contain_text("your move", timeout=WAIT)
    expect_step(page, 2)
    page.locator(P + " details.sim-log-wrap summary").click()
    expect(page.locator(P + "-log")).to_contain_text("T1 will run next")
    assert page.console_errors == []


def test_interleave_by_hand_waits_for_the_learner_and_links_its_answer(live_daphne, page):
    open_panel(page, live_daphne.url + RACE + "?preset=manual-interleave")
    expect(page.locator(P + " .sim-lead")).to_contain_text("You are the scheduler")
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-narration")).to_contain_text("waits for you", timeout=WAIT)
    expect_step(page, 0)
    page.get_by_role("link", name="Show a losing schedule").click()
    open_panel(page, page.url)
    assert "preset=manual-interleave-answer" in page.url
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-counter")).to_contain_text("end", timeout=60_000)
    page.locator(P + " details.sim-more--metrics summary").click()
    counter = page.locator(P + "-metrics .sim-metric").filter(has_text="Counter").locator("dd")
    expect(counter).to_have_text("1")
    assert page.console_errors == []


# --------------------------------------------------------------------------- 3. first contact


def test_first_contact_is_one_sentence_and_play_and_the_rest_is_remembered(live_daphne, page):
    open_panel(page, live_daphne.url + RACE)
    expect(page.locator(P + " .sim-lead")).to_be_visible()
    expect(page.locator(P + "-play-button")).to_be_visible()
    # Presets, parameters, the explorer, measurements, the log and the clocks: one click away.
    for hidden in (P + " .sim-presets", P + " .sim-params", P + " .sim-analyses", P + "-metrics", P + "-log"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator(P + "-stage .clock").first).to_be_hidden()
    # The panel comes after the body's opening section, where the prose first needs it.
    order = page.evaluate("""() => {
        const first = document.querySelector(".prose h2");
        const panel = document.querySelector("[data-sim-panel]");
        return !!(first.compareDocumentPosition(panel) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    assert order
    open_more(page)
    expect(page.locator(P + " .sim-presets")).to_be_visible()
    page.locator(P + " input[data-sim-internals]").check()
    expect(page.locator(P + "-stage .clock").first).to_be_visible()
    page.reload()
    open_panel(page, page.url)
    expect(page.locator(P + " details.sim-advanced")).to_have_attribute("open", "")
    expect(page.locator(P + " input[data-sim-internals]")).to_be_checked()
    expect(page.locator(P + "-stage .clock").first).to_be_visible()
    # Closing it is remembered too.
    page.locator(P + " details.sim-advanced > summary").click()
    page.reload()
    open_panel(page, page.url)
    expect(page.locator(P + " details.sim-advanced")).not_to_have_attribute("open", "")
    assert page.console_errors == []


# --------------------------------------------------------------------------- 4. controls


def test_reset_keeps_the_seed_and_new_seed_draws_one(live_daphne, page):
    open_panel(page, live_daphne.url + RACE)
    open_more(page)
    seed = page.locator(P + "-seed").text_content()
    page.locator(P + "-step button").click()
    page.locator(P + "-step button").click()
    expect_step(page, 2)
    page.locator(P + "-reset button[type=submit]").click()
    expect_step(page, 0)
    expect(page.locator(P + "-seed")).to_have_text(seed)
    page.locator(P + "-new-seed button").click()
    expect(page.locator(P + "-seed")).not_to_have_text(seed, timeout=WAIT)
    assert page.console_errors == []


def test_counter_says_at_most_then_the_total(live_daphne, page):
    open_panel(page, live_daphne.url + RACE + "?preset=counter-atomic")
    expect(page.locator(P + "-counter")).to_have_text(re.compile(r"^Step 0 of at most \d+$"))
    bound = page.locator(P + "-timeline").get_attribute("max")
    assert int(bound) > 10
    page.locator(P + "-step button").click()
    expect(page.locator(P + "-counter")).to_have_text(re.compile(r"^Step 1 of at most \d+$"))
    page.locator(P + "-speed").select_option("8")
    page.locator(P + "-play-button").click()
    expect(page.locator(P + "-counter")).to_have_text(re.compile(r"^Step (\d+) of \1 · end$"), timeout=60_000)
    last = step_of(page)
    expect(page.locator(P + "-timeline")).to_have_attribute("max", str(last))
    assert page.console_errors == []


def test_the_address_bar_follows_the_run_so_a_reload_keeps_the_step(live_daphne, page):
    open_panel(page, live_daphne.url + RACE)
    assert "run=" not in page.url  # untouched: the plain address stays
    for n in (1, 2, 3):
        page.locator(P + "-step button").click()
        expect_step(page, n)
    page.wait_for_function("() => /[?&]step=3(&|#|$)/.test(location.search)", timeout=WAIT)
    assert "run=" in page.url
    page.reload()
    open_panel(page, page.url)
    expect_step(page, 3)
    page.locator(P + "-back button").click()
    expect_step(page, 2)
    page.wait_for_function("() => /[?&]step=2(&|#|$)/.test(location.search)", timeout=WAIT)
    assert page.console_errors == []


# --------------------------------------------------------------------------- 5. motion


def test_a_value_travels_on_a_load_and_a_store(live_daphne, page):
    open_panel(page, live_daphne.url + RACE + "?preset=manual-interleave")
    page.get_by_role("button", name=re.compile(r"^Run T1")).click()  # T1: tmp = counter (a load)
    expect_step(page, 1)
    flight = page.locator(P + "-stage .race-flight")
    expect(flight).to_have_count(1)
    expect(flight).to_have_class(re.compile(r"race-flight--read"))
    info = flight.evaluate("""f => ({names: f.getAnimations().map(a => a.animationName),
                                     duration: parseFloat(getComputedStyle(f).animationDuration)})""")
    assert info["names"] == ["rc-fly"] and info["duration"] > 0, info
    page.get_by_role("button", name=re.compile(r"^Run T1")).click()  # tmp = tmp + 1: no memory access
    expect_step(page, 2)
    expect(flight).to_have_count(0)
    page.get_by_role("button", name=re.compile(r"^Run T1")).click()  # counter = tmp (a store)
    expect_step(page, 3)
    expect(flight).to_have_class(re.compile(r"race-flight--write"))
    expect(flight).to_have_text("1")
    assert page.console_errors == []


def test_reduced_motion_shows_no_value_in_flight(live_daphne, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    try:
        open_panel(page, live_daphne.url + RACE + "?preset=manual-interleave")
        page.get_by_role("button", name=re.compile(r"^Run T1")).click()
        expect_step(page, 1)
        duration = page.locator(P + "-stage .race-flight").evaluate(
            "f => parseFloat(getComputedStyle(f).animationDuration)")
        assert duration == 0
        expect(page.locator(P + "-stage .race-flight")).to_have_css("opacity", "0")
    finally:
        context.close()


# --------------------------------------------------------------------------- 6. without JavaScript


def test_without_javascript_the_panel_says_it_needs_it(live_daphne, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_daphne.url + RACE)
        expect(page.locator(P + "-status")).to_have_text("Needs JavaScript", use_inner_text=True)
        expect(page.locator(P + " .sim-noscript")).to_contain_text("needs JavaScript")
        expect(page.locator(P + "-stage")).to_be_visible()  # the first frame, drawn on the server
        for control in (P + "-play-button", P + "-step button", P + " .sim-actions", P + " .sim-advanced"):
            expect(page.locator(control)).to_be_hidden()
        expect(page.locator("#how-it-works")).to_be_visible()  # the static explanation
    finally:
        context.close()
