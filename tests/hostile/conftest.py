"""The real server (Daphne, production settings, its own database) for hostile-input tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveDaphne, running_daphne


@pytest.fixture(scope="session")
def production_server(tmp_path_factory) -> Iterator[LiveDaphne]:
    with running_daphne(tmp_path_factory.mktemp("hostile")) as server:
        yield server
