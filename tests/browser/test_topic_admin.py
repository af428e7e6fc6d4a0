"""An instructor in a real browser: live Markdown preview, ↑/↓ reordering, deleting a
feature inline and a preset, and reverting changes from the history pages."""

from __future__ import annotations

import json
import re

import pytest

from tests.live import MAKE_INSTRUCTOR

pytestmark = pytest.mark.browser

INSTRUCTOR, PASSWORD = "browser-instructor", "a-long-browser-test-password"
SETUP = MAKE_INSTRUCTOR + r"""
from simulations.models import SimulationPreset
preset = SimulationPreset.objects.order_by("pk").first()
if preset is not None and not SimulationPreset.objects.filter(slug="browser-delete-me").exists():
    preset.pk = None
    preset.slug, preset.name, preset.key_feature = "browser-delete-me", "Browser test: delete me", None
    preset.save()
print(json.dumps({"preset": SimulationPreset.objects.filter(slug="browser-delete-me").exists()}))
"""


@pytest.fixture(scope="module")
def instructor(live_daphne):
    """An instructor account (and a spare preset to delete) in the live server's database."""
    result = live_daphne.manage("shell", "-c", SETUP, LIVE_USER=INSTRUCTOR, LIVE_PASSWORD=PASSWORD)
    return json.loads(result.stdout.strip().splitlines()[-1])


def sign_in(page, live_daphne, next_path: str) -> None:
    live_daphne.sign_in(page, INSTRUCTOR, PASSWORD, next_path)


def open_topic(page, live_daphne, title: str) -> None:
    sign_in(page, live_daphne, "/admin/topics/topic/")
    page.get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(r"/admin/topics/topic/\d+/change/$"))


def feature_texts(page) -> list[str]:
    return page.eval_on_selector_all(
        "#key_features-group tr.form-row:not(.empty-form) input[name$='-text']", "els => els.map(e => e.value)")


def test_live_preview_beside_the_body(live_daphne, instructor, page):
    from playwright.sync_api import expect

    open_topic(page, live_daphne, "CAP Theorem")
    preview = page.locator("#id_body-preview")
    # On load it shows the saved body, rendered as on the public page.
    expect(preview.locator("h2").first).to_be_visible()
    body_box, preview_box = page.locator("#id_body").bounding_box(), preview.bounding_box()
    assert preview_box["x"] > body_box["x"] + body_box["width"] - 1  # beside it, not below
    with page.expect_response(lambda r: r.url.endswith("/admin/topics/topic/preview/")) as answer:
        page.fill("#id_body", "## Preview heading\n\nSome **bold** words and <script>alert(1)</script>")
    assert answer.value.status == 200, answer.value.status
    expect(preview.locator("h2")).to_have_text("Preview heading")
    expect(preview.locator("strong")).to_have_text("bold")
    expect(preview).to_contain_text("<script>alert(1)</script>")  # shown as text, never run
    assert preview.locator("script").count() == 0
    assert page.console_errors == []


def test_reorder_key_features_with_the_arrow_buttons(live_daphne, instructor, page):
    from playwright.sync_api import expect

    open_topic(page, live_daphne, "CAP Theorem")
    before = feature_texts(page)
    order_input = page.locator("#key_features-group tr.form-row").first.locator("input[name$='-order']")
    expect(order_input).to_have_attribute("readonly", "")  # numbers follow the buttons, not typing
    first_row = page.locator("#key_features-group tr.form-row").first
    expect(first_row.locator(".order-move--up")).to_be_disabled()
    first_row.locator(".order-move--down").click()
    assert feature_texts(page)[:2] == [before[1], before[0]]
    # Keyboard focus follows the moved row.
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == f"Move “{before[0]}” down"

    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert feature_texts(page)[:2] == [before[1], before[0]]
    page.goto(f"{live_daphne.url}/topics/cap-theorem/")
    shown = page.locator("#key-features ~ ul .feature-list__text").all_inner_texts()
    assert shown[:2] == [before[1], before[0]]
    assert page.console_errors == []


def test_delete_a_feature_inline_then_restore_it_from_the_history_page(live_daphne, instructor, page):
    from playwright.sync_api import expect

    open_topic(page, live_daphne, "WebSockets")
    expect(page.locator("a.deletelink")).to_have_count(0)  # no deleting the topic itself
    row = page.locator("#key_features-group tr.form-row").filter(
        has=page.locator("input[value='Heartbeat for connection health']"))
    row.locator("input[name$='-DELETE']").check()
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert "Heartbeat for connection health" not in feature_texts(page)
    page.goto(f"{live_daphne.url}/topics/websockets/")
    expect(page.locator("#key-features ~ ul")).not_to_contain_text("Heartbeat for connection health")

    page.go_back()
    page.locator("a.historylink").click()
    changes = page.locator("#row-history tr").filter(has_text="Key feature: Heartbeat for connection health")
    expect(changes.first).to_contain_text("Deleted")
    expect(changes.first).to_contain_text(INSTRUCTOR)
    changes.first.get_by_role("link", name="Restore this row").click()
    page.click("input[name=_save][value=Revert]")
    page.wait_for_url(re.compile(r"/admin/topics/topic/\d+/change/$"))
    assert "Heartbeat for connection health" in feature_texts(page)
    page.goto(f"{live_daphne.url}/topics/websockets/")
    expect(page.locator("#key-features ~ ul")).to_contain_text("Heartbeat for connection health")
    assert page.console_errors == []


def test_revert_a_topic_edit_from_its_history_page(live_daphne, instructor, page):
    from playwright.sync_api import expect

    open_topic(page, live_daphne, "WebSockets")
    original = page.input_value("#id_summary")
    page.fill("#id_summary", "An edit that should not have been made.")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    page.locator("a.historylink").click()
    table = page.locator("#change-history tbody tr")
    expect(table.first).to_contain_text(INSTRUCTOR)
    table.last.locator("td").first.get_by_role("link").click()  # the oldest version
    expect(page.locator("#id_summary")).to_have_value(original)
    page.click("input[name=_save][value=Revert]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    page.goto(f"{live_daphne.url}/topics/websockets/")
    expect(page.locator(".lede").first).to_have_text(original)
    assert page.console_errors == []


def test_delete_a_preset(live_daphne, instructor, page):
    from playwright.sync_api import expect

    if not instructor["preset"]:
        pytest.fail("the live database has no simulation preset to copy")
    sign_in(page, live_daphne, "/admin/simulations/simulationpreset/")
    page.get_by_role("link", name="Browser test: delete me").click()
    page.locator("a.deletelink").click()
    page.click("input[type=submit]")  # "Yes, I'm sure"
    expect(page.locator(".messagelist")).to_contain_text("was deleted successfully")
    expect(page.get_by_role("link", name="Browser test: delete me")).to_have_count(0)
    assert page.console_errors == []
