"""The Locks & Synchronization body's "Try it in the simulation" section now links each
suggestion to the preset that does it. A topic whose body is still exactly an earlier seed
version (SHA-256 of the text: the two 0007 knew and the one it brought) gets the current
file; an edited body is left as it is. Fresh databases load the current files in 0002.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "locks-synchronization": {
        "40357ed85ad5cb3d8134d37f891f0035e0b31031b9889eed263ad46ab5829430",
        "a0297c187cb742e34c76071f90b03788478eb58c9eb9483dbca2981e4529bab1",
        "6eb777caa26e2b0795b942b14c3ef22f714d297090e375385042ff71f1932c3e",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0010_websockets_try_it")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
