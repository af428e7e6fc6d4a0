"""The one preset rule, for the page, the socket and the API.

A simulation's presets are its engine's built-in ones and the instructors' (from the
admin) for it; an instructor's preset replaces a built-in one with the same slug, and
comes after the built-in ones otherwise. Where a page shows a topic, only that topic's
instructor presets count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from simulations import registry
from simulations.engines.base import Engine
from simulations.models import SimulationPreset
from simulations.render.panel import default_prefix
from simulations.runs import RunSpec, parse_run


@dataclass(frozen=True)
class PresetChoice:
    engine_cls: type[Engine]
    slug: str
    name: str
    description: str
    source: str  # "engine" (built in) or "instructor" (from the admin)
    run_data: dict[str, Any]  # {params, seed, actions}, as parse_run takes them
    topic: str | None = None
    #: The key feature and the use case it demonstrates (their text), if any.
    key_feature: str | None = None
    use_case: str | None = None

    def run_spec(self) -> RunSpec:
        """The validated run. Raises RunError (naming the field) when it no longer fits."""
        return parse_run(self.engine_cls, **self.run_data)

    def as_api(self) -> dict[str, Any]:
        return {"slug": self.slug, "name": self.name, "description": self.description, **self.run_data,
                "source": self.source, "topic": self.topic, "key_feature": self.key_feature,
                "use_case": self.use_case}


def _instructors(preset: SimulationPreset, engine_cls: type[Engine]) -> PresetChoice:
    return PresetChoice(
        engine_cls, preset.slug, preset.name, preset.description, "instructor", preset.run_data(),
        topic=preset.topic.slug, key_feature=preset.key_feature.text if preset.key_feature_id else None,
        use_case=preset.use_case.text if preset.use_case_id else None,
    )


def presets_for(engine_cls: type[Engine], instructors: Iterable[SimulationPreset]) -> list[PresetChoice]:
    """The presets of `engine_cls`: built-in ones (unless an instructor's has the slug),
    then the instructors' among `instructors` that run this engine."""
    theirs = [_instructors(p, engine_cls) for p in instructors if p.engine == engine_cls.slug]
    taken = {p.slug for p in theirs}
    builtin = [
        PresetChoice(engine_cls, p.slug, p.name, p.description, "engine", p.run_data(), topic=engine_cls.topic_slug,
                     key_feature=p.feature or None, use_case=p.use_case or None)
        for p in engine_cls.presets
        if p.slug not in taken
    ]
    return builtin + theirs


def see_it_links(topic_slug: str, engines: Iterable[type[Engine]],
                 menus: dict[type[Engine], list[PresetChoice]]) -> tuple[dict[str, str], dict[str, str]]:
    """Key feature text -> the URL of the first preset that shows it, and the same for use
    cases: an instructor's preset first, then a built-in one (the menu's order otherwise)."""
    features: dict[str, str] = {}
    use_cases: dict[str, str] = {}
    page = reverse("topics:topic", args=[topic_slug])
    ordered = [p for e in engines for p in sorted(menus[e], key=lambda p: p.source != "instructor")]
    for preset in ordered:
        url = f"{page}?preset={preset.slug}#{default_prefix(preset.engine_cls.slug)}"
        if preset.key_feature:
            features.setdefault(preset.key_feature, url)
        if preset.use_case:
            use_cases.setdefault(preset.use_case, url)
    return features, use_cases


def engines_for_topic(topic_slug: str, instructors: Iterable[SimulationPreset]) -> list[type[Engine]]:
    """The engines a topic's page shows: those of the topic, then any other engine one of
    its instructors' presets runs."""
    engines = list(registry.for_topic(topic_slug))
    for preset in instructors:
        engine_cls = registry.get(preset.engine)
        if engine_cls is not None and engine_cls not in engines:
            engines.append(engine_cls)
    return engines


def all_presets() -> dict[str, list[PresetChoice]]:
    """Engine slug -> its presets, over every instructor preset (the API's listing)."""
    instructors = list(SimulationPreset.objects.select_related("topic", "key_feature", "use_case")
                       .order_by("order", "name"))
    return {e.slug: presets_for(e, instructors) for e in registry.all_engines()}
