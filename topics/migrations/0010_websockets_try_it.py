"""The WebSockets body's "Try it in the simulation" section now links each suggestion to the
preset that does it. A topic whose body is still exactly the earlier seed version (SHA-256
of the text) gets the current file; an edited body is left as it is.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "websockets": {
        "ef8bfc1d96a29689870b35461d2fc405610b99fb49ec4856c88af847975d632e",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0009_threads_processes_try_it")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
