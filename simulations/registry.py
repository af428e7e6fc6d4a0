"""Slug -> engine class. Each engine module registers itself here on import."""

from __future__ import annotations

from simulations.engines.base import Engine

_ENGINES: dict[str, type[Engine]] = {}


def register(engine: type[Engine]) -> type[Engine]:
    if engine.slug in _ENGINES and _ENGINES[engine.slug] is not engine:
        raise ValueError(f"two engines claim the slug {engine.slug!r}")
    _ENGINES[engine.slug] = engine
    return engine


def _load() -> None:
    # Import every engine module once so that their @register decorators run.
    from simulations import engines  # noqa: F401
    from simulations.engines import race_conditions  # noqa: F401


def get(slug: str) -> type[Engine] | None:
    _load()
    return _ENGINES.get(slug)


def all_engines() -> list[type[Engine]]:
    _load()
    return sorted(_ENGINES.values(), key=lambda e: (e.topic_slug, e.slug))


def for_topic(topic_slug: str) -> list[type[Engine]]:
    return [e for e in all_engines() if e.topic_slug == topic_slug]
