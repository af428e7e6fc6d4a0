"""Slug -> engine class, built once from `simulations.engines.ENGINES`.

Two engines with one slug are refused when this module is imported (at start-up:
the app, the API and the socket all import it). Tests that need a toy engine put it
in for a while with `installed(...)`, never at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from simulations.engines import ENGINES
from simulations.engines.base import Engine


def build(engines: Iterable[type[Engine]]) -> dict[str, type[Engine]]:
    """The slug map of `engines`, refusing a slug claimed twice."""
    by_slug: dict[str, type[Engine]] = {}
    for engine in engines:
        if engine.slug in by_slug:
            raise ValueError(
                f"two engines claim the slug {engine.slug!r}: {by_slug[engine.slug].__name__} and {engine.__name__}"
            )
        by_slug[engine.slug] = engine
    return by_slug


_ENGINES: dict[str, type[Engine]] = build(ENGINES)


def get(slug: str) -> type[Engine] | None:
    return _ENGINES.get(slug)


def all_engines() -> list[type[Engine]]:
    return sorted(_ENGINES.values(), key=lambda e: (e.topic_slug, e.slug))


def for_topic(topic_slug: str) -> list[type[Engine]]:
    return [e for e in all_engines() if e.topic_slug == topic_slug]


@contextmanager
def installed(*engines: type[Engine]) -> Iterator[None]:
    """Serve `engines` too while the block runs (tests' toy engines)."""
    global _ENGINES
    before = _ENGINES
    _ENGINES = build([*before.values(), *engines])
    try:
        yield
    finally:
        _ENGINES = before
