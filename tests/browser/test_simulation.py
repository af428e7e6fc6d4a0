"""A learner's hands on the Race Conditions simulation, in a real browser.

The panel streams every step over a WebSocket as HTML that htmx's ws extension
swaps in. These tests check what a learner would notice: frames arrive while it
plays, the stage is SVG that really draws, Step/Back and the arrow keys move one
step, the permalink reopens the same step, a "See it" link opens its preset, the
panel fits a phone, bad parameters get a clear error, and a server restart
resumes the run where the page was.

Waits are Playwright `expect` or `wait_for_function` calls with generous timeouts
(the machines are shared 2-core boxes); the one fixed wait (1.5 s) checks that a
paused run stays put, since the absence of frames has no event to wait for. The tests that restart
Daphne come last and leave it running on the same port.
"""

from __future__ import annotations

import re

import pytest
from tests.browser.panel import expect

pytestmark = pytest.mark.browser

TOPIC = "/topics/race-conditions/"
P = "#sim-race-conditions"  # the panel's id; its fragments are P + "-stage", P + "-counter", ...
WAIT = 20_000  # ms: any one thing the page should do soon
CONNECT = 30_000  # ms: the first socket of a page
RECONNECT = 120_000  # ms: the ws extension's jittered backoff can wait up to 64 s between tries

# While the server is down the browser logs each failed reconnect, and htmx logs the
# socket's error event as "[object Event]". Nothing else may reach the console.
OUTAGE_ERRORS = (
    re.compile(r"^WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws/simulations/race-conditions/\?.*' failed: "
               r".*(ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|Connection closed before receiving a handshake)"),
    re.compile(r"^\[object Event\]$"),
)


# --------------------------------------------------------------------------- helpers


def open_panel(page, url: str):
    page.goto(url)
    expect(page.locator(P + "-status")).to_have_attribute("data-state", "open", timeout=CONNECT)
    expect(page.locator(P + "-status")).to_have_text("Live")


def step_of(page) -> int:
    text = page.locator(P + "-counter").text_content() or ""
    match = re.match(r"Step (\d+)", text)
    assert match, f"step counter reads {text!r}"
    return int(match.group(1))


def expect_step(page, n: int, timeout: int = WAIT) -> None:
    """The counter reads "Step n" (maybe "Step n / last", "· end"), the timeline and the
    permalink agree."""
    expect(page.locator(P + "-counter")).to_have_text(re.compile(rf"^Step {n}(\D|$)"), timeout=timeout)
    expect(page.locator(P + "-timeline")).to_have_value(str(n))
    expect(page.locator(P + "-permalink")).to_have_attribute("data-step", str(n))


def wait_step_at_least(page, n: int, timeout: int = WAIT) -> int:
    page.wait_for_function(
        """([sel, n]) => {
            const m = /^Step (\\d+)/.exec(document.querySelector(sel)?.textContent || "");
            return m && Number(m[1]) >= n;
        }""",
        arg=[P + "-counter", n],
        timeout=timeout,
    )
    return step_of(page)


def play_button(page):
    return page.locator(P + "-play-button")


def toggle_play(page, expected_label: str) -> None:
    """Click Play/Pause until it reads `expected_label`. While playing, the button is
    replaced with every frame, so a click can land between two swaps and be lost;
    play and pause are idempotent on the server, so clicking again is safe."""
    button = play_button(page)
    for attempt in range(3):
        if (button.text_content() or "").strip() == expected_label:
            return
        button.click()
        try:
            expect(button).to_have_text(expected_label, timeout=WAIT // 2)
            return
        except AssertionError:
            if attempt == 2:
                raise


def metrics(page) -> dict[str, str]:
    return dict(zip(page.locator(P + "-metrics dt").all_text_contents(),
                    page.locator(P + "-metrics dd").all_text_contents()))


def snapshot(page) -> dict[str, str]:
    """What the learner sees at one step: the narration and the stage's markup."""
    return {
        "counter": page.locator(P + "-counter").text_content(),
        "narration": page.locator(P + "-narration").text_content(),
        "stage": page.locator(P + "-stage").evaluate("e => e.outerHTML"),
    }


def same_view(page, expected: dict[str, str]) -> None:
    expect(page.locator(P + "-narration")).to_have_text(expected["narration"], timeout=WAIT)
    assert page.locator(P + "-stage").evaluate("e => e.outerHTML") == expected["stage"]


def assert_stage_draws(page) -> None:
    """The stage's pictures are real <svg>s in the SVG namespace (since issue 8 the race
    stage is a <div> of one svg per column, so a phone can stack them), their shapes and
    labels are SVGGraphicsElements (not unknown HTML elements), and they take up space once
    their entry animations (a highlight sweeps in from zero width) have ended. Parts hidden
    until asked for (the detector's clocks, `.sim-internal`) are left out."""
    info = page.locator(P + "-stage").evaluate(
        """async stage => {
            await Promise.allSettled(stage.getAnimations({subtree: true}).map(a => a.finished));
            const svgs = stage instanceof SVGSVGElement ? [stage] : Array.from(stage.querySelectorAll("svg"));
            const shapes = svgs.flatMap(svg => Array.from(svg.querySelectorAll("rect, text")))
                .filter(e => !e.closest(".sim-internal"));
            const box = stage.getBoundingClientRect();
            return {
                ns: svgs.map(svg => svg.namespaceURI).filter(ns => ns !== "http://www.w3.org/2000/svg"),
                isSvg: svgs.length > 0 && svgs.every(svg => svg instanceof SVGSVGElement),
                width: box.width, height: box.height,
                shapes: shapes.length,
                notSvg: shapes.filter(e => !(e instanceof SVGGraphicsElement)).map(e => e.outerHTML.slice(0, 80)),
                childrenNotSvg: svgs.flatMap(svg => Array.from(svg.children)).filter(e => !(e instanceof SVGElement)).length,
                zeroSize: shapes.filter(e => {
                    const r = e.getBoundingClientRect();
                    return !(r.width > 0 && r.height > 0);
                }).map(e => e.outerHTML.slice(0, 80)),
            };
        }"""
    )
    assert info["ns"] == [] and info["isSvg"], info
    assert info["width"] > 0 and info["height"] > 0, info
    assert info["shapes"] >= 10, info
    assert info["notSvg"] == [] and info["childrenNotSvg"] == 0, info
    assert info["zeroSize"] == [], info


def open_more(page) -> None:
    """Issue 8: seed, link, presets and parameters are one click away, under "More"."""
    more = page.locator(P + " details.sim-advanced")
    if more.get_attribute("open") is None:
        more.locator("summary").first.click()
    expect(more).to_have_attribute("open", "")


def watch(page) -> None:
    """Record, in the page, every step counter, narration and connection state it shows
    (the elements are swapped out wholesale, so observe the panel's subtree)."""
    page.evaluate(
        """prefix => {
            const read = id => document.getElementById(prefix + id);
            const seen = window.__sim = {steps: [], narrations: [], states: [], dropStep: null};
            const stepOf = () => {
                const m = /^Step (\\d+)/.exec(read("-counter")?.textContent || "");
                return m ? Number(m[1]) : null;
            };
            const last = a => a.length ? a[a.length - 1] : undefined;
            const record = () => {
                const step = stepOf();
                if (step !== null && step !== last(seen.steps)) seen.steps.push(step);
                const narration = read("-narration")?.textContent;
                if (narration !== last(seen.narrations)) seen.narrations.push(narration);
                const state = read("-status")?.getAttribute("data-state");
                if (state !== last(seen.states)) {
                    seen.states.push(state);
                    if (state === "reconnecting" && seen.dropStep === null) {
                        seen.dropStep = step;
                        seen.stepsAtDrop = seen.steps.length;
                    }
                }
            };
            record();
            new MutationObserver(record).observe(read(""), {
                subtree: true, childList: true, attributes: true, characterData: true,
            });
        }""",
        P[1:],
    )


def seen(page) -> dict:
    return page.evaluate("() => window.__sim")


def unexpected_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(p.search(e) for p in OUTAGE_ERRORS)]


# --------------------------------------------------------------------------- tests


def test_play_streams_frames_onto_a_real_svg_stage_and_pause_stops(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    expect_step(page, 0)
    assert_stage_draws(page)  # the server-rendered first frame
    log_before = page.locator(P + "-log li").count()
    watch(page)

    toggle_play(page, "Pause")
    expect(page.locator(P + "-permalink")).to_have_attribute("data-playing", "1")
    # At least three new frames arrive one by one: the counter climbs, the narration
    # changes with each, and the event log grows.
    page.wait_for_function(
        "() => window.__sim.steps.filter(s => s > 0).length >= 3 && window.__sim.narrations.length >= 4",
        timeout=WAIT,
    )
    toggle_play(page, "Play")
    expect(page.locator(P + "-permalink")).to_have_attribute("data-playing", "0")

    record = seen(page)
    steps = record["steps"]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] >= 3, steps
    assert len(set(record["narrations"])) >= 4, record["narrations"]
    assert page.locator(P + "-log li").count() >= log_before + 3
    expect(page.locator(P + "-narration")).not_to_be_empty()
    # Frames swapped in over the socket are still SVG that draws.
    assert_stage_draws(page)

    # Paused: nothing moves (a deliberate wait: absence of frames has no event to await).
    paused_at = step_of(page)
    paused_view = snapshot(page)
    page.wait_for_timeout(1500)
    assert step_of(page) == paused_at
    assert snapshot(page) == paused_view
    assert seen(page)["steps"][-1] == paused_at
    assert page.console_errors == []


def test_step_and_back_by_button_and_keyboard(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    expect_step(page, 0)
    first = {0: snapshot(page)}
    stage_wrap = page.locator(P + " .sim-stage-wrap")

    page.locator(P + "-step button").click()
    expect_step(page, 1)
    first[1] = snapshot(page)
    assert first[1]["narration"] != first[0]["narration"]

    stage_wrap.focus()
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    first[2] = snapshot(page)

    page.locator(P + "-step button").click()
    expect_step(page, 3)
    first[3] = snapshot(page)
    assert len({s["narration"] for s in first.values()}) == 4
    assert len({s["stage"] for s in first.values()}) == 4
    assert page.locator(P + "-log li").count() >= 3

    # Back: one step, and the very same picture and words as when step 2 was first shown.
    page.locator(P + "-back button").click()
    expect_step(page, 2)
    expect(page.locator(P + "-counter")).to_have_text(re.compile(r"^Step 2 of at most \d+$"))
    same_view(page, first[2])

    stage_wrap.focus()
    page.keyboard.press("ArrowLeft")
    expect_step(page, 1)
    same_view(page, first[1])
    assert_stage_draws(page)
    # The log shows only what happened up to the step on screen.
    items = page.locator(P + "-log .sim-log__step").all_text_contents()
    assert items and all(int(s) <= 1 for s in items), items

    # Forward again replays the recorded steps exactly.
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    same_view(page, first[2])
    page.locator(P + "-step button").click()
    expect_step(page, 3)
    same_view(page, first[3])

    # Space plays and pauses from the keyboard too.
    stage_wrap.focus()
    page.keyboard.press(" ")
    expect(play_button(page)).to_have_text("Pause", timeout=WAIT)
    wait_step_at_least(page, 4)
    page.keyboard.press(" ")
    expect(play_button(page)).to_have_text(re.compile(r"^(Play|Replay)$"), timeout=WAIT)
    assert page.console_errors == []


def test_permalink_reopens_the_same_run_at_the_same_step(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    # A run of its own: seed 4242, then four steps.
    open_more(page)
    page.fill(P + "-seed-input", "4242")
    page.locator(P + "-reset button[type=submit]").click()
    expect(page.locator(P + "-seed")).to_have_text("Seed 4242", timeout=WAIT)
    for n in range(1, 5):
        page.locator(P + "-step button").click()
        expect_step(page, n)
    here = snapshot(page)
    link = page.locator(P + "-permalink")
    expect(link).to_contain_text("Link to step 4")
    href = link.evaluate("a => a.href")
    assert "run=" in href and "step=4" in href, href

    other = page.context.new_page()
    other_errors: list[str] = []
    other.on("console", lambda m: m.type == "error" and other_errors.append(m.text))
    other.on("pageerror", lambda e: other_errors.append(str(e)))
    open_panel(other, href)
    expect_step(other, 4)
    expect(other.locator(P + "-seed")).to_have_text("Seed 4242")
    same_view(other, here)
    assert_stage_draws(other)
    assert other.locator(P + "-log li").count() == page.locator(P + "-log li").count()

    # Both pages now hold the same run: the next step is the same on both.
    page.locator(P + "-step button").click()
    other.locator(P + "-step button").click()
    expect_step(page, 5)
    expect_step(other, 5)
    five = snapshot(page)
    assert snapshot(other) == five

    # Issue 8: the address bar follows the run, so reloading keeps where that page had got
    # to (step 5), not the step of the link it was opened from.
    other.wait_for_function("() => /[?&]step=5(&|#|$)/.test(location.search)", timeout=WAIT)
    other.reload()
    expect(other.locator(P + "-status")).to_have_attribute("data-state", "open", timeout=CONNECT)
    expect_step(other, 5)
    same_view(other, five)
    assert other_errors == []
    assert page.console_errors == []


def test_see_it_link_opens_the_mutex_preset_with_its_lock(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    feature = page.locator(".feature-list li", has_text="Prevention with locks")
    feature.get_by_role("link", name=re.compile(r"^See it")).click()
    expect(page).to_have_url(re.compile(r"\?preset=counter-mutex#sim-race-conditions$"))
    expect(page.locator(P + "-status")).to_have_attribute("data-state", "open", timeout=CONNECT)
    expect(page.locator(P + " .sim-preset")).to_contain_text("Counter with a mutex")
    expect(page.locator(P + " .sim-presets a[aria-current=true]")).to_have_text("Counter with a mutex")
    expect(page.locator(P + "-params select[name='p.fix']")).to_have_value("mutex")

    # The stage shows the mutex: a lock box with its padlock, and the code takes it.
    lock = page.locator(P + "-stage g.lock")
    expect(lock).to_have_count(1)
    expect(lock.locator(".lock-name")).to_have_text("m")
    expect(lock.locator(".lock-holder")).to_have_text("free")
    box = lock.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0
    assert page.locator(P + "-stage g.lock .lock-icon").evaluate(
        "g => g instanceof SVGGElement && g.getBoundingClientRect().width > 0")
    expect(page.locator(P + "-stage")).to_contain_text("lock(&m);")
    assert_stage_draws(page)

    # Played to the end at 8x: the lock is held along the way, and nothing is lost.
    page.evaluate(
        """prefix => {
            window.__held = [];
            new MutationObserver(() => {
                const h = document.querySelector("#" + prefix + "-stage g.lock.held .lock-holder");
                if (h && !window.__held.includes(h.textContent)) window.__held.push(h.textContent);
            }).observe(document.getElementById(prefix), {subtree: true, childList: true});
        }""",
        P[1:],
    )
    page.select_option(P + "-speed", "8")
    expect(page.locator(P + "-permalink")).to_have_attribute("data-speed", "8", timeout=WAIT)
    toggle_play(page, "Pause")
    expect(play_button(page)).to_have_text("Replay", timeout=60_000)
    held = page.evaluate("() => window.__held")
    assert any(h.startswith("held by T") for h in held), held
    shown = metrics(page)
    assert shown["Lost updates"] == "0", shown
    assert shown["Counter"] == shown["Expected"] == "4", shown
    assert page.console_errors == []


def test_panel_fits_a_phone(live_daphne, page):
    page.set_viewport_size({"width": 375, "height": 740})
    open_panel(page, live_daphne.url + TOPIC)

    def no_sideways_scroll():
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]")
        assert widths[0] <= widths[1] and widths[2] <= widths[1], widths

    no_sideways_scroll()
    open_more(page)
    for selector in (P + "-play-button", P + "-back button", P + "-step button", P + "-timeline",
                     P + "-counter", P + "-speed", P + "-narration", P + " .sim-stage-wrap", P + "-permalink"):
        control = page.locator(selector)
        control.scroll_into_view_if_needed()
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, selector
        assert box["x"] >= -0.5 and box["x"] + box["width"] <= 375.5, (selector, box)
    assert_stage_draws(page)
    # A stage wider than the phone scrolls inside its own frame, not the page.
    wrap = page.locator(P + " .sim-stage-wrap").evaluate(
        "w => [w.scrollWidth, w.clientWidth, getComputedStyle(w).overflowX]")
    assert wrap[0] <= wrap[1] or wrap[2] in ("auto", "scroll"), wrap

    # Usable there: a tap steps, and the new frame still fits.
    page.locator(P + "-step button").click()
    expect_step(page, 1)
    no_sideways_scroll()

    # Legible there (issue 8): a wide stage (three threads) stacks its columns, so its code
    # text is 12 px or more, and nothing scrolls sideways.
    open_panel(page, live_daphne.url + TOPIC + "?preset=double-checked-locking")
    smallest = page.locator(P + "-stage").evaluate("""stage => Math.min(...Array.from(stage.querySelectorAll("svg")).flatMap(
        svg => Array.from(svg.querySelectorAll(".code-line")).map(
            t => parseFloat(getComputedStyle(t).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width)))""")
    assert smallest >= 11.95, smallest
    no_sideways_scroll()
    assert page.console_errors == []


def test_out_of_range_parameters_get_a_clear_error_and_change_nothing(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    for n in (1, 2):
        page.locator(P + "-step button").click()
        expect_step(page, n)
    before = snapshot(page)
    href = page.locator(P + "-permalink").get_attribute("href")
    seed = page.locator(P + "-seed").text_content()
    page.evaluate(
        """() => { window.__sent = 0; document.body.addEventListener("htmx:wsBeforeSend", () => window.__sent++); }""")

    open_more(page)
    page.locator(P + " .sim-params summary").click()
    threads = page.locator(P + "-p-threads")
    expect(threads).to_be_visible()
    apply = page.locator(P + "-params-form button[type=submit]")

    # The form itself refuses 99 threads (the field says 2–4), so nothing is sent.
    expect(page.locator(f"label[for='{P[1:]}-p-threads']")).to_contain_text("2–4")
    threads.fill("99")
    apply.click()
    assert threads.evaluate("e => e.validity.rangeOverflow") is True
    assert page.evaluate("() => window.__sent") == 0

    # Past the browser's check (bounds removed), the server refuses it with a clear message.
    page.evaluate(
        """prefix => document.querySelectorAll("#" + prefix + "-params-form input").forEach(i => {
            i.removeAttribute("min"); i.removeAttribute("max");
        })""",
        P[1:],
    )
    threads.fill("99")
    page.locator(P + "-p-switch_chance").fill("2")
    apply.click()
    error = page.locator(P + "-error")
    expect(error).to_contain_text("Those parameters were not accepted; the run is unchanged.", timeout=WAIT)
    expect(error).to_contain_text("threads")
    expect(error).to_contain_text("less than or equal to 4")
    expect(error).to_contain_text("switch_chance")
    expect(error).to_be_visible()
    # Each bad field is marked and says what is wrong next to it.
    expect(page.locator(P + "-p-threads")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(P + "-p-threads-error")).to_have_text(re.compile(r"less than or equal to 4"))
    expect(page.locator(P + "-p-switch_chance-error")).to_have_text(re.compile(r"less than or equal to 1"))
    expect(page.locator(P + "-p-increments")).not_to_have_attribute("aria-invalid", "true")

    # The run is unchanged: same step, same picture, same seed, same link.
    expect_step(page, 2)
    same_view(page, before)
    expect(page.locator(P + "-seed")).to_have_text(seed)
    expect(page.locator(P + "-permalink")).to_have_attribute("href", href)
    expect(page.locator(P + "-stage g.thread")).to_have_count(2)

    # ...and carries on from there with its old parameters; the error clears.
    page.locator(P + "-step button").click()
    expect_step(page, 3)
    expect(page.locator(P + "-stage g.thread")).to_have_count(2)
    expect(error).to_be_empty()
    assert page.console_errors == []


# --------------------------------------------------------------------------- restarts (last)
# These stop and start the session's Daphne (same port, same database); each leaves it running.


def restart_and_watch(page, live_daphne) -> None:
    """Stop Daphne, see the page say it is reconnecting, start Daphne, see it live again."""
    status = page.locator(P + "-status")
    try:
        live_daphne.stop()
        expect(status).to_have_attribute("data-state", "reconnecting", timeout=WAIT)
        expect(status).to_contain_text("reconnecting")
    finally:
        if live_daphne.process is None:
            live_daphne.start()
    expect(status).to_have_attribute("data-state", "open", timeout=RECONNECT)
    expect(status).to_have_text("Live")


def test_reconnect_resumes_a_paused_run_at_the_step_shown(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    open_more(page)
    page.fill(P + "-seed-input", "777")
    page.locator(P + "-reset button[type=submit]").click()
    expect(page.locator(P + "-seed")).to_have_text("Seed 777", timeout=WAIT)
    for n in (1, 2, 3):
        page.locator(P + "-step button").click()
        expect_step(page, n)
    shown = snapshot(page)
    watch(page)

    restart_and_watch(page, live_daphne)

    # The new server knows nothing of this run: the page told it (run, step) on reconnect.
    record = seen(page)
    assert record["dropStep"] == 3, record
    assert "reconnecting" in record["states"] and record["states"][-1] == "open", record
    assert all(s == 3 for s in record["steps"]), record
    expect_step(page, 3)
    expect(page.locator(P + "-seed")).to_have_text("Seed 777")
    same_view(page, shown)
    expect(play_button(page)).to_have_text("Play")

    # Stepping carries on from there, on the same run.
    page.locator(P + "-step button").click()
    expect_step(page, 4)
    page.locator(P + "-back button").click()
    expect_step(page, 3)
    same_view(page, shown)
    assert unexpected_errors(page.console_errors) == []


def test_reconnect_while_playing_resumes_and_keeps_playing(live_daphne, page):
    open_panel(page, live_daphne.url + TOPIC)
    # A longer run (2 threads x 5 increments), so it is still playing after the outage.
    open_more(page)
    page.locator(P + " .sim-params summary").click()
    page.locator(P + "-p-increments").fill("5")
    page.locator(P + "-params-form button[type=submit]").click()
    expect(page.locator(P + "-metrics div", has_text="Expected")).to_contain_text("10", timeout=WAIT)
    expect_step(page, 0)
    watch(page)

    toggle_play(page, "Pause")
    wait_step_at_least(page, 3)
    restart_and_watch(page, live_daphne)

    record = seen(page)
    dropped_at = record["dropStep"]
    assert dropped_at is not None and dropped_at >= 3, record
    # It picks up at the step it showed and keeps playing from there, never from 0.
    expect(play_button(page)).to_have_text(re.compile(r"^(Pause|Replay)$"), timeout=WAIT)
    wait_step_at_least(page, dropped_at + 2, timeout=WAIT)
    record = seen(page)
    after = record["steps"][record["stepsAtDrop"]:]
    assert after and all(s > dropped_at for s in after), record
    assert after == sorted(after), record
    assert metrics(page)["Expected"] == "10"  # still the 5-increment run
    if (play_button(page).text_content() or "").strip() == "Pause":
        toggle_play(page, "Play")
    assert unexpected_errors(page.console_errors) == []
