"""The Threads & Processes body's "Try it in the simulation" section now links each
suggestion to the preset that does it. A topic whose body is still exactly the earlier seed
version (SHA-256 of the text) gets the current file; an edited body is left as it is.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "threads-processes": {
        "8d83fed19e2a907a4ff00decce7f1c03ac56829faacd68dfafc0f5c1a0a5eb65",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0008_try_it_links")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
