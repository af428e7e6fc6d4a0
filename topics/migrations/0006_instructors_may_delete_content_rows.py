"""Let the "Instructors" group delete the content rows they manage.

Key features, use cases, related items and a topic's links to them: an instructor can
remove a row, and its history (django-simple-history) lets anyone with change rights
bring it back from the admin. Topics and categories stay undeletable by instructors
(mark a topic as draft instead), as do users, groups and permissions.
"""

from django.db import migrations

INSTRUCTORS_GROUP = "Instructors"
DELETABLE_MODELS = ["keyfeature", "usecase", "relateditem", "topicrelateditem"]


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    for model_name in DELETABLE_MODELS:
        model = apps.get_model("topics", model_name)
        content_type, _ = ContentType.objects.get_or_create(app_label="topics", model=model_name)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"delete_{model_name}",
            defaults={"name": f"Can delete {model._meta.verbose_name_raw}"},
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=INSTRUCTORS_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="topics", codename__in=[f"delete_{m}" for m in DELETABLE_MODELS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("topics", "0005_fill_feature_details_and_related_descriptions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
