"""Link the seeded Race Conditions presets to the use cases they show, as their built-in
originals now declare (Preset.use_case): each use case then gets a "See it" link.

Edit-safe: only presets still without a use case are touched, and a use case or preset
that is missing is skipped.
"""

from django.db import migrations

TOPIC = "race-conditions"
USE_CASE_PRESETS = {
    "Counter increment race": "counter-lost-update",
    "Check-then-act patterns": "check-then-act",
    "Double-checked locking": "double-checked-locking",
    "File access conflicts": "file-append-race",
}


def link(apps, schema_editor):
    Topic = apps.get_model("topics", "Topic")
    SimulationPreset = apps.get_model("simulations", "SimulationPreset")
    topic = Topic.objects.filter(slug=TOPIC).first()
    if topic is None:
        return
    use_cases = {u.text: u for u in topic.use_cases.all()}
    for text, slug in USE_CASE_PRESETS.items():
        if text in use_cases:
            SimulationPreset.objects.filter(topic=topic, slug=slug, use_case__isnull=True).update(use_case=use_cases[text])


class Migration(migrations.Migration):
    dependencies = [("simulations", "0006_preset_use_case")]

    operations = [migrations.RunPython(link, migrations.RunPython.noop)]
