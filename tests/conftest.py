"""Shared fixtures. A missing service skips with its reason, except under CI=true, where it fails."""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip when a machine lacks something a test needs; under CI that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(session, config, items):
    """Browser tests run last: the sync Playwright fixture keeps an event loop running
    for the rest of the session, which async (consumer) tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
