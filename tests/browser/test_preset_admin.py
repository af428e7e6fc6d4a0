"""An instructor writes a preset in a real browser: picks the simulation, sets a parameter in
the generated form, adds a scripted action as a table row, previews the run, saves it, and
finds it on the topic's admin page and on the topic's public page."""

from __future__ import annotations

import json
import os

import pytest

from tests.live import MAKE_INSTRUCTOR

pytestmark = pytest.mark.browser

INSTRUCTOR, PASSWORD = "browser-preset-author", "a-long-browser-test-password"
SETUP = MAKE_INSTRUCTOR + r"""
from topics.models import KeyFeature, Topic
topic = Topic.objects.get(slug="race-conditions")
print(json.dumps({"topic": topic.pk, "features": KeyFeature.objects.filter(topic=topic).count()}))
"""
#: Where the test saves screenshots of the form when set (looked at by hand).
SHOTS = os.environ.get("PRESET_ADMIN_SCREENSHOTS")


@pytest.fixture(scope="module")
def author(live_daphne):
    result = live_daphne.manage("shell", "-c", SETUP, LIVE_USER=INSTRUCTOR, LIVE_PASSWORD=PASSWORD)
    return json.loads(result.stdout.strip().splitlines()[-1])


def sign_in(page, live_daphne, next_path: str) -> None:
    live_daphne.sign_in(page, INSTRUCTOR, PASSWORD, next_path)


def json_of(page, selector: str):
    return json.loads(page.input_value(selector))


def commit(page, locator) -> None:
    """Leave a field (its change event), and wait until the editor shows the new JSON."""
    from playwright.sync_api import expect

    with page.expect_response(lambda r: "/simulationpreset/editor/" in r.url):
        locator.press("Tab")
    expect(page.locator("#preset-run-editor.htmx-request")).to_have_count(0)


def test_write_preview_and_save_a_preset(live_daphne, author, page):
    from playwright.sync_api import expect

    sign_in(page, live_daphne, "/admin/simulations/simulationpreset/add/")
    expect(page.locator("#preset-run-editor")).to_contain_text("Choose a simulation above")

    # The simulation first: its parameters appear as a form, its topic is chosen with it,
    # and only that topic's key features are offered.
    page.select_option("#id_engine", "race-conditions")
    threads = page.locator("#preset-p-threads")
    expect(threads).to_be_visible()
    expect(page.locator("label[for=preset-p-threads]")).to_contain_text("2–4")
    expect(page.locator("#id_topic")).to_have_value(str(author["topic"]))
    expect(page.locator("#id_key_feature option")).to_have_count(author["features"] + 1)
    expect(page.locator("#id_key_feature")).to_have_value("")
    expect(page.locator("#id_use_case")).to_have_value("")  # nothing chosen for the instructor

    page.fill("#id_name", "Browser: three threads")
    page.press("#id_name", "Tab")  # admin's prepopulate.js follows keyup/change
    expect(page.locator("#id_slug")).to_have_value("browser-three-threads")

    # A bad value gets its error beside the field, and the preview names it.
    threads.fill("9")
    commit(page, threads)
    expect(page.locator("#preset-p-threads-error")).to_contain_text("less than or equal to 4")
    page.click("#preset-preview-button")
    expect(page.locator("#preset-preview-error")).to_contain_text("params.threads")

    page.locator("#preset-p-threads").fill("3")
    commit(page, page.locator("#preset-p-threads"))
    expect(page.locator("#preset-p-threads-error")).to_have_count(0)
    assert json_of(page, "#id_params") == {"threads": 3}

    # An action as a row of the table.
    with page.expect_response(lambda r: "/simulationpreset/editor/" in r.url):
        page.click("#preset-add-action")
    step = page.locator("#preset-a0-step")
    expect(step).to_be_focused()
    step.fill("2")
    commit(page, step)
    page.locator("#preset-a0-thread").fill("3")
    commit(page, page.locator("#preset-a0-thread"))
    expect(page.locator("#preset-a0-thread")).to_have_value("3")
    assert json_of(page, "#id_actions") == [{"step": 2, "action": {"type": "run_thread", "thread": 3}}]

    # Preview: the stage and narration of frame 0, then a step on.
    page.click("#preset-preview-button")
    expect(page.locator("#preset-preview-stage")).to_be_visible()
    expect(page.locator("#preset-preview-error")).to_be_empty()
    expect(page.locator("#preset-preview-narration")).not_to_be_empty()
    expect(page.locator("#preset-preview-counter")).to_contain_text("Step 0 of")
    expect(page.locator("#preset-preview-metrics")).to_contain_text("Expected")
    page.click("#preset-preview-next")
    expect(page.locator("#preset-preview-counter")).to_contain_text("Step 1 of")
    expect(page.locator("#preset-preview-next")).to_be_focused()

    if SHOTS:
        page.screenshot(path=f"{SHOTS}/preset-form-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/preset-form-390.png", full_page=True)
        height = page.evaluate("document.documentElement.scrollHeight")
        for n, top in enumerate(range(0, height, 1100)):  # slices, legible when viewed
            page.screenshot(path=f"{SHOTS}/preset-form-390-{n}.png", full_page=True,
                            clip={"x": 0, "y": top, "width": 390, "height": min(1100, height - top)})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        page.set_viewport_size({"width": 1280, "height": 900})

    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    # On its topic's admin page, among the topic's presets, with its own page a click away.
    page.goto(f"{live_daphne.url}/admin/topics/topic/{author['topic']}/change/")
    group = page.locator("#simulation_presets-group")
    expect(group.locator("input[value='browser-three-threads']")).to_have_count(1)
    if SHOTS:
        group.screenshot(path=f"{SHOTS}/topic-presets-inline-1280.png")
    # On the public page, the preset opens the panel in its run.
    page.goto(f"{live_daphne.url}/topics/race-conditions/?preset=browser-three-threads")
    expect(page.locator(".sim-preset").first).to_contain_text("Browser: three threads")
    assert page.console_errors == []
