"""System checks: every registered engine has a stage, so a misnamed or missing one stops
start-up with its name instead of drawing a plain page."""

from __future__ import annotations

from django.core import checks


@checks.register()
def every_engine_has_a_stage(app_configs=None, **kwargs):
    from simulations import registry
    from simulations.render import STAGES

    return [
        checks.Error(
            f"The simulation engine {engine.slug!r} ({engine.__name__}) has no stage.",
            hint="Add its entry to simulations.render.STAGES.",
            id="simulations.E001",
        )
        for engine in registry.all_engines()
        if engine.slug not in STAGES
    ]
