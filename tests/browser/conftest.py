"""A real Daphne on a free loopback port, with its own migrated and seeded database
(tests/live.py), driven by Debian's chromium through Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.browser.panel import watched_page
from tests.live import LiveDaphne, running_daphne

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def live_daphne(tmp_path_factory) -> Iterator[LiveDaphne]:
    require(Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with running_daphne(tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture(scope="session")
def browser(live_daphne):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page that collects console errors; a test fails if the page logged any."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield watched_page(context)
    context.close()
