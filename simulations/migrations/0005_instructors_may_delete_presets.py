"""Let the "Instructors" group delete simulation presets (its history keeps a way back).

Same approach as topics 0006: the permission row is created here if post_migrate has
not made it yet. Presets that exist (the seeded ones) get their first history entry, so
the first change to one can be reverted from the admin.
"""

from django.db import migrations

INSTRUCTORS_GROUP = "Instructors"


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    content_type, _ = ContentType.objects.get_or_create(app_label="simulations", model="simulationpreset")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="delete_simulationpreset",
        defaults={"name": "Can delete simulation preset"},
    )
    group.permissions.add(permission)

    from topics.services import record_first_history

    record_first_history(apps, "simulations", ["SimulationPreset"], reason="Preset as it was when history began")


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=INSTRUCTORS_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="simulations", codename="delete_simulationpreset")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("simulations", "0004_preset_history"),
        ("topics", "0006_instructors_may_delete_content_rows"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
