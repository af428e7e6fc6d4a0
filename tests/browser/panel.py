"""What the browser tests read off a simulation panel, as a learner sees it."""

from __future__ import annotations


def expect(*args, **kwargs):
    # Imported when called: collecting the tests must not need Playwright.
    from playwright.sync_api import expect as _expect

    return _expect(*args, **kwargs)


def metric(page, prefix: str, name: str) -> str | None:
    """The value shown beside the measurement `name` in the panel `prefix` (e.g. "#sim-tcp"),
    or None when it shows no such measurement."""
    return page.evaluate(
        """([sel, name]) => {
            for (const row of document.querySelectorAll(sel + ' .sim-metric')) {
                if (row.querySelector('dt').textContent.trim() === name) return row.querySelector('dd').textContent.trim();
            }
            return null;
        }""",
        [prefix + "-metrics", name],
    )
