"""Let the "Instructors" group add, change and view simulation presets (not delete them).

The group comes from topics' migration 0003; get_or_create keeps this migration safe
on any database. Permissions are created here because Django only creates them in
post_migrate, after every migration (same approach as topics 0003).
"""

from django.db import migrations

INSTRUCTORS_GROUP = "Instructors"
ACTIONS = ["add", "change", "view"]


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    content_type, _ = ContentType.objects.get_or_create(app_label="simulations", model="simulationpreset")
    for action in ACTIONS:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_simulationpreset",
            defaults={"name": f"Can {action} simulation preset"},
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=INSTRUCTORS_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="simulations", codename__endswith="_simulationpreset")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("simulations", "0001_initial"),
        ("topics", "0003_instructors_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
