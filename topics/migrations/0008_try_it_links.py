"""The Race Conditions and Consensus Algorithms bodies' "Try it in the simulation" sections
now link each suggestion to the preset that does it. A topic whose body is still exactly
an earlier seed version (SHA-256 of the text) gets the current file; an edited body is
left as it is. Fresh databases load the current files in 0002.
"""

from django.db import migrations

EARLIER_SEED_BODIES = {
    "race-conditions": {
        "fd5df5b44521bc383ceabee7230a65b5472dd2020d55c442e554b9fe4e3fbf4c",
        "8730ecac58b4737335fa6e1d9a54b82668b93118ce261f323a9ebb6cc5d01247",
    },
    "consensus-algorithms": {
        "e0efa6395739c8e8c88f07c15f6d437bcf05ea4b0ba6cb70f1b2fbae36f9fefa",
    },
}


def update_unedited_bodies(apps, schema_editor):
    from topics.content import seed

    seed.refresh_unedited_bodies(apps.get_model("topics", "Topic"), EARLIER_SEED_BODIES)


class Migration(migrations.Migration):
    dependencies = [("topics", "0007_update_unedited_seed_bodies")]

    operations = [migrations.RunPython(update_unedited_bodies, migrations.RunPython.noop)]
