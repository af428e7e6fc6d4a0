"""The TCP/IP Model body's "Try it in the simulation" section now links each suggestion to
the preset that does it. A topic whose body is still exactly an earlier seed version
(SHA-256 of the text) gets the current file; an edited body is left as it is. Fresh
databases load the current files in 0002.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "tcp-ip-model": {
        "ed63054d55b65718569b1602e942b174682a01b5fc5b56441459a7af255d89f5",
        "2d337084eea7f73e4087e37729890c37aa00978e66bf3f50add01d034a8c3c86",
        "a872ed97f006bc48630b768de860f7107322f6bd1de90fc69be6651fd97bf6b8",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0011_locks_try_it")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
