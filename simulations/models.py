"""Presets: named starting points (params + seed + scripted actions) that instructors attach
to a topic, and optionally to one of its key features, in the admin."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from simulations import registry
from simulations.runs import MAX_SEED, FieldError, RunError, RunSpec, parse_run


def engine_choices() -> list[tuple[str, str]]:
    """Every registered engine (a callable, so migrations do not change with the registry)."""
    return [(e.slug, f"{e.title} ({e.slug})") for e in registry.all_engines()]


class SimulationPreset(models.Model):
    topic = models.ForeignKey("topics.Topic", on_delete=models.CASCADE, related_name="simulation_presets")
    key_feature = models.ForeignKey(
        "topics.KeyFeature",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="simulation_presets",
        help_text="Optional: the key feature this preset demonstrates. It gets a “See it” link.",
    )
    use_case = models.ForeignKey(
        "topics.UseCase",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="simulation_presets",
        help_text="Optional: the use case this preset demonstrates. It gets a “See it” link.",
    )
    engine = models.CharField(max_length=64, choices=engine_choices, help_text="Which simulation runs.")
    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=120, unique=True, help_text="Used in links: /topics/TOPIC-SLUG/?preset=THIS-SLUG."
    )
    description = models.TextField(blank=True, help_text="One or two sentences: what to watch for.")
    params = models.JSONField(
        default=dict, blank=True,
        help_text="Parameter values as a JSON object; missing ones take their defaults.",
    )
    seed = models.PositiveBigIntegerField(default=1, help_text=f"0 to {MAX_SEED}: the same seed, the same run.")
    actions = models.JSONField(
        default=list, blank=True,
        help_text='Scripted actions as a JSON list: [{"step": 3, "action": {"type": "..."}}, ...].',
    )
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["topic", "order", "name"]
        verbose_name = "simulation preset"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('topics:topic', args=[self.topic.slug])}?preset={self.slug}#sim-{self.engine}"

    @property
    def engine_cls(self):
        return registry.get(self.engine)

    def run_data(self) -> dict[str, Any]:
        """The run as plain data, in the shape runs.parse_run and the API take."""
        return {"params": self.params, "seed": self.seed, "actions": self.actions}

    def run_spec(self) -> RunSpec:
        """The validated run. Raises RunError (naming the field) when it no longer fits the engine."""
        engine_cls = self.engine_cls
        if engine_cls is None:
            raise RunError([FieldError(("engine",), f"unknown simulation {self.engine!r}")])
        return parse_run(engine_cls, **self.run_data())

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.key_feature_id and self.topic_id and self.key_feature.topic_id != self.topic_id:
            errors.setdefault("key_feature", []).append("This key feature belongs to another topic.")
        if self.use_case_id and self.topic_id and self.use_case.topic_id != self.topic_id:
            errors.setdefault("use_case", []).append("This use case belongs to another topic.")
        engine_cls = self.engine_cls
        if engine_cls is None:
            errors.setdefault("engine", []).append(f"There is no simulation called {self.engine!r}.")
        else:
            try:
                self.run_spec()
            except RunError as exc:
                for err in exc.errors:
                    field = str(err.loc[0]) if err.loc and err.loc[0] in ("params", "seed", "actions") else "params"
                    errors.setdefault(field, []).append(str(err))
        if errors:
            raise ValidationError(errors)
