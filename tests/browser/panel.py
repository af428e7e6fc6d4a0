"""What the browser tests read off a page and its simulation panel, as a learner sees it."""

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


def watched_page(context):
    """A new page of `context` whose console errors and uncaught exceptions collect in its
    `console_errors` (a test asserts it is empty)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    return page
