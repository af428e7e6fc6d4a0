"""Seed the Race Conditions topic's presets from the engine's built-in ones, and link four
of them to the topic's key features (each then shows a "See it" link).

Idempotent and edit-safe: a preset whose slug exists is left alone, so running it
again (or after an instructor edited a preset) changes nothing. It reads the
engine's presets from the current code; a preset or feature that is missing is
skipped rather than failing the migration.
"""

from django.db import migrations

TOPIC = "race-conditions"
ENGINE = "race-conditions"
FEATURE_PRESETS = {
    "Detection through testing": "counter-lost-update",
    "Prevention with locks": "counter-mutex",
    "Race detection tools": "race-detector",
    "Debugging with sanitizers": "double-checked-locking",
}


def seed(apps, schema_editor):
    Topic = apps.get_model("topics", "Topic")
    SimulationPreset = apps.get_model("simulations", "SimulationPreset")
    topic = Topic.objects.filter(slug=TOPIC).first()
    if topic is None:
        return
    try:
        from simulations import registry

        engine_cls = registry.get(ENGINE)
    except ImportError:
        engine_cls = None
    if engine_cls is None:
        return
    features = {f.text: f for f in topic.key_features.all()}
    feature_for = {slug: features.get(text) for text, slug in FEATURE_PRESETS.items()}
    for order, preset in enumerate(engine_cls.presets):
        if SimulationPreset.objects.filter(slug=preset.slug).exists():
            continue
        SimulationPreset.objects.create(
            topic=topic,
            key_feature=feature_for.get(preset.slug),
            engine=engine_cls.slug,
            name=preset.name,
            slug=preset.slug,
            description=preset.description,
            params=dict(preset.params),
            seed=preset.seed,
            actions=[{"step": step, "action": dict(action)} for step, action in preset.actions],
            order=order,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("simulations", "0002_instructors_presets"),
        ("topics", "0003_instructors_group"),
    ]

    # Reversing keeps the presets: instructors may have edited them by then.
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
