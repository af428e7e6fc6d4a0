"""Create the "Instructors" group: add, change and view on the content models only.

Django creates content types and permissions in a post_migrate signal, after
every migration has run, so on a fresh database they do not exist yet here.
This migration creates the rows it needs itself (get_or_create, so an existing
database keeps its rows and ids); post_migrate later finds them and skips them.

Instructors get no permission on users, groups or permissions, and no delete.
Other apps add their own content models (e.g. simulation presets) to this group
in their own migrations, depending on this one.
"""

from django.db import migrations

INSTRUCTORS_GROUP = "Instructors"
CONTENT_MODELS = ["category", "topic", "keyfeature", "usecase", "relateditem", "topicrelateditem"]
INSTRUCTOR_ACTIONS = ["add", "change", "view"]


def create_instructors_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    for model_name in CONTENT_MODELS:
        model = apps.get_model("topics", model_name)
        content_type, _ = ContentType.objects.get_or_create(app_label="topics", model=model_name)
        for action in INSTRUCTOR_ACTIONS:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=f"{action}_{model_name}",
                # The same name Django's own post_migrate would give it.
                defaults={"name": f"Can {action} {model._meta.verbose_name_raw}"},
            )
            group.permissions.add(permission)


def delete_instructors_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=INSTRUCTORS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("topics", "0002_load_seed_content"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_instructors_group, delete_instructors_group)]
