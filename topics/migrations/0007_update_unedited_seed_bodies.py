"""Bring corrected "How it works" bodies to existing databases, where nobody edited them.

The TCP/IP body now explains the seed's "Error checking and correction" (checksum,
discard, retransmission), Consistency Models explains vector clocks and Locks &
Synchronization semaphores. A topic whose body is still exactly one of the earlier
seed versions below (SHA-256 of the text) gets the current file; a body an instructor
changed in any way is left as it is. Fresh databases load the current files in 0002.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "tcp-ip-model": {
        "a872ed97f006bc48630b768de860f7107322f6bd1de90fc69be6651fd97bf6b8",
        "2d337084eea7f73e4087e37729890c37aa00978e66bf3f50add01d034a8c3c86",
    },
    "consistency-models": {
        "31fcb69b04d8d9cef0ec8193263ada72dc7177d654e6c688049ab56f89c8f8e5",
    },
    "locks-synchronization": {
        "40357ed85ad5cb3d8134d37f891f0035e0b31031b9889eed263ad46ab5829430",
        "a0297c187cb742e34c76071f90b03788478eb58c9eb9483dbca2981e4529bab1",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0006_instructors_may_delete_content_rows")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
